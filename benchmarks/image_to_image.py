"""Image to image, measured as `gankit eval` measures it, against the baselines the field uses:

    python benchmarks/image_to_image.py --preset shoes_edges2photo --arms gan,l1 --seeds 0 \
        --out benchmarks/results/image_to_image/shoes_edges2photo_cpu.json

Arms, each trained from the preset for the same number of steps (--steps, default the preset's):
- `gan`: the preset as it is (adversarial + λ·L1);
- `l1`: the same generator on L1 alone (`loss.adversarial=0`: pix2pix's "L1 only" ablation, SRResNet for
  upscaling). D still trains beside it and is ignored, so its time per step is the GAN's.
Baselines that need no training, on the same held-out pairs:
- upscaling: bicubic (reported by every eval as bicubic_psnr / bicubic_ssim);
- drawings: nearest-neighbour retrieval — the training image whose drawing is nearest the input drawing
  (both blurred a little, so strokes a pixel apart still match), scored like a model's outputs.
Every score is on the preset's held-out pairs (data.holdout), which no arm trained on.
"""
from __future__ import annotations

import argparse
import statistics
from dataclasses import replace

import torch
import torch.nn.functional as F
from _common import emit, train_then_score

from gankit.core.config import from_dict
from gankit.data import DataConfig, load_dataset, normalize, parse_name
from gankit.latent.evaluate import EvalOptions, evaluate_run
from gankit.metrics import build_extractor, dataset_key, default_extractor, evaluate, parse_metrics, real_features
from gankit.metrics.evaluate import real_indices
from gankit.metrics.paired import class_fidelity, pair_scores
from gankit.training.config import load_preset

ARMS = {"gan": [], "l1": [{"loss": {"adversarial": 0.0}}]}


def _blurred(sketches: torch.Tensor) -> torch.Tensor:
    ink = 1 - (sketches.float() / 255)  # strokes 1 on 0
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 16).view(1, 1, 3, 3)
    return F.conv2d(ink, kernel.expand(ink.shape[1], 1, 3, 3), padding=1, groups=ink.shape[1]).flatten(1)


def retrieval(data_cfg: DataConfig, n: int, seed: int) -> dict:
    """Each held-out drawing answered with the training image whose drawing is nearest; scored as eval would."""
    train = load_dataset(replace(data_cfg, split="train"))
    held = load_dataset(replace(data_cfg, split="holdout"))
    idx = real_indices(len(held), min(n, len(held)), seed)
    queries, bank = _blurred(held.source[idx]), _blurred(train.source)
    nearest = torch.cat([torch.cdist(q, bank).argmin(1) for q in queries.split(256)])
    outputs, sources, targets = normalize(train.x[nearest]), normalize(held.source[idx]), normalize(held.x[idx])
    scores = pair_scores(outputs, sources, targets, held.extra)
    base = parse_name(held.name)[1]
    extractor = build_extractor(default_extractor(base, held.kind), base, data_dir=data_cfg.data_dir)
    if held.labels is not None and extractor.has_logits:
        scores["class_fidelity"] = class_fidelity(extractor, outputs, held.labels[idx], held.class_names)
    real = real_features(held, extractor, len(idx), key=dataset_key(replace(data_cfg, split="holdout"), held))
    result = evaluate(lambda s, c: outputs[s:s + c], len(idx), real, extractor,
                      parse_metrics("fid,kid", extractor.has_logits), 100)
    return {**result["metrics"], **scores}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", required=True)
    p.add_argument("--arms", default="gan,l1")
    p.add_argument("--seeds", default="0")
    p.add_argument("--steps", type=int, default=0, help="training steps per arm (default: the preset's)")
    p.add_argument("--n", type=int, default=1000, help="held-out pairs scored (at most data.holdout)")
    p.add_argument("--keep", default="", help="keep the runs in this folder")
    p.add_argument("--out", default="")
    args = p.parse_args()
    preset = load_preset(args.preset)
    data_cfg = from_dict(DataConfig, preset["data"], "data")
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for arm in args.arms.split(","):
            def score(run_dir: str) -> dict:
                return evaluate_run(run_dir, EvalOptions(n=args.n, seed=seed, cache=False), write=False)["metrics"]
            row = train_then_score(args.preset, ARMS[arm], score, steps=args.steps, seed=seed, keep=args.keep)
            rows.append({"arm": arm, "seed": seed, **row})
            print(rows[-1], flush=True)
        if data_cfg.name.startswith("edges:"):
            rows.append({"arm": "retrieval", "seed": seed, **retrieval(data_cfg, args.n, seed)})
            print(rows[-1], flush=True)
    median = {}
    for arm in dict.fromkeys(r["arm"] for r in rows):
        mine = [r for r in rows if r["arm"] == arm]
        keys = dict.fromkeys(k for r in mine for k, v in r.items() if isinstance(v, float) and k != "seed")
        median[arm] = {k: round(statistics.median(r[k] for r in mine if k in r), 5) for k in keys}
    emit({"benchmark": "image_to_image", "preset": args.preset, "steps": args.steps or preset["train"]["steps"],
          "eval_n": args.n, "rows": rows, "median": median}, args.out)


if __name__ == "__main__":
    main()
