"""One discriminator update and one generator update, the classic algorithm (Goodfellow et al. 2014).

Each returns a dict of detached 0-dim tensors; nothing here synchronises with the device, so the loop
can aggregate on the device and read the numbers every few steps.

With several processes (see parallel.py) each step sees this process's shard of the global batch; the
updates that must average gradients go through the DDP wrappers (`G_sync`, `D_sync`), and every random
draw is made for the global batch and sharded, so N processes train what one process would.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gankit.nn import is_source, pack_labels, scores, source_at
from gankit.training.ema import EMA


@dataclass
class Rules:
    """How an update scores and penalises (the loss section and train.precision): step settings, not state."""

    loss: object  # a gankit.losses.Loss
    penalty: Callable | None = None
    penalty_weight: float = 0.0
    label_smoothing: float = 0.0
    aux_weight: float = 1.0  # AC-GAN: weight of the class cross-entropy (D heads with a classifier only)
    precision: str = "fp32"  # "bf16": forward passes under autocast; losses, weights and optimizers in fp32
    augment: Callable | None = None  # gankit.augment.Augment: applied to every image D judges
    d_terms: tuple = ()  # (name, fn(D, real) -> loss): a model family's own terms in D's loss (fastgan)
    g_terms: tuple = ()  # (name, weight, fn(fake, real, source) -> loss): G's terms beside D's verdict
    adversarial: float = 1.0  # weight of D's verdict in G's loss (0: a pixel-loss model, image to image only)


@dataclass
class Sync:
    """Several processes' plumbing (see parallel.py); one process keeps the defaults."""

    shard: tuple[int, int] = (0, 1)  # (rank, processes): this process's share of every global batch
    G_sync: nn.Module | None = None  # DDP(G): G's updates go through it
    D_sync: nn.Module | None = None  # DDP over D's scores (logits, class logits): D's updates go through it
    sync_buffers: Callable[[], None] | None = None  # after each iteration: rank 0's BN statistics to all


@dataclass
class Game:
    """Everything one adversarial update touches: the state a checkpoint saves (networks, optimizers, EMA,
    the noise stream), the rules of the update and the processes' plumbing."""

    G: nn.Module
    D: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    noise: torch.Generator  # all training randomness but data order: saved and restored on resume
    rules: Rules
    ema: EMA | None = None
    sync: Sync = field(default_factory=Sync)

    @property
    def z_dim(self) -> int:
        return self.G.z_dim

    def drawing_net(self) -> nn.Module:
        """The network samples are drawn from: the EMA generator when the run keeps one, else G."""
        return self.ema.ready() if self.ema is not None else self.G


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


def _draw(game: Game, sample: Callable, shape: tuple, device: torch.device) -> torch.Tensor:
    """`sample` (torch.randn or torch.rand) of a local `shape` from the run's stream: with several processes
    each draws the global batch and keeps its shard, so the stream stays the same on every process."""
    rank, world = game.sync.shard
    if world == 1:
        return sample(shape, device=device, generator=game.noise)
    full = sample((shape[0] * world,) + tuple(shape[1:]), device=device, generator=game.noise)
    return full[rank * shape[0]:(rank + 1) * shape[0]]


def _latents(game: Game, n: int, device: torch.device) -> torch.Tensor:
    return _draw(game, torch.randn, (n, game.z_dim), device)


def _autocast(game: Game, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=game.rules.precision == "bf16")


