"""Inversion: the latent whose image best matches a real one, by gradient descent through the frozen G."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image
from torch import nn

from gankit.core.errors import GankitError
from gankit.data import normalize
from gankit.data.folder import load_image
from gankit.latent.generator import TrainedGenerator, as_module
from gankit.latent.space import Code


def _pixel_loss(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (fake - target).pow(2).flatten(1).mean(1)  # per image


def invert(generator: TrainedGenerator | nn.Module, target: torch.Tensor, *, y: torch.Tensor | None = None,
           steps: int = 300, lr: float = 0.05, candidates: int = 64,
           features: Callable[[torch.Tensor], torch.Tensor] | None = None, feature_weight: float = 0.1,
           prior_weight: float = 1e-3, seed: int = 0) -> tuple[Code, torch.Tensor]:
    """Fit latents to images.

    Args:
        target: images [N, C, H, W] in [-1, 1] (the generator's shape).
        y: class weights [N, K] for a conditional generator (the class the image is believed to be).
        candidates: random latents tried per image; the closest starts the descent (avoids poor basins).
        features: optional map images -> features [N, F]; adds feature_weight * its squared distance.
        prior_weight: pulls ||z||^2 toward z_dim, keeping z where the prior (and G's training) has mass.
    Returns:
        (the codes [N], per-image pixel MSE after fitting [N]).
    """
    generator = as_module(generator)
    device = next(generator.parameters()).device
    target = target.to(device)
    y = None if y is None else y.to(device)
    was_training = generator.training
    generator.eval()
    params = [p for p in generator.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)  # frozen: only z moves
    try:
        z = _best_start(generator, target, y, candidates, seed).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        target_feats = None if features is None else features(target).detach()
        for _ in range(steps):
            fake = generator(z, y)
            loss = _pixel_loss(fake, target)
            if features is not None:
                loss = loss + feature_weight * (features(fake) - target_feats).pow(2).mean(1)
            loss = loss + prior_weight * (z.pow(2).mean(1) - 1).pow(2)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
        with torch.no_grad():
            error = _pixel_loss(generator(z, y), target)
    finally:
        for p in params:
            p.requires_grad_(True)
        generator.train(was_training)
    return Code(z.detach().cpu(), None if y is None else y.cpu()), error.cpu()


@torch.no_grad()
def _best_start(generator: nn.Module, target: torch.Tensor, y: torch.Tensor | None, candidates: int,
                seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    starts = []
    for i in range(len(target)):
        z = torch.randn(candidates, generator.z_dim, generator=gen).to(target.device)
        yi = None if y is None else y[i:i + 1].expand(candidates, -1)
        err = _pixel_loss(generator(z, yi), target[i:i + 1].expand(candidates, -1, -1, -1))
        starts.append(z[err.argmin()])
    return torch.stack(starts)


def load_target(source: str | Path | BinaryIO, shape: tuple[int, ...], name: str = "") -> torch.Tensor:
    """An image file (a path, or an open binary file such as an upload) as the generator sees it:
    [1, C, H, W] in [-1, 1], resized and center-cropped the way image folders are read for training."""
    where = name or str(source)
    try:
        opened = Path(source) if isinstance(source, str) else source
        img = load_image(opened, shape[-1]).convert("L" if shape[0] == 1 else "RGB")
    except (OSError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise GankitError(f"cannot read image {where}: {exc}") from exc
    arr = np.asarray(img, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return normalize(torch.from_numpy(arr.copy()).unsqueeze(0))
