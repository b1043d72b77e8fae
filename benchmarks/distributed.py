"""What data-parallel training costs and gains: the same preset trained by `gankit train` alone, under
torchrun with one process (DDP with world size 1: its overhead alone) and with N processes.

    python benchmarks/distributed.py --preset mnist_dcgan --steps 200 --nproc 1 2 \\
        --out benchmarks/results/distributed/distributed_cpu.json
    python benchmarks/distributed.py --preset mnist_dcgan --steps 400 --nproc 1 --device cuda \\
        --set train.batch_size=512 --out benchmarks/results/distributed/distributed_gpu.json

Each setting runs `--repeats` times in alternation (so drifts of a shared machine hit all settings alike);
a run's throughput is the median images/s of its metrics rows after the first (warm-up) row, and the
reported figure is the median over repeats. The global batch is the same in every setting. On CPUs every
setting gets the same cores in all: N processes get cores/N threads each.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import emit


def _run(preset: str, steps: int, nproc: int, device: str, sets: list[str], threads: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "gankit", "train", "--preset", preset, "--steps", str(steps), "--out", tmp,
               "--device", device, "--set", f"train.log_every={max(steps // 10, 1)}", "--set", "train.sample_every=0",
               "--set", f"train.checkpoint_every={steps}", *[a for s in sets for a in ("--set", s)]]
        if nproc:
            cmd += ["--nproc", str(nproc)]
        env = {**os.environ, "OMP_NUM_THREADS": str(max(threads // max(nproc, 1), 1))}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode:
            raise SystemExit(proc.stderr[-3000:])
        (metrics,) = Path(tmp).glob("*/metrics.jsonl")
        rates = [json.loads(line).get("images_per_sec") for line in metrics.read_text().splitlines()]
        return statistics.median([r for r in rates[1:] if r is not None])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mnist_dcgan")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2], help="process counts under torchrun")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads shared by the processes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    settings = [0] + args.nproc  # 0: plain `gankit train`, no torchrun
    rates: dict[int, list[float]] = {n: [] for n in settings}
    for _ in range(args.repeats):
        for n in settings:
            rates[n].append(_run(args.preset, args.steps, n, args.device, args.set, args.threads))
    plain = statistics.median(rates[0])
    table = {("plain" if n == 0 else f"torchrun_{n}"): {
        "images_per_sec": round(statistics.median(r), 1), "runs": r,
        "vs_plain": round(statistics.median(r) / plain, 3)} for n, r in rates.items()}
    for name, row in table.items():
        print(f"{name:>12}: {row['images_per_sec']:9.1f} img/s  ({row['vs_plain']:.3f}x plain)", file=sys.stderr)
    emit({"preset": args.preset, "steps": args.steps, "device": args.device, "threads": args.threads,
          "overrides": args.set, "settings": table}, args.out)


if __name__ == "__main__":
    main()
