"""Wasserstein GAN (Arjovsky et al. 2017): the critic maximises E[D(x)] - E[D(G(z))].
Needs a Lipschitz constraint: pair it with penalty=gradient_penalty (WGAN-GP) or spectral norm."""
from __future__ import annotations

import torch

from gankit.losses.base import LossBase


class Wasserstein(LossBase):
    sign_meaningful = False  # the critic has an arbitrary offset: its sign means nothing

    @staticmethod
    def d_loss(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
        return fake.mean() - real.mean()

    @staticmethod
    def g_loss(fake: torch.Tensor) -> torch.Tensor:
        return -fake.mean()
