"""Crash safety: kills during saves, a full disk, clean stops on signals, rollback after NaN."""
import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import tiny_config
from gankit.checkpoint import load_checkpoint, save_checkpoint
from gankit.core import files
from gankit.core.errors import GankitError
from gankit.training import fit, resume_run, start_run
from gankit.training.hooks import Callback
from gankit.training.loop import default_callbacks


def _rows(run):
    return [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]


def _writer_until_killed(path, weights, kill, pause_at, ready):
    """A child that rewrites the checkpoint until killed. With `pause_at` set, the atomic write of its
    first checkpoint stops at that point of the write (after the temporary file is opened, or after it is
    written and synced but before the rename), tells the parent through `ready` and waits to be killed:
    the kill lands inside a save by construction, not by timing."""
    real_fdopen, real_replace = os.fdopen, os.replace

    def pause():
        os.write(ready, b"x")
        time.sleep(3600)

    def fdopen(fd, *args, **kwargs):
        handle = real_fdopen(fd, *args, **kwargs)
        handle.write(b"half a checkpoint")  # a partial temporary file on disk
        handle.flush()
        pause()

    def replace(src, dst):
        pause()
        real_replace(src, dst)

    if pause_at == "open":
        files.os.fdopen = fdopen
    elif pause_at == "rename":
        files.os.replace = replace
    else:
        os.write(ready, b"x")
    try:
        for i in range(10**6):
            step = 1000 * kill + i
            save_checkpoint(path, {"step": step, "weights": weights[step % 2]})
    finally:
        os._exit(0)


def test_sigkill_during_saves_always_leaves_a_valid_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"step": -1, "weights": torch.zeros(1)})
    # made before forking: a forked child must not start torch's thread pool
    weights = [torch.full((60_000,), float(parity)) for parity in (0, 1)]
    plan = ["open", "rename", None] * 4  # 8 kills inside a write by construction, 4 wherever they land
    left = 0
    for kill, pause_at in enumerate(plan):
        before = torch.load(path, weights_only=True)["step"]
        ready, tell = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready)
            _writer_until_killed(path, weights, kill, pause_at, tell)
        os.close(tell)
        assert os.read(ready, 1) == b"x"  # the child is inside the write (or, unpaused, writing in a loop)
        os.close(ready)
        if pause_at is None:
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        ckpt = torch.load(path, weights_only=True)  # never half a file: the old one or a new one
        assert ckpt["format"] == "gankit-checkpoint"
        assert ckpt["step"] == -1 or torch.equal(ckpt["weights"], weights[ckpt["step"] % 2])
        if pause_at is not None:  # killed inside its first save: the previous checkpoint is still the one there
            assert ckpt["step"] == before
        stale = files.remove_stale_temp_files(tmp_path)
        if pause_at is not None:
            assert stale == 1  # its temporary file, left by the kill; the checkpoint itself untouched
        left += stale
    assert 8 <= left <= len(plan)  # the paused kills' files, and any an unpaused kill happened to leave
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


@pytest.mark.parametrize("sample_every, message", [(0, "step 3 is intact"), (3, "last checkpoint .* is intact")])
def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch, sample_every, message):
    cfg = tiny_config(tmp_path, train={"steps": 9, "checkpoint_every": 3, "sample_every": sample_every})
    run = start_run(cfg)
    real_fsync, calls = os.fsync, []

    def fsync(fd):  # the disk fills up during the save at step 6
        calls.append(fd)
        if run.step == 6:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    with pytest.raises(GankitError, match="No space left on device.*" + message):
        fit(run)
    monkeypatch.undo()
    assert load_checkpoint(run.dir)["step"] == 3
    assert not [p for p in run.dir.iterdir() if p.name.endswith(".tmp")]
    resumed = resume_run(run.dir, cfg)
    assert resumed.step == 3 and fit(resumed)["step"] == 9


class _Poison(Callback):
    """Sets one of G's weights to NaN after the given steps (after the checkpoint of that step is written)."""

    def __init__(self, steps):
        self.steps = set(steps)

    def on_step(self, run, stats):
        if run.step in self.steps:
            self.steps.discard(run.step)
            with torch.no_grad():
                next(run.game.G.parameters()).view(-1)[0] = float("nan")


def test_nan_rolls_back_to_the_last_checkpoint_with_lower_learning_rates(tmp_path):
    cfg = tiny_config(tmp_path, train={"steps": 10, "checkpoint_every": 3, "lr_g": 2e-4, "lr_d": 4e-4})
    run = start_run(cfg)
    summary = fit(run, callbacks=default_callbacks(cfg) + [_Poison([4])])
    assert summary["step"] == 10 and summary["stopped_by"] is None
    events = [r for r in _rows(run) if r.get("event") == "divergence_rollback"]
    assert len(events) == 1 and events[0]["step"] == 5 and "restored step 3" in events[0]["action"]
    assert run.game.opt_G.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert run.game.opt_D.param_groups[0]["lr"] == pytest.approx(2e-4)
    ckpt = load_checkpoint(run.dir)
    assert ckpt["step"] == 10 and all(torch.isfinite(v).all() for v in ckpt["G"].values())
    steps = [r["step"] for r in _rows(run) if "event" not in r]
    assert steps == sorted(steps) and steps[-1] == 10  # rows after the restored step were dropped


