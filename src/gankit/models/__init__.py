"""L2 models: one file per architecture family, one registry line each.

A family is a Generator and a Discriminator class whose constructors take plain keyword arguments;
those kwargs (with defaults filled in) are the model config saved beside the weights.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from gankit.core.errors import GankitError
from gankit.core.registry import Registry
from gankit.nn import D_CONDITIONING
from gankit.models import dcgan, fastgan, mlp, pix2pix, resnet_sn, simvp, srresnet, ssgan
from gankit.models.ssgan import use_stream


@dataclass(frozen=True)
class Family:
    Generator: type[nn.Module]
    Discriminator: type[nn.Module]
    # terms a family adds to D's loss on the real images, by metrics name: fn(D, real) -> 0-dim tensor
    d_terms: tuple[tuple[str, Callable], ...] = ()
    paired: bool = False  # G turns a source image into an image: trained on pairs (image to image)
    # D classifies the data's classes while G draws them all unasked (semi-supervised): D always gets the
    # data's classes, G none, and the sampler adds labelled images to every batch (data.SemiSampler)
    semi_supervised: bool = False


MODELS: Registry[Family] = Registry("model")
MODELS.add("mlp", Family(mlp.Generator, mlp.Discriminator), aliases=("gan",))
MODELS.add("dcgan", Family(dcgan.Generator, dcgan.Discriminator))
MODELS.add("resnet_sn", Family(resnet_sn.Generator, resnet_sn.Discriminator), aliases=("sngan", "resnet"))
MODELS.add("fastgan", Family(fastgan.Generator, fastgan.Discriminator, (("reconstruction", fastgan.reconstruction),)),
           aliases=("lightweight",))
MODELS.add("pix2pix", Family(pix2pix.Generator, pix2pix.Discriminator, paired=True), aliases=("unet",))
MODELS.add("srresnet", Family(srresnet.Generator, pix2pix.Discriminator, paired=True), aliases=("srgan",))
MODELS.add("simvp", Family(simvp.Generator, pix2pix.Discriminator, paired=True), aliases=("frames", "predictor"))
MODELS.add("ssgan", Family(ssgan.Generator, ssgan.Discriminator, semi_supervised=True),
           aliases=("semi_supervised", "improved_gan"))


PSI_RANGE = (0.0, 2.0)  # the truncation factor everywhere: config, command line, Python and the web API

# Upper bounds on sizes, checked on the command line and in checkpoints alike: far above any GAN gankit trains
# (a DCGAN of width 4096 has billions of weights), low enough that a typo or a tampered file is refused
# before it asks for terabytes.
LIMITS = {"z_dim": 4096, "width": 4096, "depth": 32, "pack": 64, "num_classes": 10_000, "resolution": 1024,
          "channels": 64}  # frames stacked as channels: 20 RGB frames are 60
SIZE_FIELDS = ("z_dim", "g_width", "d_width", "g_depth", "d_depth")


@dataclass
class ModelConfig:
    """Architecture choice. null / "" mean "the family's own default" (see each constructor)."""

    name: str = "dcgan"
    conditional: bool = False  # condition G and D on the dataset's labels
    z_dim: int | None = None
    g_width: int | None = None
    d_width: int | None = None
    g_depth: int | None = None  # mlp; srresnet: residual blocks
    d_depth: int | None = None  # mlp only
    g_norm: str = ""
    d_norm: str = ""
    d_cond: str = "projection"  # how a conditional D uses labels: projection, acgan (auxiliary classifier), or
    # projection_aux (both)
    pack: int = 1  # PacGAN: D judges this many samples at once (1 = off); batch sizes must be multiples
    # the truncation the trained generator is sampled at when a command gives no --psi (1 = none): a preset's
    # measured choice of fidelity against variety travels with its runs; training's own grids stay at 1
    psi: float = 1.0
    # a family's own constructor options beyond the shared ones above (model.g.OPTION=V, model.d.OPTION=V):
    # a family with a new option needs no new field here
    g: dict = field(default_factory=dict)
    d: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Names and ranges; rewrites the name to its canonical form."""
        self.name = MODELS.canonical(self.name)
        for key in SIZE_FIELDS:
            value = getattr(self, key)
            limit = LIMITS["z_dim" if key == "z_dim" else key[2:]]
            if value is not None and not 1 <= value <= limit:
                raise GankitError(f"model.{key} must be between 1 and {limit} (or null for the family's default), "
                                  f"got {value}")
        if not 1 <= self.pack <= LIMITS["pack"]:
            raise GankitError(f"model.pack must be between 1 and {LIMITS['pack']}, got {self.pack}")
        if self.pack > 1 and self.conditional and self.d_cond == "acgan":
            raise GankitError("model.pack with a conditional model packs samples of one class and projects their "
                              "label (model.d_cond projection or projection_aux); an AC-GAN D classifies single "
                              "images")
        if not PSI_RANGE[0] <= self.psi <= PSI_RANGE[1]:
            raise GankitError(f"model.psi (the default truncation) must be between {PSI_RANGE[0]:g} and "
                              f"{PSI_RANGE[1]:g} (1 = off), got {self.psi}")
        if self.d_cond not in D_CONDITIONING:
            raise GankitError(f"model.d_cond must be one of {', '.join(D_CONDITIONING)}, got {self.d_cond!r}")
        family = MODELS.get(self.name)
        for part, cls, options in (("g", family.Generator, self.g), ("d", family.Discriminator, self.d)):
            _check_family_options(cls, options, self.name, part)


