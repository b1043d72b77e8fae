"""Image to image, measured as `gankit eval` measures it, against the baselines the field uses:

    python benchmarks/image_to_image.py --preset shoes_edges2photo --arms gan,l1 --seeds 0 \
        --out benchmarks/results/image_to_image/shoes_edges2photo_cpu.json

Arms, each trained from the preset for the same number of steps (--steps, default the preset's):
- `gan`: the preset as it is (adversarial + λ·L1);
- `l1`: the same generator on L1 alone (`loss.adversarial=0`: pix2pix's "L1 only" ablation, SRResNet for
  upscaling). D still trains beside it and is ignored, so its time per step is the GAN's.
Baselines (nothing of the model's), on the same held-out pairs:
- upscaling: bicubic (reported by every eval as bicubic_psnr / bicubic_ssim);
- drawings: nearest-neighbour retrieval — the training image whose drawing is nearest the input drawing
  (both blurred a little, so strokes a pixel apart still match), scored like a model's outputs;
- labelled drawings (Fashion-MNIST, MNIST): `sketch_classifier`, the augmentation benchmark's small CNN
  (metrics.downstream) trained on the training drawings' labels, its accuracy on the held-out drawings
  (sketch_accuracy): an estimate of how much of the class the drawings carry, a rough ceiling for class
  fidelity; with --sketch-judge also `sketch_judge`, the judge's own network and recipe (metrics.classifier,
  the bundled classifier's) trained on the training drawings instead of the images (sketch_judge_accuracy):
  how much of the class the judge itself can read from a drawing. `--arms ""` scores the baselines alone.
Drawings without paired data (--igan PRESET, e.g. shoes_dcgan: an unconditional GAN of the same images):
- `igan`: each held-out drawing met by inverting that generator with the sketch loss (`gankit latent
  invert --sketch`), scored like a model's outputs.
--styles thick,shaky,sobel also scores each trained arm on held-out drawings drawn in those styles (class
fidelity and edge F1 against drawings unlike the training ones).
Every score is on the preset's held-out pairs (data.holdout), which no arm trained on.

--merge a.json,b.json joins results of this script made with the same preset, steps, n and overrides (seeds
run as separate processes, side by side): medians and ranges over the seeds, and issue 28's targets checked
in every seed and on the medians.
"""
from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import emit, train_then_score

from gankit.core.config import from_dict, parse_override
from gankit.data import DataConfig, load_dataset, normalize, parse_name
from gankit.latent import load_generator
from gankit.latent.evaluate import EvalOptions, evaluate_run, score_translations
from gankit.latent.invert import invert, sketch_loss, sketch_target
from gankit.metrics.classifier import train_classifier as train_judge
from gankit.metrics.downstream import Mix, accuracy_on, train_classifier
from gankit.metrics.evaluate import real_indices
from gankit.metrics.extractors import CLASSIFIER_FOR
from gankit.training.config import load_preset

ARMS = {"gan": [], "l1": [{"loss": {"adversarial": 0.0}}]}
BASELINES = ("retrieval", "sketch_classifier", "sketch_judge")  # the same for every process that scores a seed

OTHER_STYLES = ("thick", "shaky", "sobel")  # drawings unlike the training edges (issue 28's style target)
# issue 28's targets, each a test of one seed's arms (arm -> scores)
TARGETS = {
    "faces_sr4": {
        "pixel_psnr_at_least_bicubic_plus_1.5dB": lambda a: a["l1"]["psnr"] >= a["l1"]["bicubic_psnr"] + 1.5,
        "gan_psnr_at_least_bicubic_plus_0.5dB": lambda a: a["gan"]["psnr"] >= a["gan"]["bicubic_psnr"] + 0.5,
        "gan_fid_at_least_30pct_below_pixel": lambda a: a["gan"]["fid"] <= 0.7 * a["l1"]["fid"],
        "gan_consistency_at_least_35dB": lambda a: a["gan"]["consistency_psnr"] >= 35,
    },
    "shoes_edges2photo": {
        "gan_fid_at_least_20pct_below_l1": lambda a: a["gan"]["fid"] <= 0.8 * a["l1"]["fid"],
        "gan_edge_f1_within_5pct_of_l1": lambda a: a["gan"]["edge_f1"] >= 0.95 * a["l1"]["edge_f1"],
        "gan_class_fidelity_at_least_95pct": lambda a: a["gan"]["class_fidelity"] >= 0.95,
        "gan_beats_retrieval_on_edge_f1": lambda a: a["gan"]["edge_f1"] > a["retrieval"]["edge_f1"],
        # scored with --styles clean,thick,shaky,sobel: no style costs more than 5 points against clean drawings
        "gan_styles_lose_at_most_5_points": lambda a: all(
            a["gan"][f"class_fidelity_{s}"] >= a["gan"]["class_fidelity_clean"] - 0.05 for s in OTHER_STYLES),
    },
}


