"""L3 latent tools: loading a generator (from a checkpoint, a generator file or a demo), sampling and
Jacobian-based truncation; `space` (codes, walks, arithmetic, directions), `groups`, `invert` and the
plain-data `render.Renderer`."""
from gankit.latent.generator import load_generator
from gankit.latent.jacobian import jacobian_norms, truncated_latents
from gankit.latent.sample import sample, sampler, write

__all__ = ["jacobian_norms", "load_generator", "sample", "sampler", "truncated_latents", "write"]
