"""What a newcomer met on the first hour: each rough edge, pinned."""
import json
import os
from pathlib import Path

import pytest
import torch

from conftest import TINY_ARGS, one_error_line, run_cli
from gankit.cli.main import main
from gankit.core.errors import GankitError

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    assert main(["train", "--out", str(tmp), "--name", "digits", *TINY_ARGS]) == 0
    return tmp / "digits"


def test_a_label_for_an_unconditional_generator_is_an_error(tiny_run, tmp_path, capsys):
    ckpt = tiny_run
    code, _, err = run_cli(capsys, "sample", str(ckpt), "--label", "3", "--out", str(tmp_path / "x.png"))
    assert "unconditional" in one_error_line(code, err) and not (tmp_path / "x.png").exists()


def test_serve_on_a_busy_port_is_one_line_and_no_url(tiny_run, capsys):
    import socket
    ckpt = tiny_run
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, _, err = run_cli(capsys, "serve", str(ckpt), "--port", str(port))
    assert f"cannot listen on 127.0.0.1:{port}" in one_error_line(code, err) and "http://" not in err


def _help(capsys, *argv):
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return capsys.readouterr().out


def test_the_latent_help_names_every_group_kind_and_option(capsys):
    text = _help(capsys, "latent", "arithmetic")
    assert all(kind in text for kind in ("seeds:", "class:", "judge:", "npy:"))
    edit = _help(capsys, "latent", "edit")
    n_line = next(line for line in edit.splitlines() if line.strip().startswith("--n "))
    assert len(n_line.split()) > 2  # the option has a description


def test_sample_help_states_the_array_layout(capsys):
    assert "uint8" in _help(capsys, "sample") and "[N, H, W, C]" in _help(capsys, "sample")


def _folder(tmp_path, gray, colour, broken=()):
    import numpy as np
    from PIL import Image
    for i in range(gray):
        Image.fromarray(np.full((16, 16), 10 * i, np.uint8)).save(tmp_path / f"g{i}.png")
    for i in range(colour):
        Image.fromarray(np.zeros((16, 16, 4), np.uint8)).save(tmp_path / f"c{i}.png")
    for name in broken:
        (tmp_path / name).write_text("not an image")
    return tmp_path


@pytest.mark.parametrize("gray, colour, channels", [(20, 1, 1), (1, 20, 3)])
def test_a_mixed_folder_follows_the_majority_and_says_so(tmp_path, caplog, gray, colour, channels):
    from gankit.data import DataConfig, load_dataset
    _folder(tmp_path, gray, colour)
    with caplog.at_level("INFO", logger="gankit"):
        data = load_dataset(DataConfig(name="folder", path=str(tmp_path), resolution=16))
    assert data.x.shape[1] == channels
    assert f"{colour} of {gray + colour} images" in caplog.text
    assert ("RGB" if channels == 3 else "grayscale") in caplog.text
    forced = load_dataset(DataConfig(name="folder", path=str(tmp_path), resolution=16, channels=3))
    assert forced.x.shape[1] == 3


def test_every_skipped_image_is_listed_in_the_run_directory(tmp_path, capsys):
    folder = tmp_path / "pics"
    folder.mkdir()
    _folder(folder, 8, 0, broken=("notes.jpg", "bad.png", "x.gif"))
    code, out, err = run_cli(capsys, "train", "--data", str(folder), "--resolution", "16", "--out", str(tmp_path / "r"),
                          "--name", "pics", "--steps", "1", "--batch-size", "4", "--set", "train.grid_size=4",
                          "--device", "cpu")
    assert code == 0, err
    listed = (tmp_path / "r" / "pics" / "skipped_images.txt").read_text().splitlines()
    assert sorted(line.split(":")[0] for line in listed) == ["bad.png", "notes.jpg", "x.gif"]
    assert str(tmp_path / "r" / "pics" / "skipped_images.txt") in err


def test_psi_has_one_range_everywhere(tiny_run, tmp_path, capsys):
    from gankit.latent.space import PSI_RANGE
    from gankit.web.server import SampleRequest
    assert PSI_RANGE == (0.0, 2.0)
    for command in (["sample", str(tiny_run), "--out", str(tmp_path / "x.png")],
                    ["latent", "interpolate", str(tiny_run), "--seeds", "1,2", "--out", str(tmp_path / "y.png")]):
        code, _, err = run_cli(capsys, *command, "--psi", "5")
        assert "psi (truncation) must be between 0 and 2" in one_error_line(code, err)
    assert run_cli(capsys, "sample", str(tiny_run), "--out", str(tmp_path / "ok.png"), "--psi", "2")[0] == 0
    with pytest.raises(ValueError):
        SampleRequest(seeds=[1], psi=2.5)


