"""Image to image with a trained run: read source images (a file, a folder, a .npy of uint8), bring them to
what the generator takes, translate them and write one output per input, under the same names.

A source that differs from the training sources in size or channels is converted, and the conversion is
said once: a drawing is resized with antialiasing (its strokes stay strokes), colour becomes luma.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.core.errors import GankitError
from gankit.core.images import save_png, to_uint8
from gankit.data.dataset import normalize
from gankit.data.folder import EXTENSIONS, open_image
from gankit.latent.generator import TrainedGenerator
from gankit.latent.sample import output_paths, write_array
from gankit.latent.space import stream_latents

log = logging.getLogger("gankit")

MAX_UPSCALE_SIDE = 512  # an input upscaled at its own size: ×4 of 512 px is already 2048 px of output


@dataclass
class Sources:
    """uint8 images [N, C, H, W] as read, the names to write their outputs under, and what they came as."""

    images: list[np.ndarray]  # each [H, W, C] uint8, of its own size
    names: list[str]
    kind: str  # "file", "folder" or "array"


def read_sources(path: str | Path) -> Sources:
    """An image file, a folder of images (sorted by name) or a .npy of uint8 [N, H, W] / [N, H, W, C]."""
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)
        if not files:
            raise GankitError(f"{path} holds no images ({', '.join(sorted(EXTENSIONS))})")
        return Sources([read_image(p) for p in files], [p.stem + ".png" for p in files], "folder")
    if not path.is_file():
        raise GankitError(f"--input {path} does not exist: pass an image, a folder of images or a .npy")
    if path.suffix.lower() == ".npy":
        return Sources(_read_array(path), [], "array")
    if path.suffix.lower() not in EXTENSIONS:
        raise GankitError(f"--input {path}: use an image ({', '.join(sorted(EXTENSIONS))}), a folder or a .npy")
    return Sources([read_image(path)], [path.name], "file")


def read_image(path) -> np.ndarray:
    """One image (a path or an open binary file) as uint8 [H, W, C], C 1 for grayscale or 3."""
    try:
        img = open_image(path, 4096)
    except Exception as exc:  # PIL raises many types for corrupt, truncated or bomb files
        where = path if isinstance(path, (str, Path)) else "the upload"
        raise GankitError(f"{where} could not be read as an image ({exc.__class__.__name__})") from exc
    arr = np.asarray(img.convert("L" if img.mode in ("L", "LA", "I", "I;16", "1") else "RGB"), dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def _read_array(path: Path) -> list[np.ndarray]:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise GankitError(f"{path} is not a readable .npy array ({exc})") from exc
    if arr.dtype != np.uint8 or arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] not in (1, 3)):
        raise GankitError(f"{path}: a .npy of sources must be uint8 [N, H, W] or [N, H, W, C] with C 1 or 3, "
                          f"got {arr.dtype} {list(arr.shape)}")
    return list(arr[..., None] if arr.ndim == 3 else arr)


def conform(images: list[np.ndarray], shape: tuple[int, int, int]) -> torch.Tensor:
    """Images of any size and 1 or 3 channels -> uint8 [N, C, H, W] of `shape`, saying once what changed."""
    channels, height, width = shape
    out, changed = [], set()
    for arr in images:
        img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
        if arr.shape[-1] != channels:
            changed.add(f"{arr.shape[-1]} channels to {channels}")
            img = img.convert("L" if channels == 1 else "RGB")
        if img.size != (width, height):
            changed.add(f"{img.size[0]}×{img.size[1]} to {width}×{height}")
            img = img.resize((width, height), Image.Resampling.BICUBIC, reducing_gap=None)
        a = np.asarray(img, dtype=np.uint8)
        out.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
    if changed:
        log.info("the run takes %d-channel %d×%d sources: converted %s", channels, width, height,
                 ", ".join(sorted(changed)))
    return torch.from_numpy(np.stack(out))


def check_translates(generator: TrainedGenerator) -> None:
    """Refuse, naming the right command, a generator that does not turn images into images."""
    if generator.clip is not None:
        raise GankitError("this generator predicts frames (it was trained on clips): use gankit predict RUN "
                          "--input CLIPS --out OUT")
    if generator.source_shape is None:
        raise GankitError(f"{generator.source or 'this generator'} draws from noise, it does not translate: "
                          "translate with a run trained on image pairs (--data edges:…, lowres:…, pairs:…)")


@torch.no_grad()
def translate(generator: TrainedGenerator, sources: torch.Tensor, seed: int = 0, batch_size: int = 256,
              z: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 sources [N, C, H, W] of the generator's source shape -> its outputs [N, *shape] in [-1, 1] on
    the CPU. The noise of output i is latent i of `seed` (as `gankit sample --seed`), so a seed picks one
    of the outputs a source can have."""
    check_translates(generator)
    z = stream_latents(generator.z_dim, len(sources), seed) if z is None else z
    outs = []
    for start in range(0, len(sources), batch_size):
        y = normalize(sources[start:start + batch_size]).to(generator.device)
        outs.append(generator(z[start:start + batch_size].to(generator.device), y).float().cpu())
    return torch.cat(outs)


def taken_shape(generator: TrainedGenerator, image: np.ndarray) -> tuple[int, int, int]:
    """The (C, H, W) the generator takes `image` [H, W, C] at: its own size for a generator of any size
    (srresnet upscales what it is given, up to MAX_UPSCALE_SIDE), else the training sources' size."""
    check_translates(generator)
    if not getattr(generator.module, "any_size", False):
        return generator.source_shape
    if max(image.shape[:2]) > MAX_UPSCALE_SIDE:
        raise GankitError(f"an image is {image.shape[1]}×{image.shape[0]}: upscaling takes images up to "
                          f"{MAX_UPSCALE_SIDE} pixels a side (crop or shrink it first)")
    return (generator.source_shape[0], *image.shape[:2])


def translate_sources(generator: TrainedGenerator, sources: Sources, seed: int = 0) -> list[torch.Tensor]:
    """Each source's output [C, H, W] in [-1, 1], each source taken at taken_shape."""
    check_translates(generator)
    shapes = [taken_shape(generator, im) for im in sources.images]
    if len(set(shapes)) == 1:  # one batch
        return list(translate(generator, conform(sources.images, shapes[0]), seed))
    z = stream_latents(generator.z_dim, len(sources.images), seed)
    return [translate(generator, conform([im], shape), z=z[i:i + 1])[0]
            for i, (im, shape) in enumerate(zip(sources.images, shapes))]


def write_outputs(outputs: list[torch.Tensor], sources: Sources, out: str | Path, force: bool = False) -> list[str]:
    """One output per source, in the kind the sources came as: a file, a folder of same-named PNGs, a .npy."""
    out = Path(out).expanduser()
    images = [to_uint8(o[None])[0] for o in outputs]
    if sources.kind == "array":
        return write_array(images, out, force, "sources", "outputs")
    paths = output_paths(out, sources.kind == "file", sources.names, ".png", force, "sources")
    for image, path in zip(images, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        save_png(image, path)
    return [str(p) for p in paths]

