"""L1 data: readers into an in-memory Dataset, a registry of them, and the resumable batch sampler."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from gankit.core.errors import GankitError
from gankit.core.registry import Registry
from gankit.data import cifar, embedded, faces, folder, idx, toy
from gankit.data.dataset import DataConfig, Dataset, normalize
from gankit.data.loader import BatchSampler

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


HOLDOUT_SEED = 20_000_101  # fixed, so every run and every `gankit eval` of the same data holds out the same images


def load_dataset(cfg: DataConfig) -> Dataset:
    """Read the dataset `cfg` names (a registered name, or "folder" with cfg.path). With data.holdout = N,
    split "train" is what is left after N seeded images are held out, and split "holdout" is those N."""
    if cfg.name == "folder" and not cfg.path:
        raise GankitError("data.name=folder needs data.path (or pass the folder as --data PATH)")
    if cfg.split == "holdout" and not cfg.holdout:
        raise GankitError("split holdout: this data holds no images out (data.holdout is 0)")
    read = DATASETS.get(cfg.name)
    if not cfg.holdout or cfg.split not in ("train", "holdout"):
        return read(cfg)
    return _split(read(replace(cfg, split="train")), cfg.holdout, held=cfg.split == "holdout")


def _split(data: Dataset, n: int, held: bool) -> Dataset:
    """The training part (held False) or the N held-out images of `data`, in their original order."""
    if n >= len(data):
        raise GankitError(f"data.holdout {n} leaves nothing to train on: {data.name} has {len(data)} images")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    idx = (order[:n] if held else order[n:]).sort().values
    extra = {**data.extra, "holdout": n, "holdout_indices": order[:n].sort().values.tolist()}
    return Dataset(data.name, data.x[idx], None if data.labels is None else data.labels[idx], data.class_names,
                   data.kind, extra)


MAX_RESOLUTION = 1024
MAX_POINTS = 5_000_000  # drawn once into memory: 5 million Stacked-MNIST images are about 12 GB


def validate_data(cfg: DataConfig) -> None:
    """Names and ranges of the data section; rewrites a dataset's name to its canonical form."""
    if cfg.name != "folder":
        cfg.name = DATASETS.canonical(cfg.name)
    if not 0 <= cfg.resolution <= MAX_RESOLUTION:
        raise GankitError(f"data.resolution must be between 1 and {MAX_RESOLUTION} (0 keeps the dataset's own), "
                          f"got {cfg.resolution}")
    if cfg.channels not in (0, 1, 3):
        raise GankitError(f"data.channels must be 0 (keep), 1 or 3, got {cfg.channels}")
    if cfg.holdout < 0:
        raise GankitError(f"data.holdout must be >= 0, got {cfg.holdout}")
    if not 1 <= cfg.num_points <= MAX_POINTS:
        raise GankitError(f"data.num_points must be between 1 and {MAX_POINTS}, got {cfg.num_points}")


def looks_like_path(text: str) -> bool:
    """A --data value naming a folder rather than a registered dataset."""
    return text not in DATASETS and ("/" in text or Path(text).expanduser().is_dir())


__all__ = ["DATASETS", "BatchSampler", "DataConfig", "Dataset", "load_dataset", "looks_like_path",
           "normalize", "validate_data"]
