"""Hostile and unlucky inputs: each gets one `error:` line (or a correct result) and leaves nothing behind."""
import errno
import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from conftest import TINY_ARGS, one_error_line, run_cli, tiny_config
from gankit.cli.main import main
from gankit.core import files
from gankit.training import loop

def test_a_kill_before_the_first_checkpoint_leaves_no_run_directory(tmp_path):
    """The kill lands after the run's networks are built and before its step-0 checkpoint exists, by
    construction: the child stops inside save_checkpoint and waits to be killed."""
    cfg = tiny_config(tmp_path)
    ready, tell = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready)

        def stop_here(*args, **kwargs):
            os.write(tell, b"x")
            time.sleep(3600)

        loop.save_checkpoint = stop_here
        try:
            loop.start_run(cfg)
        finally:
            os._exit(0)
    os.close(tell)
    assert os.read(ready, 1) == b"x"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    root = Path(cfg.out)
    assert not [p for p in root.iterdir() if not p.name.startswith(files.STAGING_PREFIX)]  # no run directory
    run = loop.start_run(cfg)  # the next run clears the abandoned staging folder and starts at 00000
    assert sorted(p.name for p in root.iterdir()) == ["00000-digits-mlp"]
    assert run.dir.stat().st_mode & 0o777 == 0o777 & ~files._umask()  # as mkdir would make it, not mkdtemp's 0700
    assert {"config.json", "checkpoint.pt"} <= {p.name for p in run.dir.iterdir()}


def test_a_full_disk_at_start_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", fsync)
    out = tmp_path / "runs"
    code, _, err = run_cli(capsys, "train", "--out", str(out), *TINY_ARGS)
    line = one_error_line(code, err)
    assert "No space left on device" in line and str(out) in line
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("out", ["/etc/passwd", "/proc/x", "/proc/self/x/y"])
def test_an_output_folder_that_cannot_be_made_is_refused_by_the_dry_run(out, capsys):
    code, _, err = run_cli(capsys, "train", "--out", out, "--dry-run")
    assert out in one_error_line(code, err)


# ---- a fuzz pass over tampered checkpoints, through every command that loads one ----

def _set(path, value):
    """A tampering that sets ckpt[path[0]][path[1]]... to value (or deletes it for _DELETE)."""
    def tamper(ckpt):
        node = ckpt
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value(node.get(path[-1])) if callable(value) else value
        return ckpt
    return tamper


_DELETE = object()


def _first(name):
    return lambda state: {k: (v if i else v.new_zeros([3] + list(v.shape))) if name == "shape" else v
                          for i, (k, v) in enumerate(state.items())}


