"""The original GAN losses (Goodfellow et al. 2014), on logits via softplus for numerical stability.

D maximises log D(x) + log(1 - D(G(z))), i.e. minimises softplus(-real) + softplus(fake).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.losses.base import LossBase


def bce_d_loss(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    # Real target 1 - s: BCE(l, t) = t·softplus(-l) + (1 - t)·softplus(l).
    real_term = (1.0 - smoothing) * F.softplus(-real) + smoothing * F.softplus(real)
    return real_term.mean() + F.softplus(fake).mean()


class _BCE(LossBase):
    """The shared D side of the original GAN losses."""

    smoothing_ok = True
    probabilistic = True  # sigmoid(logit) is D's probability that x is real
    d_loss = staticmethod(bce_d_loss)


class Minimax(_BCE):
    """G minimises log(1 - D(G(z))) = -softplus(fake): the saturating loss, kept for teaching —
    its gradient vanishes exactly when D confidently rejects G's samples, early in training."""

    @staticmethod
    def g_loss(fake: torch.Tensor) -> torch.Tensor:
        return -F.softplus(fake).mean()


class NonSaturating(_BCE):
    """G maximises log D(G(z)): minimises softplus(-fake). Same fixed point, strong early gradients."""

    @staticmethod
    def g_loss(fake: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake).mean()
