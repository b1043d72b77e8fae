"""A trained discriminator as a classifier: the semi-supervised GAN's D (model ssgan), or an AC-GAN's class
head. Rebuilt from the checkpoint alone, like a generator (latent.generator)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit.checkpoint import load_checkpoint
from gankit.core.errors import GankitError
from gankit.core.runtime import resolve_device
from gankit.data import Dataset, normalize
from gankit.latent.generator import rebuild_discriminator
from gankit.models import build_discriminator, check_kwargs


@dataclass(frozen=True)
class TrainedClassifier:
    """`module`: the discriminator, in eval mode (no noise, no dropout); `class_names` from the data it
    learned; `dataset` its name; `shape` (C, H, W) of the images it reads."""

    module: nn.Module
    class_names: tuple[str, ...]
    dataset: str
    shape: tuple[int, ...]

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    @torch.inference_mode()
    def probabilities(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Class probabilities [N, K] (on the CPU) of images [N, C, H, W], uint8 or float in [-1, 1]."""
        if tuple(images.shape[1:]) != self.shape:
            raise GankitError(f"this classifier reads images of {'x'.join(map(str, self.shape))} (channels x "
                              f"height x width), got {'x'.join(map(str, images.shape[1:]))}")
        out = []
        for batch in images.split(batch_size):
            x = normalize(batch) if batch.dtype == torch.uint8 else batch.float()
            h = self.module.features(x.to(self.device))
            out.append(self.module.head.classes(h).float().softmax(1).cpu())
        return torch.cat(out)

    def accuracy(self, data: Dataset) -> float:
        """Share of the labelled images of `data` classified correctly."""
        if data.labels is None:
            raise GankitError(f"{data.name} has no labels to measure accuracy against")
        keep = data.labels >= 0
        predicted = self.probabilities(data.x[keep]).argmax(1)
        return float((predicted == data.labels[keep].cpu()).float().mean())


def is_classifier(D: nn.Module) -> bool:
    """Whether a discriminator has a head that names classes (ssgan's D; an AC-GAN's)."""
    return bool(getattr(getattr(D, "head", None), "classifies", False))


def classifier_of(ckpt: dict, device: str | torch.device = "cpu") -> TrainedClassifier | None:
    """The discriminator of a loaded checkpoint as a classifier, or None when it names no classes (decided on
    the meta device, before anything is allocated)."""
    kwargs = check_kwargs(ckpt["model"])
    with torch.device("meta"):
        if not is_classifier(build_discriminator(kwargs)):
            return None
    D = rebuild_discriminator(ckpt)
    data = ckpt["data"]
    return TrainedClassifier(D.to(resolve_device(str(device))), tuple(data.get("class_names", [])),
                             data.get("name", ""), tuple(kwargs["D"]["shape"]))


def load_classifier_d(path: str | Path, device: str | torch.device = "cpu") -> TrainedClassifier:
    """The discriminator of a run (a run directory or checkpoint file) as a classifier; refuses one that
    does not classify."""
    found = classifier_of(load_checkpoint(path), device)
    if found is None:
        raise GankitError(f"{path}: this run's D tells real from fake but names no classes of single images (a "
                          "packed D names only its packs'); train one that does (--model ssgan, or --conditional "
                          "--set model.d_cond=acgan)")
    return found


__all__ = ["TrainedClassifier", "classifier_of", "is_classifier", "load_classifier_d"]
