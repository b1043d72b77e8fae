"""Mode coverage of 2-D samples against known mixture centers (the protocol of PacGAN / VEEGAN).

A sample is high-quality when it lies within `k` standard deviations of its nearest mode; a mode is
captured when it is the nearest mode of at least one high-quality sample.
"""
from __future__ import annotations

import torch

from gankit.metrics.scores import kl_to_uniform


def mode_stats(points: torch.Tensor, centers: torch.Tensor, std: float, k: float = 3.0) -> dict:
    """points [N, 2], centers [M, 2] -> {"modes": captured count, "high_quality": share of N,
    "kl": KL(histogram of high-quality samples over modes || uniform), "num_modes": M,
    "coverage": share of modes that are the nearest mode of at least 1/(4M) of all samples — a
    collapse signal that, unlike "modes", does not depend on how precise the samples are yet,
    "spread": the per-axis RMS offset of the high-quality samples from their mode, in units of `std` —
    about 0.97 for the data itself (a Gaussian cut at 3 std), near 0 when G piles each mode onto a point,
    a collapse within modes that the counts above reward rather than see}."""
    points, centers = points.float(), centers.float().to(points.device)
    # exact differences, not cdist's |a|^2 + |b|^2 - 2ab: that cancels to ~1e-3 absolute error at the grid's
    # radius, as large as the offsets of a generator that piles each mode onto a point
    dist = torch.cdist(points, centers, compute_mode="donot_use_mm_for_euclid_dist")
    nearest, index = dist.min(1)
    good = nearest <= k * std
    counts = torch.bincount(index[good], minlength=len(centers)).double()
    m = len(centers)
    share = torch.bincount(index, minlength=m).float() / max(len(points), 1)
    spread = nearest[good].pow(2).mean().div(2).sqrt().item() / std if good.any() else float("nan")
    return {"modes": int((counts > 0).sum()), "high_quality": good.float().mean().item(),
            "kl": kl_to_uniform(counts.cpu().numpy()), "num_modes": m,
            "coverage": (share >= 1.0 / (4 * m)).float().mean().item(), "spread": spread}
