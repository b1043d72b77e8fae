"""`ssgan`: the semi-supervised GAN of Salimans et al. 2016 ("Improved techniques for training GANs", §5).

D is a classifier with K outputs, one per class; "fake" is an implicit (K+1)-th class whose logit is fixed at
0, so D's real/fake logit is logsumexp of the K class logits (D(x) = Z(x) / (Z(x) + 1), Z = Σ exp l_k) and
the usual non-saturating loss on it is exactly the paper's unsupervised loss. The labelled images add a
cross-entropy on the class logits (steps.d_step's class term), every unlabelled image trains D through the
real/fake game, and G (unconditional) is trained by feature matching on D's last hidden layer (the
`loss.feature_matching` term, gankit.losses.matching). After training, D is the classifier: `gankit
classify`, and `gankit eval`'s d_test_accuracy.

The networks are the paper's MNIST ones: fully connected, weight normalisation, Gaussian noise before every
layer of D (std 0.3 on the input, 0.5 inside: the regulariser that keeps 100 labels from being memorised).
The noise comes from the run's own random stream (see `GaussianNoise`), so a resumed run is exact.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from gankit.core.errors import GankitError


def _linear(cin: int, cout: int, gain: float = 1.0) -> nn.Module:
    """A weight-normalised linear layer whose rows have norm `gain`: √2 keeps the second moment of
    activations through ReLU layers. (With PyTorch's default scale, five layers shrink MNIST's activations
    to 0.02 and the 0.5 noise drowns them; Salimans et al. set the scale from a first batch instead.)"""
    layer = weight_norm(nn.Linear(cin, cout))
    with torch.no_grad():
        layer.parametrizations.weight.original0.fill_(gain)
    return layer


class GaussianNoise(nn.Module):
    """Adds N(0, std²) noise in training mode. `stream` (the run's noise generator, set by the game when it
    is built: `use_stream`) makes the draws part of the checkpointed state; without one, torch's global RNG."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std
        self.stream: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.std <= 0:
            return x
        return x + self.std * torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=self.stream)


def use_stream(module: nn.Module, stream: torch.Generator) -> None:
    """Let every GaussianNoise layer of `module` draw from `stream`."""
    for layer in module.modules():
        if isinstance(layer, GaussianNoise):
            layer.stream = stream


class SemiHead(nn.Module):
    """Features [N, F] -> class logits [N, K] (`classes`) and the real/fake logit logsumexp over them."""

    def __init__(self, features: int, num_classes: int):
        super().__init__()
        self.linear = _linear(features, num_classes)

    def forward(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.logsumexp(self.linear(h), dim=1)

    classifies = True

    def classes(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h)


class Generator(nn.Module):
    """z -> `depth` fully connected layers of `width` (batch norm, softplus) -> a weight-normalised output layer,
    tanh into [-1, 1]. Unconditional: the class of what it draws is D's business."""

    def __init__(self, shape: tuple[int, ...], z_dim: int = 100, num_classes: int = 0, width: int = 500,
                 depth: int = 2):
        super().__init__()
        self.shape, self.z_dim, self.num_classes = tuple(shape), z_dim, num_classes
        layers: list[nn.Module] = []
        previous = z_dim
        for _ in range(depth):
            layers += [nn.Linear(previous, width), nn.BatchNorm1d(width), nn.Softplus()]
            previous = width
        layers += [weight_norm(nn.Linear(previous, math.prod(self.shape))), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim] -> images [N, *shape]; labels are ignored (G draws every class)."""
        return self.net(z).view(z.shape[0], *self.shape)


class Discriminator(nn.Module):
    """Flattened image -> noise, weight-normalised layers of width, width/2, width/4 ... (`depth` of them, ReLU,
    noise after each) -> SemiHead over `num_classes`. `features` is everything before the head."""

    def __init__(self, shape: tuple[int, ...], num_classes: int = 10, width: int = 1000, depth: int = 5,
                 cond: str = "projection", pack: int = 1, input_noise: float = 0.3, noise: float = 0.5):
        super().__init__()
        if pack > 1 or cond != "projection":
            raise GankitError("the ssgan D classifies by its own K outputs: it takes no model.pack or model.d_cond")
        sizes = [max(16, width // 2 ** min(i, 2)) for i in range(depth)]
        layers: list[nn.Module] = [nn.Flatten(), GaussianNoise(input_noise)]
        previous = math.prod(shape)
        for size in sizes:
            layers += [_linear(previous, size, math.sqrt(2)), nn.ReLU(), GaussianNoise(noise)]
            previous = size
        self.features = nn.Sequential(*layers)
        self.head = SemiHead(previous, max(num_classes, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """images [N, *shape] -> real/fake logits [N], positive = real."""
        return self.head(self.features(x))
