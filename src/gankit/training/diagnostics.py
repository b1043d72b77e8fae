"""Callbacks that watch the game: a diversity probe, the health monitor, automatic balancing, and
D's decision surface on 2-D data. They run between steps (see callbacks.py for the protocol)."""
from __future__ import annotations

import io
import logging

import numpy as np
import torch
import torch.nn.functional as F

from gankit.core.files import atomic_write_bytes
from gankit.data import normalize
from gankit.metrics import build_extractor, default_extractor, mode_stats
from gankit.nn import is_source
from gankit.training.callbacks import due, eval_forward, fresh_row
from gankit.training.health import HealthConfig, Monitor
from gankit.training.hooks import Callback, Event, StopTraining

log = logging.getLogger("gankit")


def diversity_features(x: torch.Tensor) -> torch.Tensor:
    """Images pooled to at most 8x8 and flattened (robust to pixel noise); 2-D points as they are."""
    if x.dim() == 4:
        return F.adaptive_avg_pool2d(x.float(), min(8, x.shape[-1])).flatten(1)
    return x.float()


def spread(x: torch.Tensor) -> torch.Tensor:
    """Mean pairwise distance of the samples in diversity-feature space."""
    return torch.pdist(diversity_features(x)).mean()


def generate(run) -> torch.Tensor:
    """The trained G's (not the EMA's) samples from the fixed latents, in eval mode."""
    return eval_forward(run.game.G, run.fixed_z, run.fixed_y)


class DiversityProbe(Callback):
    """Every `every` steps adds to the step's stats: `diversity` (mean pairwise distance of samples from
    the fixed latents over that of as many real samples), for conditional runs `class_diversity` (the
    same ratio within each class, averaged over the classes: a generator that draws one image per class
    has a high `diversity` across classes but none within them), `class_coverage` where gankit ships a
    classifier for the dataset (see health.py) and, for 2-D mixtures, `modes` and `high_quality`
    (PacGAN's counts) and `mode_coverage` (see metrics.mode_stats) against the centers."""

    def __init__(self, every: int, per_class: int = 32):
        self.every, self.per_class = every, per_class
        self.real_spread = None
        self.real_class_spread: dict[int, torch.Tensor] = {}
        self.classes: list[int] | None = None
        self.judge = None  # the dataset's classifier, where one ships (False: none)

    def _judge(self, run):
        if self.judge is None:
            n, k = len(run.fixed_z), run.data.num_classes
            # its share rule needs a few samples per class; a 3-channel MNIST would be judged as 1,000 classes
            usable = (run.data.kind == "image" and run.data.shape[0] == 1 and 0 < 4 * k <= n
                      and default_extractor(run.data.name) == "classifier")
            self.judge = build_extractor("classifier", run.data.name, device=run.device) if usable else False
        return self.judge

    @torch.no_grad()
    def _class_coverage(self, run, fake: torch.Tensor) -> torch.Tensor | None:
        """Share of classes predicted for at least a quarter of their uniform share of the samples."""
        judge = self._judge(run)
        if not judge:
            return None
        logits = judge(fake)[1]
        k = logits.shape[1]
        share = torch.bincount(logits.argmax(1), minlength=k).float() / len(fake)
        return (share >= 1.0 / (4 * k)).float().mean()

    def _real_spread(self, run, n: int) -> torch.Tensor:
        if self.real_spread is None:
            gen = torch.Generator().manual_seed(run.cfg.train.seed + 3)
            idx = torch.randperm(len(run.data), generator=gen)[:n].to(run.data.x.device)
            self.real_spread = spread(normalize(run.data.x[idx]))
        return self.real_spread

    def _real_class_spread(self, run, c: int) -> torch.Tensor:
        if c not in self.real_class_spread:
            gen = torch.Generator().manual_seed(run.cfg.train.seed + 5 + c)
            idx = (run.data.labels == c).nonzero().flatten()
            idx = idx[torch.randperm(len(idx), generator=gen)[:self.per_class].to(idx.device)]
            self.real_class_spread[c] = spread(normalize(run.data.x[idx]))
        return self.real_class_spread[c]

    def _classes(self, run) -> list[int]:
        """The classes with at least two fixed latents and two real images (found once: both are fixed)."""
        if self.classes is None:
            y, labels = run.fixed_y, run.data.labels
            self.classes = [] if y is None or labels is None or is_source(y) else [
                c for c in y.unique().tolist() if int((y == c).sum()) >= 2 and int((labels == c).sum()) >= 2]
        return self.classes

    def _class_diversity(self, run, fake: torch.Tensor) -> torch.Tensor | None:
        classes = self._classes(run)
        if not classes:
            return None
        ratios = [spread(fake[run.fixed_y == c]) / self._real_class_spread(run, c).clamp_min(1e-12) for c in classes]
        return torch.stack(ratios).mean()

    def on_step(self, run, stats: dict) -> None:
        if not due(run.step, self.every):
            return
        fake = generate(run)
        stats["diversity"] = spread(fake) / self._real_spread(run, len(fake)).clamp_min(1e-12)
        within = self._class_diversity(run, fake)
        if within is not None:
            stats["class_diversity"] = within
        coverage = self._class_coverage(run, fake)
        if coverage is not None:
            stats["class_coverage"] = coverage
        centers = run.data.extra.get("centers")
        if centers is not None:
            m = mode_stats(fake, torch.tensor(centers), run.data.extra["std"])
            # on the run's device, like every other stat, so the metrics log can stack them
            for key, value in (("modes", m["modes"]), ("mode_coverage", m["coverage"]),
                               ("high_quality", m["high_quality"])):
                stats[key] = torch.tensor(float(value), device=run.device)