def upgrade_model_section(section: dict) -> dict:
    """A model section written before sizes defaulted to null (0 meant "the family's default" then)."""
    return {k: (None if k in SIZE_FIELDS and v == 0 else v) for k, v in section.items()}


# the constructor arguments every family shares, set through ModelConfig's own fields or from the data
SHARED = {"g": {"shape": "", "num_classes": "", "z_dim": "model.z_dim", "width": "model.g_width",
                "depth": "model.g_depth", "norm": "model.g_norm", "source_channels": "", "factor": "",
                "frame_channels": ""},
          "d": {"shape": "", "num_classes": "", "width": "model.d_width", "depth": "model.d_depth",
                "norm": "model.d_norm", "cond": "model.d_cond", "pack": "model.pack", "source_channels": ""}}


def _check_family_options(cls: type, options: dict, name: str, part: str) -> None:
    """model.g / model.d: options the family's constructor has, other than the shared ones."""
    for key, value in options.items():
        if key in SHARED[part]:
            where = SHARED[part][key] or "the data"
            raise GankitError(f"model.{part}.{key} is not a family option: it comes from {where}")
        _complete(cls, {key: value}, name, f"model.{part}.")
        _check_option(f"model.{part}.{key}", key, value, inspect.signature(cls.__init__).parameters[key].default)


def _complete(cls: type, given: dict, name: str, prefix: str) -> dict:
    """`given` plus every other constructor default, after checking each given key exists."""
    params = inspect.signature(cls.__init__).parameters
    for key in given:
        if key not in params or key == "self":
            raise GankitError(f"model {name} has no option {prefix}{key}")
    kwargs = {k: p.default for k, p in params.items() if k != "self" and p.default is not inspect.Parameter.empty}
    kwargs.update(given)
    return kwargs


def _pairing(name: str, family: Family, shape: tuple[int, ...], source_shape: tuple[int, ...] | None,
             frame_channels: int = 0) -> dict:
    """What an image-to-image family learns from the data of its sources: their channels and how many times
    smaller they are. A family and data that don't go together are refused here, with what would."""
    if family.paired and source_shape is None:
        raise GankitError(f"model {name} turns a source image into an image: train it on pairs (--data "
                          "edges:DATASET, lowres:DATASET:4 or pairs:FOLDER)")
    if source_shape is None:
        return {}
    if not family.paired:
        raise GankitError(f"the data are pairs: use --model pix2pix (or srresnet to upscale, simvp to predict frames), "
                          f"not {name}")
    factor = shape[-1] // source_shape[-1]
    if factor * source_shape[-1] != shape[-1] or factor * source_shape[-2] != shape[-2]:
        raise GankitError(f"the sources ({'x'.join(map(str, source_shape[1:]))}) must be the images' size "
                          f"({'x'.join(map(str, shape[1:]))}) divided by a whole factor")
    return {"source_channels": source_shape[0], "factor": factor,
            **({"frame_channels": frame_channels} if frame_channels else {})}


