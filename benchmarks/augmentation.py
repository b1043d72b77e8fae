"""GANs as a data source: what GAN samples buy a classifier with few labels, against classical augmentation.

What a conditional GAN's samples buy one fixed small classifier that has few labels, against classical
augmentation, and what the semi-supervised GAN's D reaches with the same labels:

    python benchmarks/augmentation.py --dataset mnist --labels 10 --draws 0 \
        --out benchmarks/results/augmentation/mnist_100labels_cpu.json

For each label budget (K labels per class, --labels) and each label draw (data.label_seed, --draws):
- a conditional GAN (--gan-preset, data.labeled_per_class=K: it sees only the labelled images, with
  augmentation in front of D as `--augment auto` picks for that few) trained for --gan-steps, then
  `gankit sample --per-class` of it; its FID in the dataset classifier's features against the test split and
  its memorisation ratio (the median distance, in those features, from a sample to its nearest labelled
  training image, over the same for test images: about 1 when it learned, toward 0 when it copies them);
- one fixed small CNN (gankit.metrics.downstream) trained for --steps on each arm:
  `real` (the labelled images), `classical` (+ classical augmentation in --classical's style: `digits`,
  shifts, rotations, scaling, elastic; `clothes`, mirror images), `gan<r>` (+ r GAN samples
  per real image in every batch), `both` (classical augmentation of the reals + gan1), `cas` (GAN samples
  only: the Classification Accuracy Score) — test accuracy on the dataset's 10,000 test images;
- `ssgan`: the semi-supervised GAN (--ssgan-preset) with the same labels and every unlabelled image, trained
  for the preset's steps (--ssgan-steps to change them, --ssgan-set to override its settings; the training
  seconds are recorded beside); its D's test accuracy.
Mean and std over the draws per budget and arm.

--cas RUN (a conditional run or demo:fashion) instead measures the Classification Accuracy Score of that
generator as Ravuri & Vinyals do: the same CNN trained on its samples only (--samples-per-class of each
class) against the CNN trained on the whole labelled training set, both scored on the test split, and
their ratio.

--merge a.json,b.json joins results of this script (budgets, draws or arms measured by separate runs, e.g. one
core each) into one, the summaries recomputed over the joined draws. Parts must agree on the dataset and the
classifier's steps, and on the GAN's (or the ssgan's) settings where both measured it; an arm measured twice
for the same budget and draw is refused. Steps are recorded as trained; an older file's `ssgan_steps: 0` meant
the preset's at its commit (17,000 in every committed one), so it joins no newer part. A merged file can be
merged again: its parts' stamps carry through.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from _common import emit, mean_std

from gankit.checkpoint import load_checkpoint
from gankit.core.config import parse_override
from gankit.data import DataConfig, load_dataset, normalize
from gankit.latent import load_generator
from gankit.latent.classify import load_classifier_d
from gankit.latent.evaluate import EvalOptions, evaluate_run
from gankit.latent.synthetic import per_class
from gankit.metrics.downstream import STYLES, Mix, accuracy_on, train_classifier
from gankit.training import fit, resolve, start_run

# what a file written before an option existed meant: no --gan-set or --ssgan-set, the digits' --classical style
BEFORE_OPTION = {"gan_set": [], "ssgan_set": [], "classical_style": "digits"}
ARMS = ("real", "classical", "gan0.5", "gan1", "gan2", "both", "cas", "ssgan")
GAN_ARMS = {"gan0.5", "gan1", "gan2", "both", "cas"}
STEP_FIELDS = ("diverged_at", "scored_step")  # a draw's facts, not measurements to average over the draws


def train_gan(preset: str, dataset: str, k: int, draw: int, steps: int, folder: str,
              overrides: Sequence[dict] = ()) -> tuple[str, dict]:
    """A run of `preset` on `dataset` with K labels per class (draw `draw`) for `steps` (0: the preset's), then
    `overrides` (dicts, as `--set` parses them); returns its folder and what to record of its training:
    `train_seconds`; `rolled_back_at`, the steps of any rollbacks (NaN/Inf or a gradient explosion); and for a
    run that rollbacks did not save, `diverged_at` (the step it stopped) and `scored_step`, that of the
    checkpoint left (the last good one: a diverged state is never written), which is what is scored, as a
    user's `gankit eval` or `classify` would."""
    # the preset's checkpoint cadence, so a run that diverges leaves a recent good state, as it would for a user
    train = {"seed": draw, "device": "cpu", "sample_every": 0} | ({"steps": steps} if steps else {})
    cfg = resolve(preset, [{"data": {"name": dataset, "labeled_per_class": k, "label_seed": draw},
                            "out": folder, "train": train}, *overrides])
    run = start_run(cfg)
    t0 = time.perf_counter()
    fit(run)
    record: dict = {"train_seconds": round(time.perf_counter() - t0, 1)}
    rolled_back = [event.step for event in run.session.events if event.name == "divergence_rollback"]
    if rolled_back:
        record["rolled_back_at"] = rolled_back
    if run.session.diverged:
        record |= {"diverged_at": run.step, "scored_step": load_checkpoint(run.dir / "checkpoint.pt")["step"]}
    return str(run.dir), record


def gan_arms(args, k: int, draw: int, real_x, real_y, test_x, test_y, folder: str) -> dict:
    extra = [{"model": {"conditional": True}}, *map(parse_override, args.gan_set)]
    run_dir, trained = train_gan(args.gan_preset, args.dataset, k, draw, args.gan_steps, folder, extra)
    scores = evaluate_run(run_dir, EvalOptions(n=args.eval_n, split="test", device="cpu", metrics="fid"),
                          write=False)["metrics"]
    generator = load_generator(run_dir)
    fake_x, fake_y = per_class(generator, args.samples_per_class, seed=draw)
    out = {**{f"gan_{key}": value for key, value in trained.items()}, "gan_fid_test": scores.get("fid"),
           "gan_memorisation_ratio": scores.get("memorisation_ratio")}
    mixes = {"gan0.5": Mix(real_x, real_y, fake_x, fake_y, 0.5), "gan1": Mix(real_x, real_y, fake_x, fake_y, 1.0),
             "gan2": Mix(real_x, real_y, fake_x, fake_y, 2.0),
             "both": Mix(real_x, real_y, fake_x, fake_y, 1.0, augment=True, style=args.classical),
             "cas": Mix(None, None, fake_x, fake_y)}
    for arm, mix in mixes.items():
        if arm in args.arms:
            out[arm] = accuracy_on(train_classifier(mix, 10, args.steps, seed=draw), test_x, test_y)
    return out


def one_draw(args, k: int, draw: int, test_x, test_y) -> dict:
    labelled = load_dataset(DataConfig(name=args.dataset, labeled_per_class=k, label_seed=draw)).labelled()
    real_x, real_y = normalize(labelled.x), labelled.labels
    out: dict = {"draw": draw, "labels": len(real_y)}
    for arm, mix in (("real", Mix(real_x, real_y)),
                     ("classical", Mix(real_x, real_y, augment=True, style=args.classical))):
        if arm in args.arms:
            out[arm] = accuracy_on(train_classifier(mix, 10, args.steps, seed=draw), test_x, test_y)
    with tempfile.TemporaryDirectory() as tmp:
        if GAN_ARMS & set(args.arms):
            out.update(gan_arms(args, k, draw, real_x, real_y, test_x, test_y, tmp))
        if "ssgan" in args.arms:
            run_dir, trained = train_gan(args.ssgan_preset, args.dataset, k, draw, args.ssgan_steps, tmp,
                                         [parse_override(item) for item in args.ssgan_set])
            test = load_dataset(DataConfig(name=args.dataset, split="test"))
            out["ssgan"] = load_classifier_d(run_dir).accuracy(test)
            out.update({f"ssgan_{key}": value for key, value in trained.items()})
    print(out, flush=True)
    return out


def summary(draws: list[dict]) -> dict:
    """Mean and std over the draws of every numeric field, with each arm's gain over classical augmentation."""
    # every draw's fields: joined parts may have measured an arm (ssgan) in some draws only
    keys = list(dict.fromkeys(k for d in draws for k in d if isinstance(d[k], (int, float)) and k != "draw"
                              and not k.endswith(STEP_FIELDS)))
    out = {}
    for key in keys:
        values = [d[key] for d in draws if d.get(key) is not None]
        if values:
            out[key] = mean_std(values)
    for arm in ARMS:
        # a gain is of one draw, so only draws that measured both count (none: no gain to report)
        gains = [d[arm] - d["classical"] for d in draws if arm in d and "classical" in d and arm != "classical"]
        if gains:
            out[f"{arm}_minus_classical"] = mean_std(gains)
    return out


def cas_of(args, test_x, test_y) -> dict:
    """The CAS of a trained conditional generator, beside the same CNN trained on every real label."""
    generator = load_generator(args.cas)
    fake_x, fake_y = per_class(generator, args.samples_per_class, seed=0)
    full = load_dataset(DataConfig(name=args.dataset))
    real = accuracy_on(train_classifier(Mix(normalize(full.x), full.labels), 10, args.steps), test_x, test_y)
    cas = accuracy_on(train_classifier(Mix(None, None, fake_x, fake_y), 10, args.steps), test_x, test_y)
    return {"generator": args.cas, "generator_step": generator.step, "real_all_labels": real, "cas": cas,
            "cas_over_real": cas / real}


def _settings(part: dict) -> dict:
    """What must agree for two parts' numbers to be one table: the GAN's settings count only where a GAN
    arm was measured, the ssgan's only where it was."""
    arms = set(part["arms"])
    keep = {"dataset", "classifier_steps"} | ({"gan_preset", "gan_steps", "gan_set"} if arms & GAN_ARMS else set())
    keep |= {"ssgan_preset", "ssgan_steps", "ssgan_set"} if "ssgan" in arms else set()
    keep |= {"classical_style"} if arms & {"classical", "both"} else set()
    return {key: part.get(key, BEFORE_OPTION.get(key)) for key in keep}


def merge(paths: list[str]) -> dict:
    """Results of this script measured separately, as one: draws joined per budget, summaries recomputed."""
    parts = [json.loads(Path(path).read_text()) for path in paths]
    head: dict = {}
    for path, part in zip(paths, parts):
        for key, value in _settings(part).items():
            if head.setdefault(key, value) != value:
                raise SystemExit(f"{path}: {key} is {value!r}, not {head[key]!r} as in another part")
    draws: dict[str, dict[int, dict]] = {}
    for path, part in zip(paths, parts):
        for budget, measured in part["budgets"].items():
            for row in measured["draws"]:
                joined = draws.setdefault(budget, {}).setdefault(row["draw"], {})
                twice = set(ARMS) & set(row) & set(joined)
                if twice:
                    raise SystemExit(f"{path}: {sorted(twice)} at {budget} labels, draw {row['draw']} measured twice")
                joined.update(row)
    ordered = {b: [rows[d] for d in sorted(rows)] for b, rows in sorted(draws.items(), key=lambda i: int(i[0]))}
    budgets = {b: {"summary": summary(rows), "draws": rows} for b, rows in ordered.items()}
    arms = [a for a in ARMS if any(a in part["arms"] for part in parts)]
    return {"benchmark": "augmentation", **head, "arms": arms, "budgets": budgets,
            "parts": [stamp for part in parts for stamp in part.get("parts", [part["stamp"]])]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist", choices=("mnist", "fashion_mnist"))
    p.add_argument("--labels", default="10,60,600", help="labels per class, comma-separated (10 = 100 labels)")
    p.add_argument("--draws", default="0,1,2", help="label draws (data.label_seed), comma-separated")
    p.add_argument("--arms", default=",".join(ARMS))
    p.add_argument("--steps", type=int, default=2000, help="classifier training steps (every arm alike)")
    p.add_argument("--gan-preset", default="", help="default: mnist_dcgan (fashion_dcgan for Fashion-MNIST), the "
                   "lessons' recipe with the labels in place of its clusters")
    p.add_argument("--gan-steps", type=int, default=0, help="default: the preset's (5,000)")
    p.add_argument("--gan-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override the GAN preset (like gankit train --set), e.g. model.d_cond=acgan")
    p.add_argument("--classical", default="digits", choices=STYLES,
                   help="classical augmentation's style: digits (shifts, rotations, scaling, elastic) or clothes "
                        "(mirror images)")
    p.add_argument("--samples-per-class", type=int, default=1000)
    p.add_argument("--eval-n", type=int, default=5000)
    p.add_argument("--ssgan-preset", default="", help="default: mnist_ssgan (its settings on either dataset)")
    p.add_argument("--ssgan-steps", type=int, default=0, help="default: the preset's")
    p.add_argument("--ssgan-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override the ssgan preset, e.g. loss.aux_weight=1.5")
    p.add_argument("--cas", default="", metavar="RUN", help="only the CAS of this conditional run (or demo:NAME)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--merge", default="", help="comma-separated results of this script to join (nothing trains)")
    p.add_argument("--out", default="")
    args = p.parse_args()
    if args.merge:
        emit(merge(args.merge.split(",")), args.out)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    args.arms = [a for a in args.arms.split(",") if a]
    unknown = set(args.arms) - set(ARMS)
    if unknown:
        p.error(f"unknown arms {sorted(unknown)}; choose from {', '.join(ARMS)}")
    args.gan_preset = args.gan_preset or ("fashion_dcgan" if args.dataset == "fashion_mnist" else "mnist_dcgan")
    args.ssgan_preset = args.ssgan_preset or "mnist_ssgan"
    # recorded as the steps trained, so parts of presets that changed in between are not merged
    args.gan_steps = args.gan_steps or resolve(args.gan_preset, []).train.steps
    args.ssgan_steps = args.ssgan_steps or resolve(args.ssgan_preset, []).train.steps
    test = load_dataset(DataConfig(name=args.dataset, split="test"))
    test_x, test_y = normalize(test.x), test.labels
    if args.cas:
        emit({"benchmark": "augmentation", "dataset": args.dataset, "classifier_steps": args.steps,
              "samples_per_class": args.samples_per_class, **cas_of(args, test_x, test_y)}, args.out)
        return
    budgets = {}
    for k in (int(v) for v in args.labels.split(",")):
        draws = [one_draw(args, k, int(d), test_x, test_y) for d in args.draws.split(",")]
        budgets[str(k * 10)] = {"summary": summary(draws), "draws": draws}
    emit({"benchmark": "augmentation", "dataset": args.dataset, "classifier_steps": args.steps,
          "gan_preset": args.gan_preset, "gan_steps": args.gan_steps, "gan_set": args.gan_set,
          "ssgan_preset": args.ssgan_preset, "ssgan_steps": args.ssgan_steps, "ssgan_set": args.ssgan_set,
          "classical_style": args.classical,
          "arms": args.arms, "budgets": budgets}, args.out)


if __name__ == "__main__":
    main()
