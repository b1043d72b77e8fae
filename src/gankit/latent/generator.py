"""A trained generator rebuilt from a checkpoint alone (no training config or code needed), with what the
file says about it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit.checkpoint import load_checkpoint
from gankit.core.errors import GankitError
from gankit.core.runtime import resolve_device
from gankit.data.clusters import label_prior
from gankit.models import PSI_RANGE, build_discriminator, build_generator, check_kwargs, check_weights


@dataclass(frozen=True)
class TrainedGenerator:
    """`module` maps (z [N, z_dim], y [N] or class weights [N, K] or None) to samples [N, *shape]; the other
    fields come from the file: `class_names`, `kind` ("image" or "points"), `dataset`, `step` (training steps
    behind the weights), `uses_ema` (whether they are the EMA's), `source` (the file) and `psi`, the truncation
    its run asks it to be sampled at when a caller gives none (model.psi)."""

    module: nn.Module
    class_names: tuple[str, ...] = ()
    kind: str = "image"
    dataset: str = ""
    step: int = 0
    uses_ema: bool = False
    source: str = ""
    clip: tuple[int, int, int] | None = None  # frame prediction: (context, horizon, channels of a frame)
    label_prior: tuple[float, ...] | None = None  # a model of clusters (data.clusters): their shares of the data
    psi: float = 1.0

    @property
    def z_dim(self) -> int:
        return self.module.z_dim

    @property
    def num_classes(self) -> int:
        return self.module.num_classes

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.module.shape)

    @property
    def source_shape(self) -> tuple[int, ...] | None:
        """An image-to-image generator's input (C, H, W); None for one that draws from noise alone."""
        return getattr(self.module, "source_shape", None)

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def __call__(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.module(z, y)


def as_module(generator: TrainedGenerator | nn.Module) -> nn.Module:
    """The network itself, for code that trains through it or reads its parameters (sampling, the Jacobian
    and inversion take a TrainedGenerator or a bare G alike)."""
    return generator.module if isinstance(generator, TrainedGenerator) else generator


def psi_for(generator: TrainedGenerator | nn.Module, psi: float | None) -> float:
    """The truncation a caller asked for, else the run's own (a bare G has none: 1)."""
    if psi is not None:
        return psi
    return generator.psi if isinstance(generator, TrainedGenerator) else 1.0


def load_generator(path: str | Path, *, ema: bool = True, device: str | torch.device = "cpu") -> TrainedGenerator:
    """Rebuild the generator from a checkpoint alone, in eval mode.

    Args:
        path: a checkpoint file, a run directory, a generator file or `demo:NAME`.
        ema: use the EMA weights when the run kept them.
        device: where to put it ("auto": a CUDA GPU when there is one, else the CPU).
    """
    ckpt = load_checkpoint(path, generator_only=True)
    kwargs = check_kwargs(ckpt["model"])  # a file's sizes are checked before anything of that size is built
    uses_ema = ema and ckpt.get("G_ema") is not None
    weights = ckpt["G_ema"] if uses_ema else ckpt["G"]
    check_weights(kwargs, "G_ema" if uses_ema else "G", weights)
    module = build_generator(kwargs)
    module.load_state_dict(weights)
    data = ckpt["data"]
    return TrainedGenerator(module=module.to(resolve_device(str(device))).eval(),
                            class_names=tuple(data.get("class_names", [])), kind=data.get("kind", "image"),
                            dataset=data.get("name", ""), step=int(ckpt["step"]),
                            uses_ema=uses_ema or bool(ckpt.get("ema", False)),  # a generator file: the EMA's
                            source=str(path), clip=clip_record(data, module),
                            label_prior=label_prior(data.get("extra", {}), module.num_classes),
                            psi=default_psi(ckpt.get("config")))


def default_psi(config) -> float:
    """model.psi of a file's run config (1 when the file predates it), checked: the file is untrusted."""
    model = config.get("model") if isinstance(config, dict) else None
    psi = model.get("psi", 1.0) if isinstance(model, dict) else 1.0
    if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not PSI_RANGE[0] <= psi <= PSI_RANGE[1]:
        raise GankitError(f"the file's model.psi ({psi!r}) is not a truncation between {PSI_RANGE[0]:g} and "
                          f"{PSI_RANGE[1]:g}; the file is damaged")
    return float(psi)


def rebuild_discriminator(ckpt: dict) -> nn.Module:
    """The discriminator of a loaded run checkpoint, its sizes checked against the file before it is built
    (the file is untrusted), with the saved weights, on the CPU in eval mode."""
    kwargs = check_kwargs(ckpt["model"])
    check_weights(kwargs, "D", ckpt["D"])
    D = build_discriminator(kwargs)
    D.load_state_dict(ckpt["D"])
    return D.eval()


def clip_record(data: dict, module: nn.Module) -> tuple[int, int, int] | None:
    """A frame predictor's (context, horizon, frame channels) from its file's data record, checked against
    the network's input and output channels (the file is untrusted); None for any other generator."""
    if data.get("kind") != "clip":
        return None
    extra = data.get("extra") if isinstance(data.get("extra"), dict) else {}
    record = tuple(extra.get(k) for k in ("context", "horizon", "frame_channels"))
    source = getattr(module, "source_shape", None)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in record) or source is None or \
            source[0] != record[0] * record[2] or module.shape[0] != record[1] * record[2]:
        raise GankitError("the file's clip record (context, horizon, frame channels) does not fit its generator; "
                          "the file is damaged")
    return record
