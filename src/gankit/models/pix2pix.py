"""`pix2pix`: Isola et al. 2017 — a U-Net generator from a source image to a target image, and a
PatchGAN discriminator that judges (source, image) pairs patch by patch.

Both networks follow the family contract: G(z, y) and D(x, y), with y the source image in [-1, 1] (`factor`
times smaller for super-resolution: both bring it to the image's size first), and every size r = s0 · 2^k,
s0 in 4..7.

- G goes down k stride-2 4×4 convolutions to s0×s0 and back up k transposed ones, each up level
  concatenated with the down level of its size, so the drawing's layout reaches the output directly.
  `levels` (model.g.levels) asks for more: the source is padded (edge pixels repeated) to a multiple of
  2^levels, so that at 28 px five levels reach 1×1 — pix2pix's own U-Net goes down to 1×1 at 256 px, where
  every output pixel sees the whole drawing (is this a boot or a sandal?), not the 10 pixels around it that
  two levels see — and the output is cropped back.
  pix2pix's noise is dropout at test time too; here the noise is a latent z (`z_dim`, drawn from the run's
  own stream so resume stays exact) added at the bottleneck, and a seed picks one of G's outputs.
- D concatenates the source and the image along channels and returns one logit per overlapping patch,
  [N, P]: losses average over patches and accuracy counts patches. `layers` stride-2 convolutions are
  followed by two stride-1 ones; each logit sees a square of 16 pixels with one, 34 with two, 70 with three
  (pix2pix's 70×70 D at 256 px, about a quarter of the image's side). The default, k - 3 and at least
  one, keeps about that share: 16-pixel patches at 32 and 64 px, 34 at 128, 70 at 256.
- `paired` false makes D judge the image alone, without its source, as SRGAN's D does: it then asks only
  whether the image looks real, and leaves whether it fits its source to the reconstruction term.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.core.errors import GankitError
from gankit.models.dcgan import init_weights
from gankit.nn import G_NORMS, D_NORMS, check_choice, feature_norm, image_shape, maybe_sn, source_at, stages


def _down(c_in: int, c_out: int, norm: str, first: bool) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=first or norm == "none")]
    return nn.Sequential(*layers, *([] if first else [feature_norm(norm, c_out, conv=True)]), nn.LeakyReLU(0.2))


def _up(c_in: int, c_out: int, norm: str) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=norm == "none"),
                         feature_norm(norm, c_out, conv=True), nn.ReLU())


class Generator(nn.Module):
    def __init__(self, shape: tuple[int, ...], z_dim: int = 8, num_classes: int = 0, width: int = 64,
                 norm: str = "batch", source_channels: int = 1, factor: int = 1, levels: int = 0):
        super().__init__()
        check_choice("generator norm", norm, G_NORMS)
        channels, resolution = image_shape(shape, "pix2pix")
        k = _levels(resolution, levels)
        self.padded = -(-resolution // 2**k) * 2**k
        self.shape, self.z_dim, self.num_classes, self.factor = tuple(shape), z_dim, num_classes, factor
        self.source_shape = (source_channels, resolution // factor, resolution // factor)
        widths = [min(width * 2**i, width * 8) for i in range(k)]
        self.down = nn.ModuleList(_down(c_in, c_out, norm, i == 0)
                                  for i, (c_in, c_out) in enumerate(zip([source_channels] + widths, widths)))
        self.noise = nn.Linear(z_dim, widths[-1]) if z_dim else None
        ups = [_up(widths[-1], widths[-2], norm)] if k > 1 else []
        ups += [_up(2 * widths[i], widths[i - 1], norm) for i in range(k - 2, 0, -1)]
        self.up = nn.ModuleList(ups)
        self.out = nn.Sequential(nn.ConvTranspose2d(2 * widths[0] if k > 1 else widths[0], channels, 4, stride=2,
                                                    padding=1), nn.Tanh())
        self.apply(init_weights)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim], sources y [N, source_channels, H, W] in [-1, 1] -> images [N, C, H, W] in [-1, 1]."""
        if y is None:
            raise GankitError("a pix2pix generator turns a source image into an image: it needs the source")
        if self.factor > 1:
            y = F.interpolate(y, scale_factor=self.factor, mode="bicubic", align_corners=False)
        pad = self.padded - y.shape[-1]
        skips, h = [], F.pad(y, (pad // 2, pad - pad // 2) * 2, mode="replicate") if pad else y
        for layer in self.down:
            h = layer(h)
            skips.append(h)
        if self.noise is not None:
            h = h + self.noise(z)[:, :, None, None]
        for layer, skip in zip(self.up, reversed(skips[:-1])):
            h = torch.cat([layer(h), skip], 1)
        out = self.out(h)
        return out[..., pad // 2:pad // 2 + self.shape[1], pad // 2:pad // 2 + self.shape[2]] if pad else out


def _levels(resolution: int, levels: int) -> int:
    """The U-Net's depth: `levels`, or (0) as many as take `resolution` to s0 in 4..7; at most down to 1×1."""
    _, k = stages(resolution)
    most = (resolution - 1).bit_length()
    if not 0 <= levels <= most:
        raise GankitError(f"model.g.levels must be between 1 and {most} at {resolution} px, or 0 for {k} "
                          f"(down to {resolution // 2**k} px), got {levels}")
    return levels or k


class Discriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], num_classes: int = 0, width: int = 64, norm: str = "batch",
                 cond: str = "projection", pack: int = 1, source_channels: int = 1, layers: int = 0,
                 paired: bool = True):
        super().__init__()
        check_choice("discriminator norm", norm, D_NORMS)
        if pack > 1 or num_classes:
            raise GankitError("a PatchGAN judges (source, image) pairs: it takes no packs and no class labels")
        channels, resolution = image_shape(shape, "pix2pix")
        _, k = stages(resolution)
        n = layers or max(1, k - 3)
        if not 1 <= n <= k:
            raise GankitError(f"model.d.layers must be between 1 and {k} at {resolution} px, got {layers}")
        self.resolution, self.paired, sn = resolution, bool(paired), norm == "spectral"
        c_in, blocks = (source_channels if paired else 0) + channels, []
        for i in range(n + 1):  # n stride-2 convolutions, then one of stride 1 (pix2pix's penultimate)
            c_out = width * 2 ** min(i, 3)
            blocks.append(maybe_sn(nn.Conv2d(c_in, c_out, 4, stride=2 if i < n else 1, padding=1), sn))
            blocks += ([feature_norm(norm, c_out, conv=True)] if i else []) + [nn.LeakyReLU(0.2)]
            c_in = c_out
        blocks.append(maybe_sn(nn.Conv2d(c_in, 1, 4, stride=1, padding=1), sn))
        self.net = nn.Sequential(*blocks)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """images x [N, C, H, W] and their sources y (any size) -> one logit per patch [N, P], positive = real."""
        if y is None:
            raise GankitError("a PatchGAN judges (source, image) pairs: it needs the source")
        return self.net[-1](self.pair_features(x, y)[-1]).flatten(1)  # the last hidden layer, then the logits

    def pair_features(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """The hidden activations (after each LeakyReLU) on pairs (y, x): what pix2pixHD's feature matching
        compares between (source, G's output) and (source, target)."""
        h, out = torch.cat([source_at(y, x), x], 1) if self.paired else x, []
        for layer in self.net[:-1]:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                out.append(h)
        return out
