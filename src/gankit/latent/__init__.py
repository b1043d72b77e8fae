"""L3 latent tools: sampling (and, later, interpolation, arithmetic, inversion)."""
from gankit.latent.sample import sample, write

__all__ = ["sample", "write"]
