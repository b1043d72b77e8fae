"""L4 web explorer: `gankit serve RUN_DIR` (see server.py)."""
from gankit.web.server import create_app

__all__ = ["create_app"]
