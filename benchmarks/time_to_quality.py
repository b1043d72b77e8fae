"""Quality against CPU training time: how good are a preset's samples after 5 and after 20 minutes?

    python benchmarks/time_to_quality.py --preset mnist_dcgan --minutes 5 --seed 0 --out ttq_s0.json
    python benchmarks/time_to_quality.py --peer /tmp/peer/implementations/dcgan/dcgan.py \\
        --peer-python /tmp/peerenv/bin/python --minutes 5 --seed 0 --out peer_s0.json
    python benchmarks/time_to_quality.py --merge ttq_s0.json,ttq_s1.json,peer_s0.json \\
        --out benchmarks/results/time_to_quality/mnist_5min.json --plot docs/images/time_to_quality.png

Trains `--preset` (with `--set` overrides, `--seed`; its own steps, or until `--minutes`) and, every
`--every` seconds of training time, stops the clock and scores `--n` samples from fixed latents (the EMA
generator when the preset has one) with the dataset's bundled classifier: FID in its features, precision
and recall (k = 3) in the same features, the share of confident samples (p >= 0.9), the classes drawn
confidently and each class's share of the samples.
Conditional presets are scored per requested class as well: the share classified as the class asked for,
and the within-class pixel diversity (mean pairwise L2 distance of the samples of a class over that of as
many real images of the class). A model of clusters (data.clusters) draws them in their shares and is
scored as an unconditional one. Only training time counts; scoring is off the clock, and so is setting up
(reading the data, clustering it), which is reported as `setup_seconds`.

`--peer SCRIPT` runs a peer's training script exactly as published (PyTorch-GAN's dcgan.py: check out its
repository yourself and put the four MNIST .gz files in `<repo>/data/mnist/MNIST/raw/`, where torchvision
looks and then downloads nothing) with `--peer-python` (a Python with torch and torchvision). The script's
own image hook (`save_image`, every `--peer-every` batches) is where its generator is sampled; its 32x32
images are judged at 28x28 like everything else. Its clock, too, counts training alone.

`--real-test mnist` scores the test split's images as if generated: the floor of every figure at that n, and
how often the judge names each class of them right (`class_accuracy`, the level for conditional runs).

`--score RUN --psi P` scores a kept run's generator (its EMA when it has one; a model of clusters draws them
in their shares) as a snapshot is scored, with its fixed latents pulled toward the mean by the truncation
trick (`gankit sample --psi P`): what trading variety for fidelity buys. `--jbt Q` instead (or as well) keeps
only latents whose Jacobian norm is within G's Q quantile (`gankit sample --jbt Q`, per class for a
conditional G): the draws G makes between the digits it knows. `--drs Q` keeps the latents whose images the
run's own D rates in its top Q share (`gankit sample --drs Q`). Its row stands for the mark `--minutes` (the
training time behind the generator), and counts at that mark alone.

`--merge` joins results of this script (seeds, arms, the peer), side by side, into one file: for each arm and
each mark in `--marks` (minutes), the median and worst value over seeds and whether each target held in
every seed. Targets (issue 31, 2 CPU cores, 3 seeds): MNIST after 5 minutes >= 85% confident, FID <= 2,
precision and recall >= 0.8, every digit 7-13% of samples; after 20 minutes >= 95% confident, FID <= 0.5;
conditional MNIST (after 5, 10 or 20 minutes here) >= 99% of every class's samples classified as asked, within-class
diversity >= 0.8x real for every class and no health event; Fashion-MNIST after 20 minutes FID <= 2.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import emit

from gankit.core.config import parse_override
from gankit.core.files import read_jsonl
from gankit.core.images import _save_figure, pyplot
from gankit.data import DataConfig, load_dataset
from gankit.data.clusters import draw_labels
from gankit.latent import load_generator
from gankit.latent.generator import psi_for
from gankit.latent.sample import sampler
from gankit.latent.space import Code, truncate
from gankit.metrics import build_extractor, compute, dataset_key, real_features
from gankit.metrics.evaluate import fake_features
from gankit.metrics.extractors import extract
from gankit.training import fit, resolve, start_run
from gankit.training.bench import per_step_callbacks
from gankit.training.callbacks import Checkpoints, eval_forward
from gankit.training.hooks import Callback, Event, StopTraining

# The seed of the fixed latents and labels every snapshot, kept generator and latent filter is scored on (the
# peer's wrapper below draws with the same seed), so that rows differ only by the generator.
LATENT_SEED = 4

# (dataset, conditional) -> {minutes: {key: (kind, bound)}}; "min" means the value must reach the bound
TARGETS = {
    ("mnist", False): {5: {"confident": ("min", 0.85), "fid": ("max", 2.0), "precision": ("min", 0.8),
                           "recall": ("min", 0.8), "least_drawn_share": ("min", 0.07),
                           "most_drawn_share": ("max", 0.13)},
                       20: {"confident": ("min", 0.95), "fid": ("max", 0.5)}},
    # the issue gives the conditional target no time: checked wherever a merge has a mark for it
    ("mnist", True): {m: {"worst_class_accuracy": ("min", 0.99), "worst_class_diversity": ("min", 0.8)}
                      for m in (5, 10, 20)},
    ("fashion_mnist", False): {20: {"fid": ("max", 2.0)}},
}
HEADLINE = ("fid", "confident", "precision", "recall", "least_drawn_share", "most_drawn_share", "classes_covered",
            "worst_class_accuracy", "worst_class_diversity")
LOWER_IS_BETTER = ("fid", "most_drawn_share")

GLANCE = ("fid", "confident", "precision", "recall", "least_drawn_share", "most_drawn_share", "worst_class_accuracy",
          "worst_class_diversity")


def pixel_spread(x: torch.Tensor) -> float:
    """Mean pairwise L2 distance of images (flattened, in [-1, 1])."""
    return torch.pdist(x.float().flatten(1)).mean().item()


class Scorer:
    """Fixed latents (and, for conditional models, labels: the classes in turn, or clusters in their shares) and
    the judge's view of real data; `score(sample)` rates what a generator makes of them."""

    def __init__(self, data, data_cfg, z_dim: int, n: int, conditional: bool, device, psi: float = 1.0):
        self.n, self.k = n, data.num_classes
        self.judge = build_extractor("classifier", data.name, device=device)
        self.real = real_features(data, self.judge, n, key=dataset_key(data_cfg, data))
        z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(LATENT_SEED)).to(device)
        self.z = truncate(Code(z), psi).z
        self.y = draw_labels(n, self.k, data.label_prior, seed=LATENT_SEED).to(device) if conditional else None
        self.by_class = conditional and not data.label_prior
        if self.by_class:  # the real spread of each class, from as many real images as samples per class
            per = n // self.k
            self.real_spread = [pixel_spread(data.x[data.labels == c][:per].float() / 127.5 - 1)
                                for c in range(self.k)]

    @torch.no_grad()
    def score(self, sample) -> dict:
        """sample(start, count) -> images [count, C, H, W] in [-1, 1], from self.z[start:] (and self.y)."""
        images: list[torch.Tensor] = []

        def keep(start: int, count: int) -> torch.Tensor:
            images.append(sample(start, count).cpu())
            return images[-1]

        fake = fake_features(keep, self.n, self.judge, progress=False)
        values = compute(["fid", "pr", "classes"], self.real, fake)
        top = torch.from_numpy(fake.logits).argmax(1)
        shares = torch.bincount(top, minlength=fake.logits.shape[1]) / self.n
        values["class_shares"] = [round(v, 4) for v in shares.tolist()]
        if self.by_class:
            values.update(self.per_class(torch.cat(images), top))
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in values.items()}

    def per_class(self, images: torch.Tensor, top: torch.Tensor) -> dict:
        y = self.y.cpu()
        accuracy = accuracy_per_class(top, y, self.k)
        diversity = [pixel_spread(images[y == c]) / self.real_spread[c] for c in range(self.k)]
        return {"class_accuracy": [round(a, 4) for a in accuracy], "class_diversity": [round(d, 4) for d in diversity],
                "worst_class_accuracy": min(accuracy), "worst_class_diversity": min(diversity)}


