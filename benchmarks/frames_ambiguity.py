"""How well can anything predict where a Moving MNIST digit will be? The data's own limit, without a model.

Moving MNIST draws each digit at its position rounded to whole pixels (data/clips.py: `render`), so the
past frames show only rounded positions, and several true paths share the same rounded past but not the same
rounded future. A predictor that draws a sharp digit must commit to one whole-pixel position; where the past
leaves two possible, the best it can do is the more likely one, and it is a pixel off the rest of the time.
A blurred prediction (the L2 optimum) hedges between them instead, which is why a pixel loss blurs here.

This simulates the dataset's own paths (`trajectories`, the same speed and bounces) for many clips and, along
one axis at a time, groups them by their rounded past positions: within a group, the share of clips whose
rounded position k frames ahead is not the group's most common one is the lowest error any predictor can
reach for that axis (the Bayes error), estimated from the samples. It ignores what the other axis says about
the speed (the two components share one speed), so it can only overstate the ambiguity a little.

Then, on --score fresh clips drawn with MNIST's test digits, the MSE (OpenSTL's: per frame, summed over
pixels in [0, 1]) of two ideal predictors that know the digit and the dynamics and err only where the rounded
past leaves the position open: the sharp one draws the digit at the most likely position (each axis's
posterior from the groups above, taken as independent), the blurred one draws the posterior's average of
the digit over the positions, which is the lowest MSE anything can reach given those posteriors. Their ratio
is what sharpness costs in MSE on this data even for a perfect model.

    python benchmarks/frames_ambiguity.py --dataset moving_mnist_small --clips 2000000 --score 2000 --out F.json
"""
from __future__ import annotations

import argparse
from collections import Counter, defaultdict

import numpy as np
from _common import emit

from gankit.data import DataConfig, load_dataset
from gankit.data.clips import MOVING_MNIST, trajectories
from gankit.data.dataset import resize_images


def rounded_paths(dataset: str, clips: int, seed: int) -> tuple[np.ndarray, int, int]:
    """Whole-pixel positions [clips, frames, 2] of one digit, as `render` places it, and the context length."""
    spec = MOVING_MNIST[dataset]
    frames = spec.context + spec.horizon
    paths = trajectories(clips, 1, frames, np.random.default_rng(seed))[:, 0]
    return np.rint(paths * (spec.size - spec.glyph)).astype(np.int64), spec.context, spec.horizon


def grouped(past: np.ndarray, future: np.ndarray) -> dict:
    """{rounded past (bytes): Counter of the rounded future values that followed it}."""
    groups: dict = defaultdict(Counter)
    for key, value in zip(map(bytes, past), future.tolist()):
        groups[key][value] += 1
    return groups


def bayes_error(groups: dict) -> float:
    """The share of rows whose future value is not the most common one among rows with the same past."""
    wrong = sum(sum(counts.values()) - max(counts.values()) for counts in groups.values())
    return wrong / sum(sum(counts.values()) for counts in groups.values())


def placed(glyph: np.ndarray, size: int, row: int, col: int) -> np.ndarray:
    canvas = np.zeros((size, size))
    canvas[row:row + len(glyph), col:col + len(glyph)] = glyph
    return canvas


def ideal_mse(dataset: str, tables: list, clips: int, seed: int) -> dict:
    """Per-frame MSE of the ideal sharp and blurred predictors on fresh clips (see the module docstring)."""
    spec = MOVING_MNIST[dataset]
    positions, context, horizon = rounded_paths(dataset, clips, seed)
    test_digits = load_dataset(DataConfig(name="mnist", split="test")).x  # what the variant's test clips move
    digits = resize_images(test_digits, spec.glyph, 0)[:, 0].numpy() / 255
    glyphs = digits[np.random.default_rng(seed).integers(0, len(digits), clips)]
    sharp, blurred, unseen = np.zeros(horizon), np.zeros(horizon), 0
    for i in range(clips):
        rows_ahead, cols_ahead = ([tables[a][k].get(positions[i, :context, a].astype(np.int8).tobytes())
                                   for k in range(horizon)] for a in (0, 1))
        if None in rows_ahead + cols_ahead:
            unseen += 1  # a past the simulation never drew: too rare to matter, left out
            continue
        for k, (rows, cols) in enumerate(zip(rows_ahead, cols_ahead)):
            truth = placed(glyphs[i], spec.size, *positions[i, context + k])
            best = placed(glyphs[i], spec.size, max(rows, key=rows.get), max(cols, key=cols.get))
            total = sum(rows.values()) * sum(cols.values())
            mean = sum(nr * nc * placed(glyphs[i], spec.size, r, c) for r, nr in rows.items()
                       for c, nc in cols.items()) / total
            sharp[k] += ((best - truth) ** 2).sum()
            blurred[k] += ((mean - truth) ** 2).sum()
    scored = clips - unseen
    return {"clips_scored": scored, "sharp_mse_per_frame": [round(v / scored, 3) for v in sharp],
            "blurred_mse_per_frame": [round(v / scored, 3) for v in blurred],
            "sharp_mse": round(sharp.sum() / scored / horizon, 3),
            "blurred_mse": round(blurred.sum() / scored / horizon, 3),
            "sharp_over_blurred": round(sharp.sum() / max(blurred.sum(), 1e-12), 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="moving_mnist_small", choices=sorted(MOVING_MNIST))
    p.add_argument("--clips", type=int, default=2_000_000, help="simulated paths (more: a tighter estimate)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--score", type=int, default=0, help="also the ideal predictors' MSE on this many fresh clips")
    p.add_argument("--out", default="")
    args = p.parse_args()
    if MOVING_MNIST[args.dataset].digits != 1:
        raise SystemExit("one digit a clip only: with two, which digit is where would have to be tracked too")
    positions, context, horizon = rounded_paths(args.dataset, args.clips, args.seed)
    tables = [[grouped(np.ascontiguousarray(positions[:, :context, a]).astype(np.int8), positions[:, context + k, a])
               for k in range(horizon)] for a in (0, 1)]
    errors = np.mean([[bayes_error(t) for t in axis] for axis in tables], 0)
    result = {"benchmark": "frames_ambiguity", "dataset": args.dataset, "clips": args.clips, "seed": args.seed,
              "context": context, "horizon": horizon,
              "per_axis_bayes_error": [round(e, 4) for e in errors],
              "either_axis_if_independent": [round(1 - (1 - e) ** 2, 4) for e in errors]}
    if args.score:
        result["ideal_predictors"] = ideal_mse(args.dataset, tables, args.score, args.seed + 1)
    emit(result, args.out)


if __name__ == "__main__":
    main()