TAMPERINGS = {
    # sizes
    "huge width": _set(["model", "G", "width"], 10**6),
    "huge z_dim": _set(["model", "G", "z_dim"], 10**9),
    "negative z_dim": _set(["model", "G", "z_dim"], -5),
    "zero width": _set(["model", "D", "width"], 0),
    "huge shape": _set(["model", "G", "shape"], [1, 10**6, 10**6]),
    "huge class count": _set(["model", "G", "num_classes"], 10**9),
    "width as float": _set(["model", "G", "width"], 16.0),
    # types
    "string width": _set(["model", "G", "width"], "16"),
    "bool width": _set(["model", "G", "width"], True),
    "shape as string": _set(["model", "G", "shape"], "1x8x8"),
    "extra __class__ option": _set(["model", "G", "__class__"], "os.system"),
    "extra self option": _set(["model", "G", "self"], 1),
    "unknown family": _set(["model", "name"], "nope"),
    "family as number": _set(["model", "name"], 5),
    "model not a dict": _set(["model"], "dcgan"),
    "G kwargs not a dict": _set(["model", "G"], [1, 2]),
    "config not a dict": _set(["config"], "x"),
    "config without data": _set(["config", "data"], _DELETE),
    "config with a string size": _set(["config", "model", "g_width"], "16"),
    "config with an unknown key": _set(["config", "train", "evil"], 1),
    "data not a dict": _set(["data"], 3),
    "class names not strings": _set(["data", "class_names"], [1, 2]),
    "unknown data kind": _set(["data", "kind"], "video"),
    # steps
    "step -1": _set(["step"], -1),
    "step as string": _set(["step"], "3"),
    "step as float": _set(["step"], 1.5),
    "step as bool": _set(["step"], True),
    # shapes of stored tensors
    "G tensor of another shape": lambda c: {**c, "G": {k: torch.zeros(3, 3) for k in c["G"]}},
    "G_ema tensor of another shape": lambda c: {**c, "G_ema": {k: torch.zeros(2) for k in c["G_ema"]}},
    "D tensor of another shape": lambda c: {**c, "D": {k: torch.zeros(1) for k in c["D"]}},
    "G tensor missing": lambda c: {**c, "G": dict(list(c["G"].items())[1:]),
                                   "G_ema": dict(list(c["G_ema"].items())[1:])},
    "G tensor extra": lambda c: {**c, "G": {**c["G"], "evil": torch.zeros(1)},
                                 "G_ema": {**c["G_ema"], "x": torch.zeros(1)}},
    "G tensor of ints": lambda c: {**c, "G": {k: v.long() for k, v in c["G"].items()},
                                   "G_ema": {k: v.long() for k, v in c["G_ema"].items()}},
    "weights not a dict": _set(["G"], [torch.zeros(1)]),
    "optimizer moment of another shape": lambda c: {**c, "opt_D": {**c["opt_D"], "state": {
        k: {**v, "exp_avg": torch.zeros(7)} for k, v in c["opt_D"]["state"].items()}}},
    "optimizer without groups": _set(["opt_G", "param_groups"], []),
    "optimizer not a dict": _set(["opt_G"], 5),
    "rng state of another size": _set(["rng", "noise"], torch.zeros(3, dtype=torch.uint8)),
    "rng missing": _set(["rng"], {}),
    "sampler order too short": _set(["sampler", "perm"], torch.arange(5)),
    "sampler order repeats": _set(["sampler", "perm"], lambda p: torch.zeros_like(p)),
    "sampler position negative": _set(["sampler", "pos"], -4),
    "sampler not a dict": _set(["sampler"], None),
    "fixed latents of another width": _set(["fixed", "z"], lambda z: torch.zeros(len(z), 3)),
    "fixed latents 1-D": _set(["fixed", "z"], torch.zeros(4)),
    "fixed labels out of range": _set(["fixed", "y"], lambda y: torch.full((16,), 99)),
    "fixed missing": _set(["fixed"], {}),
    # missing and extra keys
    "no step": _set(["step"], _DELETE),
    "no G": _set(["G"], _DELETE),
    "extra top-level key": _set(["notes"], "harmless"),
    "format version as string": _set(["format_version"], "1"),
    "untouched": lambda c: c,
}


def _commands(ckpt, tmp):
    image = tmp / "digit.png"
    return {
        "sample": ["sample", ckpt, "--n", "2", "--out", str(tmp / "s.png"), "--force"],
        "eval": ["eval", ckpt, "--extractor", "identity", "--n", "4", "--metrics", "fid", "--no-cache"],
        "interpolate": ["latent", "interpolate", ckpt, "--seeds", "1,2", "--steps", "2", "--out", str(tmp / "i.png"),
                        "--force"],
        "arithmetic": ["latent", "arithmetic", ckpt, "--group", "a=seeds:1", "--expr", "a", "--out",
                       str(tmp / "a.png"), "--force"],
        "edit": ["latent", "edit", ckpt, "--seeds", "1", "--positive", "seeds:2", "--negative", "seeds:3",
                 "--alphas=0,1", "--out", str(tmp / "e.png"), "--force"],
        "invert": ["latent", "invert", ckpt, "--image", str(image), "--steps", "1", "--out", str(tmp / "v.png"),
                   "--force"],
        "serve": ["serve", ckpt],
        "resume": ["train", "--resume", ckpt, "--steps", "6"],
    }


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    assert main(["train", "--out", str(tmp / "runs"), *TINY_ARGS, "--set", "train.ema_decay=0.9",
                 "--set", "train.checkpoint_every=4"]) == 0
    from PIL import Image
    import numpy as np
    Image.fromarray(np.full((8, 8), 200, dtype=np.uint8)).save(tmp / "digit.png")
    return tmp, next((tmp / "runs").iterdir()) / "checkpoint.pt"


