"""L2 losses: one file per family, one registry line each; penalties in their own registry."""
from __future__ import annotations

from gankit.core.errors import GankitError
from gankit.core.registry import Registry
from gankit.losses.base import Loss, LossConfig
from gankit.losses.bce import Minimax, NonSaturating
from gankit.losses.diversity import mode_seeking
from gankit.losses.hinge import Hinge
from gankit.losses.least_squares import LeastSquares
from gankit.losses.matching import feature_matching, pair_feature_matching
from gankit.losses.penalties import gradient_penalty, r1
from gankit.losses.reconstruction import centroid, gdl, l1, l2, perceptual
from gankit.losses.relativistic import RelativisticAverage
from gankit.losses.wasserstein import Wasserstein

LOSSES: Registry[Loss] = Registry("loss")
LOSSES.add("minimax", Minimax(), aliases=("saturating", "original"))
LOSSES.add("nonsaturating", NonSaturating(), aliases=("ns", "non_saturating", "bce"))
LOSSES.add("least_squares", LeastSquares(), aliases=("lsgan", "ls"))
LOSSES.add("wasserstein", Wasserstein(), aliases=("wgan",))
LOSSES.add("hinge", Hinge())
LOSSES.add("relativistic", RelativisticAverage(), aliases=("ragan", "relativistic_average"))

PENALTIES: Registry = Registry("penalty")
PENALTIES.add("none", None)
PENALTIES.add("gradient_penalty", gradient_penalty, aliases=("gp", "wgan_gp"))
PENALTIES.add("r1", r1)



def validate_loss(cfg: LossConfig) -> None:
    """Names and ranges of the loss section; rewrites the names to their canonical forms."""
    cfg.name = LOSSES.canonical(cfg.name)
    cfg.penalty = PENALTIES.canonical(cfg.penalty)
    if not 0 <= cfg.label_smoothing < 0.5:
        raise GankitError(f"loss.label_smoothing must be in [0, 0.5), got {cfg.label_smoothing}")
    if cfg.label_smoothing and not LOSSES.get(cfg.name).smoothing_ok:
        raise GankitError(f"label smoothing applies to the minimax and nonsaturating losses, not {cfg.name}")
    if cfg.aux_weight < 0:
        raise GankitError(f"loss.aux_weight must be >= 0, got {cfg.aux_weight}")
    for name in ("penalty_weight", "l1", "l2", "gdl", "centroid", "perceptual", "adversarial", "feature_matching",
                 "mode_seeking"):
        if getattr(cfg, name) < 0:
            raise GankitError(f"loss.{name} must be >= 0, got {getattr(cfg, name)}")


def g_terms(cfg: LossConfig, paired: bool, D, features=None) -> tuple:
    """G's terms beside D's verdict, (name, weight, fn(fake, real, source)): for pairs (image to image, frames)
    L1, L2, the gradient difference, the ink centroids' distance and the perceptual loss in `features` (a
    frozen network, the caller's) to the target, each with a weight > 0; feature matching on D's features when
    loss.feature_matching > 0 (of batch means, or for pairs of each pair's own target, pix2pixHD's); mode
    seeking between pairs of G's samples when loss.mode_seeking > 0."""
    if cfg.feature_matching > 0 and not hasattr(D, "pair_features" if paired else "features"):
        raise GankitError("loss.feature_matching matches D's hidden features; this model's D shows none to match")
    if cfg.mode_seeking > 0 and paired:
        raise GankitError("loss.mode_seeking is for noise-to-image models: an image-to-image or frame G has a "
                          "source to follow, not a latent to spread")
    if not paired and (cfg.l2 > 0 or cfg.gdl > 0 or cfg.centroid > 0):
        raise GankitError("loss.l2, loss.gdl and loss.centroid compare G's output with its target: they are for "
                          "pairs (image to image, frame prediction)")
    if not paired and cfg.perceptual > 0:
        raise GankitError("loss.perceptual compares G's output with its target in a judge network's features: "
                          "it is for pairs (image to image, frame prediction)")
    pixel = (("l1", cfg.l1, l1), ("l2", cfg.l2, l2), ("gdl", cfg.gdl, gdl), ("centroid", cfg.centroid, centroid))
    terms = tuple(term for term in pixel if term[1] > 0) if paired else ()
    if cfg.perceptual > 0:
        terms += (("perceptual", cfg.perceptual, perceptual(features)),)
    if cfg.feature_matching > 0:
        matching = pair_feature_matching if paired else feature_matching
        terms += (("feature_matching", cfg.feature_matching, matching(D)),)
    if cfg.mode_seeking > 0:
        terms += (("mode_seeking", cfg.mode_seeking, mode_seeking),)
    if cfg.adversarial != 1 and not terms:
        raise GankitError("loss.adversarial weighs D's verdict against G's other terms (L1, L2, GDL, centroid or "
                          "perceptual of pairs, loss.feature_matching, loss.mode_seeking); this run has none, so keep "
                          "it at 1")
    return terms


__all__ = ["LOSSES", "PENALTIES", "Loss", "LossConfig", "feature_matching", "g_terms", "mode_seeking", "validate_loss"]
