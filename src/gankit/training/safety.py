"""Runs that survive: clean stops on SIGINT/SIGTERM, and rollback when training produces NaN/Inf.

- `graceful_signals()`: while training, SIGINT and SIGTERM only set a flag; the loop finishes the current
  step, the callbacks write the checkpoint, and the run ends resumable. A second SIGINT aborts at once.
- `NanGuard`: checks every step's scalars (losses, D outputs, gradient norms) for NaN/Inf. On CPU the check
  is immediate; on a GPU the flag is copied back asynchronously and read one step later, so training never
  waits on the device. Then `rollback` reloads the last good checkpoint (never written from a non-finite
  state: see `steps.state_is_finite`), multiplies both learning rates by `health.rollback_lr_factor` (0.5), and
  training continues; after `health.max_rollbacks` rollbacks the run stops with a `divergence` event.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading

import torch

from gankit.checkpoint import load_checkpoint
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


class NanGuard:
    """Says whether a step produced a non-finite scalar, without a device sync per step on GPUs."""

    def __init__(self, device: torch.device):
        self.lagged = device.type == "cuda"
        self.pending: tuple[torch.Tensor, object] | None = None

    def bad(self, stats: dict) -> bool:
        flag = torch.stack([v.detach().float() for v in stats.values()]).isfinite().all()
        if not self.lagged:
            return not bool(flag)
        host = torch.empty((), dtype=torch.bool, pin_memory=True)
        host.copy_(flag, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        previous, self.pending = self.pending, (host, event)
        if previous is None:
            return False
        previous[1].synchronize()  # the previous step's flag; this step's work stays queued
        return not bool(previous[0])

    def reset(self) -> None:
        self.pending = None


def rollback(run, callbacks: list, rollbacks: int) -> dict:
    """Restore the last good checkpoint into `run` with lowered learning rates; returns the event."""
    h = run.cfg.health
    bad_step = run.step
    optimizers = {"lr_g": run.game.opt_G, "lr_d": run.game.opt_D}
    # the rates in force now (lowered by earlier rollbacks), not the checkpoint's
    before = {name: [g["lr"] for g in opt.param_groups] for name, opt in optimizers.items()}
    restore_position(run, load_checkpoint(run.dir))
    lrs = {}
    for name, opt in optimizers.items():
        for group, lr in zip(opt.param_groups, before[name]):
            group["lr"] = lr * h.rollback_lr_factor
        lrs[name] = opt.param_groups[0]["lr"]
    run.diverged = False
    for cb in callbacks:
        if hasattr(cb, "on_rollback"):
            cb.on_rollback(run)
    event = {"step": bad_step, "event": "divergence_rollback",
             "evidence": {"non_finite_at_step": bad_step, "rollback": f"{rollbacks} of {h.max_rollbacks}"},
             "action": f"restored step {run.step}; learning rates x{h.rollback_lr_factor}: "
                       + ", ".join(f"{k} {v:.3g}" for k, v in lrs.items())}
    log.warning("NaN/Inf at step %d: %s", bad_step, event["action"])
    return event
