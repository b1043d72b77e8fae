"""Controllers: values of the game that change while it runs, each set in one place.

A controller holds named factors and a plain-dict state that the checkpoint saves (`controllers` in the
payload, keyed by name), so a resumed run goes on with the values in force, and a rolled-back one keeps
them. Callbacks that decide from the metrics rows (`--balance`, the NaN rollback, ADA's probability) set
a factor through their controller, which logs the change; nothing else writes the value.

`Rates` is the learning-rate controller: each optimizer's rate is
    base (train.lr_g / lr_d) × schedule (train.lr_decay at this step) × the product of its factors
(`balance` on D, `rollback` on both), recomputed at every step. The metrics rows carry the rates in force.
"""
from __future__ import annotations

import logging
import math

import torch

from gankit.core.errors import GankitError

log = logging.getLogger("gankit")


class Controller:
    """Base of controllers: `factors` maps a factor's name to {target: value}; `state_dict` is plain data."""

    name = ""

    def __init__(self):
        self.factors: dict[str, dict[str, float]] = {}

    def factor(self, target: str) -> float:
        return math.prod(values.get(target, 1.0) for values in self.factors.values())

    def set_factor(self, name: str, values: dict[str, float], why: str = "") -> None:
        """Set factor `name` for the targets in `values` (logged when it changes)."""
        old = self.factors.get(name, {})
        if all(old.get(k, 1.0) == v for k, v in values.items()):
            return
        self.factors[name] = {**old, **values}
        log.debug("%s: %s %s -> %s%s", self.name, name, old, self.factors[name], f" ({why})" if why else "")

    def state_dict(self) -> dict:
        return {"factors": {k: dict(v) for k, v in self.factors.items()}}

    def load_state_dict(self, state: dict) -> None:
        factors = state.get("factors") if isinstance(state, dict) else None
        if not isinstance(factors, dict) or not all(
                isinstance(v, dict) and all(isinstance(x, (int, float)) and math.isfinite(x) and x > 0
                                            for x in v.values()) for v in factors.values()):
            raise GankitError(f"the checkpoint's {self.name} controller state is damaged")
        self.factors = {str(k): {str(t): float(x) for t, x in v.items()} for k, v in factors.items()}


class Rates(Controller):
    """The learning rates of G's and D's optimizers (see the module docstring)."""

    name = "rates"

    def __init__(self, optimizers: dict[str, torch.optim.Optimizer], base: dict[str, float], schedule=None):
        super().__init__()
        self.optimizers, self.base, self.schedule = optimizers, base, schedule
        self.scale = 1.0  # the schedule's value at the last apply

    def apply(self, step: int, total: int) -> None:
        """Set every optimizer's rate for `step`."""
        self.scale = 1.0 if self.schedule is None else self.schedule(step, total)
        for target, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = self.current(target)

    def current(self, target: str) -> float:
        return self.base[target] * self.scale * self.factor(target)

    def infer_from_optimizers(self, step: int, total: int) -> None:
        """A checkpoint written before controllers were saved kept the rates only inside the optimizers:
        read the factors back from them (balance = D's beyond G's, rollback = G's beyond the schedule)."""
        self.scale = 1.0 if self.schedule is None else self.schedule(max(step - 1, 0), total)
        got = {t: opt.param_groups[0]["lr"] / (self.base[t] * self.scale) for t, opt in self.optimizers.items()}
        self.factors = {"rollback": {"G": got["G"], "D": got["G"]}, "balance": {"D": got["D"] / got["G"]}}
