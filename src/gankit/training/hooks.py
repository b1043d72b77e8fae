"""What callbacks are: the hooks the one loop calls, the events they raise, and how a callback ends a run.

Everything between steps is a callback: probes add to the step's stats, the metrics log turns them into a
row, the monitors read the row, then sample grids, surfaces and checkpoints. A callback overrides the hooks
it needs; the others do nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    """Something a run should remember: a health finding (with the `remedy` a user can apply), an action
    gankit took (`action`: a rate lowered, a rollback), or a stop (`signal`). `row()` is its line in
    metrics.jsonl, where readers tell events from metrics rows by the "event" key."""

    step: int
    name: str
    evidence: dict = field(default_factory=dict)
    remedy: str = ""
    action: str = ""
    signal: str = ""

    def row(self) -> dict:
        extra = {k: getattr(self, k) for k in ("evidence", "remedy", "action", "signal") if getattr(self, k)}
        return {"step": self.step, "event": self.name, **extra}


class Callback:
    """Base of every callback. `run` is the training.loop.Run in progress; `stats` the step's dict of
    device tensors (a probe may add to it)."""

    def on_start(self, run) -> None:
        """Before the first step of this session (a resumed run starts at its checkpoint's step)."""

    def on_step(self, run, stats: dict) -> None:
        """After every step whose state is finite, in the order of the callback list."""

    def on_rollback(self, run) -> None:
        """After a NaN/Inf step was rolled back to the last checkpoint (run.step is that checkpoint's)."""

    def on_end(self, run) -> None:
        """Once the loop stops: at the end, on a stop event or a signal."""


class StopTraining(Exception):
    """Raised by a callback to end the run cleanly (the loop still runs every on_end)."""

    def __init__(self, event: Event):
        super().__init__(event.name)
        self.event = event
