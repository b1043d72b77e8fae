"""Data that ships inside installed packages (no download): the embedded default, the 1,797 8x8 handwritten
digits of scikit-learn, and the 100 small LFW faces of scikit-image."""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from gankit.core.errors import GankitError
from gankit.data.dataset import DataConfig, Dataset, resize_images


def read_digits(cfg: DataConfig) -> Dataset:
    """UCI optical digits as uint8 [1797, 1, 8, 8] (their 0..16 levels scaled to 0..255), labels 0-9."""
    from sklearn.datasets import load_digits  # imported lazily: it takes a second

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    x = resize_images(torch.from_numpy(images).unsqueeze(1), cfg.resolution, cfg.channels)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    return Dataset("digits", x, y, [str(i) for i in range(10)], "image")


def read_lfw_subset(cfg: DataConfig) -> Dataset:
    """The 100 face crops (25x25 grayscale, from Labeled Faces in the Wild) in scikit-image's lfw_subset.npy,
    as uint8 [100, 1, 32, 32] (resized to 32, which every convolutional family takes, unless
    data.resolution says otherwise): a few-shot face set that is always at hand (its other 100 images,
    non-faces, are left out)."""
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("skimage")
    path = Path(spec.origin).parent / "data" / "lfw_subset.npy" if spec and spec.origin else None
    if path is None or not path.is_file():
        raise GankitError("lfw_subset: scikit-image's data/lfw_subset.npy not found; pip install scikit-image")
    faces = np.load(path)[:100]
    images = np.round(np.clip(faces, 0, 1) * 255).astype(np.uint8)
    x = resize_images(torch.from_numpy(images).unsqueeze(1), cfg.resolution or 32, cfg.channels)
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    return Dataset("lfw_subset", x, None, [], "image", {"files": {str(path): digest}})
