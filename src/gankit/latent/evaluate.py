"""Evaluating a trained generator the way `gankit eval` does, as one library call (the CLI and the
benchmarks share it): the run's own dataset as the reference, the extractor the data calls for, cached
real features, and a result recorded beside the checkpoint."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from gankit.augment import AUGMENTS, POLICIES, AugmentConfig, operations
from gankit.checkpoint import checkpoint_path, demo_path, load_checkpoint
from gankit.core.config import from_dict
from gankit.core.errors import GankitError
from gankit.core.images import save_grid, side_by_side
from gankit.core.runtime import resolve_device
from gankit.data import DataConfig, load_dataset, normalize, parse_name, validate_data
from gankit.latent.classify import classifier_of
from gankit.latent.frames import evaluate_frames
from gankit.latent.generator import load_generator, psi_for
from gankit.latent.sample import sampler
from gankit.latent.translate import translate
from gankit.metrics import (build_extractor, dataset_key, default_extractor, evaluate, parse_metrics, real_features,
                            record)
from gankit.metrics.evaluate import real_indices
from gankit.metrics.extractors import extract
from gankit.metrics.leak import leak_check
from gankit.metrics.paired import class_fidelity, pair_scores
from gankit.metrics.scores import nearest_indices


@dataclass
class EvalOptions:
    """What `gankit eval` takes besides the run (see its --help for each)."""

    n: int = 10000
    n_real: int = 0  # 0: as many as n, at most the dataset
    metrics: str = ""  # comma-separated; "" = all the extractor supports
    extractor: str = ""  # "" = the default for the data
    split: str = ""  # "" = "holdout" when the run held images out (data.holdout), else "train"
    real: str = ""  # a folder of images to compare with instead of the run's dataset (photos kept aside)
    pairs: str = ""  # image-to-image runs: score on these pairs instead (edges:fashion_mnist:thick: other drawings)
    leak: bool | None = None  # the leak check (metrics/leak.py); None: when the run augmented what D saw
    extractor_file: str = ""  # an Inception file or a classifier from `gankit classifier train`
    data_dir: str | None = None
    batch_size: int = 100
    seed: int = 0
    ema: bool = True
    cache: bool = True
    psi: float | None = None  # None: the run's own (model.psi)
    jbt: float = 1.0
    drs: float = 1.0  # keep the latents the run's D rates within its top share (latent.rejection)
    device: str = "auto"
    whole_pixels: float | None = None  # frame runs that move whole objects: the share toward whole pixels
    reckon_within: float | None = None  # frame runs that follow several objects: where their reckoned moves rule


def _data_configs(config: dict, opts: EvalOptions, shape: tuple) -> tuple[DataConfig, DataConfig]:
    """The real images to compare with, and the images the run trained on: the split asked for, or a folder
    (`opts.real`) read at the generator's size."""
    # clusters (data.clusters) relabel the images without changing them: evaluation needs the images alone
    trained = replace(from_dict(DataConfig, config.get("data", {}), "data"), split="train", clusters=0)
    if opts.data_dir is not None:
        trained.data_dir = opts.data_dir
    if opts.real:
        reference = DataConfig(name="folder", path=opts.real, resolution=shape[-1], channels=shape[0])
    else:
        reference = replace(trained, split=opts.split or ("holdout" if trained.holdout else "train"))
    validate_data(reference)
    return reference, trained


def trained_images(config: dict, train_cfg: DataConfig):
    """The images a run trained on: with few labels (data.labeled_per_class), a conditional run saw only the
    labelled ones (training.loop.training_data)."""
    data = load_dataset(train_cfg)
    return data.labelled() if data.partly_labelled and config.get("model", {}).get("conditional") else data


def _training_features(config: dict, train_cfg: DataConfig, extractor, opts: EvalOptions):
    """Features of the images the run trained on (for the memorisation ratio against held-out ones), and
    those images in the same order."""
    data = trained_images(config, train_cfg)
    n = min(opts.n_real or opts.n, len(data))
    feats = real_features(data, extractor, n, key=dataset_key(train_cfg, data), batch_size=opts.batch_size,
                          cache=opts.cache)
    return feats, data.x[real_indices(len(data), n)]


NEAREST_SHOWN = 8
LEAK_N = 1000  # generated samples the leak check judges (at most --n)
LEAK_REALS = 5000  # training images its detector learns from and is calibrated on (at most)


