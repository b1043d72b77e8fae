"""What a loss is: D's loss from real and fake logits, G's loss from fake logits. Positive logit = real."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


class Loss(Protocol):
    smoothing_ok: bool  # whether one-sided label smoothing means anything for this loss
    probabilistic: bool  # whether sigmoid(logit) reads as a probability of 'real'

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
        """Mean discriminator loss; real, fake: logits [N] (may differ in N)."""

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """Mean generator loss on the logits [N] of its samples."""


@dataclass
class LossConfig:
    name: str = "nonsaturating"
    penalty: str = "none"  # none | gradient_penalty | r1
    penalty_weight: float = 10.0  # λ of WGAN-GP, or γ of R1
    label_smoothing: float = 0.0  # one-sided: real targets 1 - s (Salimans et al. 2016); BCE losses only