def generate(game: Game, n: int, y: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    """n fresh fakes from G (keeping G's graph, through DDP when distributed, unless called under no_grad)."""
    net = game.sync.G_sync if game.sync.G_sync is not None and torch.is_grad_enabled() else game.G
    with _autocast(game, device):
        return net(_latents(game, n, device), y)


def _scores(game: Game, x: torch.Tensor, y: torch.Tensor | None,
            update: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's logits (and AC-GAN class logits) in fp32, whatever precision D ran in. `update`: this pass
    trains D, so with several processes it goes through DDP, which averages D's gradients."""
    with _autocast(game, x.device):
        logits, classes = game.sync.D_sync(x, y) if update and game.sync.D_sync is not None else scores(game.D, x, y)
    return logits.float(), None if classes is None else classes.float()


def _noisy(game: Game, x: torch.Tensor, std: float) -> torch.Tensor:
    """Instance noise (Sønderby et al. 2017): blur both distributions so their supports overlap."""
    if std <= 0:
        return x
    return x + std * _draw(game, torch.randn, x.shape, x.device)


def _augment(game: Game, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What D sees of x and its conditioning y: augmented (differentiably, from the run's stream) when the run
    augments. A source image y gets the very transform x gets (the same draws, replayed), at x's size, so
    D still judges a pair that belongs together; labels pass unchanged."""
    if game.rules.augment is None:
        return x, y
    draws: list[torch.Tensor] = []

    def record(shape: tuple) -> torch.Tensor:
        draws.append(_draw(game, torch.rand, shape, x.device))
        return draws[-1]

    x = game.rules.augment(x, record)
    if not is_source(y):
        return x, y
    replay = iter(draws)
    return x, game.rules.augment(source_at(y, x), lambda shape: next(replay))


def _class_labels(class_logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The labels that class logits name: a packed D classifies packs of one class, one row per pack."""
    return pack_labels(y, y.shape[0] // class_logits.shape[0])  # a pack of 1 is the sample itself


def _class_loss(class_logits: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor | None:
    """Cross-entropy over the labelled samples; label -1 (set aside by data.labeled_per_class) counts for
    nothing. Summed and divided by the count rather than averaged, so a batch without labels gives 0, not NaN."""
    if class_logits is None or y is None:
        return None
    y = _class_labels(class_logits, y)
    total = F.cross_entropy(class_logits, y, ignore_index=-1, reduction="sum")
    return total / (y >= 0).sum().clamp(min=1)


def d_step(game: Game, real: torch.Tensor, y: torch.Tensor | None, noise_std: float = 0.0,
           fake: torch.Tensor | None = None) -> dict:
    """Update D on N reals and N fakes (fresh unless given; they get the reals' labels when conditional).
    An AC-GAN head (Odena et al. 2017) also learns to classify the reals. Not the fakes, as in the paper:
    then D's classifier and G can agree on class cues no real image carries (measured on Fashion-MNIST: 15%
    of the samples of the asked class by an independent judge), while a classifier of reals only rewards G
    for what real images of the class look like."""
    if fake is None:
        with torch.no_grad():
            fake = generate(game, real.shape[0], y, real.device)
    (real, y_real), (fake, y_fake) = _augment(game, real, y), _augment(game, fake.detach(), y)
    real_logits, real_classes = _scores(game, _noisy(game, real, noise_std), y_real, update=True)
    fake_logits, _ = _scores(game, _noisy(game, fake, noise_std), y_fake, update=True)
    loss = game.rules.loss.d_loss(real_logits, fake_logits, smoothing=game.rules.label_smoothing)
    stats = {"d_loss": loss.detach()}
    aux = _class_loss(real_classes, y)
    if aux is not None:
        loss = loss + game.rules.aux_weight * aux
        stats["d_aux_loss"] = aux.detach()
        y_classes = _class_labels(real_classes, y)
        labelled = (y_classes >= 0).float()
        hits = (real_classes.detach().argmax(1) == y_classes).float() * labelled
        stats["aux_acc_real"] = hits.sum() / labelled.sum().clamp(min=1)
    for name, term in game.rules.d_terms:  # through D itself, like the penalty below
        value = term(game.D, real)
        loss = loss + value
        stats[name] = value.detach()
    if game.rules.penalty is not None and game.rules.penalty_weight > 0:
        # D itself, not DDP: the penalty's gradient joins the same backward, which DDP averages once
        # (pairs: the interpolates are judged with the real's source as each was augmented)
        pen = game.rules.penalty(game.D, real, fake, y_real,
                                 rand=lambda shape: _draw(game, torch.rand, shape, real.device))
        loss = loss + game.rules.penalty_weight * pen
        stats["penalty"] = pen.detach()
    game.opt_D.zero_grad(set_to_none=True)
    loss.backward()
    stats["d_grad_norm"] = grad_norm(game.D)
    game.opt_D.step()
    r, f = real_logits.detach(), fake_logits.detach()
    stats.update({"d_real": r.mean(), "d_fake": f.mean(),
                  "p_real": torch.sigmoid(r).mean(), "p_fake": torch.sigmoid(f).mean(),
                  # positive logit = real, so D is right on a real when > 0 and on a fake when < 0
                  "acc_real": (r > 0).float().mean(), "acc_fake": (f < 0).float().mean(),
                  "d_real_sign": r.sign().mean()})  # ADA's overfitting measure r_t
    return stats


def top_k(logits: torch.Tensor, keep: float) -> torch.Tensor:
    """The top-k update (Sinha et al. 2020): only the `keep` share of G's samples that D scores most real
    trains G. Late in training the worst-scored samples lie between modes, and their gradients pull the
    rest off the modes with them. With several processes each keeps its share of its own shard."""
    if keep >= 1:
        return logits
    k = max(1, round(keep * logits.shape[0]))
    if logits.dim() > 1:  # a PatchGAN's [N, P]: whole samples, ranked by their mean patch logit
        return logits[logits.mean(1).topk(k).indices]
    return logits.topk(k).values


def _real_logits(game: Game, real: torch.Tensor | None, y: torch.Tensor | None, noise_std: float) -> tuple:
    """What a relativistic loss compares G's samples with: D's logits of the batch's real images, seen as D
    sees them (augmented, noised), without a graph (D is frozen and the reals do not depend on G)."""
    if not game.rules.loss.relativistic:
        return ()
    with torch.no_grad():
        seen, y_seen = _augment(game, real, y)
        return (_scores(game, _noisy(game, seen, noise_std), y_seen)[0],)


def g_step(game: Game, batch_size: int, y: torch.Tensor | None, device: torch.device, step: int,
           noise_std: float = 0.0, fake: torch.Tensor | None = None, keep: float = 1.0,
           real: torch.Tensor | None = None) -> dict:
    """Update G through D with its fakes (fresh unless given with G's graph) labelled real; D's weights are
    frozen (no weight gradients, so D's plain module, not its DDP wrapper). `keep` < 1: the top-k update.
    `real`: the targets of y's sources, for the reconstruction terms of image-to-image runs."""
    game.D.requires_grad_(False)
    try:
        fake = generate(game, batch_size, y, device) if fake is None else fake
        seen, y_seen = _augment(game, fake, y)
        logits, classes = _scores(game, _noisy(game, seen, noise_std), y_seen)
        adversarial = game.rules.loss.g_loss(top_k(logits, keep), *_real_logits(game, real, y, noise_std))
        loss = game.rules.adversarial * adversarial
        # AC-GAN: G is also rewarded when D recognises the class it was asked for (a semi-supervised G is asked
        # for none: its D classifies, but G's samples carry no label)
        aux = _class_loss(classes, y) if game.G.num_classes else None
        if aux is not None:
            loss = loss + game.rules.aux_weight * aux
        terms = {}
        for name, weight, term in game.rules.g_terms:
            terms[name] = term(fake.float(), real, y)
            loss = loss + weight * terms[name]
        game.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        norm = grad_norm(game.G)
        game.opt_G.step()
    finally:
        game.D.requires_grad_(True)
    if game.ema is not None:
        game.ema.update(game.G, step)
    stats = {"g_loss": adversarial.detach(), "g_grad_norm": norm, **{k: v.detach() for k, v in terms.items()}}
    if aux is not None:
        stats["g_aux_loss"] = aux.detach()
    return stats
