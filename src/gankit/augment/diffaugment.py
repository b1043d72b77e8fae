"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"): colour,
translation and cutout, applied to every image D sees, each sample with its own random parameters.

Every operation is differentiable in the image, so G's gradient passes through it. Random numbers come from
`uniform(shape)` (the run's stream), never from torch's global generator, so a resumed run draws the same.
`p` is the share of samples an operation touches (DiffAugment itself uses 1).
"""
from __future__ import annotations

import torch

from gankit.augment.base import Uniform, chosen


def brightness(x: torch.Tensor, uniform: Uniform, p: float) -> torch.Tensor:
    """Add U(-0.5, 0.5) to every pixel (images in [-1, 1]: a quarter of the range either way)."""
    shift = (uniform((x.shape[0], 1, 1, 1)) - 0.5) * chosen(uniform, x, p)
    return x + shift


def saturation(x: torch.Tensor, uniform: Uniform, p: float) -> torch.Tensor:
    """Scale each pixel's distance from its channel mean by U(0, 2) (no effect on one channel)."""
    mean = x.mean(1, keepdim=True)
    factor = 1 + (uniform((x.shape[0], 1, 1, 1)) * 2 - 1) * chosen(uniform, x, p)
    return (x - mean) * factor + mean


def contrast(x: torch.Tensor, uniform: Uniform, p: float) -> torch.Tensor:
    """Scale each image's distance from its mean by U(0.5, 1.5)."""
    mean = x.mean((1, 2, 3), keepdim=True)
    factor = 1 + (uniform((x.shape[0], 1, 1, 1)) - 0.5) * chosen(uniform, x, p)
    return (x - mean) * factor + mean


def translation(x: torch.Tensor, uniform: Uniform, p: float, ratio: float = 0.125) -> torch.Tensor:
    """Shift by whole pixels, up to `ratio` of the size either way, filling with zeros (mid-grey)."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    keep = chosen(uniform, x, p).view(n)
    dy = ((uniform((n,)) * (2 * sh + 1)).floor() - sh).long() * keep.long()
    dx = ((uniform((n,)) * (2 * sw + 1)).floor() - sw).long() * keep.long()
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy.view(n, 1, 1)  # source row of each output row
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx.view(n, 1, 1)
    inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1)
    index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    moved = x.flatten(2).gather(2, index).view_as(x)
    return moved * inside


def cutout(x: torch.Tensor, uniform: Uniform, p: float, ratio: float = 0.5) -> torch.Tensor:
    """Zero (mid-grey) a square of `ratio` of the size at a random place (it may hang over the border)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    keep = chosen(uniform, x, p).view(n, 1, 1)
    top = (uniform((n, 1, 1)) * (h + 1 - ch % 2)).floor() - ch // 2
    left = (uniform((n, 1, 1)) * (w + 1 - cw % 2)).floor() - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw) & (keep > 0)
    return x * (~hole).unsqueeze(1).to(x.dtype)


def color(x: torch.Tensor, uniform: Uniform, p: float) -> torch.Tensor:
    return contrast(saturation(brightness(x, uniform, p), uniform, p), uniform, p)


OPERATIONS = {"color": color, "translation": translation, "cutout": cutout}
