"""`fastgan`: a data-efficient GAN after Liu et al. 2021 ("Towards Faster and Stabilized GAN Training for
High-fidelity Few-shot Image Synthesis"), scaled to 16–128 px so that it trains on a CPU.

- G: from 4×4, blocks of 2× nearest upsampling, a 3×3 convolution, batch norm and GLU; **skip-layer
  excitation** (SLE): the features at each resolution r ≥ 16 are gated channel-wise by a squeeze of the
  features at r/4, so the coarse layout steers the fine textures along a short gradient path.
- D: blocks of 4×4 stride-2 convolutions, batch norm and LeakyReLU down to 8×8, then a 4×4 convolution
  and an average over positions for the logit. Its **self-supervised term**: a small decoder turns D's 8×8
  features of the real images back into the images (at up to 32×32); the reconstruction error joins D's
  loss (`reconstruction` in the metrics), so D must keep a description of the images rather than
  memorising what tells them apart. The paper decodes crops too and scores them with a perceptual
  loss; here it is the whole image with the mean squared error (no pretrained network can be had offline).

The term recomputes D's trunk on the real batch (one extra pass of D's convolutions on half of what D sees).
It averages its gradient through D itself, not the DDP wrapper, so with several processes the decoder's
gradients are not averaged: fastgan is for one process.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.core.errors import GankitError
from gankit.nn import DiscriminatorHead, LabelConcat, Pack, check_choice, image_shape


def _up(c_in: int, c_out: int) -> nn.Sequential:
    """2× nearest upsampling, 3×3 convolution to 2·c_out, batch norm, GLU (halves the channels)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(c_in, 2 * c_out, 3, padding=1, bias=False), nn.BatchNorm2d(2 * c_out), nn.GLU(1))


class Excite(nn.Module):
    """Skip-layer excitation: squeeze the low-resolution features to 4×4 and then to one gate per channel of
    the high-resolution ones."""

    def __init__(self, c_low: int, c_high: int):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_low, c_high, 4), nn.LeakyReLU(0.1),
                                  nn.Conv2d(c_high, c_high, 1), nn.Sigmoid())

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)


def _levels(resolution: int) -> int:
    """Upsampling steps from 4×4 (a power of two from 16 to 128)."""
    if resolution not in (16, 32, 64, 128):
        raise GankitError(f"fastgan works at 16, 32, 64 or 128 px, not {resolution}; pass --resolution 32")
    return resolution.bit_length() - 3


def _widths(width: int, levels: int) -> list[int]:
    """Channels at 4×4, 8×8, ...: width·2^levels at the start, halving per level, at least width."""
    return [max(width, width * 2 ** (levels - i)) for i in range(levels + 1)]


class Generator(nn.Module):
    def __init__(self, shape: tuple[int, ...], z_dim: int = 128, num_classes: int = 0, width: int = 32,
                 norm: str = "batch"):
        super().__init__()
        check_choice("generator norm", norm, ("batch",))
        channels, resolution = image_shape(shape, "fastgan")
        self.shape, self.z_dim, self.num_classes = tuple(shape), z_dim, num_classes
        levels = _levels(resolution)
        widths = _widths(width, levels)
        self.cond = LabelConcat(num_classes, dim=min(50, 4 * num_classes) if num_classes else 0)
        self.start = nn.Sequential(nn.ConvTranspose2d(z_dim + self.cond.dim, 2 * widths[0], 4, bias=False),
                                   nn.BatchNorm2d(2 * widths[0]), nn.GLU(1))
        self.ups = nn.ModuleList(_up(widths[i], widths[i + 1]) for i in range(levels))
        # level i (resolution 4·2^i) is excited by level i - 2 (a quarter of its resolution)
        self.excite = nn.ModuleDict({str(i): Excite(widths[i - 2], widths[i]) for i in range(2, levels + 1)})
        self.out = nn.Sequential(nn.Conv2d(widths[-1], channels, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim] (+ labels [N]) -> images [N, C, H, W] in [-1, 1]."""
        feats = [self.start(self.cond(z, y)[:, :, None, None])]
        for i, up in enumerate(self.ups, start=1):
            h = up(feats[-1])
            feats.append(self.excite[str(i)](feats[i - 2], h) if str(i) in self.excite else h)
        return self.out(feats[-1])


def _down(c_in: int, c_out: int, norm: bool = True) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=not norm)] + \
        ([nn.BatchNorm2d(c_out)] if norm else []) + [nn.LeakyReLU(0.2)]


class Decoder(nn.Module):
    """D's 8×8 features back to an image of `size` (8·2^k) in [-1, 1]."""

    def __init__(self, c_in: int, channels: int, size: int, width: int):
        super().__init__()
        steps, c = max(0, size.bit_length() - 4), c_in
        layers: list[nn.Module] = []
        for _ in range(steps):
            layers.append(_up(c, max(width, c // 2)))
            c = max(width, c // 2)
        self.net = nn.Sequential(*layers, nn.Conv2d(c, channels, 3, padding=1), nn.Tanh())

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class Discriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], num_classes: int = 0, width: int = 32, norm: str = "batch",
                 cond: str = "projection", pack: int = 1):
        super().__init__()
        check_choice("discriminator norm", norm, ("batch",))
        channels, resolution = image_shape(shape, "fastgan")
        levels = _levels(resolution) - 1  # down to 8×8
        widths = list(reversed(_widths(width, levels)))  # width at full resolution, doubling per level
        layers: list[nn.Module] = [Pack(pack)] if pack > 1 else []
        layers += [nn.Conv2d(channels * pack, widths[0], 3, padding=1), nn.LeakyReLU(0.2)]
        for i in range(levels):
            layers += _down(widths[i], widths[i + 1])
        top = widths[levels]
        # features[0] is the trunk down to 8×8, which the decoder reads
        self.features = nn.Sequential(nn.Sequential(*layers), *_down(top, 2 * top), nn.AdaptiveAvgPool2d(1),
                                      nn.Flatten())
        self.head = DiscriminatorHead(2 * top, num_classes, cond=cond, pack=pack)
        self.decoder = Decoder(top, channels, min(32, resolution), width) if pack == 1 else None
        self.recon_size = min(32, resolution)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """images [N, C, H, W] (+ labels [N]) -> logits [N], positive = real."""
        return self.head(self.features(x), y)


def reconstruction(D: Discriminator, real: torch.Tensor) -> torch.Tensor:
    """D's self-supervised term: mean squared error of decoding D's 8×8 features of the reals back into
    the reals (resized by area averaging to the decoder's size)."""
    if D.decoder is None:
        return real.new_zeros(())
    target = F.adaptive_avg_pool2d(real, D.recon_size)
    return F.mse_loss(D.decoder(D.features[0](real)), target)
