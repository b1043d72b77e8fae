"""Layers shared by the model families: normalisation choice, spectral norm, conditional BN, projection."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.core.errors import GankitError

G_NORMS = ("batch", "none")
D_NORMS = ("batch", "layer", "spectral", "none")


def check_choice(what: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise GankitError(f"{what} must be one of {', '.join(choices)}, got {value!r}")
    return value


def feature_norm(kind: str, channels: int, conv: bool) -> nn.Module:
    """A normalisation layer for `channels` features. "layer" normalises per sample (safe with a
    gradient penalty, unlike batch norm); "spectral" and "none" add nothing here."""
    if kind == "batch":
        return nn.BatchNorm2d(channels) if conv else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(num_groups=1, num_channels=channels) if conv else nn.LayerNorm(channels)
    return nn.Identity()


def maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap a weight layer with spectral normalisation (Miyato et al. 2018) when enabled."""
    return spectral_norm(module) if enabled else module


class Pack(nn.Module):
    """PacGAN (Lin et al. 2018): D judges m samples at once, concatenated along channels (features for
    vectors), so a generator that keeps repeating itself is easy to tell from data.
    [N, C, ...] -> [N / m, m * C, ...], grouping consecutive samples; N must be a multiple of m."""

    def __init__(self, m: int):
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n % self.m:
            raise ValueError(f"a packed discriminator (pack={self.m}) needs batches of a multiple of {self.m}, got {n}")
        return x.reshape(n // self.m, self.m * x.shape[1], *x.shape[2:])


def pack_labels(y: torch.Tensor, m: int) -> torch.Tensor:
    """Labels [N] of packs of m consecutive samples of one class -> the packs' labels [N / m]. The sampler
    makes the runs (BatchSampler's `group`) and G's fakes take the same labels; checking them here would
    cost a device sync every step."""
    return y if m == 1 else y[::m]


def embed_labels(embedding: nn.Embedding, y: torch.Tensor) -> torch.Tensor:
    """Class labels int64 [N] -> embedding rows; or class weights float [N, K] -> the weighted mix of rows,
    so a generator can be asked for "70% 3, 30% 8" (class interpolation and latent arithmetic)."""
    if y.is_floating_point():
        return y.to(embedding.weight.dtype) @ embedding.weight
    return embedding(y)


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class (de Vries et al. 2017; SNGAN/BigGAN)."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gain, bias = embed_labels(self.gain, y), embed_labels(self.bias, y)
        return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]


# Nearest 2x upsampling then a 3x3 convolution (padding 1), folded: along each axis, output phase 0 sees input
# rows (i-1, i) with taps (w0, w1 + w2) and phase 1 sees (i, i+1) with (w0 + w1, w2). As a 4x4 stride-2
# transposed convolution with padding 1, tap k of the 4 is FOLD[k] . (w0, w1, w2).
_FOLD = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


