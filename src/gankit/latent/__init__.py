"""L3 latent tools: loading a generator, sampling (and, later, interpolation, arithmetic, inversion)."""
from gankit.latent.generator import load_generator
from gankit.latent.sample import sample, sampler, write

__all__ = ["load_generator", "sample", "sampler", "write"]