def _takes(cls: type, given: dict) -> dict:
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in given.items() if k in params}


def model_kwargs(cfg: ModelConfig, shape: tuple[int, ...], num_classes: int,
                 source_shape: tuple[int, ...] | None = None, frame_channels: int = 0) -> dict:
    """The full constructor kwargs {"name", "G": {...}, "D": {...}} for data of `shape` (and, for image
    pairs, sources of `source_shape`; for clips, frames of `frame_channels` channels)."""
    name = MODELS.canonical(cfg.name)
    family = MODELS.get(name)
    pairing = _pairing(name, family, shape, source_shape, frame_channels)
    base = {"shape": list(shape), "num_classes": num_classes if cfg.conditional else 0}
    d_base = {**base, "num_classes": num_classes} if family.semi_supervised else base
    if family.semi_supervised and (cfg.conditional or not num_classes):
        raise GankitError(f"model {name} is semi-supervised: its D learns the data's classes and its G draws them "
                          "all unasked, so it needs labelled data (some labels are enough: data.labeled_per_class) "
                          "and no --conditional")
    g = {"z_dim": cfg.z_dim, "width": cfg.g_width, "depth": cfg.g_depth, "norm": cfg.g_norm}
    d = {"width": cfg.d_width, "depth": cfg.d_depth, "norm": cfg.d_norm, "cond": cfg.d_cond, "pack": cfg.pack}
    g_set = {k: v for k, v in g.items() if v}
    d_set = {k: v for k, v in d.items() if v}
    return {"name": name,
            "G": _complete(family.Generator, {**base, **_takes(family.Generator, pairing), **g_set, **cfg.g}, name,
                           "model.g_"),
            "D": _complete(family.Discriminator, {**d_base, **_takes(family.Discriminator, pairing), **d_set, **cfg.d},
                           name, "model.d_")}


def complete_kwargs(kwargs: dict) -> dict:
    """Saved model kwargs with any constructor option added since they were saved set to its default,
    so a checkpoint from an older gankit compares equal to the same model today."""
    family = MODELS.get(kwargs["name"])
    return {**kwargs, "G": _complete(family.Generator, kwargs["G"], kwargs["name"], "model.g_"),
            "D": _complete(family.Discriminator, kwargs["D"], kwargs["name"], "model.d_")}


def _check_shape(where: str, shape) -> None:
    ok = isinstance(shape, (list, tuple)) and len(shape) in (1, 3) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in shape)
    if not ok:
        raise GankitError(f"{where} must be a list of 1 or 3 integers, got {shape!r}")
    limits = [LIMITS["resolution"]] if len(shape) == 1 else [LIMITS["channels"]] + [LIMITS["resolution"]] * 2
    if not all(1 <= v <= limit for v, limit in zip(shape, limits)):
        raise GankitError(f"{where} {list(shape)} is out of range (channels 1-{LIMITS['channels']}, sizes "
                          f"1-{LIMITS['resolution']})")


def _check_option(where: str, key: str, value, default) -> None:
    """One constructor option of saved kwargs: the type of its default, and within LIMITS."""
    if key == "shape":
        return _check_shape(where, value)
    number = isinstance(default, float) and isinstance(value, (int, float))  # a share given as 1 or true
    if type(value) is not type(default) and not number:
        raise GankitError(f"{where} must be a {type(default).__name__}, got {value!r}")
    if isinstance(value, str) and len(value) > 64:
        raise GankitError(f"{where} is not a known option ({value[:64]!r}...)")
    if isinstance(value, int) and not isinstance(value, bool) and key in LIMITS:
        low = 0 if key in ("num_classes", "z_dim") else 1  # z_dim 0: a G without noise (srresnet)
        if not low <= value <= LIMITS[key]:
            raise GankitError(f"{where} must be between {low} and {LIMITS[key]}, got {value}")


