"""`mlp`: the original fully connected GAN (Goodfellow et al. 2014), for images or 2-D points.

Images: G widens width, 2·width, 4·width, ... with batch norm and LeakyReLU, tanh output in [-1, 1];
D narrows from D's width. 2-D points: constant-width layers and a linear output (points are not
bounded). Conditional: the label embedding is concatenated to z (G) and projected onto D's features.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from gankit.nn import (D_NORMS, G_NORMS, DiscriminatorHead, LabelConcat, Pack, check_choice, feature_norm,
                       maybe_sn)


def _is_points(shape: tuple[int, ...]) -> bool:
    return len(shape) == 1


class Generator(nn.Module):
    def __init__(self, shape: tuple[int, ...], z_dim: int = 100, num_classes: int = 0, width: int = 128,
                 depth: int = 4, norm: str = "batch"):
        super().__init__()
        check_choice("generator norm", norm, G_NORMS)
        self.shape, self.z_dim, self.num_classes = tuple(shape), z_dim, num_classes
        self.cond = LabelConcat(num_classes, dim=min(50, 4 * num_classes) if num_classes else 0)
        sizes = [width if _is_points(shape) else width * 2**i for i in range(depth)]
        layers: list[nn.Module] = []
        previous = z_dim + self.cond.dim
        for i, size in enumerate(sizes):
            layers.append(nn.Linear(previous, size))
            if i > 0:  # no norm right after the latent, as in the original
                layers.append(feature_norm(norm, size, conv=False))
            layers.append(nn.LeakyReLU(negative_slope=0.2) if not _is_points(shape) else nn.ReLU())
            previous = size
        layers.append(nn.Linear(previous, math.prod(self.shape)))
        if not _is_points(shape):
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim] (+ labels [N]) -> samples [N, *shape]."""
        return self.net(self.cond(z, y)).view(z.shape[0], *self.shape)


class Discriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], num_classes: int = 0, width: int = 512, depth: int = 2,
                 norm: str = "none", cond: str = "projection", pack: int = 1):
        super().__init__()
        check_choice("discriminator norm", norm, D_NORMS)
        sn = norm == "spectral"
        sizes = [width if _is_points(shape) else max(16, width // 2**i) for i in range(depth)]
        layers: list[nn.Module] = [nn.Flatten()] + ([Pack(pack)] if pack > 1 else [])
        previous = math.prod(shape) * pack
        for i, size in enumerate(sizes):
            layers.append(maybe_sn(nn.Linear(previous, size), sn))
            if i > 0:
                layers.append(feature_norm(norm, size, conv=False))
            layers.append(nn.LeakyReLU(negative_slope=0.2))
            previous = size
        self.features = nn.Sequential(*layers)
        self.head = DiscriminatorHead(previous, num_classes, sn=sn, cond=cond, pack=pack)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """samples [N, *shape] (+ labels [N]) -> logits [N], positive = real."""
        return self.head(self.features(x), y)
