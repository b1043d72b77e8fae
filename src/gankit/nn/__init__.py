"""L1 shared layers."""
from gankit.nn.layers import (D_CONDITIONING, D_NORMS, G_NORMS, ConditionalBatchNorm2d, DiscriminatorHead, LabelConcat,
                              Pack, UpsampleConv, check_choice, embed_labels, feature_norm, maybe_sn,
                              scores)

__all__ = ["D_CONDITIONING", "D_NORMS", "G_NORMS", "ConditionalBatchNorm2d", "DiscriminatorHead", "LabelConcat",
           "Pack", "UpsampleConv", "check_choice", "embed_labels", "feature_norm", "maybe_sn", "scores"]
