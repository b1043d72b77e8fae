"""2-D Gaussian mixtures from the mode-collapse literature (PacGAN, VEEGAN, Unrolled GAN).

The mode centers and std travel with the dataset so samples can be scored against them.
"""
from __future__ import annotations

import math

import torch

from gankit.data.dataset import DataConfig, Dataset


def ring_centers(n: int = 8, radius: float = 1.0) -> torch.Tensor:
    """n centers evenly spaced on a circle: (r cos 2πi/n, r sin 2πi/n)."""
    angles = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    return torch.stack([radius * angles.cos(), radius * angles.sin()], 1).float()


def grid_centers(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """side x side centers at {-(side-1), ..., side-1} * spacing / 2 in each coordinate."""
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], 1)


def mixture(name: str, centers: torch.Tensor, std: float, n: int, seed: int = 0) -> Dataset:
    """n points drawn uniformly over modes with isotropic noise `std`; labels are the mode index."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(centers), (n,), generator=gen)
    x = centers[labels] + std * torch.randn(n, 2, generator=gen)
    extra = {"centers": centers.tolist(), "std": std}
    return Dataset(name, x.float(), labels, [f"mode{i}" for i in range(len(centers))], "points", extra)


def read_ring(cfg: DataConfig) -> Dataset:
    """Ring of 8 Gaussians, radius 1, std 0.01 (PacGAN's 2D-ring)."""
    return mixture("toy_ring", ring_centers(8, 1.0), 0.01, cfg.num_points)


def read_grid(cfg: DataConfig) -> Dataset:
    """Grid of 25 Gaussians with means {-4,-2,0,2,4}^2, std 0.05 (PacGAN's 2D-grid)."""
    return mixture("toy_grid", grid_centers(5, 2.0), 0.05, cfg.num_points)
