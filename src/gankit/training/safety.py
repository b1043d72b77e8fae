"""Runs that survive: clean stops on SIGINT/SIGTERM, and rollback when training produces NaN/Inf.

- `graceful_signals()`: while training, SIGINT and SIGTERM only set a flag; the loop finishes the current
  step, the callbacks write the checkpoint, and the run ends resumable. A second SIGINT aborts at once.
- `StepGuard`: checks every step's scalars (losses, D outputs, gradient norms) for NaN/Inf. On CPU the check
  is immediate; on a GPU the flag is copied back asynchronously and read one step later, so training never
  waits on the device. Then `rollback` reloads the last good checkpoint (never written from a non-finite
  state: see `steps.state_is_finite`), multiplies both learning rates by `health.rollback_lr_factor` (0.5), and
  training continues; after `health.max_rollbacks` rollbacks the run stops with a `divergence` event. A
  gradient explosion the health monitor finds (a norm over `health.explode_factor` x its median) is rolled
  back the same way, from the step whose metrics row showed it.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading

import torch

from gankit.core.distributed import Dist, all_max
from gankit.training.hooks import Event
from gankit.training.session import restore_position

log = logging.getLogger("gankit")


class StopFlag:
    def __init__(self):
        self.signum: int | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


@contextlib.contextmanager
def graceful_signals():
    """Yields a StopFlag set by SIGINT/SIGTERM (main thread only; elsewhere signals keep their handlers)."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now, without the checkpoint
        flag.signum = signum
        log.warning("%s received: finishing this step and writing a checkpoint (press Ctrl-C again to abort)",
                    flag.name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class StepGuard:
    """Says whether a step produced a non-finite scalar and which stop signal has arrived, without a device
    sync per step on GPUs. With several processes the answer is agreed (a max over all of them), so every
    process rolls back or stops at the same step: one that went its own way would hang the others."""

    def __init__(self, device: torch.device, dist: Dist | None = None):
        self.lagged = device.type == "cuda"
        self.dist = dist or Dist()
        self.pending: tuple[torch.Tensor, object] | None = None

    def check(self, stats: dict, signum: int | None) -> tuple[bool, int]:
        """(non-finite, signal number or 0) for this step, or on GPUs for the step before."""
        bad = ~torch.stack([v.detach().float() for v in stats.values()]).isfinite().all()
        if self.dist.world == 1 and not self.lagged:
            return bool(bad), signum or 0
        flags = torch.stack([bad.float(), torch.full_like(bad, signum or 0, dtype=torch.float32)])
        all_max(flags, self.dist)
        if not self.lagged:
            return bool(flags[0]), int(flags[1])
        host = torch.empty(2, pin_memory=True)
        host.copy_(flags, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        previous, self.pending = self.pending, (host, event)
        if previous is None:
            return False, 0
        previous[1].synchronize()  # the previous step's flags; this step's work stays queued
        return bool(previous[0][0]), int(previous[0][1])

    def reset(self) -> None:
        """After a rollback (a signal is not lost: its flag stays set and the next check reports it)."""
        self.pending = None


def rollback(run, callbacks: list, rollbacks: int, explosion: Event | None = None) -> Event:
    """Restore the last good checkpoint into `run`, keeping the rates in force (lowered by earlier rollbacks
    and --balance), and lower both by health.rollback_lr_factor; returns the event. `explosion`: the health
    monitor's finding that asked for it (else a NaN/Inf at this step)."""
    h = run.cfg.health
    bad_step = run.step
    why = f"gradient explosion at step {explosion.step}" if explosion else f"NaN/Inf at step {bad_step}"
    evidence = dict(explosion.evidence) if explosion else {"non_finite_at_step": bad_step}
    restore_position(run, run.latest_checkpoint(), controllers=False)
    lowered = run.rates.factors.get("rollback", {}).get("G", 1.0) * h.rollback_lr_factor
    run.rates.set_factor("rollback", {"G": lowered, "D": lowered}, why=why)
    run.rates.apply(run.step, run.total_steps)
    lrs = {"lr_g": run.rates.current("G"), "lr_d": run.rates.current("D")}
    run.session.diverged = False
    for hook in [*run.controllers.values(), *callbacks]:
        hook.on_rollback(run)
    evidence["rollback"] = f"{rollbacks} of {h.max_rollbacks}"
    event = Event(bad_step, "divergence_rollback", evidence=evidence,
                  action=f"restored step {run.step}; learning rates x{h.rollback_lr_factor}: "
                         + ", ".join(f"{k} {v:.3g}" for k, v in lrs.items()))
    log.warning("%s: %s", why, event.action)
    return event
