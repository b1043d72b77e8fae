"""The health monitor's rules: pure functions from the metrics rows logged so far to named events.

Rules (each looks at the rows of the last `window` steps, once the warm-up — `warmup` steps or
`warmup_fraction` of the run, whichever is longer — has passed; a young generator is a blob by design.
A time-limited run has no known length, so its warm-up is `warmup` steps):

- `divergence`: any logged value is NaN/Inf (at any step, no warm-up), or a gradient norm exceeds
  `explode_factor` × its median over the run so far.
- `discriminator_overpowering`: D's accuracy averages ≥ `acc_high` (0.9) on real AND on fake batches over
  the window — D separates the two almost perfectly and G gets little useful signal (with the minimax loss
  its gradient vanishes outright). In benchmarks/results/small_data the augmented runs ended at D
  accuracies (`d_accuracy`) of 0.66–0.83; a DCGAN memorising 500 face crops (issue 27) sat at 0.92–0.97,
  which the earlier bound of 0.95 on both sides missed. Not applied to the Wasserstein loss, whose critic
  has no sign meaning.
- `generator_winning`: D's accuracy on fakes averages ≤ `acc_low` over the window: D calls nearly every
  generated sample real. Not applied to the Wasserstein loss.
- `mode_collapse`: the diversity of generated samples from fixed latents (mean pairwise distance in a
  pooled-pixel feature space) falls below `diversity_low` × the real data's in the last two checks (for
  conditional runs also the diversity within each class, against the real images of that class), or
  fewer than `coverage_low` of the modes (2-D mixtures) or of the classes (MNIST and Fashion-MNIST, by
  gankit's bundled classifier) get their share (at least a quarter of uniform) in the last two checks.

An event fires when its rule becomes true and again only after it has been false in between.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from gankit.core.errors import GankitError
from gankit.training.hooks import Event


@dataclass
class HealthConfig:
    on_event: str = "warn"  # warn: report and go on | stop: checkpoint and end the run
    warmup: int = 500  # steps before the accuracy and diversity rules apply ...
    warmup_fraction: float = 0.1  # ... or this share of the run's steps, whichever is longer
    window: int = 500  # steps of history each rule averages over
    acc_high: float = 0.9  # the same bound --balance steers D's accuracy below
    acc_low: float = 0.05
    diversity_low: float = 0.35
    coverage_low: float = 0.5
    explode_factor: float = 1000.0
    balance: bool = False  # adapt D's learning rate while D's accuracy stays above balance_bound
    balance_bound: float = 0.9
    max_rollbacks: int = 3  # NaN/Inf or an explosion: roll back to the last checkpoint this often, then stop
    rollback_lr_factor: float = 0.5  # each rollback multiplies both learning rates by this

    def validate(self) -> None:
        if self.max_rollbacks < 0 or not 0 < self.rollback_lr_factor < 1:
            raise GankitError("health.max_rollbacks must be >= 0 and health.rollback_lr_factor in (0, 1), got "
                              f"{self.max_rollbacks} and {self.rollback_lr_factor}")
        if self.on_event not in ("warn", "stop"):
            raise GankitError(f"health.on_event must be warn or stop, got {self.on_event!r}")


REMEDIES = {
    "discriminator_overpowering": (
        "D separates real from fake almost perfectly. Lower D's learning rate (--set train.lr_d=…), add "
        "instance noise (--set train.instance_noise=0.1) or one-sided label smoothing (--set "
        "loss.label_smoothing=0.1), use the nonsaturating or hinge loss, or let gankit adapt it (--balance)."),
    "generator_winning": (
        "D calls nearly every fake real. Raise D's learning rate or critic steps (--set train.n_critic=2), "
        "make D larger, or lower the gradient-penalty weight."),
    "mode_collapse": (
        "G produces far less variety than the data. Let D judge samples in pairs (PacGAN: --set model.pack=2), "
        "try the wasserstein loss with gradient_penalty and n_critic=5, or the hinge loss with resnet_sn; lower "
        "G's learning rate; or resume from an earlier checkpoint (checkpoints/)."),
    "divergence": (
        "Values became non-finite or gradients exploded. gankit rolls back to the last good checkpoint with both "
        "learning rates times health.rollback_lr_factor (0.5 by default), at most health.max_rollbacks times; if "
        "it recurs, lower both rates further, use Adam beta1 0.0-0.5, or add a gradient penalty or spectral norm."),
}


@dataclass
class Monitor:
    """Holds the rows seen so far and which events are active; `update(row)` returns new events."""

    cfg: HealthConfig
    sign_meaningful: bool = True  # False for the Wasserstein loss
    total_steps: int = 0  # the run's length, for warmup_fraction
    rows: list = field(default_factory=list)
    active: set = field(default_factory=set)

    def replay(self, rows: list[dict]) -> None:
        """Rebuild history and active events from rows already logged (on resume), emitting nothing."""
        for row in rows:
            self.update(row)

    def update(self, row: dict) -> list[Event]:
        self.rows.append(row)
        findings = {name: evidence for name, evidence in self._check(row).items() if evidence is not None}
        events = [Event(row["step"], name, evidence=ev, remedy=REMEDIES[name])
                  for name, ev in findings.items() if name not in self.active]
        self.active = set(findings)
        return events

    def _check(self, row: dict) -> dict:
        found = {"divergence": divergence(self.rows, self.cfg.explode_factor)}
        warmup = max(self.cfg.warmup, int(self.cfg.warmup_fraction * self.total_steps))
        recent = [r for r in self.rows if r["step"] > row["step"] - self.cfg.window]
        if row["step"] >= warmup + self.cfg.window and len(recent) >= 2:
            if self.sign_meaningful:
                found["discriminator_overpowering"] = overpowering(recent, self.cfg.acc_high)
                found["generator_winning"] = generator_winning(recent, self.cfg.acc_low)
        if row["step"] >= warmup:
            found["mode_collapse"] = collapse(self.rows, self.cfg.diversity_low, self.cfg.coverage_low)
        return found


def _mean(rows: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in rows)


def divergence(rows: list[dict], factor: float) -> dict | None:
    last = rows[-1]
    bad = sorted(k for k, v in last.items() if isinstance(v, float) and not math.isfinite(v))
    if bad:
        return {"non_finite": bad}
    for key in ("d_grad_norm", "g_grad_norm"):
        history = [r[key] for r in rows[:-1] if key in r]
        if key in last and len(history) >= 5 and last[key] > factor * max(statistics.median(history), 1e-12):
            return {key: last[key], "median_before": statistics.median(history)}
    return None


def overpowering(recent: list[dict], high: float) -> dict | None:
    real, fake = _mean(recent, "acc_real"), _mean(recent, "acc_fake")
    if real >= high and fake >= high:
        evidence = {"acc_real": round(real, 4), "acc_fake": round(fake, 4)}
        if all("g_grad_norm" in r for r in recent):
            evidence["g_grad_norm"] = round(_mean(recent, "g_grad_norm"), 6)
        evidence["p_fake"] = round(_mean(recent, "p_fake"), 4)
        return evidence
    return None


def generator_winning(recent: list[dict], low: float) -> dict | None:
    fake = _mean(recent, "acc_fake")
    return {"acc_fake": round(fake, 4), "acc_real": round(_mean(recent, "acc_real"), 4)} if fake <= low else None


def collapse(rows: list[dict], diversity_low: float, coverage_low: float) -> dict | None:
    checks = [r for r in rows if "diversity" in r][-2:]
    if len(checks) < 2:
        return None
    if all(r["diversity"] < diversity_low for r in checks):
        return {"diversity_vs_real": round(checks[-1]["diversity"], 4)}
    if all(r.get("class_diversity", 1.0) < diversity_low for r in checks):
        return {"class_diversity_vs_real": round(checks[-1]["class_diversity"], 4)}
    for key in ("mode_coverage", "class_coverage"):
        if all(key in r and r[key] < coverage_low for r in checks):
            evidence = {key: round(checks[-1][key], 4)}
            if key == "mode_coverage":
                evidence["modes"] = checks[-1].get("modes")
            return evidence
    return None
