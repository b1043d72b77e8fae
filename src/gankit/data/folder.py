"""A folder of images of any size and mode: resized and center-cropped to one square resolution.

Images directly in the folder are unlabelled; if instead the folder holds only sub-folders, each
first-level sub-folder is a class (its name is the class name) and its images may be nested.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from gankit.core.errors import GankitError
from gankit.data.dataset import DataConfig, Dataset

log = logging.getLogger("gankit")
EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
DEFAULT_RESOLUTION = 64
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F", "P;gray"}


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())


def list_images(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """(paths, labels or None, class names) following the one-sub-folder-per-class convention."""
    direct = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS]
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and _images_under(p))
    if direct or not classes:
        return _images_under(root), None, []
    paths, labels = [], []
    for index, name in enumerate(classes):
        found = _images_under(root / name)
        paths += found
        labels += [index] * len(found)
    return paths, labels, classes


def load_image(path: Path, resolution: int) -> Image.Image:
    """Open, apply EXIF orientation, resize the shorter side to `resolution` and center-crop a square."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # treat bombs as corrupt files
        with Image.open(path) as img:
            img.draft("RGB", (resolution, resolution))  # JPEG: decode at reduced size when possible
            img = ImageOps.exif_transpose(img)
            img.load()
    return ImageOps.fit(img, (resolution, resolution), method=Image.Resampling.BICUBIC,
                        centering=(0.5, 0.5))


def _to_array(img: Image.Image, channels: int) -> np.ndarray:
    converted = img.convert("L" if channels == 1 else "RGB")
    arr = np.asarray(converted, dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def read_folder(cfg: DataConfig, path: str | None = None) -> Dataset:
    root = Path(path or cfg.path).expanduser()
    if not root.is_dir():
        raise GankitError(f"image folder {root} does not exist; pass an existing folder of images")
    paths, labels, classes = list_images(root)
    if not paths:
        raise GankitError(f"image folder {root} holds no images ({', '.join(sorted(EXTENSIONS))})")
    resolution = cfg.resolution or DEFAULT_RESOLUTION
    images, kept, skipped = [], [], []
    for i, p in enumerate(paths):
        try:
            images.append(load_image(p, resolution))
            kept.append(i)
        except Exception as exc:  # PIL raises many types for corrupt, truncated or bomb files
            skipped.append(f"{p.name}: {exc.__class__.__name__}")
    if skipped:
        log.warning("skipped %d unreadable image(s) in %s, e.g. %s", len(skipped), root, skipped[0])
    if not images:
        raise GankitError(f"none of the {len(paths)} images in {root} could be read")
    channels = cfg.channels or (1 if all(im.mode in GRAY_MODES for im in images) else 3)
    x = torch.from_numpy(np.stack([_to_array(im, channels) for im in images]))
    y = torch.tensor([labels[i] for i in kept], dtype=torch.int64) if labels is not None else None
    extra = {"root": str(root), "skipped": len(skipped)}
    return Dataset(root.name or "folder", x, y, classes, "image", extra)