def check_kwargs(kwargs) -> dict:
    """Model kwargs read from a file (untrusted): the family registered, every option known, of its type and
    within LIMITS. Returns them completed with today's defaults; raises GankitError naming the first fault."""
    if not isinstance(kwargs, dict) or not isinstance(kwargs.get("name"), str) or kwargs["name"] not in MODELS:
        name = kwargs.get("name") if isinstance(kwargs, dict) else kwargs
        raise GankitError(f"the model {name!r} is not one gankit knows ({', '.join(MODELS.names())})")
    name = MODELS.canonical(kwargs["name"])
    family, out = MODELS.get(name), {"name": name}
    for part, cls in (("G", family.Generator), ("D", family.Discriminator)):
        given = kwargs.get(part)
        if not isinstance(given, dict) or not all(isinstance(k, str) for k in given):
            raise GankitError(f"the model's {part} settings must be a mapping of option names, got {given!r:.80}")
        full = _complete(cls, given, name, f"model.{part.lower()}_")
        defaults = inspect.signature(cls.__init__).parameters
        for key, value in full.items():
            _check_option(f"the model's {part} option {key}", key, value, defaults[key].default)
        out[part] = full
    return out


def check_weights(kwargs: dict, part: str, state) -> None:
    """Refuse weights whose names, shapes or dtypes differ from the network `kwargs` (checked) describe,
    before anything the size of the network is allocated: the network is built on the meta device."""
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise GankitError(f"the checkpoint's {part} weights are not a mapping of names to tensors")
    build = build_generator if part.startswith("G") else build_discriminator
    try:
        with torch.device("meta"):
            expected = build(kwargs).state_dict()
    except GankitError as exc:
        raise GankitError(f"the checkpoint's model settings do not make a network: {exc}") from exc
    except (ValueError, RuntimeError, TypeError) as exc:
        raise GankitError(f"the checkpoint's model settings do not make a network ({exc.__class__.__name__}: "
                          f"{str(exc)[:120]})") from exc
    for key in sorted(set(expected) | set(state)):
        want, got = expected.get(key), state.get(key)
        if want is None or got is None:
            raise GankitError(f"the checkpoint's {part} weights {'lack' if got is None else 'have an unknown'} "
                              f"tensor {key!r}; the file does not match its own model settings")
        if want.shape != got.shape or want.dtype != got.dtype:
            raise GankitError(f"the checkpoint's {part} tensor {key!r} is {got.dtype} {list(got.shape)} but its "
                              f"model settings make {want.dtype} {list(want.shape)}; the file is damaged")


MAX_PARAMETERS = 2 * 10**9  # 8 GB of fp32 weights, 32 GB with Adam's moments and the gradients


def check_size(kwargs: dict) -> None:
    """Refuse networks too large to train here before allocating them (counted on the meta device)."""
    with torch.device("meta"):
        count = sum(p.numel() for build in (build_generator, build_discriminator)
                    for p in build(kwargs).parameters())
    if count > MAX_PARAMETERS:
        raise GankitError(f"G and D together would have {count:,} weights (at most {MAX_PARAMETERS:,}); choose "
                          "smaller model.g_width / model.d_width")


def build_generator(kwargs: dict) -> nn.Module:
    """Rebuild a generator from the kwargs dict that `model_kwargs` produced (and checkpoints hold)."""
    return MODELS.get(kwargs["name"]).Generator(**_plain(kwargs["G"]))


def build_discriminator(kwargs: dict) -> nn.Module:
    return MODELS.get(kwargs["name"]).Discriminator(**_plain(kwargs["D"]))


def _plain(kwargs: dict) -> dict:
    return {k: tuple(v) if k == "shape" else v for k, v in kwargs.items()}


__all__ = ["LIMITS", "MODELS", "PSI_RANGE", "Family", "ModelConfig", "build_discriminator", "build_generator",
           "check_kwargs", "check_size", "check_weights", "complete_kwargs", "upgrade_model_section", "model_kwargs",
           "use_stream"]
