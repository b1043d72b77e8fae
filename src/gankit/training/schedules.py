"""Schedules over a run: learning-rate decay (train.lr_decay: the factor of the configured rates at a step
of a run of `total` steps, or None for constant rates; train.lr_decay_start delays it) and the top-k
update's share (train.topk)."""
from __future__ import annotations

from typing import Callable

from gankit.core.registry import Registry

Schedule = Callable[[int, int], float]

LR_DECAYS: Registry[Schedule | None] = Registry("lr_decay")
LR_DECAYS.add("none", None)
LR_DECAYS.add("linear", lambda step, total: 1.0 - step / total)  # 1 at the first step, 1/total at the last


def lr_schedule(name: str, start: float = 0.0) -> Schedule | None:
    """The named decay over the last (1 - start) of the run, constant rates before it: a late decay lets the
    game settle once G has found the modes, where one from the first step slows G while it still looks."""
    decay = LR_DECAYS.get(name)
    if decay is None or start == 0:
        return decay

    def schedule(step: int, total: int) -> float:
        first = int(start * total)
        return 1.0 if step < first else decay(step - first, total - first)
    return schedule


def top_k_share(final: float, steps: int, step: int) -> float:
    """The share of G's batch the top-k update keeps at `step` (train.topk, train.topk_steps): all of it at
    the start, falling linearly to `final` at `steps` (at once when 0), as the paper anneals k from the whole
    batch so that early on every sample helps find the modes."""
    if final >= 1 or step >= steps:
        return final
    return 1.0 - (1.0 - final) * step / steps