class QualityClock(Callback):
    """Every `every` seconds of training: book the time since the last visit, then score off the clock."""

    def __init__(self, every: float, n: int, minutes: float):
        self.every, self.n, self.limit = every, n, minutes * 60
        self.rows: list[dict] = []
        self.train_seconds = 0.0

    def on_start(self, run) -> None:
        conditional = run.fixed_y is not None
        # at the run's own truncation (model.psi): what a user sampling the generator then would get
        self.scorer = Scorer(run.data, run.cfg.data, run.game.z_dim, self.n, conditional, run.device,
                             run.cfg.model.psi)
        self.score(run)
        self.t_last = time.perf_counter()

    def score(self, run) -> None:
        net = run.game.drawing_net()
        s = self.scorer
        row = s.score(lambda start, count: eval_forward(net, s.z[start:start + count],
                                                        None if s.y is None else s.y[start:start + count]))
        self.rows.append({"step": run.step, "train_seconds": round(self.train_seconds, 1), **row})
        print(json.dumps({k: v for k, v in self.rows[-1].items() if not isinstance(v, list)}), flush=True)

    def on_step(self, run, stats: dict) -> None:
        now = time.perf_counter()
        # due at every `every` seconds of training (row k at k * every; row 0 is the untrained G) and at the limit
        if self.train_seconds + now - self.t_last < min(self.every * len(self.rows), self.limit):
            return
        self.train_seconds += now - self.t_last
        self.score(run)
        self.t_last = time.perf_counter()
        if self.train_seconds >= self.limit:
            raise StopTraining(Event(run.step, "time_limit"))

    def on_end(self, run) -> None:
        """A preset whose steps end before the time limit: its final generator, scored as it finished."""
        if self.rows[-1]["step"] != run.step:
            self.train_seconds += time.perf_counter() - self.t_last
            self.score(run)
            self.rows[-1]["finished"] = True