def _blurred(sketches: torch.Tensor) -> torch.Tensor:
    ink = 1 - (sketches.float() / 255)  # strokes 1 on 0
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 16).view(1, 1, 3, 3)
    return F.conv2d(ink, kernel.expand(ink.shape[1], 1, 3, 3), padding=1, groups=ink.shape[1]).flatten(1)


def _splits(data_cfg: DataConfig, n: int, seed: int) -> tuple:
    """The training pairs, the held-out pairs and the indices of the n of them a seed scores (as eval picks)."""
    train, held = (load_dataset(replace(data_cfg, split=s)) for s in ("train", "holdout"))
    return train, held, real_indices(len(held), min(n, len(held)), seed)


def retrieval(data_cfg: DataConfig, n: int, seed: int) -> dict:
    """Each held-out drawing answered with the training image whose drawing is nearest; scored as eval would."""
    train, held, idx = _splits(data_cfg, n, seed)
    queries, bank = _blurred(held.source[idx]), _blurred(train.source)
    nearest = torch.cat([torch.cdist(q, bank).argmin(1) for q in queries.split(256)])
    return score_outputs(normalize(train.x[nearest]), held, idx, data_cfg)


def sketch_classifier(data_cfg: DataConfig, n: int, seed: int, steps: int = 2000) -> dict:
    """How much of the class the drawings themselves carry: the augmentation benchmark's small CNN trained on
    the training drawings and their labels, its accuracy on the held-out drawings. An output keeps no more of
    the class than its drawing holds, so this estimates class fidelity's ceiling from the input's side
    (class_fidelity_targets, the judge's reading of the real targets, is the ceiling from the judge's side)."""
    train, held, idx = _splits(data_cfg, n, seed)
    model = train_classifier(Mix(normalize(train.source), train.labels), len(train.class_names), steps, seed=seed)
    return {"sketch_accuracy": accuracy_on(model, normalize(held.source[idx]), held.labels[idx])}


def sketch_judge(data_cfg: DataConfig, n: int, seed: int) -> dict:
    """The judge's network, trained as the bundled judge was (8 epochs, shifts), on the training drawings in
    place of their images, and scored on the held-out drawings: a larger network than the small CNN above, and
    the judge's own, so its accuracy estimates how much of the class the judge could find in a drawing."""
    train, held, idx = _splits(data_cfg, n, seed)
    held = held.subset(idx)
    # ink light on dark, as the judge's images are: its shifts pad with the dark ground
    _, accuracy = train_judge(*(replace(d, x=255 - d.source, source=None) for d in (train, held)), seed=seed,
                              log=lambda line: None)
    return {"sketch_judge_accuracy": accuracy}


def igan(preset: str, data_cfg: DataConfig, n: int, seed: int, keep: str) -> dict:
    """Train the unconditional `preset` (the same images, no drawings), then meet each held-out drawing by
    inverting it with the sketch loss."""
    held = load_dataset(replace(data_cfg, split="holdout"))
    idx = real_indices(len(held), min(n, len(held)), seed)
    target = sketch_target(normalize(held.source[idx]))

    def score(run_dir: str) -> dict:
        G = load_generator(run_dir)
        codes = [invert(G, part, steps=200, candidates=32, objective=sketch_loss, seed=seed)[0]
                 for part in target.split(250)]
        with torch.no_grad():
            outputs = torch.cat([G(code.z, None) for code in codes])
        return score_outputs(outputs, held, idx, data_cfg)
    return train_then_score(preset, [], score, seed=seed, keep=keep)


