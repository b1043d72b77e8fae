"""The judge for MNIST-like data: a small CNN gankit trains itself and ships as package data.

Inception-v3 is a poor judge of 28x28 digits (it was trained on photographs), so MNIST work measures
samples with a classifier of the dataset itself: its penultimate features give a fast FID-like distance,
its class probabilities a classifier score (the Inception Score analogue), class coverage and the KL of
the predicted class histogram to uniform.
"""
from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gankit.core.errors import GankitError
from gankit.core.files import atomic_write_bytes, load_tensor_file
from gankit.core.runtime import make_generator
from gankit.data import Dataset, normalize

FORMAT = "gankit-classifier"
VERSION = 1
INPUT_SIZE = 28  # what the judge sees; other resolutions are resized to it
BUNDLED = {"mnist": "mnist.pt", "fashion_mnist": "fashion_mnist.pt"}


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class Judge(nn.Module):
    """5 conv layers, global average pooling to `4 * width` features, one linear layer to the classes.

    Input: images [N, 1, 28, 28] in [-1, 1]. `forward` returns logits [N, num_classes].
    """

    def __init__(self, *, num_classes: int = 10, width: int = 32, dropout: float = 0.3):
        super().__init__()
        w = width
        self.body = nn.Sequential(*_block(1, w), *_block(w, w), nn.MaxPool2d(2),
                                  *_block(w, 2 * w), *_block(2 * w, 2 * w), nn.MaxPool2d(2),
                                  *_block(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(4 * w, num_classes)
        self.kwargs = {"num_classes": num_classes, "width": width, "dropout": dropout}
        self.feature_dim = 4 * w

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.body(x)
        return feats, self.head(self.drop(feats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]


def prepare(x: torch.Tensor) -> torch.Tensor:
    """Images [N, C, H, W] (uint8, or float in [-1, 1]) -> float [N*C, 1, 28, 28] in [-1, 1].

    Each channel is judged on its own: a Stacked-MNIST image is three digits, one per channel.
    """
    x = normalize(x) if x.dtype == torch.uint8 else x.float()
    x = x.reshape(-1, 1, *x.shape[-2:])
    if x.shape[-1] != INPUT_SIZE or x.shape[-2] != INPUT_SIZE:
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True,
                          align_corners=False)
    return x


def _augment(x: torch.Tensor, gen: torch.Generator, flip: bool) -> torch.Tensor:
    """Random shifts of up to 2 pixels (and mirror images for clothes): cheap, and worth ~0.3% accuracy."""
    n, _, h, w = x.shape
    padded = F.pad(x, (2, 2, 2, 2), value=-1.0)
    dy, dx = torch.randint(0, 5, (2,), generator=gen).tolist()  # one shift per batch keeps it vectorized
    x = padded[:, :, dy:dy + h, dx:dx + w]
    if flip:
        mask = torch.rand(n, generator=gen) < 0.5
        x = torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)
    return x


@torch.inference_mode()
def accuracy(model: Judge, data: Dataset, batch_size: int = 1000) -> float:
    """Share of `data` (labelled images) the model classifies correctly."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(data), batch_size):
        x = prepare(data.x[start:start + batch_size]).to(device)
        correct += (model(x).argmax(1).cpu() == data.labels[start:start + batch_size]).sum().item()
    return correct / len(data)


def train_classifier(train: Dataset, test: Dataset, *, epochs: int = 8, batch_size: int = 128,
                     lr: float = 2e-3, flip: bool = False, seed: int = 0, device: str = "cpu",
                     log: Callable[[str], None] = print) -> tuple[Judge, float]:
    """Train a Judge on `train` (one-cycle learning rate, shift augmentation) and return it with its
    accuracy on `test`."""
    if train.labels is None or test.labels is None:
        raise GankitError(f"{train.name}: a classifier needs labelled data")
    if train.kind != "image" or train.shape[0] != 1:
        raise GankitError(f"{train.name}: the judge reads one-channel images (MNIST-like); it judges "
                          "multi-channel stacks one channel at a time")
    torch.manual_seed(seed)
    gen = make_generator(torch.device("cpu"), seed)
    model = Judge(num_classes=train.num_classes).to(device)
    steps_per_epoch = math.ceil(len(train) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    for epoch in range(epochs):
        model.train()
        start, order = time.time(), torch.randperm(len(train), generator=gen)
        for idx in order.split(batch_size):
            x = _augment(prepare(train.x[idx]), gen, flip).to(device)
            # no label smoothing: the classifier score and `confident` need sharp probabilities (with 0.05
            # smoothing real MNIST test digits scored IS 7.6 instead of near 10)
            loss = F.cross_entropy(model(x), train.labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = accuracy(model, test)
        log(f"epoch {epoch + 1}/{epochs}: test accuracy {acc:.4f} ({time.time() - start:.0f}s)")
    return model.eval(), acc


def save_classifier(model: Judge, path: str | Path, meta: dict) -> None:
    """Write weights and description (dataset, class names, test accuracy) in one weights-only file."""
    buf = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "version": VERSION, "kwargs": model.kwargs, "meta": meta,
                "state_dict": state}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_classifier(path: str | Path) -> tuple[Judge, dict]:
    """A judge saved by save_classifier, in eval mode, and its meta dict."""
    blob = load_tensor_file(Path(path), "a gankit classifier")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise GankitError(f"{path} is not a gankit classifier")
    if blob.get("version") != VERSION:
        raise GankitError(f"{path}: classifier version {blob.get('version')!r:.20}, this gankit reads {VERSION}")
    kwargs, meta, state = blob.get("kwargs"), blob.get("meta"), blob.get("state_dict")
    if not (isinstance(kwargs, dict) and isinstance(meta, dict) and isinstance(state, dict)
            and set(kwargs) <= set(JUDGE_LIMITS) and all(_within(kwargs[k], JUDGE_LIMITS[k]) for k in kwargs)):
        raise GankitError(f"{path} is a damaged gankit classifier (its settings are missing or out of range)")
    model = Judge(**kwargs)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise GankitError(f"{path} is a damaged gankit classifier (its weights do not fit its settings)") from exc
    return model.eval(), dict(meta)


JUDGE_LIMITS = {"num_classes": (int, 1, 10_000), "width": (int, 1, 1024), "dropout": (float, 0.0, 1.0)}


def _within(value, limit: tuple) -> bool:
    kind, low, high = limit
    return type(value) is kind and low <= value <= high


def bundled_classifier(dataset: str) -> Path | None:
    """The classifier shipped for `dataset` ("mnist", "fashion_mnist"), or None when there is none."""
    name = BUNDLED.get(dataset)
    if name is None:
        return None
    path = Path(str(resources.files("gankit.metrics") / "weights" / name))
    return path if path.exists() else None
