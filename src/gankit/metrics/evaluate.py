"""Evaluation: features of real data (cached) and of generated samples, then the chosen metrics.

It takes a sampling callable, not a trainer or a checkpoint, so `gankit eval`, the training loop's
periodic evaluation and benchmarks share it.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.core.errors import GankitError
from gankit.core.files import atomic_write_bytes, atomic_write_json
from gankit.core.registry import Registry
from gankit.data.dataset import DataConfig, Dataset, cache_dir
from gankit.metrics import scores
from gankit.metrics.extractors import Extractor, extract

log = logging.getLogger("gankit")


@dataclass
class Features:
    feats: np.ndarray  # [N, D]
    logits: np.ndarray | None  # [N, K], or None when the extractor has no classes


def _needs_logits(fn: Callable[[np.ndarray], dict]) -> Callable[[Features, Features], dict]:
    def metric(real: Features, fake: Features) -> dict:
        if fake.logits is None:
            raise GankitError("this metric needs class logits: use --extractor classifier")
        return fn(fake.logits)
    return metric


METRICS: Registry = Registry("metric")
METRICS.add("fid", lambda r, f: scores.fid(r.feats, f.feats))
METRICS.add("kid", lambda r, f: scores.kid(r.feats, f.feats))
METRICS.add("pr", lambda r, f: scores.precision_recall(r.feats, f.feats), aliases=("precision_recall",))
METRICS.add("dc", lambda r, f: scores.density_coverage(r.feats, f.feats), aliases=("density_coverage",))
METRICS.add("is", _needs_logits(scores.inception_score), aliases=("inception_score", "classifier_score"))
METRICS.add("classes", _needs_logits(scores.class_stats), aliases=("modes",))
# for a metric's best checkpoint: which key it is judged by, and whether lower is better. Not "pr": precision
# alone rewards a collapsed generator and recall alone a blurry one.
BEST_KEY = {"fid": ("fid", True), "kid": ("kid", True), "dc": ("coverage", False), "is": ("is", False),
            "classes": ("class_kl", True)}


def parse_metrics(text: str, has_logits: bool) -> list[str]:
    """"fid,kid" -> canonical names; "" -> every metric the extractor supports."""
    if not text:
        return ["fid", "kid", "pr", "dc"] + (["is", "classes"] if has_logits else [])
    names = [METRICS.canonical(n.strip().lower()) for n in text.split(",") if n.strip()]
    if not names:
        raise GankitError("--metrics: name at least one metric")
    return list(dict.fromkeys(names))


def _progress(what: str, total: int) -> Callable[[int], None]:
    t0, last = time.perf_counter(), [0.0]

    def report(done: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 10 or done == total:
            last[0] = now
            log.info("%s: %d/%d images (%.0f img/s)", what, done, total, done / max(now - t0, 1e-9))
    return report


def real_indices(size: int, n: int, seed: int = 0) -> torch.Tensor:
    """Which n of `size` real images real_features reads (seeded, in order)."""
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n].sort().values


def real_features(data: Dataset, extractor: Extractor, n: int, *, key: str, seed: int = 0,
                  batch_size: int = 100, cache: bool = True) -> Features:
    """Features of n real images drawn without replacement (seeded; all of them if the set is smaller).

    Cached in <cache>/gankit/stats/ under (`key` naming dataset, split and resolution, extractor id, n,
    seed), so the cost is paid once per dataset; delete the folder after changing a folder's images.
    """
    n = min(n, len(data))
    name = f"{key}-{extractor.id}-n{n}-s{seed}"
    path = cache_dir() / "stats" / (hashlib.sha256(name.encode()).hexdigest()[:20] + ".npz")
    if cache and path.is_file():
        with np.load(path) as z:
            if str(z["name"]) == name:
                return Features(z["feats"], z["logits"] if z["logits"].size else None)
    idx = real_indices(len(data), n, seed)
    feats, logits = extract(extractor, data.x[idx].split(batch_size), _progress("real features", n))
    if cache:
        buf = io.BytesIO()
        np.savez(buf, name=np.array(name), feats=feats,
                 logits=logits if logits is not None else np.zeros(0, np.float32))
        atomic_write_bytes(path, buf.getvalue())
    return Features(feats, logits)


def fake_features(sample: Callable[[int, int], torch.Tensor], n: int, extractor: Extractor,
                  batch_size: int = 100, progress: bool = True) -> Features:
    """Features of n generated images; `sample(start, count)` returns images [count, C, H, W] in [-1, 1]."""
    batches = (sample(start, min(batch_size, n - start)) for start in range(0, n, batch_size))
    return Features(*extract(extractor, batches, _progress("generated features", n) if progress else None))


def compute(metrics: list[str], real: Features, fake: Features) -> dict:
    """{metric key: value} for each named metric (a metric may give several keys, e.g. kid and kid_std)."""
    out: dict = {}
    for name in metrics:
        out.update(METRICS.get(name)(real, fake))
    return out


def dataset_key(cfg: DataConfig, data: Dataset) -> str:
    """Names real data for the statistics cache: dataset, split, sample shape, size (and folder path, and which
    labels were kept: a conditional run with few labels trained on those images alone)."""
    where = f"-{hashlib.sha256(cfg.path.encode()).hexdigest()[:8]}" if cfg.path else ""
    few = cfg.labeled_per_class and cfg.split == "train"
    labels = f"-labels{cfg.labeled_per_class}s{cfg.label_seed}" if few else ""
    return f"{data.name}{where}-{cfg.split}{labels}-{'x'.join(map(str, data.shape))}-{len(data)}"


def evaluate(sample: Callable[[int, int], torch.Tensor], n: int, real: Features, extractor: Extractor,
             metrics: list[str], batch_size: int = 100, train: Features | None = None) -> dict:
    """Score n generated samples against precomputed real features: {"metrics": {...}, "n", ...}. With the
    features of the training images (`train`, when `real` are images G never saw), also the memorisation
    ratio (see scores.memorisation)."""
    t0 = time.perf_counter()
    fake = fake_features(sample, n, extractor, batch_size)
    values = compute(metrics, real, fake)
    if train is not None:
        values.update(scores.memorisation(train.feats, fake.feats, real.feats))
    return {"extractor": extractor.id, "n": n, "n_real": len(real.feats), "metrics": values,
            "seconds": round(time.perf_counter() - t0, 2)}


def record(path: str | Path, result: dict) -> dict:
    """Merge `result` into the eval.json at `path`, one entry per extractor (a classifier evaluation does
    not overwrite an Inception one); returns the whole file's contents."""
    path = Path(path)
    everything = json.loads(path.read_text()) if path.is_file() else {}
    everything[result["extractor"].split("-")[0]] = result
    atomic_write_json(path, everything)
    return everything
