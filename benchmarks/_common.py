"""Shared by the benchmark scripts: print results as JSON and optionally write them to a file, every result
stamped with how it was made (see `stamp`)."""
from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name() -> str:
    """The GPU's name when one is used, else the CPU's model and the cores this process may use."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{_cpu()} ({cores} cores, {torch.get_num_threads()} torch threads)"


def stamp() -> dict:
    """How a result was made: the command line, the commit (+dirty when the tree had changes), torch, the
    device and the UTC date. The results page of the docs is generated from these."""
    import torch

    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(REPO)
    except ValueError:
        pass
    commit = _git("rev-parse", "--short=12", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {"command": shlex.join(["python", str(script), *sys.argv[1:]]), "argv": list(sys.argv),
            "commit": commit + ("+dirty" if dirty and commit else ""), "torch": torch.__version__,
            "device": device_name(), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")}


def mean_std(values: list[float], digits: int | None = None) -> dict:
    """Mean and sample standard deviation (0 for one value), rounded to `digits` if given."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": mean, "std": std} if digits is None else {"mean": round(mean, digits), "std": round(std, digits)}


def emit(result: dict, out: str) -> None:
    result = {**result, "stamp": stamp()}
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")


def run_header(run_dir: str) -> dict:
    """What a scored run was: its folder and the preset it was trained from (read from its config.json,
    so a `--run` result never reports the script's default preset instead)."""
    config = json.loads((Path(run_dir) / "config.json").read_text())
    return {"run": run_dir, "preset": config.get("preset", "")}


def train_then_score(preset: str, overrides: list[dict], score, *, steps: int = 0, seed: int = 0,
                     device: str = "auto", keep: str = "", callbacks: list | None = None) -> dict:
    """Train `preset` (with `overrides`) into `keep` or a temporary folder, then return
    {"train_seconds", **score(run_dir)}. `callbacks` replace the standard ones (they must write the
    checkpoint that `score` reads)."""
    import tempfile
    import time

    from gankit.training import fit, resolve, start_run

    with tempfile.TemporaryDirectory() as tmp:
        train = {"seed": seed, "device": device} | ({"steps": steps} if steps else {})
        run = start_run(resolve(preset, overrides + [{"out": keep or tmp, "train": train}]))
        t0 = time.perf_counter()
        fit(run, callbacks)
        seconds = round(time.perf_counter() - t0, 1)
        return {"train_seconds": seconds, **score(str(run.dir))}
