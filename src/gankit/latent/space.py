"""Moving through the latent space: codes, interpolation, truncation, directions and arithmetic.

A code is what a generator is fed: latents z [N, z_dim] and, for a conditional generator, class weights
y [N, K] (one-hot for a plain class; a mix for points between classes). Everything here is linear algebra
on codes; nothing renders.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from gankit.core.errors import GankitError
from gankit.models import PSI_RANGE


@dataclass
class Code:
    z: torch.Tensor  # [N, z_dim]
    y: torch.Tensor | None = None  # [N, K] class weights, or None for an unconditional generator

    def __len__(self) -> int:
        return self.z.shape[0]

    def __add__(self, other: "Code") -> "Code":
        return Code(self.z + other.z, _combine(self.y, other.y, 1.0))

    def __sub__(self, other: "Code") -> "Code":
        return Code(self.z - other.z, _combine(self.y, other.y, -1.0))

    def scale(self, factor: float) -> "Code":
        return Code(self.z * factor, None if self.y is None else self.y * factor)

    def mean(self) -> "Code":
        """The group's average, one code [1, ...]: what the lesson's arithmetic works on."""
        return Code(self.z.mean(0, keepdim=True), None if self.y is None else self.y.mean(0, keepdim=True))

    def cat(self, other: "Code") -> "Code":
        return Code(torch.cat([self.z, other.z]), None if self.y is None else torch.cat([self.y, other.y]))


def _combine(a: torch.Tensor | None, b: torch.Tensor | None, sign: float) -> torch.Tensor | None:
    if a is None or b is None:
        return None if a is None and b is None else (a if b is None else sign * b)
    return a + sign * b


# Two ways to name latents, each for its use. `gankit sample`/`gankit eval` draw a sample SET: n latents
# from one stream seeded by --seed (stream_latents), so one number names the whole set an FID is computed
# on. The explorer and the latent tools name each IMAGE by its own seed (seed_latents), so image 42 is the
# same whatever else is on the page. They meet at the first latent: seed s's image is the first of
# `gankit sample --seed s`. Both truncate with `truncate`.


def stream_latents(z_dim: int, n: int, seed: int) -> torch.Tensor:
    """n latents [n, z_dim] from one stream seeded by `seed` (a sample set: `gankit sample --seed`), drawn a
    row at a time: torch's CPU sampler takes a different path for a tensor of 16 or more numbers, so one
    draw of [n, z_dim] would not begin with the [1, z_dim] draw of the same seed (it differs at z_dim 100)."""
    rng = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randn(1, z_dim, generator=rng) for _ in range(n)]) if n else torch.zeros(0, z_dim)


def seed_latents(z_dim: int, seeds: list[int]) -> torch.Tensor:
    """One latent per seed [len(seeds), z_dim]; seed s gives the first sample of `gankit sample --seed s`."""
    return torch.cat([torch.randn(1, z_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])


def one_hot(labels: list[int] | torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.as_tensor(labels), num_classes).float()


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Straight line: a at t = 0, b at t = 1. a, b [N, D]; t scalar or [N, 1]."""
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float, eps: float = 1e-7) -> torch.Tensor:
    """Along the great circle between a and b, with the norm interpolated linearly: Gaussian latents live
    near a sphere of radius sqrt(z_dim), and a straight line cuts through its low-density inside."""
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(eps), b / nb.clamp_min(eps)
    omega = torch.acos((ua * ub).sum(-1, keepdim=True).clamp(-1 + eps, 1 - eps))
    so = torch.sin(omega)
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / so
    return torch.where(so < 1e-4, lerp(a, b, t), direction * lerp(na, nb, t))


INTERPOLATIONS = {"lerp": lerp, "slerp": slerp}


