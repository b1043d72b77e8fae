"""Least-squares GAN (Mao et al. 2017) with the -1/+1 coding so a positive output still means real:
D: ½(D(x) - 1)² + ½(D(G(z)) + 1)²; G: ½(D(G(z)) - 1)²."""
from __future__ import annotations

import torch

from gankit.losses.base import LossBase


class LeastSquares(LossBase):
    @staticmethod
    def d_loss(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
        return 0.5 * (real - 1).pow(2).mean() + 0.5 * (fake + 1).pow(2).mean()

    @staticmethod
    def g_loss(fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (fake - 1).pow(2).mean()
