"""Schedules over a run: learning-rate decay (train.lr_decay: the factor of the configured rates at a step
of a run of `total` steps, or None for constant rates) and the top-k update's share (train.topk)."""
from __future__ import annotations

from typing import Callable

from gankit.core.registry import Registry

Schedule = Callable[[int, int], float]

LR_DECAYS: Registry[Schedule | None] = Registry("lr_decay")
LR_DECAYS.add("none", None)
LR_DECAYS.add("linear", lambda step, total: 1.0 - step / total)  # 1 at the first step, 1/total at the last


def top_k_share(final: float, steps: int, step: int) -> float:
    """The share of G's batch the top-k update keeps at `step` (train.topk, train.topk_steps): all of it at
    the start, falling linearly to `final` at `steps` (at once when 0), as the paper anneals k from the whole
    batch so that early on every sample helps find the modes."""
    if final >= 1 or step >= steps:
        return final
    return 1.0 - (1.0 - final) * step / steps
