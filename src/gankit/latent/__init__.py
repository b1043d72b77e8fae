"""L3 latent tools: loading a generator, sampling (and, later, interpolation, arithmetic, inversion)."""
from gankit.latent.generator import load_generator
from gankit.latent.jacobian import jacobian_norms, truncated_latents
from gankit.latent.sample import sample, sampler, write

__all__ = ["jacobian_norms", "load_generator", "sample", "sampler", "truncated_latents", "write"]
