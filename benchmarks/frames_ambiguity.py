"""How well can anything predict where a Moving MNIST digit will be? The data's own limit, without a model.

Moving MNIST draws each digit at its position rounded to whole pixels (data/clips.py: `render`), so the
past frames show only rounded positions, and several true paths share the same rounded past but not the same
rounded future. A predictor that draws a sharp digit must commit to one whole-pixel position; where the past
leaves several possible, the best it can do is the most likely one, and it is off the rest of the time. A
blurred prediction (the L2 optimum) hedges between them instead, which is why a pixel loss blurs here.

This simulates the dataset's own paths (`trajectories`: the same speed and bounces) for --clips clips and
groups them by their whole rounded past (both axes, every past frame): the futures that followed a past are
its posterior, estimated from the samples. Then it continues the benchmark's own test clips (the fixed test
split, MNIST test digits) with ideal predictors that know the digit and the dynamics and err only where the
rounded past leaves the future open, and scores them as `gankit eval` scores a model (metrics.frames):

- `map`: the digit drawn sharp at each frame's most likely position (the least a sharp predictor can miss);
- `posterior_mean`: the posterior's average of the digit over the positions, the least MSE anything can reach;
- `bilinear_at_mean`: the digit moved to the posterior's mean position and read bilinearly, as a simvp G that
  moves whole objects draws it (model.g.objects) when it knows that mean exactly;
- `tempered_A`: the average with each position's probability raised to the power A and renormalised, a
  family from the posterior mean (A = 1) to the sharp guess (A → ∞): what sharpness costs in MSE along it.

Each row has MSE, SSIM and the sharpness ratio. `map_wrong_per_frame` is the share of test clips whose true
position is not the most likely one (the Bayes error of the position, both axes at once).

    python benchmarks/frames_ambiguity.py --dataset moving_mnist_small --clips 12000000 --out F.json
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import emit

from gankit.data import DataConfig, load_dataset
from gankit.data.clips import MOVING_MNIST, TEST_SEED, _digits, draw_plan, glyph_images, trajectories
from gankit.metrics.frames import frame_scores

TEMPERS = (1.5, 2.0, 3.0, 4.0, 6.0)


def cells(paths: np.ndarray, spec) -> np.ndarray:
    """Positions in [0, 1] [n, T, 2] -> the whole-pixel corner `render` draws each at, [n, T, 2]."""
    return np.rint(paths * (spec.size - spec.glyph)).astype(np.int64)


def codes(corners: np.ndarray, spec) -> np.ndarray:
    """Corners [n, frames, 2] -> one int64 per row naming them all (base size - glyph + 1)."""
    base, out = spec.size - spec.glyph + 1, np.zeros(len(corners), np.int64)
    for value in corners.reshape(len(corners), -1).T:
        out = out * base + value
    return out


def posteriors(spec, clips: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Simulated (past code, future corners [horizon, 2]) of `clips` paths, sorted by past code."""
    rng, pasts, futures = np.random.default_rng(seed), [], []
    for start in range(0, clips, 1_000_000):
        corners = cells(trajectories(min(1_000_000, clips - start), 1, spec.frames, rng)[:, 0], spec)
        pasts.append(codes(corners[:, :spec.context], spec))
        futures.append(corners[:, spec.context:])
    past, future = np.concatenate(pasts), np.concatenate(futures)
    order = np.argsort(past, kind="stable")
    return past[order], future[order]


def place(glyph: np.ndarray, size: int, row: float, col: float) -> np.ndarray:
    """The glyph with its corner at (row, col), read bilinearly between whole pixels."""
    canvas, g = np.zeros((size, size)), len(glyph)
    row, col = (min(max(v, 0.0), size - g) for v in (row, col))  # a mean of corners a rounding past the last
    r0, c0 = int(np.floor(row)), int(np.floor(col))
    for dr, wr in ((0, 1 - (row - r0)), (1, row - r0)):
        for dc, wc in ((0, 1 - (col - c0)), (1, col - c0)):
            if wr * wc > 1e-9:
                canvas[r0 + dr:r0 + dr + g, c0 + dc:c0 + dc + g] += wr * wc * glyph
    return canvas


