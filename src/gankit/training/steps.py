"""One discriminator update and one generator update, the classic algorithm (Goodfellow et al. 2014).

Each returns a dict of detached 0-dim tensors; nothing here synchronises with the device, so the loop
can aggregate on the device and read the numbers every few steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gankit.nn import scores
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
    aux_weight: float = 1.0  # AC-GAN: weight of the class cross-entropy (D heads with a classifier only)
    precision: str = "fp32"  # "bf16": forward passes under autocast; losses, weights and optimizers in fp32

    @property
    def z_dim(self) -> int:
        return self.G.z_dim


def grad_norm(module: nn.Module) -> torch.Tensor:
    """Global L2 norm of the module's parameter gradients, as a device tensor (no sync)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros((), device=next(module.parameters()).device)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def state_is_finite(game) -> bool:
    """Whether every weight of G and D is finite (one device sync; used before writing a checkpoint)."""
    params = [p.detach() for net in (game.G, game.D) for p in net.parameters()]
    return bool(torch.stack(torch._foreach_norm(params)).isfinite().all())


def _latents(game: Game, n: int, device: torch.device) -> torch.Tensor:
    return torch.randn(n, game.z_dim, device=device, generator=game.noise)


def _autocast(game: Game, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=game.precision == "bf16")


def generate(game: Game, n: int, y: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    """n fresh fakes from G (keeping G's graph unless called under no_grad)."""
    with _autocast(game, device):
        return game.G(_latents(game, n, device), y)


def _scores(game: Game, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's logits (and AC-GAN class logits) in fp32, whatever precision D ran in."""
    with _autocast(game, x.device):
        logits, classes = scores(game.D, x, y)
    return logits.float(), None if classes is None else classes.float()


def _noisy(game: Game, x: torch.Tensor, std: float) -> torch.Tensor:
    """Instance noise (Sønderby et al. 2017): blur both distributions so their supports overlap."""
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, device=x.device, generator=game.noise)


def _class_loss(class_logits: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor | None:
    return None if class_logits is None or y is None else F.cross_entropy(class_logits, y)


def d_step(game: Game, real: torch.Tensor, y: torch.Tensor | None, noise_std: float = 0.0,
           fake: torch.Tensor | None = None) -> dict:
    """Update D on N reals and N fakes (fresh unless given; they get the reals' labels when conditional).
    An AC-GAN head also learns to classify both (Odena et al. 2017)."""
    if fake is None:
        with torch.no_grad():
            fake = generate(game, real.shape[0], y, real.device)
    fake = fake.detach()
    real_logits, real_classes = _scores(game, _noisy(game, real, noise_std), y)
    fake_logits, fake_classes = _scores(game, _noisy(game, fake, noise_std), y)
    loss = game.loss.d_loss(real_logits, fake_logits, smoothing=game.label_smoothing)
    stats = {"d_loss": loss.detach()}
    aux = _class_loss(real_classes, y)
    if aux is not None:
        aux = aux + _class_loss(fake_classes, y)
        loss = loss + game.aux_weight * aux
        stats["d_aux_loss"] = aux.detach()
        stats["aux_acc_real"] = (real_classes.detach().argmax(1) == y).float().mean()
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
           noise_std: float = 0.0, fake: torch.Tensor | None = None) -> dict:
    """Update G through D with its fakes (fresh unless given with G's graph) labelled real; D's weights are
    frozen (no weight gradients)."""
    game.D.requires_grad_(False)
    try:
        fake = generate(game, batch_size, y, device) if fake is None else fake
        logits, classes = _scores(game, _noisy(game, fake, noise_std), y)
        adversarial = loss = game.loss.g_loss(logits)
        aux = _class_loss(classes, y)
        if aux is not None:  # AC-GAN: G is also rewarded when D recognises the requested class
            loss = loss + game.aux_weight * aux
        game.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        norm = grad_norm(game.G)
        game.opt_G.step()
    finally:
        game.D.requires_grad_(True)
    if game.ema is not None:
        game.ema.update(game.G, step)
    stats = {"g_loss": adversarial.detach(), "g_grad_norm": norm}
    if aux is not None:
        stats["g_aux_loss"] = aux.detach()
    return stats