def score_outputs(outputs: torch.Tensor, held, idx: torch.Tensor, data_cfg: DataConfig) -> dict:
    """Outputs made for the held-out pairs at `idx`, scored as `gankit eval` scores a run's."""
    holdout = replace(data_cfg, split="holdout")
    return score_translations(outputs, held, idx, holdout, EvalOptions(cache=False))["metrics"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="")
    p.add_argument("--merge", default="", help="comma-separated results of this script to join (see above)")
    p.add_argument("--arms", default="gan,l1")
    p.add_argument("--seeds", default="0")
    p.add_argument("--steps", type=int, default=0, help="training steps per arm (default: the preset's)")
    p.add_argument("--n", type=int, default=1000, help="held-out pairs scored (at most data.holdout)")
    p.add_argument("--igan", default="", metavar="PRESET", help="also the no-paired-data route: an unconditional "
                                                             "GAN of PRESET, inverted with the sketch loss")
    p.add_argument("--sketch-judge", action="store_true", help="also train the judge's network on the drawings "
                   "(sketch_judge: a ceiling for class fidelity; minutes per seed)")
    p.add_argument("--styles", default="", help="also score each arm on held-out drawings in these styles")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override the preset for every arm, e.g. --set data.name=edges:fashion_mnist:varied")
    p.add_argument("--keep", default="", help="keep the runs in this folder")
    p.add_argument("--out", default="")
    args = p.parse_args()
    if args.merge:
        emit(merge(args.merge.split(",")), args.out)
        return
    if not args.preset:
        p.error("--preset is required (or --merge)")
    preset = load_preset(args.preset)
    overrides = [parse_override(s) for s in args.set]
    data = dict(preset["data"])
    for override in overrides:
        data.update(override.get("data", {}))
    data_cfg = from_dict(DataConfig, data, "data")
    pairing, base, _ = parse_name(data_cfg.name)
    rows = []

    def add(arm: str, seed: int, scores: dict) -> None:
        rows.append({"arm": arm, "seed": seed, **scores})
        print(rows[-1], flush=True)

    drawings, labelled = data_cfg.name.startswith("edges:"), base in CLASSIFIER_FOR  # labelled: class fidelity
    for seed in [int(s) for s in args.seeds.split(",")]:
        for arm in filter(None, args.arms.split(",")):
            def score(run_dir: str) -> dict:
                out = evaluate_run(run_dir, EvalOptions(n=args.n, seed=seed, cache=False), write=False)["metrics"]
                for style in filter(None, args.styles.split(",")):
                    other = evaluate_run(run_dir, EvalOptions(n=args.n, seed=seed, cache=False,
                                                              pairs=f"{pairing}:{base}:{style}"), write=False)
                    out.update({f"{k}_{style}": other["metrics"][k] for k in ("edge_f1", "class_fidelity")
                                if k in other["metrics"]})
                return out
            add(arm, seed, train_then_score(args.preset, overrides + ARMS[arm], score, steps=args.steps, seed=seed,
                                            keep=args.keep))
        if drawings:
            add("retrieval", seed, retrieval(data_cfg, args.n, seed))
        if drawings and labelled:
            add("sketch_classifier", seed, sketch_classifier(data_cfg, args.n, seed))
        if drawings and labelled and args.sketch_judge:
            add("sketch_judge", seed, sketch_judge(data_cfg, args.n, seed))
        if args.igan:
            add("igan", seed, igan(args.igan, data_cfg, args.n, seed, args.keep))
    emit({"benchmark": "image_to_image", "preset": args.preset, "overrides": args.set,
          "steps": args.steps or preset["train"]["steps"],
          "eval_n": args.n, "targets": check_targets(args.preset, rows), "rows": rows, "median": medians(rows)},
         args.out)


def medians(rows: list[dict]) -> dict:
    """Per arm, the median over seeds of every score."""
    out = {}
    for arm in dict.fromkeys(r["arm"] for r in rows):
        mine = [r for r in rows if r["arm"] == arm]
        keys = dict.fromkeys(k for r in mine for k, v in r.items() if isinstance(v, float) and k != "seed")
        out[arm] = {k: round(statistics.median(r[k] for r in mine if k in r), 5) for k in keys}
    return out


def check_targets(preset: str, rows: list[dict]) -> dict:
    """Each target of the preset in every seed (None where an arm it needs is missing) and on the medians."""
    tests = TARGETS.get(preset, {})
    seeds = sorted({r["seed"] for r in rows})
    per_seed = {}
    for seed in seeds:
        arms = {r["arm"]: r for r in rows if r["seed"] == seed}
        per_seed[str(seed)] = {name: _try(test, arms) for name, test in tests.items()}
    on_medians = {name: _try(test, medians(rows)) for name, test in tests.items()}
    every = {}
    for name in tests:
        held = [per_seed[str(seed)][name] for seed in seeds]
        every[name] = None if None in held or not held else all(held)
    return {"in_every_seed": every, "on_medians": on_medians, "per_seed": per_seed}


def _try(test, arms: dict):
    try:
        return bool(test(arms))
    except KeyError:
        return None


def merge(paths: list[str]) -> dict:
    """Results of this script for other seeds of the same preset, steps, n and overrides, as one."""
    parts = [json.loads(Path(p).read_text()) for p in paths]
    for part in parts:  # files from before --set have no overrides: none were given
        part.setdefault("overrides", [])
    head = parts[0]
    for path, part in zip(paths, parts):
        for key in ("preset", "steps", "eval_n", "overrides"):
            if part[key] != head[key]:
                raise SystemExit(f"{path}: {key} is {part[key]!r}, not {head[key]!r} as in {paths[0]}")
    rows: dict[tuple, dict] = {}
    for path, part in zip(paths, parts):
        for row in part["rows"]:
            key = (row["arm"], row["seed"])
            if key in rows and row["arm"] not in BASELINES:
                raise SystemExit(f"{path}: arm {row['arm']} seed {row['seed']} is in two of the results")
            rows[key] = row
    joined = sorted(rows.values(), key=lambda r: (r["seed"], r["arm"]))
    spread = {arm: {k: [min(r[k] for r in joined if r["arm"] == arm and k in r),
                        max(r[k] for r in joined if r["arm"] == arm and k in r)] for k in scores}
              for arm, scores in medians(joined).items()}
    return {"benchmark": "image_to_image", "preset": head["preset"], "overrides": head["overrides"],
            "steps": head["steps"], "eval_n": head["eval_n"], "seeds": sorted({r["seed"] for r in joined}),
            "targets": check_targets(head["preset"], joined), "median": medians(joined), "range": spread,
            "rows": joined, "parts": [part["stamp"] for part in parts]}


if __name__ == "__main__":
    main()
