"""`gankit train --data FOLDER` with no other flag, on 500 face photos: the time it takes and what it gives.

    python benchmarks/folder_default.py --out benchmarks/results/small_data/folder_default_500_cpu.json

A folder holds the first --n-train crops of faces-lfw-crops (sorted by name); the rest of the crops are
kept aside. The command a user types, `gankit train --data FOLDER --out RUNS`, runs as its own process and
its wall-clock time is measured whole (reading the photos, training, sample grids, checkpoints). The run is
then scored with `gankit eval RUN --real KEPT_ASIDE` in Inception features: FID, KID, precision/recall and
the memorisation ratio (median distance of samples to their nearest training photo over that of kept-aside
photos: about 1 when G does not copy, < 1 when it does). The final sample grid and nearest.png (samples
above their nearest training photos) are written beside the JSON and shown on the Results page.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

from gankit.latent.evaluate import EvalOptions, evaluate_run


def split_crops(root: Path, n_train: int) -> tuple[Path, Path]:
    """Two folders of links: the first n_train crops (sorted by name) and all the others."""
    source = Path(os.environ.get("GANKIT_DATA", "")) / "faces-lfw-crops" / "images"
    files = sorted(source.glob("*.jpg"))
    if len(files) <= n_train:
        raise SystemExit(f"{source} holds {len(files)} crops; more than {n_train} needed")
    folders = (root / f"faces{n_train}", root / "kept_aside")
    for folder, chosen in zip(folders, (files[:n_train], files[n_train:])):
        folder.mkdir(parents=True, exist_ok=True)
        for f in chosen:
            (folder / f.name).symlink_to(f)
    return folders


def train(folder: Path, runs: Path, extra: list[str]) -> tuple[dict, float]:
    """The user's command in its own process: (its summary JSON, wall-clock seconds)."""
    command = [sys.executable, "-m", "gankit", "train", "--data", str(folder), "--out", str(runs), *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    sys.stderr.write(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1]), seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=500)
    p.add_argument("--eval-n", type=int, default=1000)
    p.add_argument("--extra", default="", help="flags added to the train command (default: none, the point)")
    p.add_argument("--keep", default="", help="keep the run under this folder (default: a temporary one)")
    p.add_argument("--out", default="")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, kept = split_crops(Path(tmp), args.n_train)
        runs = Path(args.keep or tmp) / "runs"
        summary, seconds = train(folder, runs, args.extra.split())
        run_dir = Path(summary["run_dir"])
        result = evaluate_run(run_dir, EvalOptions(n=args.eval_n, real=str(kept), metrics="fid,kid,pr"), write=True)
        config = json.loads((run_dir / "config.json").read_text())
        figures = {}
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            for name in ("final.png", "nearest.png"):
                target = Path(args.out).with_name(f"{Path(args.out).stem}_{name}")
                shutil.copyfile(run_dir / name, target)
                figures[name] = target.name
        emit({"benchmark": "folder_default", "n_train": args.n_train, "n_kept_aside": len(list(kept.iterdir())),
              "train_command": f"gankit train --data FOLDER --out RUNS {args.extra}".strip(),
              "wall_seconds": round(seconds, 1), "train_seconds": summary["seconds"], "steps": summary["step"],
              "images_per_sec": summary["images_per_sec"], "events": summary["events"],
              "resolved": {"preset": config.get("preset"), "resolution": config["data"]["resolution"],
                           "model": config["model"]["name"], "augment": config["augment"]["name"],
                           "ema_decay": config["train"]["ema_decay"]},
              "augment_p": summary["metrics"].get("augment_p"),
              "metrics": {k: round(v, 5) for k, v in result["metrics"].items() if isinstance(v, float)},
              "eval_n": args.eval_n, "extractor": "inception", "figures": figures}, args.out)


if __name__ == "__main__":
    main()
