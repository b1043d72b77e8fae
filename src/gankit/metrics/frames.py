"""Scores of predicted frames against the true ones, and the two baselines every predictor must beat. Pure
functions on frames stacked along channels ([N, K·C, H, W] in [-1, 1], as the loop carries them).

The conventions are OpenSTL's (the benchmark the targets quote), on pixels in [0, 1]:
- MSE and MAE: per frame, summed over the pixels (and channels) and averaged over frames and clips; a 64×64
  frame that predicts black where a digit is costs about 170 (the ink of two digits).
- SSIM: scikit-image's structural_similarity per frame (7×7 uniform window), averaged. `data_range` is 1,
  the frames' range: OpenSTL's runs under older scikit-image took a float image's range as 2, which scores
  the same frames a little higher, so these are, if anything, stricter.
- PSNR: per frame from its MSE over pixels (torchmetrics), averaged.
- Per-horizon curves of MSE and SSIM (one value per predicted frame), and a sharpness ratio: the variance
  of the Laplacian of the prediction over that of the truth, frame by frame and averaged. Blur pushes it
  toward 0; a GAN's aim is near 1.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import peak_signal_noise_ratio

from gankit.core.images import unstack_frames

LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def unit(x: torch.Tensor, channels: int) -> torch.Tensor:
    """[N, K·C, H, W] in [-1, 1] -> frames [N, K, C, H, W] in [0, 1] (clipped, as a saved frame would be)."""
    return unstack_frames((x.float().clamp(-1, 1) + 1) / 2, channels)


def _ssim(pred: torch.Tensor, true: torch.Tensor) -> np.ndarray:
    """SSIM of every frame [N, K, C, H, W] in [0, 1] -> [N, K] (scikit-image, channels averaged)."""
    from skimage.metrics import structural_similarity

    p, t = pred.numpy(), true.numpy()
    out = np.empty(p.shape[:2])
    for i in range(p.shape[0]):
        for k in range(p.shape[1]):
            out[i, k] = structural_similarity(p[i, k], t[i, k], data_range=1.0, channel_axis=0)
    return out


def laplacian_variance(frames: torch.Tensor) -> torch.Tensor:
    """Variance of the Laplacian of every frame [N, K, C, H, W] -> [N, K] (channels averaged)."""
    n, k, c, h, w = frames.shape
    lap = F.conv2d(frames.reshape(n * k * c, 1, h, w), LAPLACIAN.view(1, 1, 3, 3))
    return lap.flatten(1).var(1).view(n, k, c).mean(2)


def _sums(pred: torch.Tensor, true: torch.Tensor, channels: int) -> dict:
    """Per-frame sums over a chunk of clips of everything frame_scores averages ([K] each)."""
    p, t = unit(pred.cpu(), channels), unit(true.cpu(), channels)
    psnr = peak_signal_noise_ratio(p.flatten(0, 1), t.flatten(0, 1), data_range=1.0, reduction="none",
                                   dim=(1, 2, 3)).clamp(max=100)  # a frame predicted exactly is not infinite
    return {"mse": (p - t).pow(2).flatten(2).sum(2).sum(0),  # squared error summed over a frame's pixels
            "mae": (p - t).abs().flatten(2).sum(2).sum(0), "ssim": torch.from_numpy(_ssim(p, t).sum(0)),
            "psnr": psnr.view(p.shape[:2]).sum(0), "lap_pred": laplacian_variance(p).sum(0),
            "lap_true": laplacian_variance(t).sum(0)}


def frame_scores(pred: torch.Tensor, true: torch.Tensor, channels: int, chunk: int = 500) -> dict:
    """MSE, MAE, SSIM, PSNR, their per-horizon curves and the sharpness ratio of predictions against the truth
    (both [N, K·C, H, W] in [-1, 1], frames of `channels` channels), `chunk` clips at a time (10,000 clips of
    64×64 would otherwise hold several copies of 1.6 GB at once)."""
    parts = [_sums(pred[i:i + chunk], true[i:i + chunk], channels) for i in range(0, len(pred), chunk)]
    per = {k: torch.stack([part[k].double() for part in parts]).sum(0) / len(pred) for k in parts[0]}
    sharp = per["lap_pred"] / per["lap_true"].clamp(min=1e-12)
    return {"mse": float(per["mse"].mean()), "mae": float(per["mae"].mean()), "ssim": float(per["ssim"].mean()),
            "psnr": float(per["psnr"].mean()), "sharpness": float(sharp.mean()),
            "mse_per_frame": [round(float(v), 3) for v in per["mse"]],
            "ssim_per_frame": [round(float(v), 4) for v in per["ssim"]]}


def copy_last(past: torch.Tensor, horizon: int, channels: int) -> torch.Tensor:
    """The first baseline: the last frame seen, repeated `horizon` times ([N, K·C, H, W])."""
    return past[:, -channels:].repeat(1, horizon, 1, 1)


def _shift(frame: torch.Tensor, dy: int, dx: int, fill: float) -> torch.Tensor:
    """frame [C, H, W] moved by (dy, dx) pixels, what comes in filled with `fill` (not wrapped round)."""
    out = torch.full_like(frame, fill)
    h, w = frame.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src = frame[:, max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[:, max(0, dy):max(0, dy) + src.shape[1], max(0, dx):max(0, dx) + src.shape[2]] = src
    return out


def motion(before: torch.Tensor, after: torch.Tensor, reach: int = 8) -> tuple[int, int]:
    """The whole-pixel shift (dy, dx), at most `reach` each way, that best carries frame `before` [C, H, W]
    onto `after`: the peak of their cross-correlation (by FFT), on frames with their mean removed."""
    a, b = before - before.mean(), after - after.mean()
    corr = torch.fft.irfft2(torch.fft.rfft2(b) * torch.fft.rfft2(a).conj(), s=a.shape[-2:]).sum(0)
    h, w = corr.shape
    shifts = torch.arange(-reach, reach + 1)
    window = corr[shifts.remainder(h)][:, shifts.remainder(w)]
    i, j = divmod(int(window.argmax()), window.shape[1])
    return int(shifts[i]), int(shifts[j])


def constant_velocity(past: torch.Tensor, horizon: int, channels: int) -> torch.Tensor:
    """The second baseline: the last frame carried on at the velocity between the last two (one shift for the
    whole frame, found by cross-correlation). It is right for one digit moving freely, and wrong at a bounce
    or for two digits moving apart; a model must beat it to have learnt more than "keep going"."""
    frames = unstack_frames(past, channels)
    background = float(past.min())
    out = []
    for clip in frames:
        dy, dx = motion(clip[-2], clip[-1]) if clip.shape[0] > 1 else (0, 0)
        out.append(torch.cat([_shift(clip[-1], dy * (k + 1), dx * (k + 1), background) for k in range(horizon)]))
    return torch.stack(out)


BASELINES = {"copy_last": copy_last, "constant_velocity": constant_velocity}
