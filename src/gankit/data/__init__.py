"""L1 data: readers into an in-memory Dataset, a registry of them, and the resumable batch sampler."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from gankit.core.errors import GankitError
from gankit.core.registry import Registry
from gankit.data import cifar, clips, clusters, embedded, faces, folder, idx, pairs, toy
from gankit.data.dataset import DataConfig, Dataset, normalize
from gankit.data.loader import BatchSampler, SemiSampler, StreamSampler

DATASETS: Registry = Registry("dataset")
DATASETS.add("digits", embedded.read_digits, aliases=("default",))
DATASETS.add("mnist", idx.read_mnist)
DATASETS.add("fashion_mnist", idx.read_fashion_mnist, aliases=("fashion", "fashion-mnist", "fmnist"))
DATASETS.add("stacked_mnist", idx.read_stacked_mnist, aliases=("stacked", "stacked-mnist"))
DATASETS.add("cifar10", cifar.read_cifar10, aliases=("cifar", "cifar-10"))
DATASETS.add("folder", folder.read_folder)
DATASETS.add("toy_ring", toy.read_ring, aliases=("ring",))
DATASETS.add("toy_grid", toy.read_grid, aliases=("grid",))
DATASETS.add("faces", faces.read_faces, aliases=("lfw",))
DATASETS.add("lfw_subset", embedded.read_lfw_subset, aliases=("faces100",))
DATASETS.add("pairs", pairs.read_pairs)
DATASETS.add("moving_mnist", clips.read_moving_mnist, aliases=("movingmnist", "moving-mnist", "mmnist"))
DATASETS.add("moving_mnist_small", clips.read_moving_mnist_small, aliases=("moving-mnist-small",))
DATASETS.add("moving_digits", clips.read_moving_digits)
DATASETS.add("clips", clips.read_clips, aliases=("video", "gifs"))

# Pairs made from any image dataset, named PAIRING:DATASET[:ARGUMENT] (edges:fashion, lowres:faces:4):
# fn(dataset, argument) -> the dataset with its sources
PAIRINGS: Registry = Registry("pairing")
PAIRINGS.add("edges", pairs.with_edges)
PAIRINGS.add("lowres", pairs.with_lowres)


HOLDOUT_SEED = 20_000_101  # fixed, so every run and every `gankit eval` of the same data holds out the same images


def load_dataset(cfg: DataConfig) -> Dataset:
    """Read the dataset `cfg` names (a registered name, or "folder" with cfg.path). With data.holdout = N,
    split "train" is what is left after N seeded images are held out, and split "holdout" is those N."""
    if cfg.name == "folder" and not cfg.path:
        raise GankitError("data.name=folder needs data.path (or pass the folder as --data PATH)")
    if cfg.split == "holdout" and not cfg.holdout:
        raise GankitError("split holdout: this data holds no images out (data.holdout is 0)")
    pairing, base, argument = parse_name(cfg.name)
    if pairing and base == "pairs":
        raise GankitError(f"{cfg.name}: a folder of pairs is paired already; pass --data pairs:PATH")
    if not cfg.holdout or cfg.split not in ("train", "holdout"):
        data = _read(replace(cfg, name=base))
    else:
        data = _split(_read(replace(cfg, name=base, split="train")), cfg.holdout, held=cfg.split == "holdout",
                      by=cfg.holdout_by)
    if cfg.labeled_per_class and cfg.split == "train":
        data = keep_labels(data, cfg.labeled_per_class, cfg.label_seed)
    if cfg.clusters and cfg.split == "train":
        data = clusters.with_clusters(data, cfg.clusters, cfg.cluster_features)
    if not pairing:  # pairs are made after the split: the same images either way, and only those needed
        return data
    paired = PAIRINGS.get(pairing)(data, argument)
    paired.name = join_name(pairing, data.name, argument)
    return paired


def parse_name(name: str) -> tuple[str, str, str]:
    """A data name as (pairing, dataset, argument): "lowres:faces:4" -> ("lowres", "faces", "4"),
    "mnist" -> ("", "mnist", "")."""
    head, sep, rest = name.partition(":")
    if not sep or head not in PAIRINGS:
        return "", name, ""
    base, _, argument = rest.partition(":")
    return PAIRINGS.canonical(head), base, argument


def join_name(pairing: str, base: str, argument: str = "") -> str:
    """parse_name's inverse: ("lowres", "faces", "4") -> "lowres:faces:4"."""
    return ":".join(part for part in (pairing, base, argument) if part) if pairing else base


