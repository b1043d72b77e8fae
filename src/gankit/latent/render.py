"""The Renderer: plain arguments in, plain data out (uint8 images [N, H, W, C], latents as lists, error
text), so a web page or a notebook can drive every latent tool without touching torch."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from gankit.core.errors import GankitError
from gankit.core.images import to_uint8
from gankit.latent.generator import load_generator
from gankit.latent.groups import build_group, resolve_label, seeds_group
from gankit.latent.invert import invert, load_target
from gankit.latent.space import Code, apply_direction, direction, evaluate_expression, interpolate, one_hot, truncate


def _plain(fn):
    """Run a renderer method; a GankitError becomes {"error": text} instead of an exception."""
    @functools.wraps(fn)
    def wrapped(self, *args, **kwargs) -> dict:
        try:
            return {"error": None, **fn(self, *args, **kwargs)}
        except GankitError as exc:
            return {"error": str(exc), "images": None}
    return wrapped


class Renderer:
    """Drives one generator. Every method returns a dict with "images" (uint8 [N, H, W, C]) and "error"."""

    def __init__(self, generator: torch.nn.Module):
        if getattr(generator, "data_kind", "image") != "image":
            raise GankitError("the latent tools render images; this generator makes 2-D points")
        self.G = generator.eval()

    @classmethod
    def open(cls, run: str | Path, device: str = "cpu", ema: bool = True) -> "Renderer":
        return cls(load_generator(run, ema=ema, device=device))

    def info(self) -> dict:
        g = self.G
        return {"z_dim": g.z_dim, "num_classes": g.num_classes, "class_names": list(g.class_names),
                "shape": list(g.shape), "dataset": getattr(g, "dataset", ""), "step": getattr(g, "step", 0)}

    @torch.no_grad()
    def render(self, code: Code, psi: float = 1.0) -> np.ndarray:
        """Images of the codes, truncated by psi (1 = off)."""
        code = truncate(code, psi) if psi != 1.0 else code
        device = next(self.G.parameters()).device
        y = None if code.y is None else code.y.to(device)
        return to_uint8(self.G(code.z.to(device), y))

    def _label(self, label: str | int | None) -> int | None:
        return None if label is None else resolve_label(self.G, label)

    @_plain
    def sample(self, seeds: list[int], label: str | int | None = None, psi: float = 1.0) -> dict:
        """One image per seed (of class `label` for a conditional generator)."""
        code = seeds_group(self.G, seeds, self._label(label))
        return {"images": self.render(code, psi), "latents": code.z.tolist()}

    @_plain
    def class_grid(self, seeds: list[int], psi: float = 1.0) -> dict:
        """Every class for every seed: rows are classes, columns seeds (conditional generators)."""
        if not self.G.num_classes:
            raise GankitError("a class grid needs a conditional generator (trained with --conditional)")
        k = self.G.num_classes
        z = seeds_group(self.G, seeds, 0).z
        code = Code(z.repeat(k, 1), one_hot(torch.arange(k).repeat_interleave(len(seeds)), k))
        return {"images": self.render(code, psi), "rows": list(self.G.class_names), "columns": seeds}

    @_plain
    def interpolate(self, seeds: list[int], labels: list[str | int] | None = None, steps: int = 8,
                    mode: str = "slerp", psi: float = 1.0, points: str | None = None) -> dict:
        """A walk through the seeds' latents (or, with one seed and several labels, through classes; or
        through the codes of the group `points`, e.g. "npy:inverted.npy")."""
        if points:
            stops = build_group(self.G, points, label=str(labels[0]) if labels else None)
        else:
            if not seeds:
                raise GankitError("an interpolation needs seeds (or a group of points)")
            if labels and len(seeds) == 1:
                seeds = seeds * len(labels)
            ys = [self._label(lb) for lb in labels] if labels else [None] * len(seeds)
            if len(ys) != len(seeds):
                raise GankitError("give one label per seed, or one seed and several labels")
            stops = seeds_group(self.G, seeds[:1], ys[0])
            for s, y in zip(seeds[1:], ys[1:]):
                stops = stops.cat(seeds_group(self.G, [s], y))
        path = interpolate(stops, steps, mode)
        return {"images": self.render(path, psi), "latents": path.z.tolist()}

    @_plain
    def arithmetic(self, expression: str, groups: dict[str, str], n: int = 16, label: str | int | None = None,
                   psi: float = 1.0) -> dict:
        """Evaluate e.g. "glasses_men - men + women" over group means; also renders each group's mean."""
        built = {name: build_group(self.G, spec, n=n, label=None if label is None else str(label))
                 for name, spec in groups.items()}
        result = evaluate_expression(expression, built)
        means = {name: self.render(code.mean(), psi)[0] for name, code in built.items()}
        return {"images": self.render(result, psi), "groups": means, "latents": result.z.tolist(),
                "group_sizes": {name: len(code) for name, code in built.items()}}

    @_plain
    def edit(self, targets: str, positive: str, negative: str, alphas: list[float], n: int = 16,
             label: str | int | None = None, psi: float = 1.0) -> dict:
        """Move each code of the group `targets` (e.g. "seeds:1,2" or "npy:inverted.npy") along the direction
        mean(positive) - mean(negative), by each alpha: rows are codes, columns alphas."""
        lab = None if label is None else str(label)
        towards = direction(build_group(self.G, positive, n=n, label=lab),
                            build_group(self.G, negative, n=n, label=lab))
        base = build_group(self.G, targets, n=n, label=lab)
        each = Code(base.z.repeat_interleave(len(alphas), 0),
                    None if base.y is None else base.y.repeat_interleave(len(alphas), 0))
        strengths = torch.tensor(alphas, dtype=base.z.dtype).repeat(len(base)).unsqueeze(1)
        code = apply_direction(each, towards, strengths)
        return {"images": self.render(code, psi), "rows": len(base), "columns": alphas}

    @_plain
    def invert(self, paths: list[str], steps: int = 300, label: str | int | None = None, seed: int = 0) -> dict:
        """Fit latents to image files; returns the reconstructions, the targets and per-image MSE in [-1, 1]."""
        target = torch.cat([load_target(p, self.G.shape) for p in paths])
        y = None
        if self.G.num_classes:
            if label is None:
                raise GankitError("this generator is conditional: say which class the images are (--label)")
            y = one_hot([self._label(label)] * len(paths), self.G.num_classes)
        code, error = invert(self.G, target, y=y, steps=steps, seed=seed)
        return {"images": self.render(code), "targets": to_uint8(target), "errors": error.tolist(),
                "latents": code.z.tolist()}
