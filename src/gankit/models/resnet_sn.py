"""`resnet_sn`: the SNGAN ResNet (Miyato et al. 2018; Gulrajani et al. 2017's ResNet blocks).

G: linear to s0×s0, k up-sampling residual blocks (batch norm, conditional batch norm when conditional),
BN-ReLU-conv3×3-tanh. D: an optimised first block, residual down-sampling blocks, two more blocks, ReLU,
global sum pooling and a (projection) head; spectral norm on every D weight by default.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.core.errors import GankitError
from gankit.nn import ConditionalBatchNorm2d, DiscriminatorHead, Pack, check_choice, image_shape, maybe_sn, stages


class _GNorm(nn.Module):
    """Batch norm, conditional on the label when the generator is conditional."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.norm = ConditionalBatchNorm2d(channels, num_classes) if num_classes else nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.norm(x, y) if isinstance(self.norm, ConditionalBatchNorm2d) else self.norm(x)


class GBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, num_classes: int):
        super().__init__()
        self.norm1, self.norm2 = _GNorm(c_in, num_classes), _GNorm(c_out, num_classes)
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, kernel_size=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, y)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    """Pre-activation residual block; `first` is SNGAN's optimised block (no ReLU on the raw image)."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool, sn: bool):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = maybe_sn(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), sn)
        self.conv2 = maybe_sn(nn.Conv2d(c_out, c_out, kernel_size=3, padding=1), sn)
        self.shortcut = maybe_sn(nn.Conv2d(c_in, c_out, kernel_size=1), sn) if (down or c_in != c_out) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.shortcut is not None:
            # optimised block pools before the 1x1 conv, the others after (as in SNGAN)
            s = self.shortcut(F.avg_pool2d(x, 2)) if (self.first and self.down) else self.shortcut(x)
            if self.down and not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


class Generator(nn.Module):
    def __init__(self, shape: tuple[int, ...], z_dim: int = 128, num_classes: int = 0, width: int = 128,
                 norm: str = "batch"):
        super().__init__()
        check_choice("generator norm", norm, ("batch",))
        channels, resolution = image_shape(shape, "resnet_sn")
        self.shape, self.z_dim, self.num_classes = tuple(shape), z_dim, num_classes
        self.s0, k = stages(resolution)
        self.width = width
        self.project = nn.Linear(z_dim, width * self.s0 * self.s0)
        self.blocks = nn.ModuleList(GBlock(width, width, num_classes) for _ in range(k))
        self.out_norm = nn.BatchNorm2d(width)
        self.out_conv = nn.Conv2d(width, channels, kernel_size=3, padding=1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim] (+ labels [N]) -> images [N, C, H, W] in [-1, 1]."""
        if self.num_classes and y is None:
            raise ValueError("a conditional generator needs labels y")
        h = self.project(z).view(z.shape[0], self.width, self.s0, self.s0)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out_conv(F.relu(self.out_norm(h))))


class Discriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], num_classes: int = 0, width: int = 128, norm: str = "spectral",
                 cond: str = "projection", pack: int = 1):
        super().__init__()
        check_choice("discriminator norm", norm, ("spectral", "none"))
        channels, resolution = image_shape(shape, "resnet_sn")
        _, k = stages(resolution)
        sn = norm == "spectral"
        downs = max(1, k - 1)  # 32x32: 32 -> 16 -> 8, then two blocks at 8x8 (SNGAN's CIFAR layout)
        self.pack = Pack(pack)
        blocks = [DBlock(channels * pack, width, down=True, first=True, sn=sn)]
        blocks += [DBlock(width, width, down=True, first=False, sn=sn) for _ in range(downs - 1)]
        blocks += [DBlock(width, width, down=False, first=False, sn=sn) for _ in range(2)]
        if resolution // 2**downs < 2:
            raise GankitError(f"resolution {resolution} is too small for resnet_sn")
        self.blocks = nn.Sequential(*blocks)
        self.head = DiscriminatorHead(width, num_classes, sn=sn, cond=cond, pack=pack)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(self.pack(x))).sum(dim=(2, 3))  # global sum pooling, as in SNGAN

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """images [N, C, H, W] (+ labels [N]) -> logits [N], positive = real."""
        return self.head(self.features(x), y)
