"""A folder of images of any size and mode: resized and center-cropped to one square resolution.

Images directly in the folder are unlabelled; if instead the folder holds only sub-folders, each
first-level sub-folder is a class (its name is the class name) and its images may be nested. A labels
CSV (`data.labels`) can name each image's class instead: a column `image` (or file/filename/path) with
the file name, and a column `label` (or class, or else the last column) with its class.
"""
from __future__ import annotations

import csv
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


DEEP_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


def to_8bit(img: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float grayscale image scaled to 8 bits over its type's range (PIL's own convert
    clips at 255, so a 16-bit gradient would come out white). 32-bit integers holding values up to 65,535
    are 16-bit data (how PIL opens many 16-bit PNGs and TIFFs); floats in [0, 1] are scaled by 255."""
    if img.mode not in DEEP_MODES:
        return img
    arr = np.asarray(img, dtype=np.float64)
    low, high = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if img.mode.startswith("I;16") or (img.mode == "I" and low >= 0 and high <= 65535):
        scaled = arr / 257.0
    elif img.mode == "I":
        scaled = np.clip(arr, 0, None) / (2**31 - 1) * 255.0
    elif low >= 0 and high <= 1:
        scaled = arr * 255.0
    else:  # floats on another scale: stretch what is there
        scaled = (arr - low) / max(high - low, 1e-12) * 255.0
    out = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")
    out.info["scaled_from"] = img.mode
    return out


def open_image(path: Path, draft: int) -> Image.Image:
    """Open with decompression bombs refused, EXIF orientation applied and 16/32-bit images scaled to 8 bits
    (`draft`: JPEGs may decode at reduced size down to about this many pixels a side)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # treat bombs as corrupt files
        with Image.open(path) as img:
            img.draft("RGB", (draft, draft))  # JPEG: decode at reduced size when possible
            img = ImageOps.exif_transpose(img)
            img.load()
    return to_8bit(img)


def fit_square(img: Image.Image, resolution: int) -> Image.Image:
    """Resize the shorter side to `resolution` and center-crop a square."""
    fitted = ImageOps.fit(img, (resolution, resolution), method=Image.Resampling.BICUBIC, centering=(0.5, 0.5))
    fitted.info["scaled_from"] = img.info.get("scaled_from")
    return fitted


def load_image(path: Path, resolution: int) -> Image.Image:
    """Open (see open_image), resize the shorter side to `resolution` and center-crop a square."""
    return fit_square(open_image(path, resolution), resolution)


def _channels(asked: int, images: list[Image.Image], root: Path) -> int:
    """data.channels if set, else what most images are: one colour photo among grayscale scans would
    otherwise turn the whole run RGB (and tint its samples). Says what it chose when the folder is mixed."""
    colour = sum(1 for im in images if im.mode not in GRAY_MODES)
    chosen = asked or (3 if colour > len(images) - colour else 1)
    if 0 < colour < len(images):
        log.info("%d of %d images in %s are colour: training in %s%s", colour, len(images), root,
                 "RGB" if chosen == 3 else "grayscale",
                 "" if asked else f" (the majority; --set data.channels={1 if chosen == 3 else 3} forces the other)")
    return chosen


def _to_array(img: Image.Image, channels: int) -> np.ndarray:
    converted = img.convert("L" if channels == 1 else "RGB")
    arr = np.asarray(converted, dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


IMAGE_COLUMNS = ("image", "file", "filename", "path")
LABEL_COLUMNS = ("label", "class")


def read_labels_csv(path: Path) -> dict[str, str]:
    """{file name: class name} from a CSV with a header (see the module doc). Class names are lower-cased
    and stripped, so "Happiness" and "happiness " are one class."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets start with a BOM
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise GankitError(f"cannot read labels {path}: {exc}") from exc
    header = [h.strip().lower() for h in (rows[0].keys() if rows else [])]
    image_col = next((h for h in IMAGE_COLUMNS if h in header), None)
    if image_col is None or len(header) < 2:
        raise GankitError(f"labels {path}: need a header with an image column ({', '.join(IMAGE_COLUMNS)}) "
                          "and a label column")
    label_col = next((h for h in LABEL_COLUMNS if h in header), header[-1])
    keys = {h.strip().lower(): h for h in rows[0]}
    return {Path(r[keys[image_col]]).name: r[keys[label_col]].strip().lower() for r in rows
            if r.get(keys[label_col]) and r.get(keys[image_col])}


def apply_labels(paths: list[Path], table: dict[str, str], source: Path) -> tuple[list[Path], list[int], list[str]]:
    """Keep the images the table labels (warning about the rest) and index their classes."""
    kept = [p for p in paths if p.name in table]
    if not kept:
        raise GankitError(f"labels {source} name none of the images in the folder")
    if len(kept) < len(paths):
        log.warning("%d of %d images have no label in %s and are left out", len(paths) - len(kept), len(paths),
                    source)
    classes = sorted({table[p.name] for p in kept})
    return kept, [classes.index(table[p.name]) for p in kept], classes


def read_folder(cfg: DataConfig, path: str | None = None, group_of=None) -> Dataset:
    """The images of a folder; `group_of(file stem) -> name` also records whom each shows (Dataset.groups)."""
    root = Path(path or cfg.path).expanduser()
    if not root.is_dir():
        raise GankitError(f"image folder {root} does not exist; pass an existing folder of images")
    paths, labels, classes = list_images(root)
    if cfg.labels:
        paths, labels, classes = apply_labels(paths, read_labels_csv(Path(cfg.labels).expanduser()),
                                              Path(cfg.labels))
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
        log.warning("skipped %d unreadable image(s) in %s, e.g. %s (the run directory's skipped_images.txt "
                    "lists them all)", len(skipped), root, skipped[0])
    deep = sum(1 for im in images if im.info.get("scaled_from"))
    if deep:
        log.info("%d image(s) in %s have 16 or 32 bits per pixel: scaled to 8 bits over their range", deep, root)
    if not images:
        raise GankitError(f"none of the {len(paths)} images in {root} could be read")
    channels = _channels(cfg.channels, images, root)
    x = torch.from_numpy(np.stack([_to_array(im, channels) for im in images]))
    y = torch.tensor([labels[i] for i in kept], dtype=torch.int64) if labels is not None else None
    extra = {"root": str(root), "skipped": len(skipped), "skipped_files": skipped}
    groups = None
    if group_of is not None:
        names = [group_of(paths[i].stem) for i in kept]
        ids = {name: k for k, name in enumerate(dict.fromkeys(names))}
        groups = torch.tensor([ids[name] for name in names], dtype=torch.int64)
    return Dataset(root.name or "folder", x, y, classes, "image", extra, groups=groups)
