"""Image tensors <-> uint8 arrays, grids and PNG files. Uint8 lives only here, at the edges."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.core.files import atomic_write_bytes


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] floats in [-1, 1] -> uint8 array [N, H, W, C] (values outside are clipped)."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, scale: int = 1) -> np.ndarray:
    """Tile uint8 images [N, H, W, C] into one [H', W', C] image, `nrow` per row (default: square).

    `scale` enlarges each pixel (nearest) so tiny images such as 8x8 digits are visible.
    """
    n, h, w, c = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
        h, w = h * scale, w * scale
    grid = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top:top + h, left:left + w] = images[i]
    return grid


def display_scale(height: int, target: int = 32) -> int:
    """Integer enlargement that brings small images up to about `target` pixels for viewing."""
    return max(1, target // height)


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 [H, W, C] (C = 1 or 3) array encoded as PNG."""
    mode_image = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
    buf = io.BytesIO()
    mode_image.save(buf, format="PNG")
    return buf.getvalue()


def save_png(image: np.ndarray, path: str | Path) -> None:
    """Write a uint8 [H, W, C] (C = 1 or 3) array as PNG, atomically."""
    atomic_write_bytes(Path(path), png_bytes(image))


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> None:
    """Save image tensors [N, C, H, W] in [-1, 1] as one PNG grid, enlarging tiny images."""
    arr = to_uint8(images)
    save_png(make_grid(arr, nrow=nrow, scale=display_scale(arr.shape[1])), path)


def save_scatter(points: np.ndarray, path: str | Path, real: np.ndarray | None = None,
                 centers: np.ndarray | None = None, title: str = "") -> None:
    """Plot 2-D points (generated in red, optional real in grey, mode centers as crosses) to a PNG."""
    fig, ax = pyplot().subplots(figsize=(5, 5), dpi=100)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.6", alpha=0.5, label="real")
    ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:red", alpha=0.6, label="generated")
    if centers is not None:
        ax.scatter(centers[:, 0], centers[:, 1], marker="x", c="k", s=20, label="modes")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8, markerscale=2)
    if title:
        ax.set_title(title)
    _save_figure(fig, path)


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed; safe to call repeatedly)."""
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display needed; safe to call repeatedly
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path: str | Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    pyplot().close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())


def save_gif(frames: np.ndarray, path: str | Path, ms: int = 120, scale: int = 1, bounce: bool = True) -> None:
    """uint8 frames [N, H, W, C] as a looping animated GIF, each pixel enlarged `scale` times."""
    atomic_write_bytes(Path(path), gif_bytes(frames, ms, scale, bounce))


def gif_bytes(frames: np.ndarray, ms: int = 120, scale: int = 1, bounce: bool = True) -> bytes:
    """uint8 frames [N, H, W, C] as an animated GIF; `bounce` plays forth and back, so a loop of a path through
    latent space has no jump (a video plays forward: bounce False)."""
    big = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    images = [Image.fromarray(f[:, :, 0] if f.shape[2] == 1 else f) for f in big]
    buf = io.BytesIO()
    seq = images + images[-2:0:-1] if bounce else images
    seq[0].save(buf, format="GIF", save_all=True, append_images=seq[1:], duration=ms, loop=0)
    return buf.getvalue()


def unstack_frames(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Frames stacked along channels [N, T·C, H, W] -> [N, T, C, H, W]."""
    return x.unflatten(1, (-1, channels))


def clip_rows(channels: int, *parts: torch.Tensor) -> torch.Tensor:
    """Clips as a grid's rows: the parts (e.g. past and predicted frames, each [N, T_i·C, H, W]) joined in
    time, [N · T, C, H, W] for save_grid with nrow T."""
    return torch.cat([unstack_frames(p, channels) for p in parts], 1).flatten(0, 1)


def clip_gif(columns: list[torch.Tensor], ms: int = 250) -> bytes:
    """Clips [N, T, C, H, W] in [-1, 1] side by side (e.g. truth, one prediction, another) as an animated GIF:
    frame t shows every clip's frame t, one example a row, one column per clip kind."""
    frames = columns[0].shape[1]
    tiles = torch.stack(columns, 1)  # [N, K, T, C, H, W]
    shots = [make_grid(to_uint8(tiles[:, :, t].flatten(0, 1)), nrow=len(columns),
                       scale=display_scale(tiles.shape[-1], 64)) for t in range(frames)]
    return gif_bytes(np.stack(shots), ms=ms, bounce=False)


def save_panels(panels: list[tuple[str, np.ndarray]], path: str | Path) -> None:
    """Captioned images side by side (e.g. the terms of a latent-arithmetic expression and its result)."""
    fig, axes = pyplot().subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6), dpi=100, squeeze=False)
    for ax, (caption, img) in zip(axes[0], panels):
        ax.imshow(img[:, :, 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(caption, fontsize=10)
        ax.axis("off")
    _save_figure(fig, path)


def side_by_side(*columns: torch.Tensor) -> torch.Tensor:
    """Image batches interleaved sample by sample (a, b, c, a, b, c, ...), each brought to the last one's
    size (nearest: a small source shows its pixels) and channels, for one grid of pairs or triples."""
    ref = columns[-1]
    tiles = [F.interpolate(c, size=ref.shape[-2:], mode="nearest").expand(-1, ref.shape[1], -1, -1)
             for c in columns]
    return torch.stack(tiles, 1).flatten(0, 1)
