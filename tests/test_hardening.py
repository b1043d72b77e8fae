"""Hostile and unlucky inputs: each gets one `error:` line (or a correct result) and leaves nothing behind."""
import errno
import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from gankit.cli.main import main
from gankit.core import files
from gankit.training import loop

TINY = ["--steps", "4", "--set", "model.g_width=16", "--set", "model.d_width=32", "--set", "train.batch_size=16",
        "--set", "train.log_every=2", "--set", "train.grid_size=16", "--device", "cpu"]


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(code, err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


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
    assert {"config.json", "checkpoint.pt"} <= {p.name for p in run.dir.iterdir()}


def test_a_full_disk_at_start_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", fsync)
    out = tmp_path / "runs"
    code, _, err = _run(capsys, "train", "--out", str(out), *TINY)
    line = _one_error_line(code, err)
    assert "No space left on device" in line and str(out) in line
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("out", ["/etc/passwd", "/proc/x", "/proc/self/x/y"])
def test_an_output_folder_that_cannot_be_made_is_refused_by_the_dry_run(out, capsys):
    code, _, err = _run(capsys, "train", "--out", out, "--dry-run")
    assert out in _one_error_line(code, err)
