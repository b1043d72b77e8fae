"""Evaluation during training: every K steps, score a small sample with a fast extractor, log it, and
keep the best checkpoint by the chosen metric (best.pt)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from gankit.checkpoint import save_checkpoint
from gankit.core.distributed import from_main
from gankit.core.errors import GankitError
from gankit.core.files import read_jsonl
from gankit.data.clusters import draw_labels
from gankit.metrics import METRICS, build_extractor, compute, dataset_key, default_extractor, real_features
from gankit.metrics.evaluate import BEST_KEY, fake_features
from gankit.training.callbacks import due, eval_forward
from gankit.training.hooks import Callback

log = logging.getLogger("gankit")


@dataclass
class EvalConfig:
    every: int = 0  # steps between evaluations (0 = off); a multiple of train.log_every lands in its row
    n: int = 2000  # generated (and real) samples per evaluation
    metric: str = "fid"  # best.pt's judge: fid, kid (lower is better), is, dc (coverage), classes (class KL)
    extractor: str = ""  # "" = the dataset's classifier where one ships, else inception
    weights: str = ""  # the extractor's file, if not the default one


def validate_eval(cfg: EvalConfig) -> None:
    if cfg.every < 0 or cfg.n < 2:
        raise GankitError(f"eval.every must be >= 0 and eval.n >= 2, got {cfg.every} and {cfg.n}")
    cfg.metric = METRICS.canonical(cfg.metric)
    if cfg.metric not in BEST_KEY:
        raise GankitError(f"eval.metric {cfg.metric!r} cannot rank checkpoints; use one of {', '.join(BEST_KEY)}")


class PeriodicEval(Callback):
    """Adds `eval_<key>` values (e.g. eval_fid) to the step's stats every `cfg.every` steps, so they land
    in that step's metrics row; rewrites best.pt whenever the chosen metric improves. With several
    processes rank 0 evaluates and the others receive its values."""

    def __init__(self, cfg: EvalConfig):
        self.cfg = cfg
        self.key, self.lower_is_better = BEST_KEY[cfg.metric]
        self.best = None

    def on_start(self, run) -> None:
        if not run.dist.main:
            return
        name = self.cfg.extractor or default_extractor(run.data.name, run.data.kind)
        self.extractor = build_extractor(name, run.data.name, path=self.cfg.weights,
                                         data_dir=run.cfg.data.data_dir, device=run.device)
        self.real = real_features(run.data, self.extractor, self.cfg.n, key=dataset_key(run.cfg.data, run.data))
        gen = torch.Generator().manual_seed(run.cfg.train.seed + 4)
        self.z = torch.randn(self.cfg.n, run.game.z_dim, generator=gen).to(run.device)
        self.y = (draw_labels(self.cfg.n, run.data.num_classes, run.data.label_prior, run.cfg.train.seed + 4)
                  .to(run.device) if run.fixed_y is not None else None)
        past = [r[f"eval_{self.key}"] for r in read_jsonl(run.dir / "metrics.jsonl") if f"eval_{self.key}" in r]
        if past:  # a resumed run keeps the best it had
            self.best = min(past) if self.lower_is_better else max(past)

    def _draw(self, run):
        net = run.game.drawing_net()

        def draw(start: int, count: int) -> torch.Tensor:
            y = None if self.y is None else self.y[start:start + count]
            return eval_forward(net, self.z[start:start + count], y)
        return draw

    def on_step(self, run, stats: dict) -> None:
        if not due(run.step, self.cfg.every):
            return
        values = self._evaluate(run) if run.dist.main else None
        values = from_main(values, run.dist)
        for key, value in values.items():
            stats[f"eval_{key}"] = torch.tensor(float(value), device=run.device)
        if not run.dist.main:
            return
        value = values[self.key]
        better = self.best is None or (value < self.best if self.lower_is_better else value > self.best)
        if better and not run.session.diverged:
            self.best = value
            save_checkpoint(run.dir / "best.pt", run.payload())
        log.info("eval at step %d: %s %.4g%s", run.step, self.key, value, " (best so far: best.pt)" if better else "")

    def _evaluate(self, run) -> dict:
        fake = fake_features(self._draw(run), self.cfg.n, self.extractor, progress=False)
        return {k: float(v) for k, v in compute([self.cfg.metric], self.real, fake).items()}
