"""Soak test: train with random SIGKILLs and resumes, then check the result equals an uninterrupted run's.

    python benchmarks/soak.py --preset mnist_mlp --steps 6000 --max-gap 40 --out benchmarks/results/soak/soak_cpu.json

1. Trains `--preset` for `--steps` steps without interruption (the reference).
2. Trains the same config again as `gankit train` subprocesses killed with SIGKILL after a random min-gap..max-gap
   seconds each, resuming with `gankit train --resume` until the run finishes (a kill before the first
   checkpoint starts it again in a fresh directory: nothing was trained yet).
3. Compares every tensor of the two final checkpoints (G, D, EMA, both optimizers, RNG, data order) for
   bitwise equality, and the metrics rows (all but timing fields).
Reports kills, resumes, whether the states match, and `steps_retrained_after_kills`: the steps a killed process
had logged past the checkpoint it resumed from (work lost, seen at log_every granularity: always 0 when the
preset logs no more often than it checkpoints, as mnist_mlp at checkpoint_every=200 does).
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import emit

from gankit.checkpoint import load_checkpoint
from gankit.core.files import read_jsonl

TIMING = {"time", "images_per_sec"}


def _train(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gankit", "train", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _flatten(v, f"{prefix}/{k}")
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _flatten(v, f"{prefix}/{i}")
    else:
        yield prefix, tree


def differences(a: dict, b: dict) -> list[str]:
    """Keys whose values differ between two checkpoints (config and data info excluded)."""
    keys = ("G", "D", "G_ema", "opt_G", "opt_D", "rng", "sampler", "step", "fixed")
    fa, fb = dict(_flatten({k: a[k] for k in keys})), dict(_flatten({k: b[k] for k in keys}))
    out = sorted(set(fa) ^ set(fb))
    for key in set(fa) & set(fb):
        x, y = fa[key], fb[key]
        same = torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y
        if not same:
            out.append(key)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mnist_mlp")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--min-gap", type=float, default=5.0, help="shortest time between kills (seconds)")
    parser.add_argument("--max-gap", type=float, default=40.0, help="longest time between kills (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with tempfile.TemporaryDirectory() as tmp:
        common = ["--preset", args.preset, "--steps", str(args.steps),
                  "--set", f"train.checkpoint_every={args.checkpoint_every}"]
        t0 = time.perf_counter()
        ref = _train(common + ["--out", f"{tmp}/reference"], env)
        if ref.wait() != 0:
            raise SystemExit("the reference run failed")
        reference_seconds = time.perf_counter() - t0
        kills, resumes, restarts, lost, started = 0, 0, 0, 0, time.perf_counter()
        run_dir = None
        while True:
            cmd = common + ["--out", f"{tmp}/killed"] if run_dir is None else ["--resume", str(run_dir)]
            proc = _train(cmd, env)
            try:
                code = proc.wait(timeout=rng.uniform(args.min_gap, args.max_gap))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                dirs = sorted(Path(f"{tmp}/killed").glob("*"))
                if run_dir is None and dirs and (dirs[-1] / "checkpoint.pt").exists():
                    run_dir = dirs[-1]
                elif run_dir is None:
                    restarts += 1
                if run_dir is not None:
                    # steps logged after the checkpoint it resumes from were trained and must be redone
                    logged = [r["step"] for r in read_jsonl(run_dir / "metrics.jsonl") if "event" not in r]
                    at = load_checkpoint(run_dir)["step"]
                    lost += max([s for s in logged if s > at], default=at) - at
                    resumes += 1
                    print(f"kill {kills}: resuming from step {at}", file=sys.stderr, flush=True)
                continue
            if code != 0:
                raise SystemExit(f"a training process failed with exit code {code} (after {kills} kills)")
            if run_dir is None:
                run_dir = sorted(Path(f"{tmp}/killed").glob("*"))[-1]
            break
        killed_seconds = time.perf_counter() - started
        reference_dir = next(Path(f"{tmp}/reference").iterdir())
        diff = differences(load_checkpoint(reference_dir), load_checkpoint(run_dir))

        def strip(rows):
            return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]
        rows_equal = strip(read_jsonl(reference_dir / "metrics.jsonl")) == strip(read_jsonl(run_dir / "metrics.jsonl"))
    emit({"preset": args.preset, "steps": args.steps, "checkpoint_every": args.checkpoint_every,
          "kills": kills, "resumes": resumes, "restarts_before_first_checkpoint": restarts,
          "steps_retrained_after_kills": lost, "reference_seconds": round(reference_seconds, 1),
          "killed_run_seconds": round(killed_seconds, 1), "state_identical": not diff, "differences": diff[:20],
          "metrics_rows_identical": rows_equal}, args.out)


if __name__ == "__main__":
    main()
