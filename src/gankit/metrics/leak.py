"""The leak check: do generated images carry the augmentations D was shown (cutout squares, shifted borders,
rotated faces, odd colours)?

Augmenting what D sees must not teach G to make augmented images (Zhao et al. 2020; Karras et al. 2020),
but a policy that is too strong, or not differentiable end to end, leaks. The check trains a small CNN to
tell real training images from the same images augmented with the run's operations (each operation with
probability 1/2, so every one of them must be detectable on its own; the pairs share their content, so only
the artefacts separate them). Its threshold is set on clean real images it never saw so that 1% of them are
called augmented; the leak share is the share of generated samples called augmented at that threshold, about
0.01 when samples carry no artefact. The recall of each operation — the share of unseen reals augmented by
it alone that the detector catches — says how much a low leak share is worth for that operation (a flip of
a symmetric face, say, cannot be seen at all).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gankit.augment.base import Operation, Uniform

FALSE_ALARMS = 0.01  # the share of clean unseen reals called augmented, by construction of the threshold
DETECTOR_P = 0.5  # each operation touches a training example with this probability
HELD_MIN = 20  # unseen reals that set the threshold, at least; the detector needs as many again to learn from


def detector(channels: int) -> nn.Module:
    """Three stride-2 convolutions and a linear read-out on a 4×4 map (where a border or a square is)."""
    layers: list[nn.Module] = []
    width, c = 32, channels
    for _ in range(3):
        layers += [nn.Conv2d(c, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
        c, width = width, width * 2
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(c * 16, 1))


def _stream(seed: int) -> Callable[[tuple], torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return lambda shape: torch.rand(shape, generator=gen)


def _scores(model: nn.Module, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(part).view(-1) for part in x.split(batch)])


def _all(ops: dict[str, Operation]) -> Operation:
    def apply(x: torch.Tensor, uniform: Uniform, p: float) -> torch.Tensor:
        for op in ops.values():
            x = op(x, uniform, p)
        return x
    return apply


def train_detector(reals: torch.Tensor, augment: Operation, steps: int = 400, batch: int = 64,
                   seed: int = 0) -> nn.Module:
    """A detector of `augment(x, uniform, p)` on reals [N, C, H, W] in [-1, 1] (clean: label 0)."""
    with torch.random.fork_rng():  # seeded initial weights without moving the caller's global stream
        torch.manual_seed(seed)
        model = detector(reals.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    uniform, picks = _stream(seed + 1), torch.Generator().manual_seed(seed + 2)
    target = torch.cat([torch.zeros(batch), torch.ones(batch)])
    for _ in range(steps):
        clean = reals[torch.randint(len(reals), (batch,), generator=picks)]
        x = torch.cat([clean, augment(clean, uniform, DETECTOR_P)])
        loss = nn.functional.binary_cross_entropy_with_logits(model(x).view(-1), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def leak_check(reals: torch.Tensor, fakes: torch.Tensor, ops: dict[str, Operation], seed: int = 0,
               steps: int = 400) -> dict:
    """{"leak_share", "leak_recall_<op>" for each operation, "leak_false_alarms", "leak_n"} for generated
    `fakes` against `reals` (both [N, C, H, W] in [-1, 1], on the CPU); a fifth of the reals (at least 20)
    are kept out of training to set the threshold and measure the recalls. With fewer than 40 reals there is
    nothing to learn from once those are kept out: the result says so ({"leak_skipped": why}) instead."""
    if len(reals) < 2 * HELD_MIN:
        return {"leak_skipped": f"the leak check needs {2 * HELD_MIN} training images or more; this run has "
                                f"{len(reals)}"}
    order = torch.randperm(len(reals), generator=torch.Generator().manual_seed(seed))
    unseen = max(HELD_MIN, len(reals) // 5)
    held, train = reals[order[:unseen]], reals[order[unseen:]]
    model = train_detector(train, _all(ops), steps=steps, seed=seed)
    threshold = torch.quantile(_scores(model, held), 1 - FALSE_ALARMS)
    caught = lambda x: round(float((_scores(model, x) > threshold).float().mean()), 4)  # noqa: E731
    uniform = _stream(seed + 3)
    with torch.no_grad():
        recalls = {f"leak_recall_{name}": caught(torch.cat([op(held, uniform, 1.0) for _ in range(4)]))
                   for name, op in ops.items()}
    return {"leak_share": caught(fakes), **recalls, "leak_false_alarms": FALSE_ALARMS, "leak_n": len(fakes)}