def test_tampered_checkpoints_give_one_line_or_a_result_through_every_command(fuzz_base, capsys, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda *a, **k: None)  # serve builds its app, then would serve
    tmp, original = fuzz_base
    outcomes, failures = {"ok": 0, "error": 0, "results": []}, []
    for name, tamper in TAMPERINGS.items():
        folder = tmp / "cases" / name.replace(" ", "_")
        folder.mkdir(parents=True)
        torch.save(tamper(torch.load(original, weights_only=True)), folder / "checkpoint.pt")
        for command, argv in _commands(str(folder / "checkpoint.pt"), tmp).items():
            try:
                code = main(argv)
            except BaseException as exc:  # noqa: BLE001 - any escape is the failure this test looks for
                failures.append(f"{name} / {command}: {exc.__class__.__name__}: {str(exc)[:100]}")
                continue
            _, err = capsys.readouterr()
            errors = [line for line in err.splitlines() if line.startswith("error:")]
            if code == 0 and not errors:
                outcomes["ok"] += 1
                outcomes.setdefault("results", []).append(f"{name} / {command}")
            elif code == 2 and len(errors) == 1 and "Traceback" not in err:
                outcomes["error"] += 1
            else:
                failures.append(f"{name} / {command}: exit {code}: {err[-200:]!r}")
    capsys.readouterr()
    with capsys.disabled():
        print("\n".join(outcomes["results"]) if os.environ.get("FUZZ_VERBOSE") else "")
        tries = outcomes["ok"] + outcomes["error"] + len(failures)
        print(f"tampered-checkpoint fuzz: {tries} tries, {outcomes['ok']} results, "
              f"{outcomes['error']} one-line errors, {len(failures)} failures")
    assert not failures, "\n".join(failures)
    assert outcomes["ok"] >= 2 * len(_commands("x", tmp))  # the untouched and harmless files still work


# ---- data files ----

def _idx(arr):
    import struct
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype("uint8").tobytes()


def _mnist_files(folder, labels):
    import gzip
    import numpy as np
    folder.mkdir(parents=True)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.array(labels))))


def test_a_label_beyond_the_classes_is_refused_when_read(tmp_path, capsys):
    _mnist_files(tmp_path / "mnist", [1, 2, 200, 3])
    out = tmp_path / "runs"
    code, _, err = run_cli(capsys, "train", "--data", "mnist", "--data-dir", str(tmp_path), "--conditional",
                        "--out", str(out), *TINY_ARGS)
    assert "label 200" in one_error_line(code, err) and not out.exists()


def test_a_gzip_bomb_is_refused_after_reading_what_its_header_promises(tmp_path, monkeypatch):
    """The stream stops one byte past the promised size: here a header promising 4 images of 28×28 followed
    by 64 MB of zeros; the reader must ask the stream for no more than 4·784 + 16 + 1 bytes."""
    import gzip
    import zlib

    from gankit.core.errors import GankitError
    from gankit.data import DataConfig, idx, load_dataset
    folder = tmp_path / "mnist"
    folder.mkdir()
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = co.compress(_idx(__import__("numpy").zeros((4, 28, 28))))
    body += b"".join(co.compress(bytes(2**20)) for _ in range(64)) + co.flush()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(body)
    asked = []
    real_open = gzip.open

    class Counting:
        def __init__(self, stream):
            self.stream = stream

        def read(self, n=-1):
            asked.append(n)
            return self.stream.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    monkeypatch.setattr(idx.gzip, "open", lambda *a, **k: Counting(real_open(*a, **k)))
    with pytest.raises(GankitError, match="more data than its header promises"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))
    assert all(n >= 0 for n in asked) and sum(asked) == 16 + 4 * 784 + 1  # header, body, the one byte past


