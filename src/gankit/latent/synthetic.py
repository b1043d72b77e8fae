"""A conditional generator as a data source: N samples of every class, optionally only those the dataset's
classifier finds convincing, written as a labelled dataset (a folder per class, or an .npz of x and y)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from gankit.core.errors import GankitError
from gankit.core.images import save_png, to_uint8
from gankit.latent.generator import TrainedGenerator
from gankit.latent.sample import names_folder, refuse_overwrite, sample
from gankit.metrics.extractors import build_extractor

MAX_ROUNDS = 10  # --min-confidence: rounds of draws, each up to twice the last (at most 256x what is missing)


def per_class(generator: TrainedGenerator, n: int, seed: int = 0, psi: float | None = None, jbt: float = 1.0,
              min_confidence: float = 0.0, classifier: str = "", drs: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(samples [K * n, *shape] on the CPU, labels [K * n]): n of each of the generator's K classes, class by
    class. `min_confidence` > 0 keeps only samples the classifier (the bundled one of the generator's
    dataset, or the file `classifier`) gives at least that probability of their class, drawing more until
    every class has n."""
    if not generator.num_classes:
        raise GankitError("--per-class draws each class of a conditional generator; this one is unconditional "
                          "(train with --conditional)")
    if generator.label_prior is not None:
        raise GankitError("--per-class draws labelled data; this generator's classes are clusters of the images "
                          "(data.clusters), not labels: train with --conditional for the dataset's own classes")
    if not 0 <= min_confidence < 1:
        raise GankitError(f"--min-confidence must be in [0, 1), got {min_confidence}")
    labels = torch.arange(generator.num_classes).repeat_interleave(n)
    if min_confidence == 0:
        return sample(generator, len(labels), seed=seed, labels=labels, psi=psi, jbt=jbt, drs=drs), labels
    judge = build_extractor("classifier", generator.dataset, path=classifier, device=generator.device)
    kept: list[list[torch.Tensor]] = [[] for _ in range(generator.num_classes)]
    counts = torch.zeros(generator.num_classes, dtype=torch.long)
    for round_ in range(MAX_ROUNDS):
        missing = (n - counts).clamp(min=0)
        if not missing.any():
            break
        # a class the classifier rarely believes needs many candidates: double them each round
        asked = torch.arange(generator.num_classes).repeat_interleave(missing * 2 ** round_)
        # each round its own seed: a rerun with the same seed keeps the same samples
        drawn = sample(generator, len(asked), seed=seed + round_ * 1_000_003, labels=asked, psi=psi, jbt=jbt,
                       drs=drs)
        probs = torch.cat([judge(batch)[1].softmax(1).cpu() for batch in drawn.split(1000)])
        if probs.shape[1] != generator.num_classes:
            raise GankitError(f"the classifier names {probs.shape[1]} classes, the generator {generator.num_classes}")
        good = probs[torch.arange(len(asked)), asked] >= min_confidence
        for k in range(generator.num_classes):
            kept[k].append(drawn[good & (asked == k)])
            counts[k] += len(kept[k][-1])
    short = (counts < n).nonzero().flatten().tolist()
    if short:
        name = generator.class_names[short[0]] if generator.class_names else str(short[0])
        raise GankitError(f"only {int(counts[short[0]])} of {n} samples of class {name!r} reached p >= "
                          f"{min_confidence} in {MAX_ROUNDS} rounds of draws; lower --min-confidence or train the "
                          "generator longer")
    return torch.cat([torch.cat(got)[:n] for got in kept]), labels


def folder_name(name: str, index: int) -> str:
    """A class name as a folder name: path separators and other odd characters become '_'."""
    safe = re.sub(r"[^\w.-]+", "_", name).strip("._")
    return safe or str(index)


def write_labelled(samples: torch.Tensor, labels: torch.Tensor, class_names: tuple[str, ...], out: str,
                   force: bool = False) -> list[str]:
    """A labelled dataset at `out`: a folder (ending in /) with one sub-folder per class holding 000000.png ...
    (the layout gankit's --data FOLDER and classifier libraries read), or an .npz with x (uint8 [N, H, W, C]),
    y (int64 [N]) and class_names."""
    names = [class_names[k] if k < len(class_names) else str(k) for k in range(int(labels.max()) + 1)]
    images = to_uint8(samples)
    if names_folder(out):
        folders = [folder_name(name, k) for k, name in enumerate(names)]
        if len(set(folders)) < len(folders):
            folders = [f"{k}_{f}" for k, f in enumerate(folders)]  # two names that differ only in odd characters
        counters = [0] * len(names)
        paths = []
        for k in labels.tolist():
            paths.append(Path(out) / folders[k] / f"{counters[k]:06d}.png")
            counters[k] += 1
        refuse_overwrite(paths, force)
        for img, path in zip(images, paths):
            path.parent.mkdir(parents=True, exist_ok=True)
            save_png(img, path)
        return [str(p) for p in paths]
    if Path(out).suffix.lower() != ".npz":
        raise GankitError(f"--out {out!r}: --per-class writes a labelled dataset, a folder ending in / (one "
                          "sub-folder per class) or an .npz file (x, y, class_names)")
    refuse_overwrite([Path(out)], force)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, x=images, y=labels.numpy().astype(np.int64), class_names=np.array(names, dtype=str))
    return [out]


__all__ = ["folder_name", "per_class", "write_labelled"]
