"""One discriminator update and one generator update, the classic algorithm (Goodfellow et al. 2014).

Each returns a dict of detached 0-dim tensors; nothing here synchronises with the device, so the loop
can aggregate on the device and read the numbers every few steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from gankit.training.ema import EMA


@dataclass
class Game:
    """Everything one adversarial update touches."""

    G: nn.Module
    D: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    loss: object  # a gankit.losses.Loss
    penalty: Callable | None
    penalty_weight: float
    label_smoothing: float
    noise: torch.Generator  # all training randomness but data order: saved and restored on resume
    ema: EMA | None = None

    @property
    def z_dim(self) -> int:
        return self.G.z_dim


def grad_norm(module: nn.Module) -> torch.Tensor:
    """Global L2 norm of the module's parameter gradients, as a device tensor (no sync)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros((), device=next(module.parameters()).device)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def _latents(game: Game, n: int, device: torch.device) -> torch.Tensor:
    return torch.randn(n, game.z_dim, device=device, generator=game.noise)


def _noisy(game: Game, x: torch.Tensor, std: float) -> torch.Tensor:
    """Instance noise (Sønderby et al. 2017): blur both distributions so their supports overlap."""
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, device=x.device, generator=game.noise)


def d_step(game: Game, real: torch.Tensor, y: torch.Tensor | None, noise_std: float = 0.0) -> dict:
    """Update D on N reals and N fresh fakes (fakes get the reals' labels when conditional)."""
    with torch.no_grad():
        fake = game.G(_latents(game, real.shape[0], real.device), y)
    real_logits = game.D(_noisy(game, real, noise_std), y)
    fake_logits = game.D(_noisy(game, fake, noise_std), y)
    loss = game.loss.d_loss(real_logits, fake_logits, smoothing=game.label_smoothing)
    stats = {"d_loss": loss.detach()}
    if game.penalty is not None and game.penalty_weight > 0:
        pen = game.penalty(game.D, real, fake, y, gen=game.noise)
        loss = loss + game.penalty_weight * pen
        stats["penalty"] = pen.detach()
    game.opt_D.zero_grad(set_to_none=True)
    loss.backward()
    stats["d_grad_norm"] = grad_norm(game.D)
    game.opt_D.step()
    r, f = real_logits.detach(), fake_logits.detach()
    stats.update({"d_real": r.mean(), "d_fake": f.mean(),
                  "p_real": torch.sigmoid(r).mean(), "p_fake": torch.sigmoid(f).mean(),
                  # positive logit = real, so D is right on a real when > 0 and on a fake when < 0
                  "acc_real": (r > 0).float().mean(), "acc_fake": (f < 0).float().mean()})
    return stats


def g_step(game: Game, batch_size: int, y: torch.Tensor | None, device: torch.device, step: int,
           noise_std: float = 0.0) -> dict:
    """Update G through D with its fakes labelled real; D's weights are frozen (no weight gradients)."""
    game.D.requires_grad_(False)
    try:
        fake = game.G(_latents(game, batch_size, device), y)
        logits = game.D(_noisy(game, fake, noise_std), y)
        loss = game.loss.g_loss(logits)
        game.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        norm = grad_norm(game.G)
        game.opt_G.step()
    finally:
        game.D.requires_grad_(True)
    if game.ema is not None:
        game.ema.update(game.G, step)
    return {"g_loss": loss.detach(), "g_grad_norm": norm}
