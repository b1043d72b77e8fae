"""`dcgan`: Radford et al. 2016 — strided convolutions in D, transposed convolutions in G, batch norm.

Any resolution r = s0 · 2^k with s0 in 4..7 (28 -> 7·2², 32 -> 4·2³, 64 -> 4·2⁴). G maps z through a
linear layer to s0×s0, then k 4×4 stride-2 transposed convolutions; D mirrors it with k 4×4 stride-2
convolutions. A 4×4 stride-2 transposed convolution computes what "2× nearest upsample + conv" computes
with about 16/36 of the arithmetic of the 3×3 version that many tutorials use, so it is the default.
"""
from __future__ import annotations

import torch
from torch import nn

from gankit.nn import (D_NORMS, G_NORMS, ConditionalBatchNorm2d, DiscriminatorHead, LabelConcat, Pack, check_choice,
                       feature_norm, image_shape, maybe_sn, stages)


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) weights, BN scale N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        # a spectrally normalised layer keeps its raw weight under parametrizations
        params = getattr(module, "parametrizations", None)
        weight = params.weight.original if params is not None else module.weight
        nn.init.normal_(weight, mean=0.0, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)) and module.affine:
        nn.init.normal_(module.weight, mean=1.0, std=0.02)
        nn.init.zeros_(module.bias)


def _g_norm(norm: str, channels: int, num_classes: int) -> nn.Module:
    """class_batch: batch norm whose scale and shift depend on the label (conditional models; plain batch
    norm otherwise): the label then shapes every layer, not only the input."""
    if norm == "class_batch" and num_classes:
        return ConditionalBatchNorm2d(channels, num_classes)
    return feature_norm("batch" if norm == "class_batch" else norm, channels, conv=True)


class Generator(nn.Module):
    def __init__(self, shape: tuple[int, ...], z_dim: int = 100, num_classes: int = 0, width: int = 64,
                 norm: str = "batch"):
        super().__init__()
        check_choice("generator norm", norm, G_NORMS + ("class_batch",))
        channels, resolution = image_shape(shape, "dcgan")
        self.shape, self.z_dim, self.num_classes = tuple(shape), z_dim, num_classes
        self.s0, k = stages(resolution)
        self.cond = LabelConcat(num_classes, dim=min(50, 4 * num_classes) if num_classes else 0)
        top = width * 2 ** (k - 1)
        self.project = nn.Linear(z_dim + self.cond.dim, top * self.s0 * self.s0)
        self.top = top
        layers: list[nn.Module] = [_g_norm(norm, top, num_classes), nn.ReLU()]
        for i in range(k - 1):
            c_in, c_out = top // 2**i, top // 2 ** (i + 1)
            layers += [nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=norm == "none"),
                       _g_norm(norm, c_out, num_classes), nn.ReLU()]
        layers += [nn.ConvTranspose2d(width, channels, kernel_size=4, stride=2, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim] (+ labels [N]) -> images [N, C, H, W] in [-1, 1]."""
        h = self.project(self.cond(z, y)).view(z.shape[0], self.top, self.s0, self.s0)
        for layer in self.net:
            h = layer(h, y) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
        return h


class Discriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], num_classes: int = 0, width: int = 64, norm: str = "batch",
                 cond: str = "projection", pack: int = 1):
        super().__init__()
        check_choice("discriminator norm", norm, D_NORMS)
        channels, resolution = image_shape(shape, "dcgan")
        s0, k = stages(resolution)
        sn = norm == "spectral"
        layers: list[nn.Module] = [Pack(pack)] if pack > 1 else []
        c_in = channels * pack
        for i in range(k):
            c_out = width * 2**i
            layers.append(maybe_sn(nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1), sn))
            if i > 0:  # DCGAN: no normalisation on the first layer
                layers.append(feature_norm(norm, c_out, conv=True))
            layers.append(nn.LeakyReLU(negative_slope=0.2))
            c_in = c_out
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        self.head = DiscriminatorHead(c_in * s0 * s0, num_classes, sn=sn, cond=cond, pack=pack)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """images [N, C, H, W] (+ labels [N]) -> logits [N], positive = real."""
        return self.head(self.features(x), y)