def train_rows(args) -> tuple[list[dict], dict]:
    clock = QualityClock(args.every, args.n, args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [parse_override(s) for s in args.set]
        cfg = resolve(args.preset, [*overrides, {"out": args.keep or tmp,
                                                 "train": {"device": args.device, "seed": args.seed}}])
        t0 = time.perf_counter()
        run = start_run(cfg)
        setup = time.perf_counter() - t0
        # the per-step diagnostics of a real run, but no sample grids or checkpoints on the clock (--keep: a
        # checkpoint at the end, off the clock, e.g. to make a demo generator of)
        kept = [Checkpoints(every=10**9, snapshot_every=0)] if args.keep else []
        fit(run, callbacks=per_step_callbacks(cfg) + kept + [clock])
        # the health monitor's findings (mode collapse, D overpowering, ...), as a user's run would log them
        events = [r for r in read_jsonl(run.dir / "metrics.jsonl") if "event" in r]
    about = {"arm": args.arm or args.preset, "preset": args.preset, "overrides": args.set,
             "run": str(run.dir) if args.keep else "",
             "dataset": cfg.data.name, "conditional": clock.scorer.by_class, "setup_seconds": round(setup, 1),
             "clusters": cfg.data.clusters, "cluster_purity": run.data.extra.get("cluster_purity"),
             "psi": cfg.model.psi,
             "batch_size": cfg.train.batch_size, "device": str(run.device), "health_events": events}
    return clock.rows, about


# Runs the peer's script unchanged; its own save_image hook samples the generator (off its clock).
PEER_WRAPPER = r"""
import runpy, sys, time, torch, torchvision.utils
snapdir, n, seed, limit, script = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
sys.argv = [script, *sys.argv[6:]]
torch.manual_seed(seed)
import numpy; numpy.random.seed(seed)
clock = {"start": None, "off": 0.0}
def save_image(*args, **kwargs):
    t0 = time.perf_counter()
    clock["start"] = clock["start"] or t0
    g = sys._getframe(1).f_globals
    z = torch.randn(n, g["opt"].latent_dim, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        x = torch.cat([g["generator"](c) for c in z.split(500)])
    seconds = t0 - clock["start"] - clock["off"]
    torch.save({"batches": g["batches_done"], "train_seconds": seconds, "images": x.half()},
               f"{snapdir}/{g['batches_done']:08d}.pt")
    clock["off"] += time.perf_counter() - t0
    if seconds >= limit:
        sys.exit(0)
torchvision.utils.save_image = save_image
runpy.run_path(script, run_name="__main__")
"""


def peer_rows(args) -> tuple[list[dict], dict]:
    script = Path(args.peer).resolve()
    with tempfile.TemporaryDirectory() as snaps:
        cmd = [args.peer_python, "-c", PEER_WRAPPER, snaps, str(args.n), str(args.seed), str(args.minutes * 60),
               str(script), "--sample_interval", str(args.peer_every)]
        subprocess.run(cmd, cwd=script.parent, check=True, stdout=subprocess.DEVNULL)
        cfg = DataConfig(name="mnist")
        data = load_dataset(cfg)
        scorer = Scorer(data, cfg, 100, args.n, False, torch.device("cpu"))
        rows = []
        for path in sorted(Path(snaps).glob("*.pt")):
            snap = torch.load(path)
            images = snap["images"].float()
            row = scorer.score(lambda start, count: images[start:start + count])
            rows.append({"step": snap["batches"], "train_seconds": round(snap["train_seconds"], 1), **row})
            print(json.dumps({k: v for k, v in rows[-1].items() if not isinstance(v, list)}), flush=True)
    about = {"arm": args.arm or f"peer {script.name}", "peer_script": str(script), "dataset": "mnist",
             "conditional": False, "batch_size": 64, "device": "cpu"}
    return rows, about


def kept_rows(args) -> tuple[list[dict], dict]:
    """A kept run's generator scored as its snapshots were, its fixed latents truncated by --psi and --jbt or
    chosen by its D (--drs)."""
    G = load_generator(args.score, device=args.device)
    psi = psi_for(G, args.psi)
    clusters = G.label_prior is not None
    cfg = DataConfig(name=G.dataset)
    scorer = Scorer(load_dataset(cfg), cfg, G.z_dim, args.n, G.num_classes > 0 and not clusters,
                    torch.device(args.device), psi)
    if clusters:  # the clusters in their shares, as the training-time scorer draws them (the same seed)
        scorer.y = draw_labels(args.n, G.num_classes, G.label_prior, seed=LATENT_SEED).to(args.device)
    if args.jbt != 1.0 or args.drs != 1.0:  # the same labels, latents chosen as `gankit sample --jbt/--drs` does
        row = scorer.score(sampler(G, args.n, LATENT_SEED, scorer.y, psi, args.jbt, args.drs))
    else:
        row = scorer.score(lambda start, count: eval_forward(
            G.module, scorer.z[start:start + count], None if scorer.y is None else scorer.y[start:start + count]))
    about = {"arm": args.arm or f"{args.score} psi {psi:g} jbt {args.jbt:g} drs {args.drs:g}", "run": args.score,
             "psi": psi, "jbt": args.jbt, "drs": args.drs, "dataset": G.dataset, "conditional": scorer.by_class,
             "device": args.device}
    # minutes: the mark this generator stands for (it has no clock of its own)
    return [{"step": G.step, "train_seconds": 60 * args.minutes, "finished": True, "kept": True, **row}], about


def real_rows(args) -> tuple[list[dict], dict]:
    """The test split's images scored as if generated: what a perfect generator would score at this n."""
    from gankit.data.dataset import normalize

    name = load_dataset(DataConfig(name=args.real_test)).name
    scorer = Scorer(load_dataset(DataConfig(name=name)), DataConfig(name=name), 1, args.n, False, torch.device("cpu"))
    split = load_dataset(DataConfig(name=name, split="test"))
    test = normalize(split.x[:args.n])
    row = scorer.score(lambda start, count: test[start:start + count])
    row.update(judge_accuracy(scorer.judge, test, split.labels[:args.n], split.num_classes))
    about = {"arm": args.arm or f"real {name} test images", "dataset": name, "conditional": False}
    return [{"step": 0, "train_seconds": 0.0, "finished": True, **row}], about


def accuracy_per_class(top: torch.Tensor, labels: torch.Tensor, k: int) -> list[float]:
    """The share of each class's images (by `labels`) that the judge's top class `top` names right."""
    return [(top[labels == c] == c).float().mean().item() for c in range(k)]


@torch.no_grad()
def judge_accuracy(judge, images: torch.Tensor, labels: torch.Tensor, k: int) -> dict:
    """How often the judge names each class of real labelled images: the level a conditional generator's
    `class_accuracy` is read against (a class real images don't reach 99% in can't fairly be asked to)."""
    _, logits = extract(judge, (images[i:i + 1000] for i in range(0, len(images), 1000)))
    accuracy = accuracy_per_class(torch.from_numpy(logits).argmax(1), labels, k)
    return {"class_accuracy": [round(a, 4) for a in accuracy], "worst_class_accuracy": round(min(accuracy), 5)}


def at_mark(rows: list[dict], minutes: float) -> dict | None:
    """The row scored when the clock reached `minutes`: a run whose steps ended sooner is its final row (what a
    user would have by then); None when the run was cut short before it."""
    if rows and rows[-1].get("kept"):  # a kept generator (--score) stands for its own mark only, before or after
        return rows[-1] if rows[-1]["train_seconds"] == 60 * minutes else None
    reached = next((r for r in rows if r["train_seconds"] >= 60 * minutes - 1), None)
    return reached or (rows[-1] if rows[-1].get("finished") else None)


def check(row: dict, targets: dict) -> dict:
    return {key: (row[key] >= bound if kind == "min" else row[key] <= bound)
            for key, (kind, bound) in targets.items() if key in row}


def summarise(runs: list[dict], marks: list[float]) -> dict:
    """Per mark: median and worst over the arm's seeds of each headline value, and which targets held in all."""
    about = runs[0]
    targets = TARGETS.get((about["dataset"], about["conditional"]), {})
    out = {}
    for mark in marks:
        rows = [at_mark(r["rows"], mark) for r in runs]
        if any(row is None for row in rows):
            continue
        summary: dict = {"seeds": [r["seed"] for r in runs]}
        events = [len(r["health_events"]) for r in runs if "health_events" in r]  # per run, not per row
        if events:
            summary["health_events"] = {"median": statistics.median(events), "worst": max(events)}
        for key in HEADLINE:
            values = [row[key] for row in rows if key in row]
            if values:
                summary[key] = {"median": statistics.median(values),
                                "worst": max(values) if key in LOWER_IS_BETTER else min(values)}
        held = [check(row, targets.get(int(mark), {})) for row in rows]
        if held and held[0]:
            summary["targets"] = {key: all(h[key] for h in held) for key in held[0]}
            if about["conditional"]:  # issue 31: no health event on the shipped conditional presets
                summary["targets"]["no_health_events"] = not any(r.get("health_events") for r in runs)
            summary["met"] = all(summary["targets"].values())
        out[f"{mark:g}min"] = summary
    return out


def merge(paths: list[str], marks: list[float]) -> dict:
    parts = [json.loads(Path(p).read_text()) for p in paths]
    arms: dict[str, list] = {}
    for part in parts:
        arms.setdefault(part["arm"], []).append(part)
    summaries = {name: summarise(runs, marks) for name, runs in arms.items()}
    glance = {name: {mark: {key: value["median"] for key, value in summary.items() if key in GLANCE}
                     | ({"met": summary["met"]} if "met" in summary else {})
                     for mark, summary in per_arm.items()}
              for name, per_arm in summaries.items()}
    return {"at_a_glance_medians": glance, "marks_minutes": marks,
            "arms": {name: {"summary": summaries[name], "runs": runs} for name, runs in arms.items()}}


def plot(merged: dict, path: str, title: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (name, arm) in enumerate(merged["arms"].items()):
        for j, run in enumerate(arm["runs"]):
            if len(run["rows"]) == 1 and run["rows"][0]["step"] == 0:  # --real-test: a level, not a curve
                axes[0].axhline(run["rows"][0]["confident"], color=f"C{i}", ls=":", label=name)
                axes[1].axhline(run["rows"][0]["fid"], color=f"C{i}", ls=":", label=name)
                continue
            rows = [r for r in run["rows"] if r["step"] > 0]  # an untrained G draws one confident blob
            t = [r["train_seconds"] / 60 for r in rows]
            label = name if j == 0 else None
            axes[0].plot(t, [r["confident"] for r in rows], color=f"C{i}", alpha=0.8, label=label)
            axes[1].plot(t, [r["fid"] for r in rows], color=f"C{i}", alpha=0.8, label=label)
    axes[0].set_ylabel("confident share (p >= 0.9)")
    axes[0].set_ylim(0, 1)
    axes[1].set_ylabel("FID in the classifier's features")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("training minutes")
        for mark in merged["marks_minutes"]:
            if mark <= ax.get_xlim()[1]:
                ax.axvline(mark, color="grey", ls="--", lw=0.8)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    _save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mnist_dcgan")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--arm", default="", help="name of this arm in a merged result (default: the preset)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=5.0, help="training time to stop after")
    parser.add_argument("--every", type=float, default=30.0, help="seconds of training between scores")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--peer", default="", help="a peer's training script, run as published")
    parser.add_argument("--peer-python", default=sys.executable)
    parser.add_argument("--peer-every", type=int, default=200, help="the peer's sample interval (batches)")
    parser.add_argument("--real-test", default="", metavar="DATASET",
                        help="score the dataset's test images instead of training (the floor of every figure)")
    parser.add_argument("--score", default="", metavar="RUN", help="score a kept run's generator instead of training")
    parser.add_argument("--psi", type=float, default=None,
                        help="with --score: truncation of the fixed latents (default: the run's own, model.psi)")
    parser.add_argument("--jbt", type=float, default=1.0, help="with --score: Jacobian truncation's keep share")
    parser.add_argument("--drs", type=float, default=1.0, help="with --score: the share of draws the run's D keeps")
    parser.add_argument("--merge", default="", help="comma-separated results of this script to join")
    parser.add_argument("--marks", default="5,20", help="minutes at which merged results are compared")
    parser.add_argument("--keep", default="", help="train into this folder and keep the run (a final checkpoint)")
    parser.add_argument("--out", default="")
    parser.add_argument("--plot", default="")
    args = parser.parse_args()
    marks = [float(m) for m in args.marks.split(",")]
    if args.merge:
        result = merge(args.merge.split(","), marks)
        if args.plot:
            plot(result, args.plot, "quality against CPU training time")
        emit(result, args.out)
        return
    rows, about = (real_rows(args) if args.real_test else peer_rows(args) if args.peer else
                   kept_rows(args) if args.score else train_rows(args))
    emit({**about, "seed": args.seed, "minutes": args.minutes, "threads": torch.get_num_threads(),
          "rows": rows}, args.out)


if __name__ == "__main__":
    main()
