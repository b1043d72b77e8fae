"""Groups of codes for latent arithmetic, named in a small text form:

- `seeds:1,2,7` or `seeds:0-9` — the latents of those seeds (class from `label` for a conditional model);
- `class:7` or `class:sneaker` — a conditional generator's class (n latents, the class one-hot);
- `judge:7` — the generated samples gankit's classifier for the dataset assigns, confidently, to class 7
  (any MNIST or Fashion-MNIST generator, conditional or not): the lesson's "samples a classifier puts in a group";
- `npy:PATH` — latents saved as a float array [N, z_dim], e.g. by `gankit latent invert --latents`.
"""
from __future__ import annotations

import numpy as np
import torch

from gankit.core.errors import GankitError
from gankit.data.clusters import draw_labels
from gankit.latent.generator import TrainedGenerator
from gankit.latent.space import Code, one_hot, seed_latents
from gankit.metrics import build_extractor

POOL = 2000  # candidate samples a judge: group is drawn from
CONFIDENT = 0.9


def resolve_label(generator: TrainedGenerator, text: str | int, drawn: bool = True) -> int:
    """A class index from an index or a class name (case-insensitive); the error lists the known ones.
    `drawn`: the class is for G to draw, which an unconditional generator cannot (a judge: group can still
    pick samples of a class by what the classifier says)."""
    if drawn and not generator.num_classes:
        raise GankitError(f"this generator is unconditional (trained without --conditional): it cannot draw a "
                          f"chosen class such as {str(text)[:20]!r}; drop the label, or pick samples of a class "
                          "with a judge:NAME group (MNIST-like data)")
    names = list(generator.class_names)
    k = generator.num_classes or len(names)
    text = str(text).strip()
    lowered = [n.lower() for n in names]
    if text.lower() in lowered:  # names first: MNIST's class "7" is index 7 either way
        return lowered.index(text.lower())
    if text.isdigit() and int(text) < k:
        return int(text)
    known = ", ".join(f"{i}={n}" for i, n in enumerate(names)) if names else f"0..{k - 1}"
    raise GankitError(f"unknown label {text!r}; known labels: {known}" if k else
                      "this generator has no classes; it was not trained with labels")


def parse_seeds(text: str) -> list[int]:
    """"1,2,7" or "0-9" or "0-4,10" -> seeds."""
    seeds: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            lo, _, hi = part.partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError as exc:
        raise GankitError(f"cannot read seeds {text!r}: write e.g. 1,2,7 or 0-9") from exc
    if not seeds:
        raise GankitError("a seeds: group needs at least one seed")
    return seeds


def _classes(generator: TrainedGenerator, label: int | None, n: int,
             seeds: list[int] | None = None) -> torch.Tensor | None:
    if not generator.num_classes:
        return None
    prior = generator.label_prior
    if label is None and prior is not None:
        # a model of clusters (data.clusters) needs no label: each latent's cluster is drawn from their shares,
        # by its seed where it has one, so seed 5 is always the same sample
        picks = [int(draw_labels(1, generator.num_classes, prior, s)[0]) for s in seeds] if seeds else \
            draw_labels(n, generator.num_classes, prior).tolist()
        return one_hot(picks, generator.num_classes)
    if label is None:
        raise GankitError("this generator is conditional: give the group a class (class:NAME), or pass --label")
    return one_hot([label] * n, generator.num_classes)


def seeds_group(generator: TrainedGenerator, seeds: list[int], label: int | None = None) -> Code:
    return Code(seed_latents(generator.z_dim, seeds), _classes(generator, label, len(seeds), seeds))


def npy_group(generator: TrainedGenerator, path: str, label: int | None = None) -> Code:
    """Latents from a .npy file [N, z_dim] (or one latent [z_dim])."""
    try:
        z = torch.from_numpy(np.atleast_2d(np.load(path, allow_pickle=False)).astype(np.float32))
    except (OSError, ValueError) as exc:
        raise GankitError(f"cannot read latents from {path}: {exc}") from exc
    if z.dim() != 2 or z.shape[1] != generator.z_dim:
        raise GankitError(f"{path} holds an array of shape {tuple(z.shape)}; this generator's latents are "
                          f"[N, {generator.z_dim}]")
    return Code(z, _classes(generator, label, len(z)))


def judge_group(generator: TrainedGenerator, label: int, n: int, seed: int) -> Code:
    """Up to n codes whose samples the dataset's classifier assigns to `label` with p >= 0.9."""
    device = generator.device
    judge = build_extractor("classifier", generator.dataset, device=device)
    z = torch.randn(POOL, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    y = None if not generator.num_classes else one_hot(
        draw_labels(POOL, generator.num_classes, generator.label_prior, seed), generator.num_classes)
    keep = []
    with torch.no_grad():
        for start in range(0, POOL, 500):
            yb = None if y is None else y[start:start + 500].to(device)
            probs = judge(generator(z[start:start + 500].to(device), yb))[1].softmax(1).cpu()
            hit = (probs.argmax(1) == label) & (probs.max(1).values >= CONFIDENT)
            keep += (torch.nonzero(hit).flatten() + start).tolist()
    if not keep:
        raise GankitError(f"none of {POOL} samples was confidently judged to be class {label}")
    idx = torch.tensor(keep[:n])
    return Code(z[idx], None if y is None else y[idx])


def build_group(generator: TrainedGenerator, spec: str, *, n: int = 16, label: str | None = None,
                seed: int = 0) -> Code:
    """The codes a group spec names (see the module doc)."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    default = None if label is None else resolve_label(generator, label)
    if kind == "seeds":
        return seeds_group(generator, parse_seeds(arg), default)
    if kind == "class":
        return seeds_group(generator, list(range(seed, seed + n)), resolve_label(generator, arg))
    if kind == "npy":
        return npy_group(generator, arg, default)
    if kind == "judge":
        judged = resolve_label(generator, arg, drawn=False) if generator.class_names else int(arg)
        return judge_group(generator, judged, n, seed)
    raise GankitError(f"cannot read the group {spec!r}: use seeds:1,2,3, class:NAME, judge:NAME or npy:PATH")
