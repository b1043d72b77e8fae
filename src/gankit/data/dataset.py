"""The in-memory dataset every reader returns, its config, and where data is looked up."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from gankit.core.errors import GankitError


@dataclass
class DataConfig:
    """Which data to train on. `resolution`/`channels` of 0 keep the dataset's own."""

    name: str = "digits"
    path: str = ""  # an image folder, for name="folder" (or a path given as --data)
    labels: str = ""  # image folders: a CSV naming each image's class (see data/folder.py)
    data_dir: str = ""  # root holding mnist/, fashion-mnist/, cifar10/ ...; else $GANKIT_DATA, else the cache
    split: str = "train"
    resolution: int = 0
    channels: int = 0
    download: bool = False  # MNIST-family only, from the canonical mirror, checksum-verified
    num_points: int = 100_000  # 2-D toy mixtures and Stacked MNIST: how many samples to draw once
    holdout: int = 0  # images kept out of training (the same ones for every run of this data): split "holdout"
    holdout_by: str = ""  # "identity": hold out whole people (faces: the name in the file name), about N images
    classes: str = ""  # keep only these classes: names or indices, comma-separated (e.g. sandal,sneaker,bag)
    # few labels: keep K labels per class (drawn with label_seed) and mark the rest unlabelled (label -1);
    # conditional models train on the labelled images, a semi-supervised GAN (ssgan) on all of them
    labeled_per_class: int = 0
    label_seed: int = 0
    # pseudo-classes without labels: k-means of the training images into this many clusters, which a
    # conditional model draws in their shares of the data (data/clusters.py); 0: off
    clusters: int = 0
    cluster_features: str = "pixels"  # what k-means groups them by: "pixels" (principal components) or "hog"
    # clips (next-frame prediction): frames the model sees and frames it predicts (0: the dataset's own), and
    # for Moving MNIST how many clips to synthesise (the test split: the first this many of the fixed 10,000)
    context: int = 0
    horizon: int = 0
    clips: int = 10_000
    clip_seed: int = 0
    # Moving MNIST: fresh training clips for every batch, made on the fly (none seen twice), instead of cycling
    # through the fixed data.clips; those are still made, for what needs a set (the grid's pasts)
    stream: bool = False
    # training batches mirrored left-right at random, half of them (a pair's drawing or small copy with its
    # image): twice the poses for a small set of faces or photos; not for data whose meaning has a side
    # (digits, letters), nor for points or a stream
    flip: bool = False


@dataclass
class Dataset:
    """A whole dataset resident in memory, drawn from by index (no per-sample Python when training).

    x: uint8 [N, C, H, W] for images, float32 [N, 2] for 2-D points; for clips (kind "clip") the frames to
    predict stacked along channels, [N, K·C, H, W], with the frames before them as the source.
    labels: int64 [N], or None when unlabelled; -1 marks an image whose label was set aside
    (data.labeled_per_class).
    source: for image-to-image pairs, uint8 [N, C', H', W']: x[i] is what G should make of source[i]
    (a drawing of it, a smaller copy); None for everything else.
    """

    name: str
    x: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: list[str] = field(default_factory=list)
    kind: str = "image"  # "image", "points" or "clip"
    extra: dict = field(default_factory=dict)  # e.g. toy mixtures' mode centers and std
    source: torch.Tensor | None = None
    groups: torch.Tensor | None = None  # int64 [N]: which sample is of whom (faces: the person), for held-out splits
    # fresh samples on demand (data.stream): stream(n, key) -> (x, source) uint8, the same for the same key;
    # a sampler draws its batches from it instead of from x (see StreamSampler)
    stream: Callable[[int, tuple[int, ...]], tuple[torch.Tensor, torch.Tensor]] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) or (2,)."""
        return tuple(self.x.shape[1:])

    @property
    def source_shape(self) -> tuple[int, ...] | None:
        """Shape of one source image of a paired dataset, None when unpaired."""
        return None if self.source is None else tuple(self.source.shape[1:])

    def subset(self, idx: torch.Tensor, **extra) -> "Dataset":
        """The samples at `idx` (images, labels and sources alike), with `extra` added to its record."""
        pick = [None if t is None else t[idx.to(t.device)] for t in (self.labels, self.source, self.groups)]
        return Dataset(self.name, self.x[idx], pick[0], self.class_names, self.kind, {**self.extra, **extra}, *pick[1:],
                       stream=self.stream)

    @property
    def frame_channels(self) -> int:
        """Channels of one frame of a clip dataset (its frames are stacked along channels); 0 for other data."""
        return self.extra.get("frame_channels", 0) if self.kind == "clip" else 0

    @property
    def label_prior(self) -> list[float] | None:
        """The clusters' shares of the data when its labels are clusters (data.clusters), else None."""
        return self.extra.get("label_prior")

    @property
    def partly_labelled(self) -> bool:
        """Whether some images lost their labels to data.labeled_per_class (label -1)."""
        return self.labels is not None and bool((self.labels < 0).any())

    def labelled(self) -> "Dataset":
        """The images that kept their labels."""
        return self if not self.partly_labelled else self.subset((self.labels >= 0).nonzero().flatten())

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.labels is not None else 0

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device) -> "Dataset":
        moved = [None if t is None else t.to(device) for t in (self.labels, self.source)]
        return replace(self, x=self.x.to(device), labels=moved[0], source=moved[1])

    def info(self) -> dict:
        """What a checkpoint needs to describe its data without the data itself."""
        info = {"name": self.name, "kind": self.kind, "shape": list(self.shape),
                "class_names": list(self.class_names), "size": len(self), "extra": self.extra}
        if self.source is not None:
            info["source_shape"] = list(self.source_shape)
        return info


def normalize(batch: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [-1, 1]; float data (2-D points) passes through."""
    if batch.dtype == torch.uint8:
        return batch.float().div_(127.5).sub_(1.0)
    return batch


def resize_images(x: torch.Tensor, resolution: int, channels: int) -> torch.Tensor:
    """Resize a uint8 [N, C, H, W] batch to `resolution` (0 = keep) and `channels` (0 = keep; 1 <-> 3)."""
    if channels and channels != x.shape[1]:
        if channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1).contiguous()
        elif channels == 1 and x.shape[1] == 3:
            weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
        else:
            raise GankitError(f"cannot convert {x.shape[1]} channels to {channels}; use 1 or 3")
    if resolution and resolution != x.shape[-1]:
        out = []
        for chunk in x.split(4096):  # bounded memory for large datasets
            y = F.interpolate(chunk.float(), size=(resolution, resolution), mode="bilinear",
                              antialias=True, align_corners=False)
            out.append(y.round().clamp(0, 255).to(torch.uint8))
        x = torch.cat(out)
    return x


def data_roots(data_dir: str) -> list[Path]:
    """Where to look for data, in order: --data-dir, $GANKIT_DATA, then the user cache."""
    roots = [Path(p) for p in (data_dir, os.environ.get("GANKIT_DATA", "")) if p]
    return roots + [cache_dir()]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gankit"