def _leak(config: dict, train_cfg: DataConfig, draw, n: int, seed: int) -> dict:
    """The leak check (metrics/leak.py) for the run's augmentation; for a run without any, every operation
    gankit has (a control: what the check says of a generator that never saw augmented images). It runs on
    the CPU: its detector is small, and the samples are drawn on the run's device."""
    augment_cfg = from_dict(AugmentConfig, config.get("augment", {}), "augment")
    names = operations(augment_cfg) or operations(AugmentConfig(policy=",".join(POLICIES.values())))
    data = trained_images(config, train_cfg)
    reals = normalize(data.x[real_indices(len(data), min(len(data), LEAK_REALS), seed)])
    fakes = torch.cat([draw(start, min(100, n - start)).cpu() for start in range(0, n, 100)])
    result = leak_check(reals, fakes, {name: AUGMENTS.get(name) for name in names}, seed=seed)
    return {**result, "leak_operations": ",".join(names)}


def write_nearest(path: Path, draw, extractor, train_feats, train_images) -> None:
    """nearest.png: the first generated samples (top row) above the training image nearest to each in the
    extractor's features (bottom row): a copy shows up as a twin."""
    fakes = draw(0, NEAREST_SHOWN).cpu()
    feats, _ = extract(extractor, [fakes])
    nearest = torch.as_tensor(nearest_indices(feats, train_feats.feats))
    save_grid(torch.cat([fakes, normalize(train_images[nearest]).cpu()]), path, nrow=len(fakes))


def _wants_leak(leak: bool | None, config: dict, kind: str) -> bool:
    if kind != "image":
        if leak:
            raise GankitError("the leak check looks for augmentation artefacts in images; this run makes points")
        return False
    return leak if leak is not None else config.get("augment", {}).get("name", "none") not in ("none", "auto")


def evaluate_run(run: str | Path, opts: EvalOptions | None = None, write: bool = True) -> dict:
    """Score the generator of `run` (a run directory, a checkpoint file or `demo:NAME`) against its own
    dataset. Returns the result dict (metrics plus what was measured: checkpoint, step, split, seed, ema,
    psi, jbt, drs); with `write`, also records it in the run's eval.json (never inside the package, for a demo)."""
    opts = opts or EvalOptions()
    if opts.n < 2:
        raise GankitError(f"--n must be at least 2, got {opts.n}")
    device = resolve_device(opts.device)
    ckpt_file = checkpoint_path(run)
    generator = load_generator(ckpt_file, ema=opts.ema, device=device)
    config = load_checkpoint(ckpt_file, generator_only=True)["config"]
    if (opts.whole_pixels is not None or opts.reckon_within is not None) and generator.clip is None:
        raise GankitError("--whole-pixels and --reckon-within apply to a frame-prediction run that moves whole "
                          "objects")
    if generator.clip is not None:
        folder = ckpt_file.parent if write and demo_path(run) is None else None
        result = evaluate_frames(generator, config, opts, folder)
        return _finish(result, run, ckpt_file, generator, opts, result["split"], write)
    if generator.source_shape is not None:
        shown = ckpt_file.parent / "heldout.png" if write and demo_path(run) is None else None
        result = evaluate_pairs(generator, config, opts, device, shown)
        return _finish(result, run, ckpt_file, generator, opts, result["split"], write)
    data_cfg, train_cfg = _data_configs(config, opts, generator.shape)
    real_data = load_dataset(data_cfg)
    extractor = build_extractor(opts.extractor or default_extractor(real_data.name, real_data.kind), real_data.name,
                                path=opts.extractor_file, data_dir=data_cfg.data_dir, device=device)
    metrics = parse_metrics(opts.metrics, extractor.has_logits)
    real = real_features(real_data, extractor, opts.n_real or opts.n, key=dataset_key(data_cfg, real_data),
                         batch_size=opts.batch_size, cache=opts.cache)
    del real_data
    other = data_cfg != train_cfg  # images G never saw: they give the memorisation ratio
    train, train_images = _training_features(config, train_cfg, extractor, opts) if other else (None, None)
    draw = sampler(generator, opts.n, seed=opts.seed, psi=opts.psi, jbt=opts.jbt, drs=opts.drs)
    result = evaluate(draw, opts.n, real, extractor, metrics, opts.batch_size, train=train)
    if _wants_leak(opts.leak, config, generator.kind):
        result["metrics"].update(_leak(config, train_cfg, draw, min(opts.n, LEAK_N), opts.seed))
    if write and train is not None and demo_path(run) is None and generator.kind == "image":
        write_nearest(ckpt_file.parent / "nearest.png", draw, extractor, train, train_images)
    if demo_path(run) is None:
        result["metrics"].update(discriminator_accuracy(ckpt_file, train_cfg, device))
    return _finish(result, run, ckpt_file, generator, opts, f"folder {opts.real}" if opts.real else data_cfg.split,
                   write)


