"""Stacked MNIST mode coverage (1,000 modes: three MNIST digits as R, G, B), as in VEEGAN and PacGAN.

    python benchmarks/stacked_mnist.py --steps 20000 --out benchmarks/results/stacked_mnist/stacked_mnist.json
    python benchmarks/stacked_mnist.py --preset stacked_mnist_pacdcgan   # PacGAN2: D judges pairs
    python benchmarks/stacked_mnist.py --run runs/00004-stacked_mnist-dcgan     # score a trained run

Trains the preset (or takes a finished run), draws 26,000 samples, classifies each channel with gankit's
bundled MNIST judge, and reports the modes covered (triples predicted at least once) and the KL of the
predicted-triple histogram to uniform, split into each channel's share (`channel_kl`) and the
dependence between channels. Anchors: DCGAN 99 modes / KL 3.4 (VEEGAN paper), PacDCGAN
1000 / 0.06 (PacGAN paper). Note that a perfect generator does not reach KL 0 with 26,000 samples: the
multinomial noise alone gives about (1000 - 1) / (2 * 26000) = 0.019.
"""
from __future__ import annotations

import argparse

import numpy as np

from _common import emit, run_header, train_then_score

from gankit.core.config import parse_override
from gankit.core.runtime import resolve_device
from gankit.latent import load_generator, sampler
from gankit.data import DataConfig, load_dataset
from gankit.metrics import build_extractor, extract, fake_features
from gankit.metrics.scores import class_stats, kl_to_uniform


def _channels(logits, joint_kl: float) -> dict:
    """Where the joint KL comes from: the KL of each channel's digit histogram to uniform (digits drawn
    unevenly) and what is left of it, the dependence between channels (the histogram's total correlation:
    e.g. G favouring some combinations). The three sum to the joint KL."""
    top = np.asarray(logits).argmax(1)
    per_channel = [kl_to_uniform(np.bincount(top // 10 ** (2 - c) % 10, minlength=10)) for c in range(3)]
    return {"channel_kl": [round(k, 4) for k in per_channel], "dependence": round(joint_kl - sum(per_channel), 4)}


def _summary(logits) -> dict:
    stats = class_stats(logits)
    return {"modes": stats["classes_seen"], "kl": round(stats["class_kl"], 4),
            "confident": round(stats["confident"], 4), **_channels(logits, stats["class_kl"])}


def score(run_dir: str, n: int, device: str, jbt: float = 1.0) -> dict:
    """The run's modes and KL (with Jacobian-based truncation when `jbt` < 1), and the same for n real
    Stacked-MNIST test images at the run's resolution (so they make the same resize round trip to the judge's
    28×28 as the samples): the judge's ceiling."""
    dev = resolve_device(device)
    generator = load_generator(run_dir, device=dev)
    judge = build_extractor("classifier", "stacked_mnist", device=dev)
    fake = fake_features(sampler(generator, n, seed=12345, jbt=jbt), n, judge, batch_size=500)
    real = load_dataset(DataConfig(name="stacked_mnist", split="test", num_points=n,
                                   resolution=generator.shape[-1])).x
    real_logits = extract(judge, real.split(500))[1]
    return {"step": generator.step, "n_samples": n, "jbt": jbt, **_summary(fake.logits),
            "real_test_images": _summary(real_logits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="stacked_mnist_dcgan")
    parser.add_argument("--run", default="", help="score this run instead of training one")
    parser.add_argument("--steps", type=int, default=0, help="override the preset's step count")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=26000)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--keep", default="", help="train into this folder (default: a temporary one)")
    parser.add_argument("--jbt", type=float, default=1.0,
                        help="sample with Jacobian-based truncation keeping this share of latents (1 = off)")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.run:
        result = run_header(args.run) | score(args.run, args.n, args.device, args.jbt)
    else:
        result = {"preset": args.preset, "overrides": args.set}
        result.update(train_then_score(args.preset, [parse_override(s) for s in args.set],
                                       lambda run_dir: score(run_dir, args.n, args.device, args.jbt), steps=args.steps,
                                       seed=args.seed, device=args.device, keep=args.keep))
    emit(result, args.out)


if __name__ == "__main__":
    main()
