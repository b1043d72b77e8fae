"""Mode seeking (Mao et al., CVPR 2019, "MSGAN"): G is rewarded for drawing two latents apart as two images
apart. A conditional G easily learns to ignore its latent within a class, and a G sampled through an EMA
drifts toward the middle of each mode; this term pushes back, spending a little precision on recall.
It joins G's loss as a term (steps.g_step, Rules.g_terms) weighted by loss.mode_seeking."""
from __future__ import annotations

import torch

EPS = 1e-5  # MSGAN's: bounds the term where two samples coincide


def mode_seeking(fake: torch.Tensor, real: torch.Tensor | None = None,
                 source: torch.Tensor | None = None) -> torch.Tensor:
    """1 / (mean |G(z1) - G(z2)| + eps) over the pairs of consecutive samples (0 with 1, 2 with 3, ...): in a
    packed conditional run the sampler makes those pairs of one class, so the pairs compare one class's
    draws, as MSGAN's do. MSGAN divides the images' distance by the latents'; these latents are independent
    N(0, I) draws of a fixed size, whose mean distance is the same in every batch, so that constant is left
    to the term's weight."""
    n = fake.shape[0] // 2 * 2
    if n < 2:
        raise ValueError(f"mode seeking compares pairs of samples, got a batch of {fake.shape[0]}")
    gap = (fake[0:n:2] - fake[1:n:2]).abs().mean()
    return 1.0 / (gap + EPS)