def mixture(glyph: np.ndarray, size: int, where: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return sum(w * place(glyph, size, r, c) for (r, c), w in zip(where, weights))


def predictors(glyph: np.ndarray, size: int, where: np.ndarray, counts: np.ndarray) -> dict:
    """Every ideal predictor's frame for one horizon, from the distinct future corners [m, 2] that followed the
    past and how often each did."""
    p = counts / counts.sum()
    out = {"map": place(glyph, size, *where[counts.argmax()]), "posterior_mean": mixture(glyph, size, where, p),
           "bilinear_at_mean": place(glyph, size, *(p[:, None] * where).sum(0))}
    for a in TEMPERS:
        w = (counts / counts.max()) ** a
        out[f"tempered_{a:g}"] = mixture(glyph, size, where, w / w.sum())
    return out


def clip_plan(name: str, n: int) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """The first n fixed test clips as the loader draws them: each clip's glyph [n, g, g] in [0, 1], its corners
    [n, T, 2], and its true future frames [n, K, H, W] in [-1, 1] (checked to be those glyphs at those corners)."""
    spec = MOVING_MNIST[name]
    glyphs = glyph_images(_digits(spec, DataConfig(name="mnist", split="test")), spec) / 255
    which, paths = draw_plan(len(glyphs), 10_000, spec, np.random.default_rng(TEST_SEED))  # the test split's
    glyph, corners = glyphs[which[:n, 0]], cells(paths[:n, 0], spec)
    future = load_dataset(DataConfig(name=name, split="test", clips=n)).x
    for i in range(min(n, 50)):
        drawn = [place(glyph[i], spec.size, *corners[i, spec.context + k]) for k in range(spec.horizon)]
        assert np.allclose(np.stack(drawn), future[i].numpy() / 255), "the test clips are not drawn from this plan"
    return glyph, corners, future.float() / 127.5 - 1


def ideal(name: str, past: np.ndarray, future: np.ndarray, n: int) -> dict:
    """The ideal predictors on the first n fixed test clips of dataset `name`, scored by metrics.frames."""
    spec = MOVING_MNIST[name]
    glyph, corners, true = clip_plan(name, n)
    keys = codes(corners[:, :spec.context], spec)
    lo, hi = np.searchsorted(past, keys, "left"), np.searchsorted(past, keys, "right")
    preds, wrong, unseen = {}, np.zeros(spec.horizon), 0
    for i in range(n):
        seen = future[lo[i]:hi[i]]
        if not len(seen):  # a past the simulation never drew: its own future stands in (too rare to matter)
            unseen, seen = unseen + 1, corners[i:i + 1, spec.context:]
        for k in range(spec.horizon):
            where, counts = np.unique(seen[:, k], axis=0, return_counts=True)
            wrong[k] += not np.array_equal(where[counts.argmax()], corners[i, spec.context + k])
            for key, frame in predictors(glyph[i], spec.size, where, counts).items():
                preds.setdefault(key, np.zeros((n, spec.horizon, spec.size, spec.size), np.float32))[i, k] = frame
    scores = {key: frame_scores(torch.from_numpy(x).clamp(0, 1) * 2 - 1, true, 1) for key, x in preds.items()}
    return {"test_clips": n, "pasts_never_simulated": unseen, "map_wrong_per_frame": (wrong / n).round(4).tolist(),
            "predictors": {key: {k: s[k] for k in ("mse", "ssim", "sharpness", "mse_per_frame")}
                           for key, s in scores.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="moving_mnist_small", choices=sorted(MOVING_MNIST))
    p.add_argument("--clips", type=int, default=12_000_000, help="simulated paths (more: a tighter posterior)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=10_000, help="test clips scored (the fixed test split's first n)")
    p.add_argument("--out", default="")
    args = p.parse_args()
    spec = MOVING_MNIST[args.dataset]
    if spec.digits != 1:
        raise SystemExit("one digit a clip only: with two, which digit is where would have to be tracked too")
    past, future = posteriors(spec, args.clips, args.seed)
    result = {"benchmark": "frames_ambiguity", "dataset": args.dataset, "clips": args.clips, "seed": args.seed,
              "context": spec.context, "horizon": spec.horizon, "distinct_pasts": int(len(np.unique(past))),
              **ideal(args.dataset, past, future, args.n)}
    emit(result, args.out)


if __name__ == "__main__":
    main()