def discriminator_accuracy(ckpt_file: Path, train_cfg: DataConfig, device: torch.device) -> dict:
    """For a run whose D names classes (ssgan, AC-GAN): D's accuracy on the dataset's test split (all its
    labels), as `d_test_accuracy`. Nothing for any other run, or data without a test split."""
    classifier = classifier_of(load_checkpoint(ckpt_file), device)
    if classifier is None:
        return {}
    test_cfg = replace(train_cfg, split="test", holdout=0, holdout_by="", labeled_per_class=0)
    try:
        test = load_dataset(test_cfg)
    except GankitError:  # an image folder has no test split: nothing to measure against
        return {}
    return {"d_test_accuracy": classifier.accuracy(test)}


def _finish(result: dict, run, ckpt_file: Path, generator, opts: EvalOptions, split: str, write: bool) -> dict:
    """The result with what was measured, recorded in the run's eval.json (never inside the package)."""
    result.update({"checkpoint": str(ckpt_file), "step": generator.step, "split": split, "seed": opts.seed,
                   "ema": generator.uses_ema, "psi": psi_for(generator, opts.psi), "jbt": opts.jbt,
                   "drs": opts.drs})
    if write and demo_path(run) is None:
        record(ckpt_file.parent / "eval.json", result)
    return result


def evaluate_pairs(generator, config: dict, opts: EvalOptions, device: torch.device,
                   picture: Path | None = None) -> dict:
    """An image-to-image run against the held-out pairs (or the split asked for): PSNR and SSIM to the
    targets; FID and KID of the outputs against the targets in the extractor the data calls for; for
    upscaling, bicubic's PSNR/SSIM beside them and the consistency PSNR; for drawings, the edge F1 and, where
    gankit ships a classifier of the data, the share of outputs it puts in their input's class. `picture`:
    also write the first pairs there, each source beside its output and its real target."""
    if opts.real or opts.psi not in (None, 1) or opts.jbt != 1 or opts.drs != 1:
        raise GankitError("an image-to-image run is measured on its own held-out pairs: --real, --psi, --jbt and "
                          "--drs do not apply")
    if opts.pairs:  # the run's data settings (resolution, classes, hold-out) with other pairs
        config = {**config, "data": {**config.get("data", {}), "name": opts.pairs}}
    data_cfg, _ = _data_configs(config, opts, generator.shape)
    data = load_dataset(data_cfg)
    if data.source_shape != generator.source_shape:
        raise GankitError(f"{data.name} pairs have {'x'.join(map(str, data.source_shape or ()))} sources; the run "
                          f"takes {'x'.join(map(str, generator.source_shape))}")
    idx = real_indices(len(data), min(opts.n, len(data)), opts.seed)
    outputs = translate(generator, data.source[idx], seed=opts.seed, batch_size=opts.batch_size)
    if picture is not None:
        shown = idx[:NEAREST_SHOWN]
        save_grid(side_by_side(normalize(data.source[shown]), outputs[:NEAREST_SHOWN], normalize(data.x[shown])),
                  picture, nrow=6)
    result = score_translations(outputs, data, idx, data_cfg, opts, device)
    result["split"] = data_cfg.split + (f" of {opts.pairs}" if opts.pairs else "")
    return result


def score_translations(outputs: torch.Tensor, data, idx: torch.Tensor, data_cfg: DataConfig,
                       opts: EvalOptions | None = None, device: torch.device | None = None) -> dict:
    """Outputs [n, C, H, W] made for the pairs `data` holds at `idx`, scored as `gankit eval` scores an
    image-to-image run (for baselines and other routes to compare with it the same way)."""
    opts = opts or EvalOptions()
    sources, targets = normalize(data.source[idx]), normalize(data.x[idx])
    scores = pair_scores(outputs, sources, targets, data.extra)
    base = parse_name(data.name)[1]
    extractor = build_extractor(opts.extractor or default_extractor(base, data.kind), base,
                                path=opts.extractor_file, data_dir=data_cfg.data_dir, device=device)
    if data.labels is not None and extractor.has_logits:
        scores["class_fidelity"] = class_fidelity(extractor, outputs, data.labels[idx], data.class_names)
        # the same classifier on the targets themselves: the most an output can score
        scores["class_fidelity_targets"] = class_fidelity(extractor, targets, data.labels[idx], data.class_names)
    real = real_features(data, extractor, len(idx), key=dataset_key(data_cfg, data), batch_size=opts.batch_size,
                         cache=opts.cache)
    result = evaluate(lambda start, count: outputs[start:start + count], len(idx), real, extractor,
                      parse_metrics(opts.metrics or "fid,kid", extractor.has_logits), opts.batch_size)
    result["metrics"].update(scores)
    return result
