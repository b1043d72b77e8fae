"""Mode collapse on 2-D mixtures, the protocol of the PacGAN paper (Lin et al. 2018).

    python benchmarks/toy_modes.py --preset toy_grid --seeds 10 --out benchmarks/results/toy_modes/toy_grid.json

For each seed: train the preset, draw 2,500 samples from the generator (its EMA when the preset keeps
one), count a sample as high-quality within 3 std of its nearest mode, a mode as captured when it is the
nearest mode of at least one high-quality sample, and take the KL of the captured-sample histogram over
modes to uniform, and the spread of the high-quality samples about their modes in the data's std (about
0.97 for the data; see gankit.metrics.mode_stats). Reports each seed and the mean ± std, for G's own
samples (the protocol as published) and, in a separate "jbt" block, for samples drawn with Jacobian-based
truncation (--jbt, the share of latents kept; see gankit.latent.jacobian). --keep DIR keeps each seed's run;
--score RUN... scores kept runs without training. --every K also keeps a snapshot every K steps and reports G's
own samples at each (a seed's "trajectory"), to see when the modes are found and how fast they sharpen.
Published anchors (PacGAN, Table 2/3): grid — GAN 17.3 modes / 94.8% high-quality, PacGAN4 24.8 / 93.6%;
ring — PacGAN2 7.9 / 95.6%.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from _common import emit, mean_std, train_then_score

from gankit.checkpoint import load_checkpoint
from gankit.core.config import from_dict, parse_override
from gankit.data import DataConfig, load_dataset
from gankit.latent import load_generator, sample
from gankit.metrics import mode_stats
from gankit.training.callbacks import Checkpoints


def _stats(G, n: int, seed: int, centers: torch.Tensor, std: float, jbt: float = 1.0) -> dict:
    stats = mode_stats(sample(G, n, seed=10_000 + seed, jbt=jbt).cpu(), centers, std)
    return {"modes": stats["modes"], "num_modes": stats["num_modes"], "high_quality": round(stats["high_quality"], 4),
            "kl": round(stats["kl"], 4), "spread": round(stats["spread"], 3)}


def score(G, seed: int, n: int, centers: torch.Tensor, std: float, jbt: float) -> dict:
    """The protocol's numbers for G's own samples, and with Jacobian-based truncation when `jbt` < 1."""
    result = {"seed": seed, **_stats(G, n, seed, centers, std)}
    if jbt < 1.0:
        result["jbt"] = {"keep": jbt, **_stats(G, n, seed, centers, std, jbt)}
    return result


def one_seed(preset: str, seed: int, n: int, steps: int, overrides: list[dict],
             device: str, keep: str = "", jbt: float = 1.0, every: int = 0) -> dict:
    """Train one seed (`steps` 0: the preset's) and score it; no sample grids, surfaces or health checks, only
    the checkpoint at the end (and snapshots every `every` steps), which score_run reads."""
    return train_then_score(preset, overrides, lambda run_dir: score_run(run_dir, n, jbt), steps=steps,
                            seed=seed, device=device, keep=keep, callbacks=[Checkpoints(0, every)])


def score_run(run_dir: str, n: int, jbt: float) -> dict:
    """A run kept by --keep: its seed from the checkpoint, its modes from the dataset it names; with its
    snapshots' scores as "trajectory" when it kept any."""
    ckpt = load_checkpoint(run_dir)
    data = load_dataset(from_dict(DataConfig, ckpt["config"]["data"]))
    seed, centers, std = ckpt["config"]["train"]["seed"], torch.tensor(data.extra["centers"]), data.extra["std"]
    result = score(load_generator(run_dir), seed, n, centers, std, jbt)
    snapshots = [load_generator(p) for p in sorted((Path(run_dir) / "checkpoints").glob("step_*.pt"))]
    if snapshots:
        result["trajectory"] = [{"step": G.step, **_stats(G, n, seed, centers, std)} for G in snapshots]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="toy_ring")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=2500)
    parser.add_argument("--steps", type=int, default=0, help="override the preset's step count")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", default="", help="train into this folder (one run directory per seed) and keep them")
    parser.add_argument("--score", nargs="+", default=[], metavar="RUN",
                        help="score these runs (kept by --keep) instead of training")
    parser.add_argument("--jbt", type=float, default=0.95,
                        help="also score with Jacobian-based truncation keeping this share of latents (1 = off)")
    parser.add_argument("--every", type=int, default=0, metavar="K",
                        help="keep a snapshot every K steps and score each (the seed's trajectory)")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    overrides = [parse_override(s) for s in args.set]
    runs = []
    for seed in [] if args.score else range(args.first_seed, args.first_seed + args.seeds):
        runs.append(one_seed(args.preset, seed, args.n, args.steps, overrides, args.device, args.keep,
                             args.jbt, args.every))
        print(runs[-1], flush=True)
    for run_dir in args.score:
        runs.append(score_run(run_dir, args.n, args.jbt) | {"run": run_dir})
        print(runs[-1], flush=True)

    def agg(key, rows):
        values = [r[key] for r in rows]
        return mean_std(values, 4) | {"min": min(values), "max": max(values)}

    def summary(rows):
        return {key: agg(key, rows) for key in ("modes", "high_quality", "kl", "spread")} | {
            "all_modes_every_seed": all(r["modes"] == r["num_modes"] for r in rows)}

    result = {"preset": "" if args.score else args.preset, "overrides": args.set, "n_samples": args.n,
              "seeds": runs, **summary(runs)}
    if args.jbt < 1.0:
        result["jbt"] = {"keep": args.jbt, **summary([r["jbt"] for r in runs])}
    emit(result, args.out)


if __name__ == "__main__":
    main()
