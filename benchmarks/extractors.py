"""Speed of the feature extractors and of the metric arithmetic on this machine.

    python benchmarks/extractors.py --out benchmarks/results/extractors/extractors_cpu.json

Extractors: images/s over MNIST test images (the classifier on 10,000, Inception on --inception-n),
batched as `gankit eval` does, median of `--repeats` runs. Metrics: seconds for FID, KID, PR and DC on
random features of Inception's size (2048-d) for --metric-n real and generated samples.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch
from _common import emit

from gankit.core.runtime import resolve_device
from gankit.data import DataConfig, load_dataset
from gankit.metrics import METRICS, Features, build_extractor, extract


def images_per_sec(name: str, images: torch.Tensor, repeats: int, batch_size: int, device) -> dict:
    extractor = build_extractor(name, "mnist", device=device)
    extract(extractor, images[:batch_size].split(batch_size))  # warm-up
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        extract(extractor, images.split(batch_size))
        rates.append(len(images) / (time.perf_counter() - t0))
    return {"extractor": name, "images": len(images), "batch_size": batch_size,
            "images_per_sec": round(statistics.median(rates), 1), "runs": [round(r, 1) for r in rates]}


def metric_seconds(n: int, dim: int) -> dict:
    rng = np.random.default_rng(0)
    real = Features(rng.normal(size=(n, dim)).astype(np.float32), None)
    fake = Features(rng.normal(0.1, 1.0, size=(n, dim)).astype(np.float32), None)
    out = {}
    for name in ("fid", "kid", "pr", "dc"):
        t0 = time.perf_counter()
        METRICS.get(name)(real, fake)
        out[name] = round(time.perf_counter() - t0, 2)
    return {"n": n, "dim": dim, "seconds": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inception-n", type=int, default=200)
    parser.add_argument("--metric-n", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    device = resolve_device(args.device)
    test = load_dataset(DataConfig(name="mnist", split="test")).x
    result = {"device": str(device), "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
              "machine": platform.processor() or platform.machine(),
              "extractors": [images_per_sec("classifier", test, args.repeats, 500, device),
                             images_per_sec("inception", test[:args.inception_n], args.repeats, 50, device)],
              "metrics": metric_seconds(args.metric_n, 2048)}
    emit(result, args.out)


if __name__ == "__main__":
    main()
