"""What happens between steps: metrics rows and progress lines, fixed-latent sample grids, checkpoints.

Each callback has `on_step(run, stats)` (after every step) and `on_end(run)`, and may have
`on_start(run)`; the loop knows nothing else about them, so new diagnostics are new callbacks, not
branches in the loop.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from gankit.checkpoint import save_checkpoint
from gankit.core.errors import GankitError
from gankit.core.distributed import all_mean, from_main
from gankit.core.images import clip_rows, save_grid, save_scatter, side_by_side
from gankit.nn import is_source
from gankit.training.hooks import Callback, Event, StopTraining
from gankit.training.steps import state_is_finite

log = logging.getLogger("gankit")

# image to image and frames: the output's distances to its target, as the console line names them
DISTANCES = (("l1", "L1"), ("l2", "L2"), ("gdl", "GDL"), ("centroid", "centroid"))


def due(step: int, every: int) -> bool:
    """Whether an every-N-steps action runs at `step` (N = 0: never)."""
    return every > 0 and step % every == 0


def fresh_row(run, last_step: int | None) -> dict | None:
    """The metrics row MetricsLog made at this very step, unless the caller has already seen it."""
    row = run.session.last_metrics
    if not row or row.get("step") != run.step or row["step"] == last_step:
        return None
    return row


@torch.no_grad()
def eval_forward(net: torch.nn.Module, *args) -> torch.Tensor:
    """net(*args) in eval mode (BN running statistics, nothing updated), restoring its mode after."""
    was_training = net.training
    net.eval()
    try:
        return net(*args)
    finally:
        net.train(was_training)


class MetricsLog(Callback):
    """Sums step scalars on the device; every `every` steps reads them once (a single sync), appends the
    interval means to metrics.jsonl and logs a progress line. With several processes the means are over
    all of them (one all-reduce), so every process holds the same row and the health rules agree."""

    def __init__(self, every: int, probabilistic: bool):
        self.every = every
        self.probabilistic = probabilistic  # show D(x) as a probability (BCE losses) or a raw score
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.t0 = time.perf_counter()
        self.step0 = None

    def on_step(self, run, stats: dict) -> None:
        if self.step0 is None:
            self.step0 = run.step - 1
        for key, value in stats.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value.clone()
            self.counts[key] = self.counts.get(key, 0) + 1
        if due(run.step, self.every) or run.step == run.total_steps:
            self.flush(run)

    def flush(self, run) -> None:
        if not self.sums:
            return
        keys = sorted(self.sums)
        values = all_mean(torch.stack([self.sums[k].float() for k in keys]), run.dist).tolist()  # the one sync
        now = time.perf_counter()
        steps = run.step - self.step0
        row = {"step": run.step, "epoch": run.sampler.epoch, "time": round(now - run.session.t_start, 3),
               "images_per_sec": round(steps * run.batch_size / max(now - self.t0, 1e-9), 1)}
        row.update({k: v / self.counts[k] for k, v in zip(keys, values)})
        for controller in run.controllers.values():  # the rates in force at this step, ADA's p after it
            row.update(controller.row())
        run.log_rows([row])
        run.session.last_metrics = row
        if run.dist.main:
            log.info(self.format(row, run))
        self.sums, self.counts, self.t0, self.step0 = {}, {}, now, run.step

    def on_rollback(self, run) -> None:
        """The steps since the restored checkpoint are trained again: forget their sums."""
        self.sums, self.counts, self.t0, self.step0 = {}, {}, time.perf_counter(), None

    def format(self, row: dict, run) -> str:
        rate = row["images_per_sec"]
        left = (run.total_steps - run.step) * run.batch_size / max(rate, 1e-9)
        dx, dgz = ("p_real", "p_fake") if self.probabilistic else ("d_real", "d_fake")
        extra = "".join(f" | {name} {row[key]:.4f}" for key, name in DISTANCES if key in row)
        extra += f" | diversity {row['diversity']:.2f}" if "diversity" in row else ""
        if "class_diversity" in row:
            extra += f" (within classes {row['class_diversity']:.2f})"
        if "modes" in row:
            extra += f" modes {row['modes']:.0f} hq {row['high_quality']:.2f}"
        extra += "".join(f" | {k} {v:.4g}" for k, v in row.items() if k.startswith("eval_"))
        return (f"step {run.step:>{len(str(run.total_steps))}}/{run.total_steps} | {rate:7.0f} img/s | "
                f"D loss {row['d_loss']:.3f} G loss {row['g_loss']:.3f} | D(x) {row[dx]:.3f} "
                f"D(G(z)) {row[dgz]:.3f} | D acc real {row['acc_real']:.2f} fake {row['acc_fake']:.2f} | "
                f"eta {_duration(left)}{extra}")

    def on_end(self, run) -> None:
        self.flush(run)


def _duration(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m{s:02d}s"


class SampleGrids(Callback):
    """Writes samples/step_NNNNNN.png from the FIXED latents, so the same samples can be watched forming."""

    def __init__(self, every: int):
        self.every = every

    def on_start(self, run) -> None:
        if run.step == 0:  # the untrained generator, first frame of the timeline
            write_samples(run, run.dir / "samples" / "step_000000.png")

    def on_step(self, run, stats: dict) -> None:
        if due(run.step, self.every):
            write_samples(run, run.dir / "samples" / f"step_{run.step:06d}.png")

    def on_end(self, run) -> None:
        if not due(run.step, self.every):  # else on_step has just written it
            write_samples(run, run.dir / "samples" / f"step_{run.step:06d}.png")
        write_samples(run, run.dir / "final.png")


@torch.no_grad()
def write_samples(run, path: Path) -> None:
    """Render the fixed latents with the EMA generator if there is one, else G in eval mode."""
    net = run.game.drawing_net()
    out = eval_forward(net, run.fixed_z, run.fixed_y)
    if run.data.kind == "points":
        centers = run.data.extra.get("centers")
        real = run.data.x[: len(out)].cpu().numpy()
        save_scatter(out.cpu().numpy(), path, real=real,
                     centers=None if centers is None else torch.tensor(centers).numpy(),
                     title=f"step {run.step}")
    elif run.data.kind == "clip":  # frame prediction: one clip a row, its past frames then the predicted ones
        frames = run.data.extra["context"] + run.data.extra["horizon"]
        save_grid(clip_rows(run.data.frame_channels, run.fixed_y[:8], out[:8]), path, nrow=frames)
    elif is_source(run.fixed_y):  # image to image: each source beside what G makes of it, 4 pairs a row
        save_grid(side_by_side(run.fixed_y, out), path, nrow=8)
    else:
        # conditional grids: the fixed labels cycle through the classes, so one column per class (clusters are
        # drawn in their shares instead)
        by_class = run.fixed_y is not None and run.data.label_prior is None
        save_grid(out, path, nrow=run.data.num_classes if by_class else None)



class TimeLimit(Callback):
    """train.minutes: end the run cleanly once this session has trained that long (the checkpoint callback's
    on_end then writes the state, so `--resume` continues it). With several processes rank 0's clock
    decides, so every process stops at the same step."""

    def __init__(self, minutes: float):
        self.seconds = minutes * 60

    def on_start(self, run) -> None:
        self.t0 = time.perf_counter()

    def on_step(self, run, stats: dict) -> None:
        over = time.perf_counter() - self.t0 >= self.seconds
        if run.dist.world > 1:
            over = from_main(over, run.dist)
        if over:
            raise StopTraining(Event(run.step, "time_limit", evidence={"minutes": self.seconds / 60}))


class Checkpoints(Callback):
    """Rewrites checkpoint.pt every `every` steps and at the end; keeps checkpoints/step_N.pt every
    `snapshot_every` steps."""

    def __init__(self, every: int, snapshot_every: int):
        self.every, self.snapshot_every = every, snapshot_every

    def on_start(self, run) -> None:
        self.saved_step = run.step  # a resumed run starts from its checkpoint
        # from the first step on there is a state to resume (after a kill) or roll back to (after NaN)
        if run.step == 0 and not (run.dir / "checkpoint.pt").exists():
            self._save(run, run.dir / "checkpoint.pt")

    def on_rollback(self, run) -> None:
        self.saved_step = run.step

    def on_step(self, run, stats: dict) -> None:
        snapshot, latest = due(run.step, self.snapshot_every), due(run.step, self.every)
        if not (snapshot or latest) or not self._good(run):
            return
        if snapshot:
            self._save(run, run.dir / "checkpoints" / f"step_{run.step:06d}.pt")
        if latest:
            self._save(run, run.dir / "checkpoint.pt")

    def on_end(self, run) -> None:
        if not due(run.step, self.every) and self._good(run):  # else on_step has just written it
            self._save(run, run.dir / "checkpoint.pt")

    def _save(self, run, path: Path) -> None:
        try:
            save_checkpoint(path, run.payload())
        except OSError as exc:  # disk full, quota, permissions: the atomic write left the old file as it was
            raise GankitError(f"could not write {path} at step {run.step} ({exc}); the checkpoint of step "
                              f"{self.saved_step} is intact: free some space and resume from it") from exc
        if path.name == "checkpoint.pt":
            self.saved_step = run.step

    @staticmethod
    def _good(run) -> bool:
        """Never overwrite a good checkpoint with a diverged or non-finite state."""
        if run.session.diverged or run.session.explosion or not state_is_finite(run.game):
            log.warning("not writing a checkpoint of a diverged or non-finite state at step %d; %s holds the "
                        "last good one", run.step, run.dir / "checkpoint.pt")
            return False
        return True
