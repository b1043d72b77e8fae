"""The Renderer: plain arguments in, plain data out (uint8 images [N, H, W, C], latents as lists, error
text), so a web page or a notebook can drive every latent tool without touching torch."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from gankit.core.errors import GankitError
from gankit.core.images import to_uint8
from gankit.latent.generator import TrainedGenerator, load_generator, psi_for
from gankit.latent.groups import build_group, resolve_label, seeds_group
from gankit.latent.invert import invert, load_target, sketch_loss, sketch_target
from gankit.latent.translate import Sources, conform, read_image, read_sources, taken_shape, translate_sources
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

    def __init__(self, generator: TrainedGenerator):
        if generator.kind == "clip":
            raise GankitError("the latent tools and the explorer render images; this run predicts frames: continue "
                              "clips with gankit predict RUN --input CLIPS --out OUT")
        if generator.kind != "image":
            raise GankitError("the latent tools render images; this generator makes 2-D points")
        self.G = generator

    @classmethod
    def open(cls, run: str | Path, device: str = "cpu", ema: bool = True) -> "Renderer":
        return cls(load_generator(run, ema=ema, device=device))

    def info(self) -> dict:
        g = self.G
        return {"z_dim": g.z_dim, "num_classes": g.num_classes, "class_names": list(g.class_names),
                "shape": list(g.shape), "dataset": g.dataset, "step": g.step,
                "source_shape": None if g.source_shape is None else list(g.source_shape), "psi": g.psi}

    @_plain
    def translate(self, file, seed: int = 0) -> dict:
        """An image-to-image run on one image (a path or an open binary file, e.g. an upload): the source as
        the run takes it and the output, as uint8 [1, H, W, C] each."""
        sources = read_sources(file) if isinstance(file, (str, Path)) else Sources([read_image(file)], ["upload"],
                                                                                      "file")
        output = translate_sources(self.G, sources, seed=seed)[0]
        taken = conform(sources.images, taken_shape(self.G, sources.images[0]))
        return {"images": to_uint8(output[None]), "sources": taken.permute(0, 2, 3, 1).numpy()}

    @torch.no_grad()
    def render(self, code: Code, psi: float | None = None) -> np.ndarray:
        """Images of the codes, truncated by psi (1 = off; None: the run's own, model.psi)."""
        psi = psi_for(self.G, psi)
        code = truncate(code, psi) if psi != 1.0 else code
        if not torch.isfinite(code.z).all() or (code.y is not None and not torch.isfinite(code.y).all()):
            raise GankitError("the latents to render are not finite numbers (a weight or a latent too large?)")
        device = self.G.device
        y = None if code.y is None else code.y.to(device)
        return to_uint8(self.G(code.z.to(device), y))

    def _label(self, label: str | int | None) -> int | None:
        return None if label is None else resolve_label(self.G, label)

    def _group(self, group: str | Code, n: int = 16, label: str | int | None = None) -> Code:
        """A group given as a spec string (see latent.groups) or as codes already."""
        if isinstance(group, Code):
            return group
        return build_group(self.G, group, n=n, label=None if label is None else str(label))

    def codes(self, latents: list[list[float]], label: str | int | None = None) -> Code:
        """Codes from plain latents, N lists of z_dim numbers (e.g. sent back by a web page), of class `label` if
        conditional."""
        if not latents or any(not isinstance(row, (list, tuple)) or len(row) != self.G.z_dim for row in latents):
            raise GankitError(f"latents must be a non-empty list of {self.G.z_dim} numbers each")
        z = torch.as_tensor(latents, dtype=torch.float32)
        if not torch.isfinite(z).all():
            raise GankitError("latents must be finite numbers")
        if not self.G.num_classes:
            return Code(z)
        y = self._label(label if label is not None else 0)
        return Code(z, one_hot([y] * len(z), self.G.num_classes))

    @_plain
    def sample(self, seeds: list[int], label: str | int | None = None, psi: float | None = None) -> dict:
        """One image per seed (of class `label` for a conditional generator)."""
        code = seeds_group(self.G, seeds, self._label(label))
        return {"images": self.render(code, psi), "latents": code.z.tolist()}

    @_plain
    def class_grid(self, seeds: list[int], psi: float | None = None) -> dict:
        """Every class for every seed: rows are classes, columns seeds (conditional generators)."""
        if not self.G.num_classes:
            raise GankitError("a class grid needs a conditional generator (trained with --conditional)")
        k = self.G.num_classes
        z = seeds_group(self.G, seeds, 0).z
        code = Code(z.repeat(k, 1), one_hot(torch.arange(k).repeat_interleave(len(seeds)), k))
        return {"images": self.render(code, psi), "rows": list(self.G.class_names), "columns": seeds}

    @_plain
    def interpolate(self, seeds: list[int], labels: list[str | int] | None = None, steps: int = 8,
                    mode: str = "slerp", psi: float | None = None, points: str | Code | None = None) -> dict:
        """A walk through the seeds' latents (or, with one seed and several labels, through classes; or
        through the codes of the group `points`, e.g. "npy:inverted.npy", or given codes)."""
        if points is not None:
            stops = self._group(points, label=labels[0] if labels else None)
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
    def arithmetic(self, expression: str, groups: dict[str, str | Code], n: int = 16,
                   label: str | int | None = None, psi: float | None = None) -> dict:
        """Evaluate e.g. "glasses_men - men + women" over group means; also renders each group's mean."""
        built = {name: self._group(spec, n, label) for name, spec in groups.items()}
        result = evaluate_expression(expression, built)
        means = {name: self.render(code.mean(), psi)[0] for name, code in built.items()}
        return {"images": self.render(result, psi), "groups": means, "latents": result.z.tolist(),
                "group_sizes": {name: len(code) for name, code in built.items()}}

    @_plain
    def edit(self, targets: str | Code, positive: str | Code, negative: str | Code, alphas: list[float],
             n: int = 16, label: str | int | None = None, psi: float | None = None) -> dict:
        """Move each code of the group `targets` (e.g. "seeds:1,2" or "npy:inverted.npy") along the direction
        mean(positive) - mean(negative), by each alpha: rows are codes, columns alphas."""
        towards = direction(self._group(positive, n, label), self._group(negative, n, label))
        base = self._group(targets, n, label)
        each = Code(base.z.repeat_interleave(len(alphas), 0),
                    None if base.y is None else base.y.repeat_interleave(len(alphas), 0))
        strengths = torch.tensor(alphas, dtype=base.z.dtype).repeat(len(base)).unsqueeze(1)
        code = apply_direction(each, towards, strengths)
        return {"images": self.render(code, psi), "rows": len(base), "columns": alphas}

    @_plain
    def invert(self, paths: list, steps: int = 300, label: str | int | None = None, seed: int = 0,
               sketch: bool = False) -> dict:
        """Fit latents to image files (paths or open binary files); returns the reconstructions, the targets
        and per-image MSE in [-1, 1]. `sketch`: the files are drawings (dark strokes on light) and the images'
        edges are fitted to them (iGAN's way from a drawing to an image, no paired data needed); the errors
        are then sketch_loss's."""
        shape = (1, *self.G.shape[1:]) if sketch else self.G.shape
        target = torch.cat([load_target(p, shape, name="" if isinstance(p, (str, Path)) else f"#{i + 1}")
                            for i, p in enumerate(paths)])
        y = None
        if self.G.num_classes and label is not None:
            y = one_hot([self._label(label)] * len(paths), self.G.num_classes)
        elif self.G.num_classes and self.G.label_prior is None:  # a model of clusters finds each image's own
            raise GankitError("this generator is conditional: say which class the images are (--label)")
        code, error = invert(self.G, sketch_target(target) if sketch else target, y=y, steps=steps, seed=seed,
                             objective=sketch_loss if sketch else None)
        # the fitted latents as they are: the error was measured on them untruncated
        return {"images": self.render(code, 1.0), "targets": to_uint8(target), "errors": error.tolist(),
                "latents": code.z.tolist()}
