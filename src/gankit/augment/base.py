"""What every augmentation operation shares: its signature and how it picks the samples it touches.

An operation is `op(x [N, C, H, W] in [-1, 1], uniform, p) -> x`, differentiable in x. `uniform(shape)`
returns U[0, 1) numbers on x's device from the run's random stream; each sample is touched with
probability p, independently.
"""
from __future__ import annotations

from typing import Callable

import torch

Uniform = Callable[[tuple], torch.Tensor]
Operation = Callable[[torch.Tensor, Uniform, float], torch.Tensor]


def chosen(uniform: Uniform, x: torch.Tensor, p: float) -> torch.Tensor:
    """1.0 for the samples an operation touches (each with probability p), else 0.0: [N, 1, 1, 1]."""
    return (uniform((x.shape[0], 1, 1, 1)) < p).to(x.dtype)


def normal(uniform: Uniform, shape: tuple) -> torch.Tensor:
    """N(0, 1) numbers from the uniform stream (the inverse of the normal CDF)."""
    return torch.special.ndtri(uniform(shape).clamp(1e-6, 1 - 1e-6))