def interpolate(points: Code, steps: int, mode: str = "slerp") -> Code:
    """A walk through the codes of `points` (in order), `steps` frames per leg, ends included:
    (len(points) - 1) * steps + 1 codes. z follows `mode`; class weights always move linearly."""
    if mode not in INTERPOLATIONS:
        raise GankitError(f"unknown interpolation {mode!r}: use lerp or slerp")
    if len(points) < 2 or steps < 1:
        raise GankitError("an interpolation needs at least two points and one step per leg")
    t = torch.arange(steps, dtype=points.z.dtype).div(steps).unsqueeze(1)  # [steps, 1], 0 .. (steps-1)/steps
    zs, ys = [], []
    for i in range(len(points) - 1):
        zs.append(INTERPOLATIONS[mode](points.z[i:i + 1], points.z[i + 1:i + 2], t))
        if points.y is not None:
            ys.append(lerp(points.y[i:i + 1], points.y[i + 1:i + 2], t))
    zs.append(points.z[-1:])
    if points.y is not None:
        ys.append(points.y[-1:])
    return Code(torch.cat(zs), torch.cat(ys) if ys else None)


def check_psi(psi: float) -> float:
    if not PSI_RANGE[0] <= psi <= PSI_RANGE[1]:
        raise GankitError(f"psi (truncation) must be between {PSI_RANGE[0]:g} and {PSI_RANGE[1]:g} (1 = off, "
                          f"below 1 = closer to the average sample, above 1 = farther from it), got {psi}")
    return psi


def truncate(code: Code, psi: float, center: torch.Tensor | None = None) -> Code:
    """The truncation trick: pull z toward `center` (default the prior's mean, 0) by psi (see PSI_RANGE;
    below 1 trades variety for fidelity, above 1 the reverse)."""
    check_psi(psi)
    center = torch.zeros_like(code.z[:1]) if center is None else center
    return Code(center + psi * (code.z - center), code.y)


def direction(positive: Code, negative: Code) -> Code:
    """An attribute direction: the difference of two group means (e.g. smiling - neutral)."""
    return positive.mean() - negative.mean()


def apply_direction(code: Code, towards: Code, alpha: float | torch.Tensor) -> Code:
    """code + alpha * direction; alpha a float, or [N, 1] for one strength per code."""
    y = code.y if code.y is None or towards.y is None else code.y + alpha * towards.y
    return Code(code.z + alpha * towards.z, y)


MAX_WEIGHT = 1000.0  # latents live near a sphere of radius sqrt(z_dim); a weight beyond this only overflows
_TERM = re.compile(r"\s*([+-])?\s*(?:(\d+(?:\.\d*)?|\.\d+)\s*\*\s*)?([A-Za-z_][\w]*)\s*")


def parse_expression(text: str) -> list[tuple[float, str]]:
    """"glasses_men - men + women" -> [(1, "glasses_men"), (-1, "men"), (1, "women")]; "0.5*a + b" too."""
    terms, pos = [], 0
    while pos < len(text):
        m = _TERM.match(text, pos)
        if m is None or m.end() == pos or (terms and m.group(1) is None):
            raise GankitError(f"cannot read the expression {text!r} at {text[pos:]!r}: write terms like "
                              "'a - b + 0.5*c' with group names")
        weight = float(m.group(2)) if m.group(2) else 1.0
        if weight > MAX_WEIGHT:
            raise GankitError(f"the expression's weight {m.group(2)[:20]} is too large: use weights up to "
                              f"{MAX_WEIGHT:g}")
        terms.append((-weight if m.group(1) == "-" else weight, m.group(3)))
        pos = m.end()
    if not terms:
        raise GankitError("the expression is empty")
    return terms


def evaluate_expression(text: str, groups: dict[str, Code]) -> Code:
    """Sum of weight * mean(group) over the expression's terms: one code [1, ...]."""
    total = None
    for weight, name in parse_expression(text):
        if name not in groups:
            raise GankitError(f"the expression names {name!r}, which is not a group; groups: "
                              f"{', '.join(sorted(groups)) or 'none'}")
        term = groups[name].mean().scale(weight)
        total = term if total is None else total + term
    return total
