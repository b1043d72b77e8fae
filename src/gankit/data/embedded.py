"""The embedded default: the 1,797 8x8 handwritten digits that scikit-learn ships (no download)."""
from __future__ import annotations

import numpy as np
import torch

from gankit.data.dataset import DataConfig, Dataset, resize_images


def read_digits(cfg: DataConfig) -> Dataset:
    """UCI optical digits as uint8 [1797, 1, 8, 8] (their 0..16 levels scaled to 0..255), labels 0-9."""
    from sklearn.datasets import load_digits  # imported lazily: it takes a second

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    x = resize_images(torch.from_numpy(images).unsqueeze(1), cfg.resolution, cfg.channels)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    return Dataset("digits", x, y, [str(i) for i in range(10)], "image")
