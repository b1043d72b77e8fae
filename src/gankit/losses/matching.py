"""Feature matching: G matches D's features of real data. It joins G's loss as a term (steps.g_step,
Rules.g_terms) weighted by loss.feature_matching.

- Noise to image (Salimans et al. 2016, §3.1): the batch means of D's last hidden features, instead of D's
  verdict; the semi-supervised GAN (model ssgan) trains G by it alone.
- Image pairs (pix2pixHD, Wang et al. 2018): each output's hidden features against its own target's, beside
  the same source, layer by layer. D learns what tells real from fake, so this is a feature loss in features
  that adapt to the data, with no weights to download (SRGAN's VGG loss needs them)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gankit.losses.reconstruction import l1


def feature_matching(D: nn.Module) -> Callable[..., torch.Tensor]:
    """The term fn(fake, real, source=None): squared distance between the batch means of D.features on G's
    samples and on real images (a fixed target: no gradient). D must expose `features(x) -> h [N, F]`."""

    def term(fake: torch.Tensor, real: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            target = D.features(real).float().mean(0)
        return F.mse_loss(D.features(fake).float().mean(0), target)
    return term


def pair_feature_matching(D: nn.Module) -> Callable[..., torch.Tensor]:
    """The term fn(fake, real, source): mean absolute difference between D.pair_features of (source, fake) and
    of (source, real) (a fixed target: no gradient), averaged over D's hidden layers. pix2pixHD sums its four
    layers' with weights 4 / (layers + 1) = 1 and λ 10: loss.feature_matching=40 here."""

    def term(fake: torch.Tensor, real: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            targets = D.pair_features(real, source)
        errors = [l1(f.float(), t.float()) for f, t in zip(D.pair_features(fake, source), targets)]
        return sum(errors) / len(errors)
    return term
