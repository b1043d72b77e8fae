"""gankit: train GANs on your own data with one command, watch the game, measure and steer the result."""
from gankit.checkpoint import load_checkpoint
from gankit.latent import load_generator
from gankit.core.errors import GankitError

__version__ = "0.1.0"
__all__ = ["GankitError", "__version__", "load_checkpoint", "load_generator"]
