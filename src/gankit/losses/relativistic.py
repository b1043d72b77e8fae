"""The relativistic average GAN loss (Jolicoeur-Martineau 2019; ESRGAN's, Wang et al. 2018).

D no longer says how real an image is but how much more real it looks than the average image of the other
kind: with C the logit, D_Ra(x_r, x_f) = sigmoid(C(x_r) - E C(x_f)). D minimises
softplus(-(C(x_r) - E C(x_f))) + softplus(C(x_f) - E C(x_r)), and G the same with the roles swapped, so G
also gains by making the real images look less real than its own: its gradient comes from both sides of
the batch. ESRGAN found sharper textures with it than with SRGAN's standard loss.

Means are over the batch (for a PatchGAN's [N, P] logits, per patch). G's update needs D's logits of the
real images: `relativistic` tells the training step to pass them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.losses.base import LossBase


class RelativisticAverage(LossBase):
    relativistic = True  # g_loss takes the real images' logits too
    sign_meaningful = False  # a logit says "more real than the other kind's average", not "real"

    @staticmethod
    def d_loss(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
        return F.softplus(-(real - fake.mean(0))).mean() + F.softplus(fake - real.mean(0)).mean()

    @staticmethod
    def g_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        return F.softplus(-(fake - real.mean(0))).mean() + F.softplus(real - fake.mean(0)).mean()
