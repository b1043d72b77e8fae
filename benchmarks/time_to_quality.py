"""Quality against wall-clock training time: when does a preset draw every class, clearly?

    python benchmarks/time_to_quality.py --preset mnist_dcgan --minutes 6 --every 100 \\
        --out benchmarks/results/time_to_quality/time_to_quality_mnist_dcgan_cpu.json \\
        --plot docs/images/time_to_quality.png

Trains `--preset` and every `--every` steps stops the clock, draws `--n` samples from the fixed evaluation
latents (EMA generator when the preset has one), and scores them with the dataset's judge: classes drawn
confidently (`confident_classes`: classes that get at least a quarter of their fair share of samples as
predictions with p >= 0.9), share of confident samples, class KL, judge-FID against real training images.
Only training time counts; evaluation time is excluded. Target (issue 6): mnist_dcgan reaches 10 confident
classes in <= 5 minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch
from _common import emit

from gankit.core.config import parse_override
from gankit.core.images import _save_figure, pyplot
from gankit.metrics import build_extractor, compute, dataset_key, real_features
from gankit.metrics.evaluate import fake_features
from gankit.training import fit, resolve, start_run
from gankit.training.bench import per_step_callbacks
from gankit.training.callbacks import eval_forward
from gankit.training.hooks import Callback, Event, StopTraining


class QualityClock(Callback):
    """Every `every` steps: book the training time since the last visit, then score samples off the clock."""

    def __init__(self, every: int, n: int, minutes: float):
        self.every, self.n, self.limit = every, n, minutes * 60
        self.rows: list[dict] = []
        self.train_seconds = 0.0

    def on_start(self, run) -> None:
        self.judge = build_extractor("classifier", run.data.name, device=run.device)
        self.real = real_features(run.data, self.judge, self.n, key=dataset_key(run.cfg.data, run.data))
        self.z = torch.randn(self.n, run.game.z_dim, generator=torch.Generator().manual_seed(4)).to(run.device)
        self.score(run)
        self.t_last = time.perf_counter()

    def score(self, run) -> None:
        net = run.game.ema.model if run.game.ema is not None else run.game.G
        fake = fake_features(lambda start, count: eval_forward(net, self.z[start:start + count]),
                             self.n, self.judge, progress=False)
        values = compute(["fid", "classes"], self.real, fake)
        row = {"step": run.step, "train_seconds": round(self.train_seconds, 1), **values}
        self.rows.append(row)
        print(row, flush=True)

    def on_step(self, run, stats: dict) -> None:
        if run.step % self.every:
            return
        self.train_seconds += time.perf_counter() - self.t_last
        self.score(run)
        self.t_last = time.perf_counter()
        if self.train_seconds >= self.limit:
            raise StopTraining(Event(run.step, "time_limit"))


def plot(rows: list[dict], target_s: float, path: str, title: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    t = [r["train_seconds"] / 60 for r in rows]
    ax.plot(t, [r["confident_classes"] for r in rows], "o-", label="classes drawn confidently (of 10)")
    ax.plot(t, [10 * r["confident"] for r in rows], "s-", label="confident share x 10")
    ax.axvline(target_s / 60, color="grey", ls="--", label="target")
    ax2 = ax.twinx()
    ax2.plot(t, [r["fid"] for r in rows], "^-", color="C3", label="judge FID (right)")
    ax2.set_yscale("log")
    ax.set_xlabel("training time (minutes)")
    ax.set_ylim(0, 10.5)
    ax.set_title(title)
    ax.legend(loc="center right", fontsize=8)
    ax2.legend(loc="upper right", fontsize=8)
    _save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mnist_dcgan")
    parser.add_argument("--minutes", type=float, default=6.0, help="training time to stop after")
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--target-minutes", type=float, default=5.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--out", default="")
    parser.add_argument("--plot", default="")
    args = parser.parse_args()
    clock = QualityClock(args.every, args.n, args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [parse_override(s) for s in args.set]
        cfg = resolve(args.preset, [*overrides, {"out": tmp, "train": {"device": args.device, "steps": 10**6}}])
        run = start_run(cfg)
        # the per-step diagnostics of a real run, but no sample grids or checkpoints on the clock
        fit(run, callbacks=per_step_callbacks(cfg) + [clock])
    reached = next((r for r in clock.rows if r["confident_classes"] == r["num_classes"]), None)
    result = {"preset": args.preset, "overrides": args.set, "device": str(run.device),
              "threads": torch.get_num_threads(), "batch_size": cfg.train.batch_size,
              "target_minutes": args.target_minutes,
              "all_classes_at": None if reached is None else {k: reached[k] for k in ("step", "train_seconds")},
              "met": reached is not None and reached["train_seconds"] <= 60 * args.target_minutes,
              "rows": clock.rows}
    if args.plot:
        plot(clock.rows, 60 * args.target_minutes, args.plot, f"{args.preset} on {result['device']}")
    emit(result, args.out)


if __name__ == "__main__":
    main()
