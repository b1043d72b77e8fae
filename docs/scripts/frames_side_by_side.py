"""The frames guide's pictures: held-out test clips continued by a pixel-loss run and by the adversarial run (or
by any runs, in the order given), beside the truth, as an animated GIF and a still (one clip a row: the past
frames, then the future).

    python benchmarks/frames.py --preset moving_mnist_small --arms pixel,gan --keep runs/frames ...
    python docs/scripts/frames_side_by_side.py runs/frames/00000-moving_mnist_small-simvp \
        runs/frames/00001-moving_mnist_small-simvp docs/images/moving_mnist_small

The runs must be trained on the same clips; the clips shown are the first four of the fixed test split (gankit
eval scores these first). Writes OUT.gif (columns: truth, then each run; the past frames are the same in all)
and OUT.png (rows: truth, then each run, for each clip).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from gankit.core.config import from_dict
from gankit.core.files import atomic_write_bytes
from gankit.core.images import clip_gif, clip_rows, save_grid, unstack_frames
from gankit.data import DataConfig, load_dataset, normalize
from gankit.latent import load_generator
from gankit.latent.frames import test_clips
from gankit.latent.predict import predict

SHOWN = 4


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="the runs shown, usually a pixel-loss run, then the GAN run")
    p.add_argument("out", help="path without suffix: OUT.gif and OUT.png are written")
    args = p.parse_args()
    config = json.loads((Path(args.runs[-1]) / "config.json").read_text())["data"]
    data = load_dataset(test_clips(from_dict(DataConfig, config, "data"), SHOWN))
    past, true = normalize(data.source[:SHOWN]), normalize(data.x[:SHOWN])
    generators = [load_generator(run) for run in args.runs]
    context, horizon, channels = generators[-1].clip
    futures = [true] + [predict(g, past, horizon) for g in generators]
    columns = [unstack_frames(torch.cat([past, f], 1), channels) for f in futures]
    atomic_write_bytes(Path(args.out + ".gif"), clip_gif(columns, ms=300))
    rows = torch.stack(futures, 1).flatten(0, 1)  # each clip: the truth, then each run
    save_grid(clip_rows(channels, past.repeat_interleave(len(futures), 0), rows), args.out + ".png",
              nrow=context + horizon)


if __name__ == "__main__":
    main()
