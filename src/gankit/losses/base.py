"""What a loss is: D's loss from real and fake logits, G's loss from fake logits. Positive logit = real."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


class Loss(Protocol):
    smoothing_ok: bool  # whether one-sided label smoothing means anything for this loss
    probabilistic: bool  # whether sigmoid(logit) reads as a probability of 'real'
    sign_meaningful: bool  # whether logit > 0 means "D says real" (accuracy, overpowering rules)
    relativistic: bool  # whether g_loss also takes the real images' logits: g_loss(fake, real)

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
        """Mean discriminator loss; real, fake: logits [N] (may differ in N)."""

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """Mean generator loss on the logits [N] of its samples (and of real images' when relativistic)."""


class LossBase:
    """Defaults of the flags every loss declares; a loss overrides what differs."""

    smoothing_ok = False
    probabilistic = False
    sign_meaningful = True
    relativistic = False


@dataclass
class LossConfig:
    name: str = "nonsaturating"
    penalty: str = "none"  # none | gradient_penalty | r1
    penalty_weight: float = 10.0  # λ of WGAN-GP, or γ of R1
    label_smoothing: float = 0.0  # one-sided: real targets 1 - s (Salimans et al. 2016); BCE losses only
    aux_weight: float = 1.0  # AC-GAN (model.d_cond=acgan): weight of the class cross-entropy in both updates
    # image-to-image (paired data) only: G's loss is adversarial · D's verdict + l1 · |G(source) - target|
    # (pix2pix's λ = 100); adversarial 0 trains a pixel-loss model (D still trains, and is ignored)
    l1: float = 100.0
    adversarial: float = 1.0
    # and, for frame prediction above all (Mathieu et al. 2016): l2 · mean squared error and gdl · the gradient
    # difference loss, which asks G for the target's edges rather than their average (the blur of L2)
    l2: float = 0.0
    gdl: float = 0.0
    # centroid · the squared distance in pixels between each output frame's ink centroid and the true frame's:
    # where a moving object goes, asked for directly (clips of bright objects on a dark ground)
    centroid: float = 0.0
    # and SRGAN's content loss: perceptual · the relative squared error of the output's features against the
    # target's in a frozen judge network (metrics.perceptual: the bundled classifier, or Inception's stem; VGG's
    # weights would have to be downloaded)
    perceptual: float = 0.0
    # feature matching (Salimans et al. 2016): weight of |E f(real) - E f(G(z))|² on D's last hidden features in
    # G's loss; the semi-supervised GAN trains G by it alone (with adversarial 0)
    feature_matching: float = 0.0
    # mode seeking (Mao et al. 2019): weight of 1 / (mean distance between pairs of G's samples) in G's loss,
    # which rewards G for drawing different latents differently (noise-to-image runs)
    mode_seeking: float = 0.0
