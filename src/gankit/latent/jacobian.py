"""Jacobian-based truncation (JBT; Tanielian et al. 2020, "Learning disconnected manifolds: a no GAN's land").

A generator is a continuous map from one connected latent space, so when the data falls in separate pieces
(the modes of a toy mixture, well-separated classes) G must spend some latent mass on paths from one piece to
the next, and it draws those samples in between, where there is no data. Those latents are where G stretches
the most: on the toy grid a step of about 0.01 in z moves the sample from one mode to the next, and the
median Jacobian norm of a sample lost between modes is 150 against 0.16 inside a mode. Sampling only
latents whose Jacobian norm is below a quantile drops most such samples; unlike the truncation trick (psi)
it leaves the latents inside the modes alone, so the modes keep their weights (widths shrink a little: the
edges of a mode stretch more than its centre).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import jvp

from gankit.core.errors import GankitError
from gankit.latent.generator import TrainedGenerator, as_module


def _directions(z_dim: int, n: int, probes: int, rng: torch.Generator) -> tuple[list[torch.Tensor], bool]:
    """The latent axes when there are at most `probes` of them (an exact norm), else random N(0, I) probes."""
    if z_dim <= probes:
        return [torch.eye(z_dim)[i].expand(n, z_dim) for i in range(z_dim)], True
    return [torch.randn(n, z_dim, generator=rng) for _ in range(probes)], False


def jacobian_norms(generator: TrainedGenerator | nn.Module, z: torch.Tensor, y: torch.Tensor | None = None,
                   probes: int = 8, seed: int = 0) -> torch.Tensor:
    """‖∂G(z)/∂z‖_F for each row of z [N, z_dim] -> [N], by forward-mode differentiation: exact (one pass
    per latent axis) when z has at most `probes` axes, else the unbiased estimate of the squared norm
    E_v ‖J v‖² over `probes` random directions v ~ N(0, I) (a ranking is all truncation needs).
    G must be in eval mode: batch norm in training mode would tie the samples together."""
    generator = as_module(generator)
    if generator.training:
        raise GankitError("jacobian_norms needs the generator in eval mode (generator.eval())")
    directions, exact = _directions(z.shape[1], z.shape[0], probes, torch.Generator().manual_seed(seed))
    total = torch.zeros(z.shape[0], device=z.device)
    with torch.no_grad():
        for v in directions:
            _, tangent = jvp(lambda q: generator(q, y), (z,), (v.to(z.device),))
            total += tangent.flatten(1).float().pow(2).sum(1)
    return (total if exact else total / len(directions)).sqrt()


def _norms(generator: nn.Module, z: torch.Tensor, y: torch.Tensor | None, probes: int, seed: int,
           batch_size: int) -> torch.Tensor:
    device = next(generator.parameters()).device
    return torch.cat([jacobian_norms(generator, z[i:i + batch_size].to(device),
                                     None if y is None else y[i:i + batch_size].to(device), probes, seed + i).cpu()
                      for i in range(0, z.shape[0], batch_size)])


def _thresholds(generator: nn.Module, keep: float, psi: float, probes: int, calibration: int, batch_size: int,
                rng: torch.Generator, seed: int) -> torch.Tensor:
    """The `keep` quantile of the Jacobian norm over `calibration` draws: [1], or [K] (one per class, the
    classes drawn in turn) for a conditional G, whose classes may stretch by different amounts."""
    classes = generator.num_classes
    cal_y = torch.arange(calibration) % classes if classes else None
    cal = _norms(generator, psi * torch.randn(calibration, generator.z_dim, generator=rng), cal_y, probes, seed,
                 batch_size)
    if not classes:
        return cal.quantile(keep).reshape(1)
    return torch.stack([cal[cal_y == c].quantile(keep) for c in range(classes)])


def truncated_latents(generator: TrainedGenerator | nn.Module, n: int, seed: int = 0, keep: float = 0.95,
                      labels: torch.Tensor | None = None, psi: float = 1.0, probes: int = 8,
                      calibration: int = 4096, batch_size: int = 512, max_rounds: int = 100) -> torch.Tensor:
    """n latents [n, z_dim] (CPU) from psi·N(0, I), keeping only draws where G's Jacobian norm is at most its
    `keep` quantile. The quantile is estimated on `calibration` draws (per class for a conditional G, whose
    row i is drawn for class labels[i], by default the classes in turn); each row is then redrawn until it
    passes, so every row is an independent draw from the truncated distribution. Reproducible for a seed and
    n on one device type."""
    if not 0.0 < keep <= 1.0:
        raise GankitError(f"the Jacobian truncation's keep share must be in (0, 1], got {keep}")
    generator = as_module(generator)
    rng, d, classes = torch.Generator().manual_seed(seed), generator.z_dim, generator.num_classes
    if keep == 1.0:
        return psi * torch.randn(n, d, generator=rng)
    threshold = _thresholds(generator, keep, psi, probes, calibration, batch_size, rng, seed)
    labels = (labels.cpu() if labels is not None else torch.arange(n) % classes) if classes else None
    slot_class = labels if classes else torch.zeros(n, dtype=torch.long)
    out, todo = torch.empty(n, d), torch.arange(n)
    for round_ in range(max_rounds):
        if not len(todo):
            break
        z = psi * torch.randn(len(todo), d, generator=rng)
        y = None if labels is None else labels[todo]
        ok = _norms(generator, z, y, probes, seed + 7919 * (round_ + 1), batch_size) <= threshold[slot_class[todo]]
        out[todo[ok]] = z[ok]
        todo = todo[~ok]
    if len(todo):
        raise GankitError(f"{len(todo)} of {n} latents found no draw within the Jacobian threshold in {max_rounds} "
                          f"tries; raise keep (now {keep})")
    return out
