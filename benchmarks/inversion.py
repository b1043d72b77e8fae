"""How well does inversion find held-out real images in a generator's latent space?

    python benchmarks/inversion.py runs/00000-mnist-dcgan --n 64 --out benchmarks/results/inversion/inversion_mnist.json

Takes `--n` images of the run's dataset's test split (never seen in training), fits a latent to each
(gankit.latent.invert: Adam through the frozen generator, best of 64 random starts) and reports the
per-image MSE in [-1, 1] pixel units and the PSNR, against a baseline: the best of the 64 random starts alone.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from _common import emit

from gankit.core.runtime import resolve_device
from gankit.data import DataConfig, load_dataset, normalize
from gankit.latent import load_generator
from gankit.latent.invert import invert


def psnr(mse: float) -> float:
    return 10 * math.log10(4.0 / max(mse, 1e-12))  # the pixel range [-1, 1] spans 2, so peak^2 = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    G = load_generator(args.run, device=resolve_device(args.device))
    if G.num_classes:
        raise SystemExit("score an unconditional run (a conditional one also needs each image's class)")
    test = load_dataset(DataConfig(name=G.dataset, split="test", resolution=G.shape[-1]))
    idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:args.n]
    target = normalize(test.x[idx])
    t0 = time.perf_counter()
    _, start_err = invert(G, target, steps=0)
    _, err = invert(G, target, steps=args.steps)
    seconds = time.perf_counter() - t0
    before, after = start_err.tolist(), err.tolist()
    emit({"run": args.run, "step": G.step, "images": args.n, "steps": args.steps,
          "mse_best_random_start": round(statistics.median(before), 4),
          "mse_after_inversion": round(statistics.median(after), 4),
          "psnr_db_after": round(psnr(statistics.median(after)), 2),
          "improved_share": round(sum(a < b for a, b in zip(after, before)) / len(after), 4),
          "seconds": round(seconds, 1)}, args.out)


if __name__ == "__main__":
    main()
