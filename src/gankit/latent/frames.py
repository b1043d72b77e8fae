"""`gankit eval` of a frame-prediction run: its predictions of held-out clips scored by OpenSTL's conventions
(metrics/frames.py) beside the two baselines scored the same way, and a picture and a GIF of the first clips."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from gankit.core.config import from_dict
from gankit.core.errors import GankitError
from gankit.core.files import atomic_write_bytes
from gankit.core.images import clip_gif, clip_rows, save_grid, unstack_frames
from gankit.data import DataConfig, load_dataset, normalize
from gankit.data.clips import MOVING_MNIST, TEST_CLIPS
from gankit.latent.predict import predict, set_readings
from gankit.metrics.frames import BASELINES, frame_scores

SHOWN = 6
BASELINE_KEYS = ("mse", "mae", "ssim", "psnr", "sharpness")


def test_clips(trained: DataConfig, n: int, split: str = "") -> DataConfig:
    """The clips a run is measured on: the first n of Moving MNIST's fixed test clips; for the user's clips the
    held-out ones (data.holdout) when the run kept some out, else those it trained on."""
    if trained.name in MOVING_MNIST:
        return replace(trained, split=split or "test", clips=min(n, TEST_CLIPS))
    return replace(trained, split=split or ("holdout" if trained.holdout else "train"))


def score_predictions(pred: torch.Tensor, past: torch.Tensor, true: torch.Tensor, channels: int) -> dict:
    """The model's scores and each baseline's (prefixed by its name), all on the same clips."""
    horizon = true.shape[1] // channels
    scores = frame_scores(pred, true, channels)
    for name, baseline in BASELINES.items():
        theirs = frame_scores(baseline(past, horizon, channels), true, channels)
        scores.update({f"{name}_{k}": theirs[k] for k in BASELINE_KEYS})
    return scores


def evaluate_frames(generator, config: dict, opts, picture: Path | None = None) -> dict:
    """Predict the held-out clips' futures from their pasts and score them (see score_predictions); with
    `picture` (a folder), also write heldout.png (each clip's true frames above its predicted ones) and
    heldout.gif (truth beside prediction, playing)."""
    if opts.real or opts.pairs or opts.psi not in (None, 1) or opts.jbt != 1 or opts.drs != 1:
        raise GankitError("a frame-prediction run is measured on held-out clips: --real, --pairs, --psi, --jbt and "
                          "--drs do not apply")
    trained = from_dict(DataConfig, config.get("data", {}), "data")
    if opts.data_dir is not None:
        trained = replace(trained, data_dir=opts.data_dir)
    data_cfg = test_clips(trained, opts.n, opts.split)
    data = load_dataset(data_cfg)
    context, horizon, channels = generator.clip
    reading = set_readings(generator, opts.whole_pixels, opts.reckon_within)
    if data.source_shape != generator.source_shape or data.shape != generator.shape:
        raise GankitError(f"{data.name}'s clips are not those the run was trained on (sources {data.source_shape}, "
                          f"targets {data.shape}; the run takes {generator.source_shape} -> {generator.shape})")
    n = min(opts.n, len(data))
    past, true = normalize(data.source[:n]), normalize(data.x[:n])
    pred = predict(generator, past, horizon, seed=opts.seed, batch_size=opts.batch_size)
    if picture is not None:
        futures = torch.stack([true[:SHOWN], pred[:SHOWN]], 1).flatten(0, 1)  # each clip's truth, then prediction
        save_grid(clip_rows(channels, past[:SHOWN].repeat_interleave(2, 0), futures), picture / "heldout.png",
                  nrow=context + horizon)
        columns = [unstack_frames(torch.cat([past[:SHOWN], x[:SHOWN]], 1), channels) for x in (true, pred)]
        atomic_write_bytes(picture / "heldout.gif", clip_gif(columns))
    return {"metrics": score_predictions(pred, past, true, channels), "n": n, "split": data_cfg.split,
            "data": data.name, "extractor": "frames", **reading}
