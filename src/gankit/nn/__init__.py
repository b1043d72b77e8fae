"""L1 shared layers, and the image-shape helpers every convolutional family uses."""
from gankit.nn.layers import (D_CONDITIONING, D_NORMS, G_NORMS, ConditionalBatchNorm2d, DiscriminatorHead, LabelConcat,
                              Pack, UpsampleConv, check_choice, embed_labels, feature_norm, image_shape, ink_centroids,
                              is_source, maybe_sn, pack_labels, scores, source_at, stages)
from gankit.nn.motion import motion_shares, object_paths

__all__ = ["D_CONDITIONING", "D_NORMS", "G_NORMS", "ConditionalBatchNorm2d", "DiscriminatorHead", "LabelConcat",
           "Pack", "UpsampleConv", "check_choice", "embed_labels", "feature_norm", "image_shape", "ink_centroids",
           "is_source", "maybe_sn", "motion_shares", "object_paths", "pack_labels", "scores", "source_at", "stages"]
