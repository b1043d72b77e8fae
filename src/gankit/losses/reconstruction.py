"""Reconstruction terms of image-to-image and frame-prediction runs: G's output against the target its source
was made from.
They join G's adversarial loss (steps.g_step, Rules.g_terms) with the weight the loss section gives them. Every
term is called fn(fake, real, source); these ignore the source."""
from __future__ import annotations

from collections.abc import Callable

import torch

from gankit.nn import ink_centroids


def l1(fake: torch.Tensor, real: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute difference, in [-1, 1] pixel units: pix2pix's L1 term (less blurry than L2's mean)."""
    return (fake - real).abs().mean()


def l2(fake: torch.Tensor, real: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared difference, in [-1, 1] pixel units: the pixel loss of frame predictors (blurs where the
    future is uncertain: its minimum is the average of the possible futures)."""
    return (fake - real).pow(2).mean()


def gdl(fake: torch.Tensor, real: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
    """Mathieu et al. 2016's gradient difference loss (α = 1), as a mean: the difference between the absolute
    differences of neighbouring pixels of G's output and of the target, down and across. Where the future is
    uncertain, L2 halves its cost by predicting the average of two outcomes (a blur); this term costs the
    average as much as either sharp outcome, so it does not pull toward blur (tests/test_frames.py)."""
    def steps(x: torch.Tensor, dim: int) -> torch.Tensor:
        return x.diff(dim=dim).abs()
    return sum((steps(fake, d) - steps(real, d)).abs().mean() for d in (-2, -1)) / 2


def centroid(fake: torch.Tensor, real: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
    """The squared distance, in pixels, between the ink centroids of G's output and of the target, plane by plane
    (each channel of each frame), as a mean: where an object goes, asked for directly. A pixel loss asks for it
    only through the overlap of the moved strokes with the true ones, which is noisy and fades once they miss by
    a stroke's width; this term keeps pulling, and its minimum is the mean of the possible places, which an
    object moved whole and read between pixels draws (Moving MNIST: benchmarks/frames_ambiguity.py). For bright
    objects on a dark ground, as Moving MNIST's; planes whose target holds no ink are left out."""
    (got, _), (want, mass) = ink_centroids((fake + 1) / 2), ink_centroids((real + 1) / 2)  # the ground 0
    inked = (mass > 1e-3).to(fake.dtype)
    return ((got - want).pow(2).sum(-1) * inked).sum() / inked.sum().clamp_min(1)


def perceptual(features: Callable[[torch.Tensor], list[torch.Tensor]]) -> Callable:
    """SRGAN's content loss in `features` (a frozen network's feature maps, metrics.perceptual): each map's
    squared error relative to the target's mean square, averaged over the maps. Relative, so that one weight
    means the same in networks whose features differ in scale a hundredfold (the classifier's against
    Inception's); a pixel loss rewards the blurred average of the plausible outputs, this rewards alike
    features."""
    def term(fake: torch.Tensor, real: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            targets = features(real)
        errors = [(f - t).pow(2).mean() / t.pow(2).mean().clamp_min(1e-8) for f, t in zip(features(fake), targets)]
        return sum(errors) / len(errors)
    return term
