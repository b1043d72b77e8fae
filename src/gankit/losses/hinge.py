"""Hinge loss (Lim & Ye 2017; SNGAN, BigGAN): D: relu(1 - D(x)) + relu(1 + D(G(z))); G: -D(G(z))."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.losses.base import LossBase


class Hinge(LossBase):
    @staticmethod
    def d_loss(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()

    @staticmethod
    def g_loss(fake: torch.Tensor) -> torch.Tensor:
        return -fake.mean()