def _read(cfg: DataConfig) -> Dataset:
    """The dataset cfg.name names (unpaired), filtered to data.classes."""
    return _only_classes(DATASETS.get(cfg.name)(cfg), cfg.classes)


def _only_classes(data: Dataset, classes: str) -> Dataset:
    """data.classes: the samples of the classes named (by name or index), labels renumbered from 0."""
    if not classes:
        return data
    if data.labels is None:
        raise GankitError(f"data.classes picks classes, but {data.name} has no labels")
    wanted = []
    for item in (c.strip() for c in classes.split(",") if c.strip()):
        index = int(item) if item.isdigit() else (data.class_names.index(item) if item in data.class_names else -1)
        if not 0 <= index < data.num_classes:
            raise GankitError(f"data.classes: {data.name} has no class {item!r} (its classes: "
                              f"{', '.join(data.class_names[:20])})")
        wanted.append(index)
    keep = torch.isin(data.labels, torch.tensor(wanted))
    relabel = torch.full((data.num_classes,), -1, dtype=torch.int64)
    relabel[torch.tensor(wanted)] = torch.arange(len(wanted))
    out = data.subset(keep.nonzero().flatten())
    out.labels, out.class_names = relabel[out.labels], [data.class_names[i] for i in wanted]
    return out


def keep_labels(data: Dataset, per_class: int, seed: int) -> Dataset:
    """data.labeled_per_class: K images of each class, drawn with `seed`, keep their labels; every other
    image's label becomes -1 (unlabelled). The choice is recorded with the data."""
    if data.labels is None:
        raise GankitError(f"data.labeled_per_class keeps some of the labels, but {data.name} has none")
    counts = torch.bincount(data.labels, minlength=data.num_classes)
    if per_class > int(counts.min()):
        smallest = int(counts.argmin())
        raise GankitError(f"data.labeled_per_class {per_class} is more than the smallest class holds "
                          f"({data.class_names[smallest]!r}: {int(counts[smallest])} images)")
    gen = torch.Generator().manual_seed(seed)
    kept = torch.full_like(data.labels, -1)
    for k in range(data.num_classes):
        members = (data.labels == k).nonzero().flatten()
        chosen = members[torch.randperm(len(members), generator=gen)[:per_class]]
        kept[chosen] = k
    record = {"labeled_per_class": per_class, "label_seed": seed,
              "labeled_indices": (kept >= 0).nonzero().flatten().tolist()}
    return replace(data, labels=kept, extra={**data.extra, **record})  # the images themselves are shared


def _split(data: Dataset, n: int, held: bool, by: str = "") -> Dataset:
    """The training part (held False) or the N held-out images of `data`, in their original order. `by`
    "identity": whole groups (people) are held out, in a seeded order, until at least N images are."""
    if n >= len(data):
        raise GankitError(f"data.holdout {n} leaves nothing to train on: {data.name} has {len(data)} images")
    gen = torch.Generator().manual_seed(HOLDOUT_SEED)
    if by == "identity":
        if data.groups is None:
            raise GankitError(f"data.holdout_by=identity: {data.name} does not say who is in each image")
        chosen = torch.randperm(int(data.groups.max()) + 1, generator=gen)
        counts = torch.bincount(data.groups)[chosen].cumsum(0)
        out = torch.isin(data.groups, chosen[:int((counts < n).sum()) + 1])
        order = torch.cat([out.nonzero().flatten(), (~out).nonzero().flatten()])
        n = int(out.sum())
    else:
        order = torch.randperm(len(data), generator=gen)
    idx = (order[:n] if held else order[n:]).sort().values
    return data.subset(idx, holdout=n, holdout_indices=order[:n].sort().values.tolist())


