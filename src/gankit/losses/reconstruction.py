"""Reconstruction terms of image-to-image runs: G's output against the target its source was made from.
They join G's adversarial loss (steps.g_step, Rules.g_terms) with the weight the loss section gives them."""
from __future__ import annotations

import torch


def l1(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference, in [-1, 1] pixel units: pix2pix's L1 term (less blurry than L2's mean)."""
    return (fake - real).abs().mean()
