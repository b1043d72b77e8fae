"""Training throughput (images/s = batch_size x G updates / s) of presets on this machine.

    python benchmarks/throughput.py --presets mnist_dcgan mnist_mlp digits_mlp --steps 60 --out results/throughput.json

Each preset: build the run (real data from $GANKIT_DATA), 10 warm-up steps, then `--repeats` timed windows of
`--steps` steps; the median window is reported. No callbacks run inside the timed windows.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time

import torch
from _common import emit

from gankit.training import fit, resolve, start_run


def measure(preset: str, steps: int, repeats: int, device: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = resolve(preset, [{"out": tmp, "train": {"steps": 10 + steps * repeats, "device": device}}])
        run = start_run(cfg)
        fit(run, callbacks=[], until=10)
        rates = []
        for r in range(repeats):
            t0 = time.perf_counter()
            fit(run, callbacks=[], until=10 + steps * (r + 1))
            rates.append(steps * cfg.train.batch_size / (time.perf_counter() - t0))
    return {"preset": preset, "batch_size": cfg.train.batch_size, "images_per_sec": round(statistics.median(rates), 1),
            "windows": [round(x, 1) for x in rates]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["mnist_dcgan", "mnist_mlp", "digits_mlp"])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    results = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
               "torch": torch.__version__, "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
               "results": [measure(p, args.steps, args.repeats, args.device) for p in args.presets]}
    emit(results, args.out)


if __name__ == "__main__":
    main()
