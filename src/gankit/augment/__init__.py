"""L1 augmentation in front of D: differentiable operations from a registry, applied to everything D sees.

With a few hundred images D memorises the training set; augmenting every image it judges — reals and fakes,
in D's step and in G's — keeps it from doing so without teaching G the augmentations, because G is never
asked to make augmented images, only images whose augmentations pass (DiffAugment, Zhao et al. 2020; ADA,
Karras et al. 2020). `--augment` picks a policy:

- `none`;
- `diffaugment`: colour, translation and cutout on every sample (p = 1);
- `ada`: ADA's geometric and colour pipeline, each operation with probability p, which a controller
  raises while D is too sure of the reals (see training/controllers.py);
- `auto`, for a folder of images or the face sets: DiffAugment up to AUTO_DIFFAUGMENT_MAX images, ADA up to
  AUTO_ADA_MAX, none above (where nothing was measured); other data: none.

`augment.policy` lists operations (comma-separated) to use instead of the policy's own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gankit.augment import ada, diffaugment
from gankit.augment.base import Operation, Uniform
from gankit.core.errors import GankitError
from gankit.core.registry import Registry

AUGMENTS: Registry[Operation] = Registry("augmentation operation")
for _name, _op in {**diffaugment.OPERATIONS, **ada.OPERATIONS}.items():
    AUGMENTS.add(_name, _op)

POLICIES = {"none": "", "diffaugment": "color,translation,cutout", "ada": "geometric,ada_color"}
KINDS = ("auto",) + tuple(POLICIES)
# Measured (benchmarks/results/small_data, LFW crops at 32 px, DCGAN, one seed): in 5 CPU minutes DiffAugment
# cut KID by 31% with 100 training images and raised it by 75% with 500, where D had not yet overfitted; in
# 15 minutes with 500, ADA (whose p rises only once D overfits) cut KID by 55%.
AUTO_DIFFAUGMENT_MAX = 250
AUTO_ADA_MAX = 1000
AUTO_SOURCES = ("folder", "faces", "lfw_subset")  # the built-in benchmark sets keep their presets' tuned settings


@dataclass
class AugmentConfig:
    name: str = "auto"  # --augment: auto, none, diffaugment or ada
    policy: str = ""  # comma-separated operations instead of the name's own (e.g. "color,translation")
    p: float | None = None  # probability an operation touches a sample (null: 1, or ADA's start, 0)
    adaptive: bool | None = None  # ADA's controller adjusts p (null: on for ada, off otherwise)
    target: float = 0.6  # ADA: the E[sign D(real)] the controller steers toward
    interval: int = 4  # ADA: steps between adjustments
    speed_kimg: float = 20.0  # ADA: thousands of images over which p may move by 1 (the paper: 500 on GPUs)

    def validate(self) -> None:
        if self.name not in KINDS:
            raise GankitError(f"--augment must be one of {', '.join(KINDS)}, got {self.name!r}")
        for op in operations(self):
            AUGMENTS.canonical(op)  # names the closest operation when misspelled
        if self.p is not None and not (math.isfinite(self.p) and 0 <= self.p <= 1):
            raise GankitError(f"augment.p must be in [0, 1], got {self.p}")
        if not 0 < self.target < 1:
            raise GankitError(f"augment.target must be in (0, 1), got {self.target}")
        if self.interval < 1 or not self.speed_kimg > 0:
            raise GankitError("augment.interval must be >= 1 and augment.speed_kimg > 0")


def operations(cfg: AugmentConfig) -> list[str]:
    text = cfg.policy if cfg.policy else POLICIES.get(cfg.name, "")
    return [op.strip() for op in text.split(",") if op.strip()]


def resolve_auto(cfg: AugmentConfig, source: str, count: int, kind: str, few: bool = False) -> AugmentConfig:
    """`auto` made concrete for the data (see the module's docstring). Other names come back as they are.
    `few`: the run trains on a few labelled images of a larger set (data.labeled_per_class), so the count
    decides whatever the source."""
    if cfg.name != "auto":
        return cfg
    name = "none"
    if kind == "image" and (source in AUTO_SOURCES or few):
        name = "diffaugment" if count <= AUTO_DIFFAUGMENT_MAX else "ada" if count <= AUTO_ADA_MAX else "none"
    return AugmentConfig(**{**cfg.__dict__, "name": name})


def is_adaptive(cfg: AugmentConfig) -> bool:
    return cfg.adaptive if cfg.adaptive is not None else cfg.name == "ada"


def start_p(cfg: AugmentConfig) -> float:
    if cfg.p is not None:
        return cfg.p
    return 0.0 if is_adaptive(cfg) else 1.0


class Augment:
    """The operations of a policy in order, each touching a sample with probability `p` (which an adaptive
    controller changes between steps). Called with the images D is about to judge and the run's stream."""

    def __init__(self, names: list[str], p: float):
        self.names, self.ops, self.p = names, [AUGMENTS.get(n) for n in names], p

    def __call__(self, x: torch.Tensor, uniform: Uniform) -> torch.Tensor:
        if self.p <= 0:
            return x
        for op in self.ops:
            x = op(x, uniform, self.p)
        return x


def build_augment(cfg: AugmentConfig) -> Augment | None:
    """The callable for a resolved config, or None when nothing is augmented."""
    names = operations(cfg)
    return Augment(names, start_p(cfg)) if names else None


__all__ = ["AUGMENTS", "AugmentConfig", "Augment", "KINDS", "POLICIES", "build_augment", "is_adaptive",
           "operations", "resolve_auto", "start_p"]