MAX_RESOLUTION = 1024
MAX_POINTS = 5_000_000  # drawn once into memory: 5 million Stacked-MNIST images are about 12 GB


def validate_data(cfg: DataConfig) -> None:
    """Names and ranges of the data section; rewrites a dataset's name to its canonical form."""
    pairing, base, argument = parse_name(cfg.name)
    if base != "folder":
        base = DATASETS.canonical(base)
    cfg.name = join_name(pairing, base, argument)
    if not 0 <= cfg.resolution <= MAX_RESOLUTION:
        raise GankitError(f"data.resolution must be between 1 and {MAX_RESOLUTION} (0 keeps the dataset's own), "
                          f"got {cfg.resolution}")
    if cfg.channels not in (0, 1, 3):
        raise GankitError(f"data.channels must be 0 (keep), 1 or 3, got {cfg.channels}")
    if cfg.holdout < 0:
        raise GankitError(f"data.holdout must be >= 0, got {cfg.holdout}")
    if cfg.holdout_by not in ("", "identity"):
        raise GankitError(f"data.holdout_by must be empty (images at random) or identity, got {cfg.holdout_by!r}")
    if cfg.labeled_per_class < 0 or cfg.label_seed < 0:
        raise GankitError("data.labeled_per_class and data.label_seed must be >= 0")
    if cfg.clusters < 0 or (cfg.clusters and cfg.labeled_per_class):
        raise GankitError("data.clusters must be >= 0, and it replaces the labels: it does not go with "
                          "data.labeled_per_class")
    clusters.FEATURES.canonical(cfg.cluster_features)
    if cfg.context < 0 or cfg.horizon < 0 or cfg.clips < 1 or cfg.clip_seed < 0:
        raise GankitError("data.context and data.horizon must be >= 0 (0: the data's own), data.clips >= 1 and "
                          "data.clip_seed >= 0")
    if cfg.stream and base not in clips.MOVING_MNIST:
        raise GankitError(f"data.stream draws fresh Moving MNIST clips for every batch; {cfg.name} is read from a "
                          f"fixed set (stream suits {', '.join(clips.MOVING_MNIST)})")
    if not 1 <= cfg.num_points <= MAX_POINTS:
        raise GankitError(f"data.num_points must be between 1 and {MAX_POINTS}, got {cfg.num_points}")


def looks_like_path(text: str) -> bool:
    """A --data value naming a folder rather than a registered dataset."""
    return text not in DATASETS and ("/" in text or Path(text).expanduser().is_dir())


def data_argument(text: str) -> dict:
    """--data VALUE as the data section it sets: a registered name, a folder, a folder of pairs
    (pairs:PATH), clips (clips:PATH) or pairs made from either (edges:mnist, edges:PATH, lowres:PATH:4)."""
    pairing, base, argument = parse_name(text)
    for named in ("pairs", "clips"):  # a folder or file that is read whole: pairs:PATH, clips:PATH
        if not pairing and base.startswith(named + ":"):
            return {"name": named, "path": base[len(named) + 1:]}
    if pairing:
        if argument:  # a path may hold ':': the argument (a factor) is what follows the last one
            base, _, argument = f"{base}:{argument}".rpartition(":")
        if looks_like_path(base):
            return {"name": join_name(pairing, "folder", argument), "path": base}
        return {"name": text}
    return {"name": "folder", "path": text} if looks_like_path(text) else {"name": text}


__all__ = ["DATASETS", "PAIRINGS", "BatchSampler", "DataConfig", "Dataset", "SemiSampler", "StreamSampler",
           "data_argument", "load_dataset", "looks_like_path", "normalize", "parse_name", "validate_data"]
