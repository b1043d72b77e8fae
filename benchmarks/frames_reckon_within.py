"""Which `model.g.reckon_within`? Kept runs of a preset that follows several digits in a box (moving_mnist) are
scored at each width on clips of MNIST's *training* digits, so that the width is chosen without the test clips.

`gankit eval --split train` scores the first --n of the run's fixed training clips (drawn with data.clip_seed).
A run trained on fresh clips (data.stream, as moving_mnist does) never trained G on them: each of its batches
is drawn from the run's seed and the batch number. Width 0 is G's own moves everywhere. The result lists each
run's MSE, SSIM and sharpness at every width and, per width, the mean MSE over the runs; `best` is the width
with the least mean.

    python benchmarks/frames_reckon_within.py --runs RUN0,RUN1,RUN2 --widths 0,1.5,2,2.5,3,3.5,4,5 --n 1000 \
        --out benchmarks/results/frames/moving_mnist_reckon_within_sweep_train_clips.json
"""
from __future__ import annotations

import argparse

from _common import emit, mean_std, run_header

from gankit.latent.evaluate import EvalOptions, evaluate_run

KEPT = ("mse", "ssim", "sharpness")


def sweep(run_dir: str, widths: list[float], n: int, split: str, device: str) -> dict:
    """One run's scores at each width, on the first n clips of `split`."""
    results = [evaluate_run(run_dir, EvalOptions(n=n, split=split, device=device, reckon_within=width))
               for width in widths]
    rows = [{"reckon_within": w, **{k: round(r["metrics"][k], 4) for k in KEPT}} for w, r in zip(widths, results)]
    return {**run_header(run_dir), **{k: results[0][k] for k in ("step", "split", "n")}, "widths": rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", required=True, help="comma-separated kept run folders (benchmarks/frames.py --keep)")
    p.add_argument("--widths", default="0,1.5,2,2.5,3,3.5,4,5", help="comma-separated widths in pixels")
    p.add_argument("--n", type=int, default=1000, help="clips scored per run and width")
    p.add_argument("--split", default="train", help="the clips scored: train (the default) keeps the test set out")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="")
    args = p.parse_args()
    widths = [float(w) for w in args.widths.split(",")]
    runs = [sweep(r, widths, args.n, args.split, args.device) for r in args.runs.split(",")]
    means = {w: mean_std([run["widths"][i]["mse"] for run in runs], 4) for i, w in enumerate(widths)}
    best = min(widths, key=lambda w: means[w]["mean"])
    emit({"benchmark": "frames_reckon_within", "split": args.split, "n": args.n, "runs": runs,
          "mean_mse": [{"reckon_within": w, **means[w]} for w in widths], "best": best}, args.out)


if __name__ == "__main__":
    main()