def test_a_header_promising_too_much_is_refused_unread(tmp_path):
    import gzip
    import struct

    from gankit.core.errors import GankitError
    from gankit.data import idx
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 10**6, 2000, 2000)))
    with pytest.raises(GankitError, match="promises 4,000,000,000,016 bytes"):
        idx.read_idx_file(path)


def test_a_labels_csv_with_a_byte_order_mark_is_read(tmp_path):
    from gankit.data.folder import read_labels_csv
    path = tmp_path / "labels.csv"
    path.write_bytes("image,label\na.png,Happy\nb.png,sad\n".encode("utf-8-sig"))
    assert read_labels_csv(path) == {"a.png": "happy", "b.png": "sad"}


@pytest.mark.parametrize("dtype, mode_file", [("uint16", "g.png"), ("int32", "g.tif"), ("float32", "g.tif")])
def test_high_bit_depth_images_are_scaled_to_8_bits(tmp_path, dtype, mode_file):
    import numpy as np
    from PIL import Image

    from gankit.data import DataConfig, load_dataset
    ramp = np.linspace(35, 65522, 32 * 32).reshape(32, 32)
    values = ramp / 65535 if dtype == "float32" else ramp
    Image.fromarray(values.astype(dtype)).save(tmp_path / mode_file)
    data = load_dataset(DataConfig(name="folder", path=str(tmp_path), resolution=32))
    got = data.x[0, 0].numpy().astype(float)
    want = ramp / 257
    assert data.x.shape == (1, 1, 32, 32)
    assert np.abs(got - want).max() <= 1.0  # not clipped to 255: the ramp survives to within a level
    assert 0 <= got.min() <= 1 and 254 <= got.max() <= 255


# ---- messages ----

class _Evil:
    def __reduce__(self):
        return (os.system, ("true",))


def test_a_code_running_classifier_is_one_line_without_torchs_advice(fuzz_base, tmp_path, capsys):
    _, ckpt = fuzz_base
    torch.save({"x": _Evil()}, tmp_path / "evil.pt")
    code, _, err = run_cli(capsys, "eval", str(ckpt), "--classifier", str(tmp_path / "evil.pt"), "--extractor",
                        "classifier", "--n", "4")
    line = one_error_line(code, err)
    assert "not a gankit classifier" in line and "could run code" in line
    assert "weights_only" not in err and "\x1b[" not in err  # no advice to disable the safety, no colour codes


@pytest.mark.parametrize("damage", ["truncated", "zeroed middle", "empty"])
def test_a_corrupt_checkpoint_is_one_sentence(fuzz_base, tmp_path, capsys, damage):
    _, ckpt = fuzz_base
    raw = ckpt.read_bytes()
    broken = {"truncated": raw[:5000], "zeroed middle": raw[:200] + bytes(len(raw) - 400) + raw[-200:],
              "empty": b""}[damage]
    (tmp_path / "bad.pt").write_bytes(broken)
    code, _, err = run_cli(capsys, "sample", str(tmp_path / "bad.pt"), "--out", str(tmp_path / "x.png"))
    line = one_error_line(code, err)
    assert "is not a gankit checkpoint or is corrupt" in line and line.endswith(")") and len(line) < 300


@pytest.mark.parametrize("setting, message", [
    ("model.z_dim=-3", "model.z_dim must be between 1 and 4096"),
    ("model.z_dim=0", "model.z_dim must be between 1 and 4096"),
    ("model.g_width=0", "model.g_width must be between 1"),
    ("model.g_depth=0", "model.g_depth must be between 1"),
    ("model.g_width=100000", "model.g_width must be between 1 and 4096"),
    ("data.num_points=-1", "data.num_points must be between 1"),
    ("train.seed=1180591620717411303424", "train.seed must be between 0 and"),
    ("train.seed=-1", "train.seed must be between 0 and"),
    ("train.batch_size=100000000", "train.batch_size must be at most"),
    ("data.resolution=100000", "data.resolution must be between 1 and 1024"),
])
def test_values_the_real_run_cannot_take_are_refused_by_the_dry_run(setting, message, capsys):
    code, out, err = run_cli(capsys, "train", "--set", setting, "--dry-run")
    assert message in one_error_line(code, err) and out == ""


