"""Gradient penalties on the discriminator, added to D's loss (weight applied by the caller).

D is a callable (x, y) -> logits [N]; x requires grad inside, and create_graph=True so the penalty's
own gradient reaches D's weights. `rand(shape)` draws uniform [0, 1) numbers from the run's RNG stream
(the training loop's, so a resumed or multi-process run draws what a single uninterrupted one would).
"""
from __future__ import annotations

from typing import Callable

import torch

Critic = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]
Rand = Callable[[tuple], torch.Tensor]


def _input_grad_sq_norm(critic: Critic, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """||∇_x D(x)||² per sample, [N], differentiable w.r.t. D's weights."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x, y).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1)


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None,
                     rand: Rand | None = None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||∇D(x̂)||₂ - 1)²] at x̂ = εx + (1-ε)G(z), ε ~ U[0,1]."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = rand(shape) if rand is not None else torch.rand(shape, device=real.device)
    mixed = eps * real.detach() + (1 - eps) * fake.detach()
    sq = _input_grad_sq_norm(critic, mixed, y)
    return (sq.add(1e-12).sqrt() - 1).pow(2).mean()  # 1e-12: finite gradient of sqrt at 0


def r1(critic: Critic, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None,
       rand: Rand | None = None) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): ½ E[||∇D(x)||²] on real data."""
    return 0.5 * _input_grad_sq_norm(critic, real, y).mean()
