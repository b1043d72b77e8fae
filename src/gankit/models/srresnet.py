"""`srresnet`: the super-resolution generator of SRGAN (Ledig et al. 2017) — residual blocks at the small
size, then ×2 steps of convolution and PixelShuffle — as a G(z, y) that takes the low-resolution image y.

Its discriminator is pix2pix's PatchGAN on (upscaled source, image) pairs.

- Checkerboards: each PixelShuffle convolution starts ICNR-initialised (Aitken et al. 2017): the r² kernels
  that make one output channel's r×r sub-pixels start equal, so at the start the step is a convolution
  followed by nearest-neighbour upsampling, which has no checkerboard; training moves them apart only where
  the data asks.
- Batch norm in the residual blocks is SRGAN's and the default. `model.g_norm=none` drops it, as ESRGAN (Wang et
  al. 2018) does, having found that it brings artefacts where a test image's statistics differ from the
  training batches'. On faces ×4 it did not lower the GAN's FID (docs/image-to-image.md), so the presets keep it.
- The output is the bicubic upscale of y plus what the network adds, so an untrained G already scores
  bicubic's PSNR and training (with few CPU minutes) spends itself on the detail bicubic lacks.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit.core.errors import GankitError
from gankit.nn import G_NORMS, check_choice, feature_norm, image_shape


def icnr_(weight: torch.Tensor, scale: int) -> torch.Tensor:
    """Fill a convolution weight [C·scale², C_in, k, k] so that PixelShuffle(scale) of its output starts as
    nearest-neighbour upsampling of a convolution (each group of scale² consecutive kernels equal)."""
    out_channels = weight.shape[0] // scale**2
    base = torch.empty(out_channels, *weight.shape[1:])
    nn.init.kaiming_normal_(base)
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(scale**2, dim=0))
    return weight


class Residual(nn.Module):
    def __init__(self, width: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), feature_norm(norm, width, conv=True),
                                  nn.PReLU(width), nn.Conv2d(width, width, 3, padding=1),
                                  feature_norm(norm, width, conv=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    any_size = True  # fully convolutional: it upscales an image of any size, not only the training size

    def __init__(self, shape: tuple[int, ...], z_dim: int = 0, num_classes: int = 0, width: int = 64,
                 depth: int = 8, norm: str = "batch", factor: int = 4, source_channels: int = 1):
        super().__init__()
        check_choice("generator norm", norm, G_NORMS)
        channels, resolution = image_shape(shape, "srresnet")
        if factor == 1:
            raise GankitError("srresnet upscales: train it on small copies of images (--data lowres:DATASET:4), "
                              "or use --model pix2pix for pairs of the same size")
        if source_channels != channels:
            raise GankitError(f"srresnet upscales an image into one of the same channels: the sources have "
                              f"{source_channels}, the images {channels}")
        if factor < 2 or factor & (factor - 1) or resolution % factor:
            raise GankitError(f"a super-resolution factor must be a power of 2 that divides the size: {factor} "
                              f"at {resolution} px")
        self.shape, self.z_dim, self.num_classes, self.factor = tuple(shape), z_dim, num_classes, factor
        self.source_shape = (source_channels, resolution // factor, resolution // factor)
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        self.body = nn.Sequential(*(Residual(width, norm) for _ in range(depth)),
                                  nn.Conv2d(width, width, 3, padding=1), feature_norm(norm, width, conv=True))
        steps = []
        for _ in range(int(math.log2(factor))):
            conv = nn.Conv2d(width, width * 4, 3, padding=1)
            icnr_(conv.weight, 2)
            steps += [conv, nn.PixelShuffle(2), nn.PReLU(width)]
        self.upscale = nn.Sequential(*steps)
        self.tail = nn.Conv2d(width, channels, 9, padding=4)
        nn.init.zeros_(self.tail.weight)  # at the start, G is the bicubic upscale
        nn.init.zeros_(self.tail.bias)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """low-resolution images y [N, C, H/factor, W/factor] in [-1, 1] -> images [N, C, H, W] in [-1, 1]."""
        if y is None:
            raise GankitError("a super-resolution generator upscales an image: it needs the low-resolution one")
        h = self.head(y)
        h = self.upscale(h + self.body(h))
        base = F.interpolate(y, scale_factor=self.factor, mode="bicubic", align_corners=False)
        return (base + self.tail(h)).clamp(-1, 1)
