"""Inversion: the latent whose image best matches a real one, by gradient descent through the frozen G."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gankit.core.errors import GankitError
from gankit.data import normalize
from gankit.data.folder import load_image
from gankit.latent.generator import TrainedGenerator, as_module
from gankit.latent.space import Code


def _pixel_loss(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (fake - target).pow(2).flatten(1).mean(1)  # per image


def _blur(x: torch.Tensor) -> torch.Tensor:
    kernel = torch.tensor([1.0, 2.0, 1.0], device=x.device)
    kernel = (kernel[:, None] * kernel[None, :] / 16).view(1, 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel)


def soft_edges(images: torch.Tensor) -> torch.Tensor:
    """A differentiable edge map of [-1, 1] images, [N, 1, H, W] in [0, 1): the Sobel gradient magnitude of
    their luma, squashed (a step between black and white scores about 1), then blurred a pixel."""
    gray = images.mean(1, keepdim=True)
    sobel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]], device=images.device)
    kernels = torch.stack([sobel, sobel.t()]).unsqueeze(1) / 4
    grad = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kernels)
    return _blur(torch.tanh(grad.pow(2).sum(1, keepdim=True).add(1e-8).sqrt()))


def sketch_target(sketch: torch.Tensor) -> torch.Tensor:
    """A drawing in [-1, 1] (dark strokes on light) -> the edge map it asks for, blurred like soft_edges'."""
    return _blur(((1 - sketch.mean(1, keepdim=True)) / 2).clamp(0, 1))


def sketch_loss(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """iGAN's sketch constraint (Zhu et al. 2016), per image: the squared distance of the image's soft edge map
    to the drawing's (`target` from sketch_target), edges where strokes are and none where they are not."""
    return (soft_edges(fake) - target).pow(2).flatten(1).mean(1)


def invert(generator: TrainedGenerator | nn.Module, target: torch.Tensor, *, y: torch.Tensor | None = None,
           steps: int = 300, lr: float = 0.05, candidates: int = 64,
           features: Callable[[torch.Tensor], torch.Tensor] | None = None, feature_weight: float = 0.1,
           prior_weight: float = 1e-3, seed: int = 0,
           objective: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> tuple[Code, torch.Tensor]:
    """Fit latents to images.

    Args:
        target: images [N, C, H, W] in [-1, 1] (the generator's shape).
        y: class weights [N, K] for a conditional generator (the class the image is believed to be).
        candidates: random latents tried per image; the closest starts the descent (avoids poor basins).
        features: optional map images -> features [N, F]; adds feature_weight * its squared distance.
        prior_weight: pulls ||z||^2 toward z_dim, keeping z where the prior (and G's training) has mass.
        objective: per-image loss of (images, target): pixel MSE (None), or sketch_loss for a drawing's edges.
    Returns:
        (the codes [N], per-image objective after fitting [N]).
    """
    prior = getattr(generator, "label_prior", None)
    generator, objective = as_module(generator), objective or _pixel_loss
    device = next(generator.parameters()).device
    target = target.to(device)
    y = None if y is None else y.to(device)
    if y is None and prior is not None:  # a model of clusters: each image's cluster is found with its start
        y = _best_clusters(generator, target, prior, max(candidates, 4 * len(prior)), seed, objective)
    was_training = generator.training
    generator.eval()
    params = [p for p in generator.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)  # frozen: only z moves
    try:
        z = _best_start(generator, target, y, candidates, seed, objective).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        target_feats = None if features is None else features(target).detach()
        for _ in range(steps):
            fake = generator(z, y)
            loss = objective(fake, target)
            if features is not None:
                loss = loss + feature_weight * (features(fake) - target_feats).pow(2).mean(1)
            loss = loss + prior_weight * (z.pow(2).mean(1) - 1).pow(2)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
        with torch.no_grad():
            error = objective(generator(z, y), target)
    finally:
        for p in params:
            p.requires_grad_(True)
        generator.train(was_training)
    return Code(z.detach().cpu(), None if y is None else y.cpu()), error.cpu()


@torch.no_grad()
def _closest(generator: nn.Module, target: torch.Tensor, objective, draw) -> list[tuple]:
    """For each image i, of the candidate (latents [M, z_dim], labels [M, K] or None) that draw(i) returns,
    the pair whose output is closest to the image under `objective`."""
    found = []
    for i in range(len(target)):
        z, y = draw(i)
        best = objective(generator(z, y), target[i:i + 1].expand(len(z), -1, -1, -1)).argmin()
        found.append((z[best], None if y is None else y[best]))
    return found


def _best_clusters(generator: nn.Module, target: torch.Tensor, prior: tuple[float, ...], candidates: int, seed: int,
                   objective=_pixel_loss) -> torch.Tensor:
    """One-hot clusters [N, K] for a model of clusters inverted without a label: of `candidates` random
    (latent, cluster) pairs, clusters drawn in their shares, the cluster of the pair closest to each image."""
    gen = torch.Generator().manual_seed(seed + 1)

    def draw(_: int) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(candidates, generator.z_dim, generator=gen).to(target.device)
        c = torch.multinomial(torch.tensor(prior, dtype=torch.float64), candidates, replacement=True, generator=gen)
        return z, F.one_hot(c, len(prior)).float().to(target.device)
    return torch.stack([y for _, y in _closest(generator, target, objective, draw)])


def _best_start(generator: nn.Module, target: torch.Tensor, y: torch.Tensor | None, candidates: int,
                seed: int, objective=_pixel_loss) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)

    def draw(i: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(candidates, generator.z_dim, generator=gen).to(target.device)
        return z, None if y is None else y[i:i + 1].expand(candidates, -1)
    return torch.stack([z for z, _ in _closest(generator, target, objective, draw)])


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