class HealthCallback(Callback):
    """Feeds each new metrics row to the Monitor; logs events, appends them to metrics.jsonl, and with
    on_event=stop ends the run. A divergence (a gradient explosion) is rolled back by the loop at the end of
    the step, as a NaN/Inf is; until then no checkpoint is written."""

    def __init__(self, cfg: HealthConfig, sign_meaningful: bool, total_steps: int):
        self.make_monitor = lambda: Monitor(cfg, sign_meaningful=sign_meaningful, total_steps=total_steps)
        self.monitor = self.make_monitor()
        self.on_event = cfg.on_event
        self.last_step = None

    def on_rollback(self, run) -> None:
        """Start again from the rows logged up to the restored step (replayed on the next step)."""
        self.monitor, self.last_step = self.make_monitor(), None

    def on_step(self, run, stats: dict) -> None:
        if self.last_step is None:  # first call, maybe after a resume: replay the rows already logged
            self.last_step = -1
            logged = run.logged_rows()
            self.monitor.replay([r for r in logged if "event" not in r and r["step"] < run.step])
        row = fresh_row(run, self.last_step)
        if row is None:
            return
        self.last_step = row["step"]
        events = self.monitor.update(row)
        for event in events:
            if run.dist.main:
                log.warning("health: %s at step %d — %s. %s", event.name, event.step,
                            ", ".join(f"{k} {v}" for k, v in event.evidence.items()), event.remedy)
            if event.name == "divergence":  # the loop rolls back at the end of this step, as for NaN/Inf
                run.session.explosion = event
        run.record(*events)
        if events and self.on_event == "stop":
            raise StopTraining(events[0])


class Balance(Callback):
    """--balance: while D's accuracy (each metrics row's mean of real and fake) stays ≥ `bound`, halve D's
    learning rate (down to 1/64 of its scheduled value); once it falls below bound - 0.1, double it back.
    It sets the `balance` factor of the rate controller, which the checkpoint saves; each change is logged
    and recorded in metrics.jsonl."""

    def __init__(self, bound: float):
        self.bound = bound
        self.last_step = None

    def on_step(self, run, stats: dict) -> None:
        row = fresh_row(run, self.last_step)
        if row is None:
            return
        self.last_step = row["step"]
        acc = (row["acc_real"] + row["acc_fake"]) / 2
        factor = run.rates.factors.get("balance", {}).get("D", 1.0)
        new = factor
        if acc >= self.bound and factor > 1 / 64:
            new = factor / 2
        elif acc < self.bound - 0.1 and factor < 1:
            new = min(factor * 2, 1.0)
        if new == factor:
            return
        lr = run.rates.current("D")
        run.rates.set_factor("balance", {"D": new}, why=f"D accuracy {acc:.2f}")
        if run.dist.main:
            log.info("balance: D accuracy %.2f, lr_d %.3g -> %.3g", acc, lr, lr * new / factor)
        run.log_rows([Event(run.step, "balance", evidence={"d_accuracy": round(acc, 4)},
                            action=f"lr_d {lr:.3g} -> {lr * new / factor:.3g}").row()])


class DecisionSurface(Callback):
    """2-D data only: every `every` steps saves surfaces/step_N.npz with D's probability of "real" on a
    grid over the data's range and the generated points, for the report's heat maps."""

    def __init__(self, every: int, resolution: int = 120):
        self.every, self.resolution = every, resolution

    @torch.no_grad()
    def save(self, run) -> None:
        real = run.data.x
        lo, hi = real.min(0).values.cpu(), real.max(0).values.cpu()
        margin = 0.25 * (hi - lo) + 0.1
        xs = torch.linspace(float(lo[0] - margin[0]), float(hi[0] + margin[0]), self.resolution)
        ys = torch.linspace(float(lo[1] - margin[1]), float(hi[1] + margin[1]), self.resolution)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")
        grid = torch.stack([gx.flatten(), gy.flatten()], 1).to(real.device)
        y = None if run.fixed_y is None else torch.zeros(len(grid), dtype=torch.long, device=real.device)
        m = run.cfg.model.pack  # a packed D judges m points at once: give it m copies of each grid point
        logits = eval_forward(run.game.D, grid.repeat_interleave(m, 0), None if y is None else y.repeat_interleave(m))
        prob = torch.sigmoid(logits).view(self.resolution, self.resolution)
        fake = generate(run)
        buf = io.BytesIO()
        np.savez_compressed(buf, xs=xs.numpy(), ys=ys.numpy(), prob=prob.cpu().numpy(),
                            fake=fake.cpu().numpy(), real=real[:2000].cpu().numpy(), step=run.step)
        atomic_write_bytes(run.dir / "surfaces" / f"step_{run.step:06d}.npz", buf.getvalue())

    def on_start(self, run) -> None:
        if run.step == 0:
            self.save(run)

    def on_step(self, run, stats: dict) -> None:
        if due(run.step, self.every):
            self.save(run)

    def on_end(self, run) -> None:
        if not due(run.step, self.every):
            self.save(run)
