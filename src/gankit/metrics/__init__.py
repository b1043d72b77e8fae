"""L2 metrics: pure functions over samples or features, the feature extractors, and evaluation."""
from gankit.metrics.evaluate import (METRICS, Features, compute, dataset_key, evaluate, fake_features, parse_metrics,
                                     real_features, record)
from gankit.metrics.extractors import EXTRACTORS, build_extractor, default_extractor, extract
from gankit.metrics.modes import mode_stats

__all__ = ["EXTRACTORS", "METRICS", "Features", "build_extractor", "compute", "dataset_key", "default_extractor",
           "evaluate", "extract", "fake_features", "mode_stats", "parse_metrics", "real_features", "record"]
