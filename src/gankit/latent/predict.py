"""Next frames with a trained frame predictor: read clips (a .npy of uint8 [N, T, H, W(, C)], a GIF, a folder
of GIFs or of frame folders), predict from each clip's last `context` frames, feed the predictions back for
horizons beyond the trained one, and write the predicted frames as the clips came (a .npy, GIFs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.core.errors import GankitError
from gankit.core.images import gif_bytes, to_uint8, unstack_frames
from gankit.core.files import atomic_write_bytes
from gankit.data.clips import read_clip_files
from gankit.data.dataset import normalize
from gankit.latent.generator import TrainedGenerator
from gankit.latent.sample import output_paths, write_array
from gankit.latent.space import stream_latents

MAX_FRAMES = 1000  # fed back a frame block at a time: a long horizon costs time, not memory per step


@dataclass
class Clips:
    """uint8 clips [N, T, H, W, C] as read, the names to write their predictions under, and what they came as."""

    frames: np.ndarray
    names: list[str]
    kind: str  # "array", "file" (one GIF) or "folder"


def read_input(path: str | Path) -> Clips:
    path = Path(path).expanduser()
    if not path.exists():
        raise GankitError(f"--input {path} does not exist: pass a .npy of uint8 [N, T, H, W], a GIF or a folder "
                          "of GIFs")
    frames, names = read_clip_files(path)
    kind = "array" if path.suffix.lower() == ".npy" and path.is_file() else "file" if path.is_file() else "folder"
    return Clips(frames, names, kind)


def _predictor(generator: TrainedGenerator) -> tuple[int, int, int]:
    if generator.clip is None:
        raise GankitError(f"{generator.source or 'this generator'} was not trained on clips: predict with a run "
                          "trained on frames (--data moving_mnist, moving_mnist_small or clips:PATH)")
    return generator.clip


def _movers(generator: TrainedGenerator) -> list:
    """The simvp generators inside a run's G that move whole objects (model.g.objects)."""
    from gankit.models.simvp import Generator

    return [m for m in generator.module.modules() if isinstance(m, Generator) and m.objects]


def _set_reading(generator: TrainedGenerator, modules: list, attr: str, value: float | None, missing: str,
                 valid: bool, invalid: str) -> float | None:
    """Set `attr` on every one of `modules` to `value` (None: leave the run's own), refusing a run that is not a
    frame predictor, one with no such module (`missing`) or a value out of range (`invalid`). Returns the value
    in force, None where no module takes it."""
    if value is not None:
        _predictor(generator)
        if not modules:
            raise GankitError(missing)
        if not valid:
            raise GankitError(invalid)
        for m in modules:
            setattr(m, attr, float(value))
    return getattr(modules[0], attr) if modules else None


def set_whole_pixels(generator: TrainedGenerator, share: float | None) -> float | None:
    """--whole-pixels: pull the whole-object moves of a run trained with model.g.objects this share of the way
    to whole pixels (0: as trained, 1: rounded), in place of the share its config fixed. Returns the share in
    force (None for a model that moves pixels, not objects)."""
    return _set_reading(generator, _movers(generator), "whole_pixels", share,
                        "--whole-pixels pulls the moves of whole objects toward whole pixels: this run moves pixels "
                        "(train with --set model.g.objects=1)", share is None or 0 <= share <= 1,
                        f"--whole-pixels is a share of the way to whole pixels, in [0, 1], got {share}")


def set_reckon_within(generator: TrainedGenerator, width: float | None) -> float | None:
    """--reckon-within: move each object as dead reckoning from its past places says wherever that leaves at most
    `width` pixels of doubt (0: G's own moves everywhere), in place of the run's model.g.reckon_within; a run
    trained without it reads its moves this way as well, as training does not use it. Needs a G that follows
    several objects in a box (model.g.track, box, objects >= 2). Returns the width in force (None for a G that
    cannot reckon)."""
    readers = [m for m in _movers(generator) if m.track is not None and m.box and m.objects > 1]
    return _set_reading(generator, readers, "reckon_within", width,
                        "--reckon-within reads each object's move from its past places: this run does not follow "
                        "several objects in a box (model.g.track, model.g.box, model.g.objects >= 2)",
                        width is None or 0 <= width < float("inf"),
                        f"--reckon-within is a width in pixels, 0 or more (0: off), got {width}")


