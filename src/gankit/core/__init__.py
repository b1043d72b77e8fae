"""L0: registries, typed configs, seeding/device, image grids and PNG, atomic writes, run directories."""
from gankit.core.errors import GankitError
from gankit.core.registry import Registry

__all__ = ["GankitError", "Registry"]
