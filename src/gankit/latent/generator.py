"""Rebuilding a trained generator from a checkpoint alone (no training config or code needed)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gankit.checkpoint import load_checkpoint
from gankit.core.runtime import resolve_device
from gankit.models import build_generator, check_kwargs, check_weights


def load_generator(path: str | Path, *, ema: bool = True, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the generator from a checkpoint alone, in eval mode.

    Args:
        path: a checkpoint file or a run directory.
        ema: use the EMA weights when the run kept them.
        device: where to put it ("auto": a CUDA GPU when there is one, else the CPU).
    Returns:
        G with `G(z [N, z_dim], y [N] | None) -> samples [N, *shape]`; attributes `z_dim`,
        `num_classes`, `shape`, and from the checkpoint `class_names`, `data_kind` ("image" or "points"), `dataset`,
        `step` (training steps behind the weights) and `uses_ema` (whether they are the EMA's).
    """
    ckpt = load_checkpoint(path, generator_only=True)
    kwargs = check_kwargs(ckpt["model"])  # a file's sizes are checked before anything of that size is built
    uses_ema = ema and ckpt.get("G_ema") is not None
    weights = ckpt["G_ema"] if uses_ema else ckpt["G"]
    check_weights(kwargs, "G_ema" if uses_ema else "G", weights)
    generator = build_generator(kwargs)
    generator.load_state_dict(weights)
    generator.uses_ema = uses_ema or bool(ckpt.get("ema", False))  # a generator file holds the EMA's weights
    generator.step = int(ckpt["step"])
    generator.class_names = list(ckpt["data"].get("class_names", []))
    generator.data_kind = ckpt["data"].get("kind", "image")
    generator.dataset = ckpt["data"].get("name", "")
    return generator.to(resolve_device(str(device))).eval()
