"""Learning-rate schedules (train.lr_decay): the factor of the configured rates at a step of a run of
`total` steps, or None for constant rates."""
from __future__ import annotations

from typing import Callable

from gankit.core.registry import Registry

Schedule = Callable[[int, int], float]

LR_DECAYS: Registry[Schedule | None] = Registry("lr_decay")
LR_DECAYS.add("none", None)
LR_DECAYS.add("linear", lambda step, total: 1.0 - step / total)  # 1 at the first step, 1/total at the last
