"""L1 shared layers."""
from gankit.nn.layers import (D_NORMS, G_NORMS, ConditionalBatchNorm2d, LabelConcat, ProjectionHead,
                              check_choice, feature_norm, maybe_sn)

__all__ = ["D_NORMS", "G_NORMS", "ConditionalBatchNorm2d", "LabelConcat", "ProjectionHead", "check_choice",
           "feature_norm", "maybe_sn"]
