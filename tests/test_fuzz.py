"""Untrusted input, fuzzed: readers and the config parser either succeed or raise GankitError, never
anything else (no crash, no hang, no code run)."""
import io
import pickle
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from gankit.checkpoint import load_checkpoint
from gankit.core.config import from_dict, parse_override
from gankit.core.errors import GankitError
from gankit.data import DataConfig
from gankit.data.cifar import load_batch
from gankit.data.folder import read_folder
from gankit.data.idx import parse_idx
from gankit.training import RunConfig, resolve

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)
config_keys = st.sampled_from(["data", "model", "loss", "train", "health", "eval", "out", "preset", "steps",
                               "name", "batch_size", "lr_g", "conditional", "pack", "every", "x"])
config_trees = st.dictionaries(config_keys, json_values | st.dictionaries(config_keys, json_values, max_size=4),
                               max_size=4)


def _ok_or_gankit_error(fn, *args):
    try:
        return fn(*args)
    except GankitError:
        return None


@FUZZ
@given(st.binary(max_size=64))
def test_idx_random_bytes(raw):
    _ok_or_gankit_error(parse_idx, raw, "fuzz")


@FUZZ
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(0, 2**32 - 1), min_size=n,
                                                                             max_size=n))),
       st.binary(max_size=200))
@example((3, [0, 2**32 - 1, 2**32 - 1]), b"")  # empty body, dimensions numpy cannot describe: found by this test
def test_idx_valid_magic_any_dimensions(spec, payload):
    ndim, dims = spec
    raw = bytes([0, 0, 8, ndim]) + struct.pack(f">{ndim}I", *dims) + payload
    out = _ok_or_gankit_error(parse_idx, raw, "fuzz")
    if out is not None:
        assert out.shape == tuple(dims) and out.dtype == np.uint8


@FUZZ
@given(st.binary(max_size=256))
def test_cifar_random_bytes(raw):
    _ok_or_gankit_error(load_batch, raw, "fuzz")


@FUZZ
@given(json_values)
def test_cifar_pickles_of_arbitrary_data(value):
    out = _ok_or_gankit_error(load_batch, pickle.dumps({b"data": value, b"labels": value}, protocol=2), "fuzz")
    if out is not None:
        assert out[0].shape[1:] == (3, 32, 32)


@FUZZ
@given(config_trees)
def test_config_trees(tree):
    cfg = _ok_or_gankit_error(from_dict, RunConfig, tree)
    if cfg is not None:
        assert isinstance(cfg, RunConfig)


@FUZZ
@given(st.text(max_size=40))
def test_override_strings(text):
    override = _ok_or_gankit_error(parse_override, text)
    if override is not None:
        _ok_or_gankit_error(resolve, None, [override])


@FUZZ
@given(st.binary(max_size=300))
def test_checkpoint_random_bytes(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    path.write_bytes(raw)
    with pytest.raises(GankitError):
        load_checkpoint(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=120), min_size=1, max_size=4), st.integers(0, 3))
def test_image_folder_with_junk_files(tmp_path_factory, junk, cut):
    folder = tmp_path_factory.mktemp("imgs")
    buf = io.BytesIO()
    Image.new("RGB", (9, 7), (200, 10, 10)).save(buf, format="PNG")
    (folder / "good.png").write_bytes(buf.getvalue())
    png = buf.getvalue()
    for i, raw in enumerate(junk):  # random bytes, and truncated copies of a real PNG, named as images
        (folder / f"junk{i}.png").write_bytes(raw if i % 2 else png[: len(png) * cut // 4])
    data = read_folder(DataConfig(name="folder", path=str(folder), resolution=8))
    assert data.x.shape[1:] == (3, 8, 8) and len(data) + data.extra["skipped"] == len(junk) + 1
