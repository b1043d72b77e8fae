"""Controllers: values of the game that change while it runs, each set in one place.

A controller holds a plain-dict state that the checkpoint saves (`controllers` in the payload, keyed by
name), so a resumed run goes on with the values in force, and a rolled-back one keeps them; `row()` puts
its values into every metrics row. The loop calls `on_step` after every good step, before any callback (so
a checkpoint holds the state the next step starts from). Callbacks that decide from the metrics rows
(`--balance`, the NaN rollback) set a factor through the rate controller; nothing else writes the rates.

`Rates` is the learning-rate controller: each optimizer's rate is
    base (train.lr_g / lr_d) × schedule (train.lr_decay at this step) × the product of its factors
(`balance` on D, `rollback` on both), recomputed at every step. The metrics rows carry the rates in force.
"""
from __future__ import annotations

import logging
import math

import torch

from gankit.augment import Augment, AugmentConfig, is_adaptive
from gankit.core.distributed import all_mean
from gankit.core.errors import GankitError

log = logging.getLogger("gankit")


class Controller:
    """Base of controllers: `state_dict` is plain data; the hooks do nothing unless overridden."""

    name = ""

    def on_step(self, run, stats: dict) -> None:
        """After every good step, before the callbacks."""

    def on_rollback(self, run) -> None:
        """After a NaN/Inf rollback (the values in force are kept)."""

    def row(self) -> dict:
        """Values for the metrics rows."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore from a checkpoint's entry."""

    def missing_state(self, run) -> None:
        """The checkpoint was written before this controller existed."""


class Factors(Controller):
    """A controller of named factors: `factors` maps a factor's name to {target: value}."""

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


class Rates(Factors):
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

    def row(self) -> dict:
        return {"lr_g": self.current("G"), "lr_d": self.current("D")}

    def missing_state(self, run) -> None:
        self.infer_from_optimizers(run.step, run.total_steps)

    def infer_from_optimizers(self, step: int, total: int) -> None:
        """A checkpoint written before controllers were saved kept the rates only inside the optimizers:
        read the factors back from them (balance = D's beyond G's, rollback = G's beyond the schedule)."""
        self.scale = 1.0 if self.schedule is None else self.schedule(max(step - 1, 0), total)
        got = {t: opt.param_groups[0]["lr"] / (self.base[t] * self.scale) for t, opt in self.optimizers.items()}
        self.factors = {"rollback": {"G": got["G"], "D": got["G"]}, "balance": {"D": got["D"] / got["G"]}}


class AugmentStrength(Controller):
    """ADA's controller of the augmentation probability p (Karras et al. 2020): every `interval` steps,
    r = E[sign D(real)] over those steps (all processes together); p moves by interval × batch /
    (speed_kimg × 1000) up when r > target (D is too sure of the reals: it is memorising them) and down
    otherwise, within [0, 1]. Without `adaptive` it only reports p."""

    name = "augment"

    def __init__(self, augment: Augment, cfg: AugmentConfig, batch_size: int):
        self.augment, self.target, self.interval = augment, cfg.target, cfg.interval
        self.adaptive = is_adaptive(cfg)
        self.step_size = batch_size * cfg.interval / (cfg.speed_kimg * 1000)
        self.sum, self.count, self.r = torch.zeros(()), 0, None

    def on_step(self, run, stats: dict) -> None:
        if not self.adaptive:
            return
        self.sum = self.sum.to(stats["d_real_sign"].device) + stats["d_real_sign"].float()
        self.count += 1
        if run.step % self.interval:
            return
        self.r = float(all_mean(self.sum / self.count, run.dist))  # one sync every `interval` steps
        move = self.step_size if self.r > self.target else -self.step_size
        self.augment.p = min(max(self.augment.p + move, 0.0), 1.0)
        self.sum, self.count = torch.zeros((), device=self.sum.device), 0

    def on_rollback(self, run) -> None:
        self.sum, self.count = torch.zeros((), device=self.sum.device), 0

    def row(self) -> dict:
        return {"augment_p": self.augment.p} | ({} if self.r is None else {"augment_r": self.r})

    def state_dict(self) -> dict:
        return {"p": self.augment.p, "sum": float(self.sum), "count": self.count, "r": self.r}

    def load_state_dict(self, state: dict) -> None:
        ok = isinstance(state, dict) and isinstance(state.get("p"), float) and 0 <= state["p"] <= 1 and \
            isinstance(state.get("sum"), float) and math.isfinite(state["sum"]) and \
            isinstance(state.get("count"), int) and 0 <= state["count"] <= self.interval
        if not ok:
            raise GankitError("the checkpoint's augment controller state is damaged")
        self.augment.p, self.count = state["p"], state["count"]
        self.sum = torch.tensor(state["sum"], dtype=torch.float32)
        self.r = state.get("r") if isinstance(state.get("r"), float) else None