class UpsampleConv(nn.Module):
    """`nn.Upsample(scale_factor=2)` followed by `nn.Conv2d(c_in, c_out, 3, padding=1)`, computed exactly
    (same parameters, same state_dict keys as that Conv2d) as one 4x4 stride-2 transposed convolution with
    16/36 of the arithmetic. The tutorials' "upsample + conv" generators train with it unchanged, only faster."""

    def __init__(self, c_in: int, c_out: int, bias: bool = True):
        super().__init__()
        conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias)  # its initialisation, too
        self.weight = conv.weight
        self.bias = conv.bias
        self.register_buffer("fold", _FOLD.clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = torch.einsum("ku,lv,oiuv->iokl", self.fold, self.fold, self.weight)
        return F.conv_transpose2d(x, kernel, self.bias, stride=2, padding=1)


D_CONDITIONING = ("projection", "acgan", "projection_aux")


class DiscriminatorHead(nn.Module):
    """Maps features [N, F] to real/fake logits [N]. With classes, conditions D one of three ways:
    "projection" adds <embed(y), h> to the logit (Miyato & Koyama 2018); "acgan" leaves the logit
    unconditional and adds a classifier over the classes (Odena et al. 2017), read by `classes(h)`;
    "projection_aux" does both: the projection judges (image, label) pairs and the classifier gives G a
    second, direct reward for drawing the class it was asked for.
    `pack` > 1: h is of packs of that many samples of one class (PacGAN; the sampler groups them), so the
    projection takes each pack's label and the classifier names each pack's class."""

    def __init__(self, features: int, num_classes: int = 0, sn: bool = False, cond: str = "projection",
                 pack: int = 1):
        super().__init__()
        self.pack = pack
        check_choice("discriminator conditioning (model.d_cond)", cond, D_CONDITIONING)
        self.linear = maybe_sn(nn.Linear(features, 1), sn)
        self.embed = self.classifier = None
        if num_classes and cond in ("projection", "projection_aux"):
            embed = nn.Embedding(num_classes, features)
            # the linear head's scale, not Embedding's N(0, 1): with thousands of features the class term
            # would otherwise swamp the logits at initialisation
            bound = features ** -0.5
            nn.init.uniform_(embed.weight, -bound, bound)
            self.embed = maybe_sn(embed, sn)
        if num_classes and cond in ("acgan", "projection_aux"):
            self.classifier = maybe_sn(nn.Linear(features, num_classes), sn)

    def forward(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.linear(h).squeeze(1)
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional discriminator needs labels y")
            out = out + (self.embed(pack_labels(y, self.pack)) * h).sum(1)
        return out

    @property
    def classifies(self) -> bool:
        """Whether `classes` names the classes of single images (AC-GAN), so D can serve as a classifier; a
        packed head names the classes of packs only."""
        return self.classifier is not None and self.pack == 1

    def classes(self, h: torch.Tensor) -> torch.Tensor | None:
        """Class logits [N, K] (AC-GAN), or None."""
        return None if self.classifier is None else self.classifier(h)


def is_source(y: torch.Tensor | None) -> bool:
    """Whether a conditioning y is a source image (image-to-image pairs: float [N, C, H, W]), not labels."""
    return y is not None and y.is_floating_point() and y.dim() == 4


def source_at(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A source image y at the size of its image x (super-resolution's small source, bicubic-upscaled), so
    that the two can be concatenated along channels and transformed alike."""
    if y.shape[-2:] == x.shape[-2:]:
        return y
    return F.interpolate(y, size=x.shape[-2:], mode="bicubic", align_corners=False)


def scores(D: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A discriminator's logits [N] and, for an AC-GAN head, its class logits [N, K], from one pass.
    A discriminator with a classifying head exposes `features(x) -> h [N, F]` and `head`; any other (a
    PatchGAN's logits [N, P]) is called as D(x, y)."""
    if not hasattr(D, "head"):
        return D(x, y), None
    h = D.features(x)
    return D.head(h, y), D.head.classes(h)


class LabelConcat(nn.Module):
    """Concatenates a learned label embedding to the latent: the conditioning of cGAN/cDCGAN generators."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim) if num_classes else None
        self.dim = dim if num_classes else 0

    def forward(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.embed is None:
            return z
        if y is None:
            raise ValueError("a conditional generator needs labels y")
        return torch.cat([z, embed_labels(self.embed, y)], 1)


def stages(resolution: int) -> tuple[int, int]:
    """(s0, k) with resolution = s0 · 2^k, 4 <= s0 <= 7, k >= 1."""
    s0, k = resolution, 0
    while s0 % 2 == 0 and s0 // 2 >= 4:
        s0, k = s0 // 2, k + 1
    if k == 0 or s0 > 7:
        raise GankitError(f"resolution {resolution} is not s0·2^k with s0 in 4..7 (e.g. 8, 16, 28, 32, 64)")
    return s0, k


def image_shape(shape: tuple[int, ...], model: str) -> tuple[int, int]:
    """(channels, resolution) of square image data, or a clear error for other shapes."""
    if len(shape) != 3 or shape[1] != shape[2]:
        raise GankitError(f"model {model} needs square images [C, H, W], got data of shape {list(shape)}; "
                          "use --model mlp for 2-D points")
    return shape[0], shape[1]


def ink_centroids(ink: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ink [..., H, W] (the ground 0) -> each plane's centroid [..., 2] (row, column, in pixels; 0 where there is no
    ink) and its ink [...]."""
    mass = ink.sum((-2, -1))
    rows, cols = (torch.arange(n, device=ink.device, dtype=ink.dtype) for n in ink.shape[-2:])
    where = torch.stack(((ink.sum(-1) * rows).sum(-1), (ink.sum(-2) * cols).sum(-1)), -1)
    return where / mass.clamp_min(1e-6)[..., None], mass
