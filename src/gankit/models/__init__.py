"""L2 models: one file per architecture family, one registry line each.

A family is a Generator and a Discriminator class whose constructors take plain keyword arguments;
those kwargs (with defaults filled in) are the model config saved beside the weights.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

from torch import nn

from gankit.core.errors import GankitError
from gankit.core.registry import Registry
from gankit.models import dcgan, mlp, resnet_sn


@dataclass(frozen=True)
class Family:
    Generator: type[nn.Module]
    Discriminator: type[nn.Module]


MODELS: Registry[Family] = Registry("model")
MODELS.add("mlp", Family(mlp.Generator, mlp.Discriminator), aliases=("gan",))
MODELS.add("dcgan", Family(dcgan.Generator, dcgan.Discriminator))
MODELS.add("resnet_sn", Family(resnet_sn.Generator, resnet_sn.Discriminator), aliases=("sngan", "resnet"))


@dataclass
class ModelConfig:
    """Architecture choice. 0 / "" mean "the family's own default" (see each constructor)."""

    name: str = "dcgan"
    conditional: bool = False  # condition G and D on the dataset's labels
    z_dim: int = 0
    g_width: int = 0
    d_width: int = 0
    g_depth: int = 0  # mlp only
    d_depth: int = 0  # mlp only
    g_norm: str = ""
    d_norm: str = ""
    d_cond: str = "projection"  # how a conditional D uses labels: projection or acgan (auxiliary classifier)
    pack: int = 1  # PacGAN: D judges this many samples at once (1 = off); batch sizes must be multiples


def _complete(cls: type, given: dict, name: str, prefix: str) -> dict:
    """`given` plus every other constructor default, after checking each given key exists."""
    params = inspect.signature(cls.__init__).parameters
    for key in given:
        if key not in params:
            raise GankitError(f"model {name} has no option {prefix}{key}")
    kwargs = {k: p.default for k, p in params.items() if k != "self" and p.default is not inspect.Parameter.empty}
    kwargs.update(given)
    return kwargs


def model_kwargs(cfg: ModelConfig, shape: tuple[int, ...], num_classes: int) -> dict:
    """The full constructor kwargs {"name", "G": {...}, "D": {...}} for data of `shape`."""
    name = MODELS.canonical(cfg.name)
    family = MODELS.get(name)
    base = {"shape": list(shape), "num_classes": num_classes if cfg.conditional else 0}
    g = {"z_dim": cfg.z_dim, "width": cfg.g_width, "depth": cfg.g_depth, "norm": cfg.g_norm}
    d = {"width": cfg.d_width, "depth": cfg.d_depth, "norm": cfg.d_norm, "cond": cfg.d_cond, "pack": cfg.pack}
    g_set = {k: v for k, v in g.items() if v}
    d_set = {k: v for k, v in d.items() if v}
    return {"name": name,
            "G": _complete(family.Generator, {**base, **g_set}, name, "model.g_"),
            "D": _complete(family.Discriminator, {**base, **d_set}, name, "model.d_")}


def complete_kwargs(kwargs: dict) -> dict:
    """Saved model kwargs with any constructor option added since they were saved set to its default,
    so a checkpoint from an older gankit compares equal to the same model today."""
    family = MODELS.get(kwargs["name"])
    return {**kwargs, "G": _complete(family.Generator, kwargs["G"], kwargs["name"], "model.g_"),
            "D": _complete(family.Discriminator, kwargs["D"], kwargs["name"], "model.d_")}


def build_generator(kwargs: dict) -> nn.Module:
    """Rebuild a generator from the kwargs dict that `model_kwargs` produced (and checkpoints hold)."""
    return MODELS.get(kwargs["name"]).Generator(**_plain(kwargs["G"]))


def build_discriminator(kwargs: dict) -> nn.Module:
    return MODELS.get(kwargs["name"]).Discriminator(**_plain(kwargs["D"]))


def _plain(kwargs: dict) -> dict:
    return {k: tuple(v) if k == "shape" else v for k, v in kwargs.items()}


__all__ = ["MODELS", "Family", "ModelConfig", "build_discriminator", "build_generator", "complete_kwargs",
           "model_kwargs"]
