"""L2 losses: one file per family, one registry line each; penalties in their own registry."""
from __future__ import annotations

from gankit.core.registry import Registry
from gankit.losses.base import Loss, LossConfig
from gankit.losses.bce import Minimax, NonSaturating
from gankit.losses.hinge import Hinge
from gankit.losses.least_squares import LeastSquares
from gankit.losses.penalties import gradient_penalty, r1
from gankit.losses.wasserstein import Wasserstein

LOSSES: Registry[Loss] = Registry("loss")
LOSSES.add("minimax", Minimax(), aliases=("saturating", "original"))
LOSSES.add("nonsaturating", NonSaturating(), aliases=("ns", "non_saturating", "bce"))
LOSSES.add("least_squares", LeastSquares(), aliases=("lsgan", "ls"))
LOSSES.add("wasserstein", Wasserstein(), aliases=("wgan",))
LOSSES.add("hinge", Hinge())

PENALTIES: Registry = Registry("penalty")
PENALTIES.add("none", None)
PENALTIES.add("gradient_penalty", gradient_penalty, aliases=("gp", "wgan_gp"))
PENALTIES.add("r1", r1)

__all__ = ["LOSSES", "PENALTIES", "Loss", "LossConfig"]
