"""Several processes through torchrun (gloo on CPU): DDP trains what one process trains on the same global
batch, rank 0 alone writes, a run resumes with another number of processes, a dead or hung process stops
the job with a clear message, and a signal stops every process at the same step."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from distributed_cases import BATCH_NORM, CASES
from gankit.checkpoint import load_checkpoint
from gankit.cli.launch import without_nproc
from gankit.cli.main import main
from gankit.core.distributed import Dist
from gankit.core.errors import GankitError
from gankit.data import BatchSampler, DataConfig, load_dataset
from gankit.training.parallel import distribute
from gankit.training.session import build_game

from conftest import tiny_config

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
COMMON = ["--data", "digits", "--model", "mlp", "--batch-size", "32", "--set", "model.g_norm=none",
          "--set", "model.g_width=32", "--set", "model.d_width=32", "--set", "train.log_every=2",
          "--set", "train.checkpoint_every=4", "--set", "train.sample_every=4", "--set", "train.device=cpu"]


def _train(args: list, nproc: int | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "gankit", "train", *map(str, args)] + (["--nproc", str(nproc)] if nproc else [])
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)


def _flat(state: dict) -> torch.Tensor:
    return torch.cat([v.float().flatten() for v in state.values()])


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed")
    script = Path(__file__).with_name("distributed_cases.py")
    proc = subprocess.run(TORCHRUN + [str(script), str(out)], capture_output=True, text=True, env=ENV, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_processes_train_what_one_process_trains(cases, name):
    r = cases[name]
    assert r["step"] == 8 and r["moved_G"] > 1e-4  # it trained
    assert r["diff_G"] <= 1e-5 * max(1.0, r["scale_G"]) and r["diff_D"] <= 1e-5, r
    assert r["spread_G"] == r["spread_D"] == r["spread_ema"] == 0.0  # replicas are identical, the EMA too
    assert r["saves_per_rank"] == [3, 0]  # steps 0, 4 and 8, by rank 0 only
    assert r["run_dirs"] == 1 and r["metrics_rows"] == [2, 4, 6, 8]  # one directory, each row once
    assert r["eval_rows"] == ([4, 8] if "eval" in name else [])  # rank 0 evaluates, every process logs it


def test_a_nan_on_one_process_rolls_every_process_back(cases):
    r = cases["rollback"]
    assert r["rollbacks"] == [1, 1] and r["lr_g"] == [pytest.approx(1e-4)] * 2
    assert r["events"] == [["divergence_rollback", 5]]  # logged once
    assert r["step"] == 10 and r["finite"] and r["spread_G"] == 0.0


@pytest.mark.parametrize("name", sorted(BATCH_NORM))
def test_per_process_batch_norm_keeps_replicas_identical(cases, name):
    r = cases[name]
    assert r["spread_G"] == r["spread_D"] == r["spread_ema"] == 0.0
    # each process normalises over its own half of the batch, so the run differs from one process's
    assert 1e-5 < r["diff_G"] < 1.0
    assert r["saves_per_rank"] == [3, 0] and r["metrics_rows"] == [2, 4, 6, 8]


def test_a_run_resumes_with_another_number_of_processes(tmp_path):
    assert main(["train", *COMMON, "--steps", "12", "--out", str(tmp_path / "alone")]) == 0  # in this process
    two = _train(COMMON + ["--steps", 4, "--out", tmp_path / "mixed"], nproc=2)
    assert two.returncode == 0, two.stderr[-3000:]
    (run_dir,) = list((tmp_path / "mixed").iterdir())
    assert json.loads(two.stdout)["step"] == 4  # one summary line: rank 0's
    assert load_checkpoint(run_dir)["processes"] == 2
    assert main(["train", "--resume", str(run_dir), "--steps", "8"]) == 0  # 2 -> 1
    again = _train(["--resume", run_dir, "--steps", 12], nproc=2)  # 1 -> 2
    assert again.returncode == 0, again.stderr[-3000:]
    a, b = load_checkpoint(next((tmp_path / "alone").iterdir())), load_checkpoint(run_dir)
    assert a["step"] == b["step"] == 12 and b["processes"] == 2
    for part in ("G", "D", "G_ema"):
        assert torch.allclose(_flat(a[part]), _flat(b[part]), rtol=0, atol=1e-5), part
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6, 8, 10, 12]


def _worker(launcher_pid: int, rank: int) -> int:
    """The pid of the torchrun worker with this rank."""
    for proc in Path("/proc").iterdir():
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == launcher_pid and f"RANK={rank}".encode() in env:
            return int(proc.name)
    raise AssertionError(f"no worker of rank {rank} under {launcher_pid}")


def _start_long_run(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gankit", "train", *COMMON, "--steps", "1000000", "--out", str(out),
           "--set", "train.checkpoint_every=20", *extra, "--nproc", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 120
    while not list(out.glob("*/checkpoints")) and not any(
            p.stat().st_size > 200 for p in out.glob("*/metrics.jsonl")) and time.time() < deadline:
        time.sleep(0.2)
    return proc


@pytest.mark.parametrize("how", ["killed", "hung"])
def test_a_dead_or_hung_process_stops_the_job_with_a_clear_message(tmp_path, how):
    out = tmp_path / "runs"
    proc = _start_long_run(out, "--set", "train.dist_timeout=3")
    survivor, victim = _worker(proc.pid, rank=0), _worker(proc.pid, rank=1)
    os.kill(victim, signal.SIGKILL if how == "killed" else signal.SIGSTOP)
    t0 = time.time()
    while Path(f"/proc/{survivor}").exists() and time.time() - t0 < 60:
        time.sleep(0.1)
    waited = time.time() - t0
    if how == "hung" and Path(f"/proc/{victim}").exists():  # let torchrun's SIGTERM reach it (not wait 30 s)
        os.kill(victim, signal.SIGCONT)
    _, stderr = proc.communicate(timeout=120)
    assert "Traceback" not in stderr  # gankit's lines, not the launcher's
    if how == "killed":  # the exit code says what happened: 128 + SIGKILL, as a shell reports it
        assert proc.returncode == 128 + signal.SIGKILL and "process 1 of 2 was killed by SIGKILL" in stderr
    else:
        assert proc.returncode == 2  # the survivor's one-line error came first
    assert waited < (10 if how == "killed" else 3 + 10)  # hung: train.dist_timeout=3
    assert "rank 0 lost contact with the other processes" in stderr
    run_dir = next(out.iterdir())
    assert f"resume with gankit train --resume {run_dir}" in stderr
    assert load_checkpoint(run_dir)["step"] % 20 == 0  # the last checkpoint is whole


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_process_at_the_same_step(tmp_path, signum):
    out = tmp_path / "runs"
    proc = _start_long_run(out)
    proc.send_signal(signum)  # the launcher passes it on to both processes (Ctrl-C is SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum and "Traceback" not in stderr, stderr
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    summary = json.loads(stdout.splitlines()[0])
    assert summary["stopped_by"] == "interrupted"
    run_dir = next(out.iterdir())
    assert f"stopped by {signal.Signals(signum).name} at step {summary['step']}, checkpoint written" in stderr
    assert load_checkpoint(run_dir)["step"] == summary["step"] > 0


def test_the_sampler_shards_each_global_batch_and_keeps_one_state():
    data = load_dataset(DataConfig(name="toy_ring"))
    alone = BatchSampler(data, 8, seed=3)
    shards = [BatchSampler(data, 8, seed=3, rank=r, world=2) for r in range(2)]
    for _ in range(3):
        full = alone.next()[0]
        parts = [s.next()[0] for s in shards]
        assert torch.equal(torch.cat(parts), full)
    assert all(torch.equal(s.state_dict()["perm"], alone.state_dict()["perm"]) and s.pos == alone.pos
               for s in shards)
    with pytest.raises(GankitError, match="multiple of the 3 processes"):
        BatchSampler(data, 8, seed=3, world=3)


def test_sync_batch_norm_on_cpu_is_refused_clearly(tmp_path):
    cfg = tiny_config(tmp_path, "digits_mlp")
    data = load_dataset(cfg.data)
    game, _ = build_game(cfg, data, torch.device("cpu"))
    with pytest.raises(GankitError, match="SyncBatchNorm does not run on CPU"):
        distribute(game, Dist(rank=0, world=2, enabled=True, device="cpu"), sync_bn=True)


def test_one_process_is_not_wrapped_in_ddp(tmp_path):
    cfg = tiny_config(tmp_path, "digits_mlp")
    game, _ = build_game(cfg, load_dataset(cfg.data), torch.device("cpu"))
    distribute(game, Dist(rank=0, world=1, enabled=True, device="cpu"), sync_bn=False)
    assert game.sync.shard == (0, 1)
    assert game.sync.G_sync is None and game.sync.D_sync is None and game.sync.sync_buffers is None


def test_nproc_is_left_out_of_the_workers_command_line():
    argv = ["train", "--nproc", "4", "--steps", "10", "--nproc=2", "--preset", "mnist_dcgan"]
    assert without_nproc(argv) == ["train", "--steps", "10", "--preset", "mnist_dcgan"]


def test_nproc_checks_the_batch_before_starting_processes(tmp_path, capsys):
    assert main(["train", "--nproc", "3", "--steps", "5", "--out", str(tmp_path)]) == 2
    assert "must be a multiple of --nproc 3" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_job_process_ends_with_its_code_and_its_buffered_output():
    """end_process skips the interpreter's teardown (os._exit) but still flushes the piped streams and logs."""
    code = ("import logging, sys; from gankit.core import distributed\n"
            "logging.basicConfig(stream=sys.stderr); print('summary'); logging.getLogger('x').warning('log')\n"
            "distributed.end_process(3)\nprint('never')")
    env = {k: v for k, v in ENV.items() if k != "PYTHONUNBUFFERED"}  # so stdout is block-buffered into the pipe
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 3 and proc.stdout == "summary\n" and "log" in proc.stderr


def test_the_cause_is_the_process_a_signal_other_than_torchruns_sigterm_killed():
    from types import SimpleNamespace as F

    from gankit.cli.launch import cause

    # rank 0 stopped by torchrun's SIGTERM, rank 1 killed by SIGKILL: rank 1 is the cause, whatever the order
    assert cause({0: F(exitcode=-15), 1: F(exitcode=-9)})[0] == 1
    assert cause({1: F(exitcode=-9), 0: F(exitcode=-15)})[0] == 1
    assert cause({2: F(exitcode=-9), 1: F(exitcode=-6), 0: F(exitcode=-15)})[0] == 1  # the lowest such rank
    assert cause({1: F(exitcode=-15), 0: F(exitcode=1)})[0] == 1  # SIGTERM alone is still a signal
    assert cause({0: F(exitcode=1), 1: F(exitcode=3)}) is None  # no signal: the first failure decides
