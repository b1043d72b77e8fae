"""A few hundred photos: augmentation in front of D against none, on the LFW face crops, same CPU budget.

    python benchmarks/small_data.py --n-train 500 --arms none,diffaugment,ada --minutes 6 --seeds 0 \\
        --out benchmarks/results/small_data/lfw500_32px_cpu.json

For each N in --n-train, a folder holds the first N + --holdout crops of faces-lfw-crops (sorted by name);
every run holds the same --holdout of them out (data.holdout) and trains on the other N at --resolution,
for --minutes of training time (train.minutes) or --steps steps, with `--augment ARM`. Each run is then scored by
`gankit eval`'s library call against the held-out crops in Inception features: FID, KID, precision/recall,
and the memorisation ratio (median nearest-training distance of samples over that of held-out crops: about
1 when G does not copy), and by the leak check (the share of samples a detector of augmentation artefacts
calls augmented, at a threshold that calls 1% of unseen clean crops augmented; for `none`, a detector of
every operation, as a control). Only the training time is budgeted; evaluation is off the clock.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from _common import emit

from gankit.latent.evaluate import EvalOptions, evaluate_run
from gankit.training import fit, resolve, start_run


def crops_folder(root: Path, count: int) -> Path:
    """A folder of links to the first `count` face crops (sorted by name)."""
    source = Path(os.environ.get("GANKIT_DATA", "")) / "faces-lfw-crops" / "images"
    files = sorted(source.glob("*.jpg"))[:count]
    if len(files) < count:
        raise SystemExit(f"{source} holds {len(files)} crops; {count} asked for")
    folder = root / f"lfw{count}"
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        link = folder / f.name
        if not link.exists():
            link.symlink_to(f)
    return folder


def one_arm(args, folder: Path, arm: str, seed: int, out: str) -> dict:
    overrides = [{"data": {"name": "folder", "path": str(folder), "resolution": args.resolution,
                           "holdout": args.holdout},
                  "model": {"name": args.model}, "augment": {"name": arm},
                  # --minutes: a time budget (steps only bound it); --steps: a fixed length, which other work on
                  # the machine cannot shorten (a budget measured alone, e.g. the steps 20 minutes gave)
                  "train": {"steps": args.steps or 20_000, "minutes": 0 if args.steps else args.minutes,
                            "seed": seed, "device": args.device,
                            "sample_every": 0, "checkpoint_every": 0, "log_every": 100},
                  "out": out}]
    run = start_run(resolve(None, overrides))
    summary = fit(run)
    result = evaluate_run(run.dir, EvalOptions(n=args.eval_n, metrics="fid,kid,pr", device=args.device, leak=True),
                          write=True)
    last = summary["metrics"]
    return {"arm": arm, "seed": seed, "steps": summary["step"], "train_seconds": summary["seconds"],
            "images_per_sec": summary["images_per_sec"], "events": summary["events"],
            "augment_p": last.get("augment_p"), "d_accuracy": round((last["acc_real"] + last["acc_fake"]) / 2, 4),
            **{k: round(v, 5) for k, v in result["metrics"].items() if isinstance(v, float)}}


def summarise(rows: list[dict]) -> dict:
    """Median over seeds of each arm's numbers."""
    out: dict = {}
    for row in rows:
        out.setdefault((row["n_train"], row["arm"]), []).append(row)
    keys = ("kid", "fid", "precision", "recall", "memorisation_ratio", "leak_share", "steps")
    return {f"{n}/{arm}": {k: statistics.median(r[k] for r in group) for k in keys if k in group[0]}
            for (n, arm), group in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", default="500", help="comma-separated training set sizes")
    p.add_argument("--holdout", type=int, default=500)
    p.add_argument("--arms", default="none,diffaugment,ada")
    p.add_argument("--minutes", type=float, default=20.0, help="training time per run")
    p.add_argument("--steps", type=int, default=0, help="train this many steps instead of --minutes (a budget that "
                                                        "does not depend on what else the machine runs)")
    p.add_argument("--seeds", default="0")
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--model", default="dcgan")
    p.add_argument("--eval-n", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--keep", default="", help="keep the runs under this folder (default: a temporary one)")
    p.add_argument("--out", default="")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.keep or tmp
        for n in (int(v) for v in args.n_train.split(",")):
            folder = crops_folder(Path(tmp), n + args.holdout)
            for seed in (int(v) for v in args.seeds.split(",")):
                for arm in args.arms.split(","):
                    rows.append({"n_train": n, **one_arm(args, folder, arm, seed, runs)})
                    print(rows[-1], flush=True)
    emit({"benchmark": "small_data", "holdout": args.holdout, "resolution": args.resolution,
          **({"steps_per_run": args.steps} if args.steps else {"minutes_per_run": args.minutes}),
          "model": args.model, "eval_n": args.eval_n,
          "extractor": "inception", "rows": rows, "median": summarise(rows)}, args.out)


if __name__ == "__main__":
    main()