def test_persistent_nan_stops_after_the_rollback_limit(tmp_path):
    cfg = tiny_config(tmp_path, train={"steps": 12, "checkpoint_every": 3}, health={"max_rollbacks": 2})
    run = start_run(cfg)
    summary = fit(run, callbacks=default_callbacks(cfg) + [_Poison([4, 5, 6, 7, 8, 9])])
    assert summary["stopped_by"] == "divergence"
    kinds = [r["event"] for r in _rows(run) if "event" in r]
    assert kinds.count("divergence_rollback") == 2 and kinds[-1] == "divergence"
    assert run.game.opt_G.param_groups[0]["lr"] == pytest.approx(cfg.train.lr_g / 4)  # halved twice
    ckpt = load_checkpoint(run.dir)  # the last good state (step 6, written before the poison of step 6)
    assert ckpt["step"] == 6 and all(torch.isfinite(v).all() for v in ckpt["G"].values())


def test_nan_before_the_first_periodic_checkpoint_rolls_back_to_step_zero(tmp_path):
    cfg = tiny_config(tmp_path, train={"steps": 6, "checkpoint_every": 100})
    run = start_run(cfg)
    summary = fit(run, callbacks=default_callbacks(cfg) + [_Poison([1])])
    rollbacks = [r for r in _rows(run) if r.get("event") == "divergence_rollback"]
    assert summary["step"] == 6 and "restored step 0" in rollbacks[0]["action"]


class _Spike(Callback):
    """Multiplies G's gradient norm in the stats of the given steps (once each) by a million: an explosion as
    the health monitor sees it, with weights that stay finite."""

    def __init__(self, steps):
        self.steps = set(steps)

    def on_step(self, run, stats):
        if run.step in self.steps:
            self.steps.discard(run.step)
            stats["g_grad_norm"] = stats["g_grad_norm"] * 1e6


def test_a_gradient_explosion_rolls_back_like_nan_and_the_run_goes_on(tmp_path):
    cfg = tiny_config(tmp_path, train={"steps": 12, "checkpoint_every": 4, "log_every": 1, "lr_g": 2e-4})
    run = start_run(cfg)
    summary = fit(run, callbacks=[_Spike([7])] + default_callbacks(cfg))
    assert summary["step"] == 12 and summary["stopped_by"] is None
    assert summary["events"] == ["divergence", "divergence_rollback"]  # the monitor's finding, then the rollback
    [event] = [r for r in _rows(run) if r.get("event") == "divergence_rollback"]
    assert event["step"] == 7 and "restored step 4" in event["action"] and event["evidence"]["g_grad_norm"] > 1e3
    assert run.game.opt_G.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert load_checkpoint(run.dir)["step"] == 12  # the run went on, and its checkpoints with it


def test_an_explosion_that_persists_stops_at_the_last_good_checkpoint(tmp_path):
    # a bound of 1e-9 x the median: every norm the monitor can judge (from the sixth row) is an explosion
    cfg = tiny_config(tmp_path, train={"steps": 12, "checkpoint_every": 4, "log_every": 1},
                      health={"explode_factor": 1e-9, "max_rollbacks": 2})
    run = start_run(cfg)
    summary = fit(run)
    assert summary["stopped_by"] == "divergence" and run.session.diverged
    assert summary["events"].count("divergence_rollback") == 2 and summary["events"][-1] == "divergence"
    assert load_checkpoint(run.dir)["step"] == 4


class _Signal(Callback):
    def __init__(self, step, signum):
        self.step, self.signum = step, signum

    def on_step(self, run, stats):
        if run.step == self.step:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_finishes_the_step_and_checkpoints(tmp_path, signum):
    cfg = tiny_config(tmp_path, train={"steps": 10, "checkpoint_every": 100})
    run = start_run(cfg)
    summary = fit(run, callbacks=default_callbacks(cfg) + [_Signal(4, signum)])
    assert summary["stopped_by"] == "interrupted" and run.session.stopped_by.signal == signal.Signals(signum).name
    assert load_checkpoint(run.dir)["step"] == 4
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored after training
    assert fit(resume_run(run.dir, cfg))["step"] == 10


def test_sigterm_to_the_command_exits_cleanly_with_a_resume_line(tmp_path):
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "gankit", "train", "--steps", "100000", "--out", str(out),
           "--set", "train.log_every=5", "--set", "train.checkpoint_every=100000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while not list(out.glob("*/metrics.jsonl")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    run_dir = next(out.iterdir())
    assert f"resume with: gankit train --resume {run_dir}" in stderr
    step = json.loads(stdout)["step"]
    assert 0 < step < 100000 and load_checkpoint(run_dir)["step"] == step


def test_resume_repairs_a_metrics_line_torn_by_a_kill(tmp_path):
    cfg = tiny_config(tmp_path, train={"steps": 8, "checkpoint_every": 4})
    run = start_run(cfg)
    fit(run, until=4)
    with open(run.dir / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 5, "d_lo')  # the process died inside an append
    resumed = resume_run(run.dir, cfg)
    fit(resumed)
    assert [r["step"] for r in _rows(resumed)] == [2, 4, 6, 8]