def test_the_data_actually_read_is_recorded(tmp_path, capsys, monkeypatch):
    import gzip
    import hashlib
    import struct
    import numpy as np
    elsewhere = tmp_path / "env" / "mnist"
    elsewhere.mkdir(parents=True)
    for stem, arr in (("train-images-idx3-ubyte", np.zeros((16, 28, 28))),
                      ("train-labels-idx1-ubyte", np.arange(16) % 10)):
        raw = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype("uint8").tobytes()
        (elsewhere / f"{stem}.gz").write_bytes(gzip.compress(raw))
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "env"))
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(capsys, "train", "--data", "mnist", "--model", "mlp", "--data-dir", str(empty), "--out",
                        str(tmp_path / "r"), "--name", "m", *TINY_ARGS)
    assert code == 0, err
    record = json.loads((tmp_path / "r" / "m" / "data.json").read_text())
    images = str(elsewhere / "train-images-idx3-ubyte.gz")
    assert record["files"][images] == hashlib.md5(Path(images).read_bytes()).hexdigest()
    assert f"read from {elsewhere}" in err  # the fallback to $GANKIT_DATA is said, not hidden


def test_classes_covered_counts_only_classes_drawn_clearly():
    import numpy as np

    from gankit.metrics.scores import class_stats
    y = np.concatenate([np.repeat(np.arange(9), 1110), [9]])  # digit 9: once in 10,000 (0.01%)
    stats = class_stats(np.eye(10)[y] * 20.0)
    assert stats["classes_covered"] == 9 and stats["classes_seen"] == 10


def test_bench_output_is_only_the_table(capsys):
    code, out, err = run_cli(capsys, "bench", "--presets", "digits_mlp", "--steps", "2", "--repeats", "1",
                          "--device", "cpu", "--set", "model.g_width=16", "--set", "model.d_width=16")
    assert code == 0 and "step " not in out + err and "img/s" in out
    assert "D loss" not in err


def test_a_busy_machine_is_said_once_with_the_remedy(monkeypatch):
    from gankit.core import runtime
    busy = 4.0 * len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "getloadavg", lambda: (busy, busy, busy))
    note = runtime.busy_cpu_note(threads=2)
    assert note is not None and "OMP_NUM_THREADS=1" in note and f"load average {busy:.1f}" in note
    assert runtime.busy_cpu_note(threads=1) is None  # one thread per process is already the remedy
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    assert runtime.busy_cpu_note(threads=2) is None


def test_training_on_a_busy_machine_says_so_once(tmp_path, capsys, monkeypatch):
    busy = 4.0 * len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "getloadavg", lambda: (busy, busy, busy))
    code, _, err = run_cli(capsys, "train", "--out", str(tmp_path), *TINY_ARGS)
    assert code == 0 and err.count("note: this machine is busy") == 1 and "OMP_NUM_THREADS=1" in err


def test_a_runs_own_psi_is_the_default_of_every_sampling_command(tmp_path, capsys):
    """model.psi travels with the run: sample, eval and the explorer draw at it unless told otherwise."""
    import numpy as np

    from gankit.latent import load_generator
    from gankit.latent.generator import default_psi
    from gankit.latent.render import Renderer

    assert main(["train", "--out", str(tmp_path), "--name", "half", *TINY_ARGS, "--set", "model.psi=0.5"]) == 0
    run = str(tmp_path / "half")
    drawn = {}
    for name, extra in (("default", []), ("half", ["--psi", "0.5"]), ("off", ["--psi", "1"])):
        out = tmp_path / f"{name}.npy"
        code, printed, _ = run_cli(capsys, "sample", run, "--n", "8", "--out", str(out), *extra)
        said = json.loads(printed.splitlines()[-1])  # the line `sample` prints names the psi it drew at
        assert code == 0 and said["psi"] == {"default": 0.5, "half": 0.5, "off": 1.0}[name]
        drawn[name] = np.load(out)
    assert np.array_equal(drawn["default"], drawn["half"]) and not np.array_equal(drawn["default"], drawn["off"])
    code, out, err = run_cli(capsys, "eval", run, "--n", "50", "--metrics", "fid", "--extractor", "identity",
                             "--device", "cpu")
    assert code == 0, err
    assert json.loads(out)["psi"] == 0.5
    renderer = Renderer(load_generator(run))
    assert load_generator(run).psi == 0.5 and renderer.info()["psi"] == 0.5
    from PIL import Image

    from gankit.latent.space import Code
    Image.fromarray(drawn["off"][0, :, :, 0]).save(tmp_path / "target.png")
    fitted = renderer.invert([str(tmp_path / "target.png")], steps=2)
    z = Code(torch.tensor(fitted["latents"]))  # an inverted latent is shown as fitted, not truncated
    assert np.array_equal(fitted["images"], renderer.render(z, 1.0))
    assert not np.array_equal(fitted["images"], renderer.render(z))
    assert default_psi(None) == 1.0 and default_psi({"model": {}}) == 1.0  # files from before model.psi
    for damaged in ("x", 7.0, True):
        with pytest.raises(GankitError, match="the file is damaged"):
            default_psi({"model": {"psi": damaged}})
    code, _, err = run_cli(capsys, "train", "--out", str(tmp_path), *TINY_ARGS, "--set", "model.psi=3")
    assert "model.psi (the default truncation) must be between 0 and 2" in one_error_line(code, err)