def set_readings(generator: TrainedGenerator, whole_pixels: float | None, reckon_within: float | None) -> dict:
    """Both reading options at once (see set_whole_pixels, set_reckon_within) -> the values in force of those
    the run's G takes, by name, for the commands to print beside their results."""
    force = {"whole_pixels": set_whole_pixels(generator, whole_pixels),
             "reckon_within": set_reckon_within(generator, reckon_within)}
    return {k: v for k, v in force.items() if v is not None}


def check_clips(generator: TrainedGenerator, frames: np.ndarray) -> None:
    """Clips [N, T, H, W, C] the run can continue: its frame size and channels, at least `context` frames."""
    context, _, channels = _predictor(generator)
    size = generator.shape[-2:]
    n, t, h, w, c = frames.shape
    if (h, w) != tuple(size):
        raise GankitError(f"the clips' frames are {w}×{h}; the run was trained on {size[1]}×{size[0]} frames")
    if c != channels:
        raise GankitError(f"the clips' frames have {c} channel{'s' * (c > 1)}; the run was trained on "
                          f"{channels}-channel frames")
    if t < context:
        raise GankitError(f"the clips have {t} frames; the run predicts from the last {context}, so each clip "
                          f"needs at least {context}")


@torch.no_grad()
def predict(generator: TrainedGenerator, past: torch.Tensor, frames: int, seed: int = 0,
            batch_size: int = 256) -> torch.Tensor:
    """Past frames [N, ≥context·C, H, W] in [-1, 1] -> the next `frames` frames [N, frames·C, H, W] in [-1, 1]
    on the CPU. Beyond the trained horizon the predictions are fed back as the newest past frames. The noise
    of clip i in round r is latent i of seed + r, so a seed picks one of G's futures."""
    context, horizon, channels = _predictor(generator)
    if not 1 <= frames <= MAX_FRAMES:
        raise GankitError(f"--frames must be between 1 and {MAX_FRAMES}, got {frames}")
    window, made = past[:, -context * channels:].float(), []
    for round_ in range(math.ceil(frames / horizon)):
        z = stream_latents(generator.z_dim, len(window), seed + round_)
        out = torch.cat([generator(z[i:i + batch_size].to(generator.device),
                                   window[i:i + batch_size].to(generator.device)).float().cpu()
                         for i in range(0, len(window), batch_size)])
        made.append(out)
        window = torch.cat([window, out], 1)[:, -context * channels:]
    return torch.cat(made, 1)[:, :frames * channels]


def predict_clips(generator: TrainedGenerator, clips: Clips, frames: int, seed: int = 0) -> torch.Tensor:
    """Each clip's next `frames` frames, [N, frames, C, H, W] in [-1, 1]."""
    check_clips(generator, clips.frames)
    stacked = torch.from_numpy(np.array(clips.frames)).permute(0, 1, 4, 2, 3).flatten(1, 2)
    out = predict(generator, normalize(stacked), frames, seed)
    return unstack_frames(out, generator.clip[2])


def write_predictions(pred: torch.Tensor, clips: Clips, out: str | Path, force: bool = False) -> list[str]:
    """Predicted frames [N, K, C, H, W] in the kind the clips came as: a .npy of uint8 [N, K, H, W] (or
    [N, K, H, W, C] for colour), one GIF, or a folder of GIFs under the clips' names."""
    out = Path(out).expanduser()
    arrays = [to_uint8(clip) for clip in pred]  # each [K, H, W, C]
    if clips.kind == "array":
        return write_array(arrays, out, force, "clips", "predictions")
    paths = output_paths(out, clips.kind == "file", [f"{name}.gif" for name in clips.names], ".gif", force, "clips")
    for frames, path in zip(arrays, paths):
        atomic_write_bytes(path, gif_bytes(frames, ms=200, bounce=False))
    return [str(p) for p in paths]
