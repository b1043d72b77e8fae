"""Networks for a perceptual (feature) loss: the judge networks gankit already has, frozen and cut where their
features still say where things are in the image.

SRGAN's content loss (Ledig et al. 2017) compares VGG19 features of the output and the target: a pixel loss
alone rewards the blurred average of every plausible output, a feature loss rewards what looks alike. VGG's
weights would have to be downloaded, and gankit downloads none, so the judges stand in:
- MNIST-like data (a classifier ships): the bundled classifier's second and fourth convolution blocks
  (28×28×32 and 14×14×64), each channel of the image judged on its own as the classifier does;
- any other data: the stem of the FID Inception-v3 (TF's 2015 graph, read from the data folder like FID's)
  after Conv2d_2b and Conv2d_4a (64 and 192 channels), at the image's own size (64 px at least) instead of
  FID's 299, which costs about a twelfth as much. These are the first layers of the network FID is measured
  in, so a run trained with this loss is partly trained toward its own yardstick: the docs say so beside the
  FIDs of such runs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gankit.core.errors import GankitError
from gankit.metrics.classifier import bundled_classifier, load_classifier, prepare
from gankit.metrics.extractors import (CLASSIFIER_FOR, INCEPTION_SHA256, InceptionExtractor, default_extractor,
                                       find_inception)

INCEPTION_STEM = (("conv", "conv_1", "conv_2"), ("pool0", "conv_3", "conv_4"))  # up to Conv2d_2b, Conv2d_4a
CLASSIFIER_CUTS = (6, 13)  # Judge.body[:6] ends the second block, [:13] the fourth
SMALLEST = 64  # Inception's stem shrinks a 28-px image to 3×3 by Conv2d_4a; smaller images are upscaled first


class FeatureNet(nn.Module):
    """Frozen stages of a judge: images [N, C, H, W] in [-1, 1] -> a list of feature maps, one per stage.
    Differentiable in its input (G's output), never trained."""

    def __init__(self, stages: list[nn.Module], prepare_input):
        super().__init__()
        self.stages, self.prepare_input = nn.ModuleList(stages), prepare_input
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FeatureNet:
        return super().train(False)  # batch norm keeps its running statistics whatever the caller's mode

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, out = self.prepare_input(x), []
        for stage in self.stages:
            h = stage(h)
            out.append(h)
        return out


def _inception_input(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> Inception's (v - 128) / 128 of 8-bit values v, gray repeated, at least SMALLEST px;
    unlike FID's input, not rounded to 8 bits (that would stop the gradient)."""
    x = ((x.float() + 1) * 127.5 - 128) / 128
    x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
    if x.shape[-1] < SMALLEST:
        x = F.interpolate(x, size=(SMALLEST, SMALLEST), mode="bilinear", align_corners=False)
    return x


def _inception_stem(data_dir: str) -> FeatureNet:
    path = find_inception("", data_dir)
    inception = InceptionExtractor(path, torch.device("cpu"))
    if inception.id != f"inception-{INCEPTION_SHA256[:12]}":  # FID only warns; a loss needs the layers named above
        raise GankitError(f"{path} is not the reference Inception file, so loss.perceptual cannot use its stem")
    layers = inception.net.net.layers
    stages = [nn.Sequential(*(getattr(layers, name) for name in names)) for names in INCEPTION_STEM]
    return FeatureNet(stages, _inception_input)


def _classifier_blocks(dataset: str) -> FeatureNet:
    model, _ = load_classifier(bundled_classifier(CLASSIFIER_FOR[dataset]))
    start, stages = 0, []
    for cut in CLASSIFIER_CUTS:
        stages.append(model.body[start:cut])
        start = cut
    return FeatureNet(stages, prepare)


def feature_net(dataset: str, channels: int, data_dir: str = "", device: torch.device | None = None) -> FeatureNet:
    """The perceptual-loss network for images of `channels` channels from `dataset`: the bundled classifier's
    blocks where one ships, else Inception's stem (found as FID finds it: a GankitError says where to put it)."""
    if default_extractor(dataset) == "classifier":
        net = _classifier_blocks(dataset)
    elif channels in (1, 3):
        net = _inception_stem(data_dir)
    else:
        raise GankitError(f"loss.perceptual judges gray or RGB images in Inception's features; these have {channels} "
                          f"channels and no classifier ships for {dataset!r}")
    return net.to(device or torch.device("cpu"))
