"""ADA's augmentation pipeline (Karras et al. 2020, "Training Generative Adversarial Networks with Limited
Data"), its geometric and colour groups ("bgc"): each operation touches each sample with probability p.

Geometric operations are composed into one affine map per sample and applied in a single resampling with
reflection at the borders (ADA pads by reflection too, so no black borders appear for G to copy); the
integer ones (flips, 90° turns, whole-pixel shifts) then land exactly on pixels. Colour operations act on
the image in [-1, 1] around its mean. The distributions are the paper's: translation U(-0.125, 0.125) of
the size, scales 2^N(0, 0.2), brightness N(0, 0.2), contrast 2^N(0, 0.5), saturation 2^N(0, 1).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gankit.augment.base import Uniform, chosen, normal


def _eye(n: int, x: torch.Tensor) -> torch.Tensor:
    return torch.eye(3, device=x.device, dtype=torch.float32).repeat(n, 1, 1)


def _geometry(x: torch.Tensor, uniform: Uniform, p: float) -> torch.Tensor:
    """The per-sample affine map [N, 3, 3] (output -> input, in grid_sample's [-1, 1] coordinates)."""
    n, _, h, w = x.shape
    m = _eye(n, x)
    flip = (uniform((n,)) < 0.5).float() * chosen(uniform, x, p).view(n)  # xflip: half of the chosen ones
    step = _eye(n, x)
    step[:, 0, 0] = 1 - 2 * flip
    m = m @ step
    quarter = (uniform((n,)) * 4).floor() * chosen(uniform, x, p).view(n)  # rotate90: 0-3 quarter turns
    cos, sin = torch.cos(quarter * math.pi / 2).round(), torch.sin(quarter * math.pi / 2).round()
    step = _eye(n, x)
    step[:, 0, 0], step[:, 0, 1], step[:, 1, 0], step[:, 1, 1] = cos, -sin, sin, cos
    m = m @ step
    shift = ((uniform((n, 2)) * 2 - 1) * 0.125 * torch.tensor([w, h], device=x.device)).round()
    shift = shift * chosen(uniform, x, p).view(n, 1)  # whole pixels, in grid units below
    step = _eye(n, x)
    step[:, 0, 2], step[:, 1, 2] = shift[:, 0] * 2 / w, shift[:, 1] * 2 / h
    m = m @ step
    iso = torch.exp2(normal(uniform, (n,)) * 0.2 * chosen(uniform, x, p).view(n))
    aniso = torch.exp2(normal(uniform, (n,)) * 0.2 * chosen(uniform, x, p).view(n))
    step = _eye(n, x)
    step[:, 0, 0], step[:, 1, 1] = iso * aniso, iso / aniso
    return m @ step


def geometric(x: torch.Tensor, uniform: Uniform, p: float) -> torch.Tensor:
    """Flips, 90° rotations, integer translation, isotropic and anisotropic scaling."""
    m = _geometry(x, uniform, p)
    grid = F.affine_grid(m[:, :2, :].to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def color(x: torch.Tensor, uniform: Uniform, p: float) -> torch.Tensor:
    """Brightness, contrast and saturation (the latter leaves one-channel images as they are)."""
    n = x.shape[0]
    x = x + normal(uniform, (n, 1, 1, 1)) * 0.2 * 2 * chosen(uniform, x, p)  # 0.2 of [0, 1] is 0.4 of [-1, 1]
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * torch.exp2(normal(uniform, (n, 1, 1, 1)) * 0.5 * chosen(uniform, x, p)) + mean
    grey = x.mean(1, keepdim=True)
    return (x - grey) * torch.exp2(normal(uniform, (n, 1, 1, 1)) * chosen(uniform, x, p)) + grey


OPERATIONS = {"geometric": geometric, "ada_color": color}