def test_a_network_too_large_to_allocate_is_refused_before_it_is_built(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--data", "mnist", "--model", "dcgan", "--set", "model.g_width=4096",
                        "--set", "model.d_width=4096", "--out", str(tmp_path / "runs"), "--device", "cpu",
                        "--set", "data.name=digits", "--set", "data.resolution=64", "--set", "model.conditional=false")
    assert "weights (at most" in one_error_line(code, err)
    root = tmp_path / "runs"
    assert not root.exists() or list(root.iterdir()) == []  # nothing left behind


# ---- files written by an older gankit ----

OLD_RUN = Path(__file__).parent / "data" / "run_0016799"  # made by commit 0016799, when 0 meant "default size"


def test_a_config_and_checkpoint_of_the_older_format_load_and_resume(tmp_path, capsys):
    import shutil

    from gankit.core.config import from_dict
    from gankit.training.config import RunConfig, upgrade_config, validate
    old = json.loads((OLD_RUN / "config.json").read_text())
    assert old["model"]["z_dim"] == 0 and old["model"]["g_depth"] == 0  # the old sentinel
    cfg = from_dict(RunConfig, upgrade_config(old))
    validate(cfg)
    assert cfg.model.z_dim is None and cfg.model.g_depth is None and cfg.model.g_width == 8
    run = tmp_path / "old"
    shutil.copytree(OLD_RUN, run)
    code, out, err = run_cli(capsys, "train", "--resume", str(run), "--steps", "6")
    assert code == 0, err
    assert json.loads(out)["step"] == 6
    code, _, err = run_cli(capsys, "sample", str(run), "--n", "4", "--out", str(tmp_path / "x.png"))
    assert code == 0, err


TODAY_RUN = Path(__file__).parent / "data" / "run_c9ce5fb"  # made by commit c9ce5fb: before the rate controller


def test_a_run_of_the_format_before_controllers_resumes_exactly(tmp_path):
    """Its checkpoint keeps the decayed rates only inside the optimizers and its config has no family
    options; resumed today, it must end where that commit's own uninterrupted run ended."""
    import shutil

    import torch

    from gankit.checkpoint import load_checkpoint
    from gankit.training import fit, resume_run
    from gankit.training.loop import resume_config
    run_dir = tmp_path / "run"
    shutil.copytree(TODAY_RUN, run_dir)
    ckpt = load_checkpoint(run_dir)
    assert "controllers" not in ckpt and ckpt["step"] == 4
    cfg = resume_config(ckpt, [{"out": str(tmp_path)}])
    run = resume_run(run_dir, cfg, ckpt)
    fit(run)
    expected = torch.load(TODAY_RUN / "expected_step8.pt", weights_only=True)
    got = load_checkpoint(run_dir)
    assert got["step"] == 8
    # The expected weights were made on another CPU, and float kernels differ between CPUs (vector width,
    # summation order), so bit-equality holds only on that machine: on an Intel Xeon the largest difference
    # was 1.7e-5 and the mean 1.3e-7. A resume that lost state (optimizer moments, RNG, the sampler's order)
    # takes other steps; the four steps themselves change the weights (and running statistics) by 9e-3 on
    # average, 99.8% of them by more than 1e-6, so the tolerance is far below what a wrong resume moves.
    diff = torch.cat([(expected["G"][k].double() - got["G"][k].double()).abs().flatten() for k in expected["G"]])
    assert diff.max() <= 1e-4 and diff.mean() <= 1e-6, (diff.max().item(), diff.mean().item())
    assert got["opt_G"]["param_groups"][0]["lr"] == pytest.approx(expected["lr_g"], rel=1e-12)
    assert got["opt_D"]["param_groups"][0]["lr"] == pytest.approx(expected["lr_d"], rel=1e-12)
