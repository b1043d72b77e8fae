"""Metrics of image-to-image outputs against their targets and sources: pure functions on float images in
[-1, 1] ([N, C, H, W]). PSNR and SSIM come from torchmetrics, not from code of our own.

The protocol is super-resolution's usual one (BasicSR's, behind most published tables), so numbers compare:
the luminance channel (ITU-R BT.601 Y of RGB in [0, 1], 16-235; a grayscale image is its own), a border of
`border` pixels cropped off, PSNR and SSIM per image (Gaussian window 11, σ 1.5) and averaged.
"""
from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from gankit.data.pairs import downscale, resize
from gankit.metrics.extractors import to_uint8_levels

BORDER = 4


def luminance(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images -> their Y channel in [0, 1], [N, 1, H, W] (grayscale: itself, rescaled)."""
    x = (x.float().clamp(-1, 1) + 1) / 2
    if x.shape[1] == 1:
        return x
    r, g, b = x[:, :1], x[:, 1:2], x[:, 2:3]
    return (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255


def _crop(x: torch.Tensor, border: int) -> torch.Tensor:
    return x[..., border:-border, border:-border] if border and min(x.shape[-2:]) > 2 * border else x


def psnr_ssim(outputs: torch.Tensor, targets: torch.Tensor, border: int = BORDER) -> dict:
    """Mean PSNR (dB) and SSIM of outputs against targets, on luminance with `border` pixels cropped."""
    a, b = _crop(luminance(outputs), border), _crop(luminance(targets), border)
    psnr = peak_signal_noise_ratio(a, b, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(a, b, data_range=1.0, reduction="none")
    return {"psnr": float(psnr.mean()), "ssim": float(ssim.mean())}


def bicubic_upscale(sources: torch.Tensor, factor: int) -> torch.Tensor:
    """The baseline of super-resolution: each source upscaled by Pillow's bicubic (MATLAB imresize's kernel,
    as the sources were made), in [-1, 1]."""
    return resize(to_uint8(sources), sources.shape[-1] * factor).float() / 127.5 - 1


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images as the uint8 a saved PNG would hold (Pillow, the edge detector and the downscale read those)."""
    return to_uint8_levels(x).to(torch.uint8)


def consistency_psnr(outputs: torch.Tensor, sources: torch.Tensor, factor: int) -> float:
    """PSNR (dB, luminance, no crop: the source is small) of the output downscaled as the sources were made
    (data/pairs.downscale) against the source: does the upscaled image still say what the input said."""
    down = downscale(to_uint8(outputs), factor).float() / 127.5 - 1
    return psnr_ssim(down, sources, border=0)["psnr"]


def edge_f1(outputs: torch.Tensor, sketches: torch.Tensor, tolerance: int = 1) -> float:
    """Mean F1 of the output's edges (data/pairs.sketch_edges, as the training sketches were drawn) against
    the input sketch's strokes, an edge counting as matched within `tolerance` pixels (the usual boundary
    F-measure's slack). An image with no edges in either counts as 1."""
    from scipy.ndimage import binary_dilation
    from skimage.morphology import disk

    from gankit.data.pairs import sketch_edges

    drawn = sketch_edges(to_uint8(outputs)).numpy()[:, 0] < 128
    wanted = to_uint8(sketches).numpy()[:, 0] < 128
    near, scores = disk(tolerance), []  # disk(0): the pixel itself
    for got, ref in zip(drawn, wanted):
        if not got.any() and not ref.any():
            scores.append(1.0)
            continue
        precision = (got & binary_dilation(ref, near)).sum() / max(got.sum(), 1)
        recall = (ref & binary_dilation(got, near)).sum() / max(ref.sum(), 1)
        scores.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores))


def pair_scores(outputs: torch.Tensor, sources: torch.Tensor, targets: torch.Tensor, extra: dict) -> dict:
    """The scores a pairing calls for (`extra` is the dataset's record: its pairing and factor)."""
    scores = psnr_ssim(outputs, targets)
    if extra.get("pairing") == "lowres":
        factor = int(extra["factor"])
        scores["consistency_psnr"] = consistency_psnr(outputs, sources, factor)
        scores.update({f"bicubic_{k}": v for k, v in psnr_ssim(bicubic_upscale(sources, factor), targets).items()})
    if extra.get("pairing") == "edges":
        scores["edge_f1"] = edge_f1(outputs, sources)
    return scores


@torch.no_grad()
def class_fidelity(extractor, outputs: torch.Tensor, labels: torch.Tensor, class_names: list[str]) -> float:
    """The share of outputs a classifier of the data (its logits) puts in their input's class; the data's
    classes (possibly a subset, data.classes) are matched to the classifier's by name."""
    full = list(getattr(extractor, "meta", {}).get("class_names") or class_names)
    if not set(class_names) <= set(full):
        return float("nan")  # a classifier of other classes (a judge trained elsewhere): no fidelity to give
    wanted = torch.tensor([full.index(class_names[int(k)]) for k in labels])
    predicted = torch.cat([extractor(batch)[1].argmax(1).cpu() for batch in outputs.split(256)])
    return float((predicted == wanted).float().mean())
