"""L2 metrics: pure functions over samples or features."""
from gankit.metrics.modes import mode_stats

__all__ = ["mode_stats"]
