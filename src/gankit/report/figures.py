"""Figures of a run from its files: metric curves with health events marked, sample timelines and GIFs,
and D's decision surface on 2-D data. matplotlib draws; every function returns PNG/GIF bytes."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.core.images import pyplot

EVENT_COLORS = {"discriminator_overpowering": "tab:red", "generator_winning": "tab:purple",
                "mode_collapse": "tab:orange", "divergence": "black", "balance": "tab:gray"}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    pyplot().close(fig)
    return buf.getvalue()


def _mark_events(ax, events: list[dict]) -> None:
    seen = set()
    for e in events:
        name = e["event"]
        ax.axvline(e["step"], color=EVENT_COLORS.get(name, "tab:brown"), linestyle="--", linewidth=1,
                   alpha=0.8, label=None if name in seen else name)
        seen.add(name)


def curves(rows: list[dict], events: list[dict], series: list[tuple[str, str]], title: str,
           ylabel: str = "", hline: float | None = None, log: bool = False) -> bytes | None:
    """One panel: each (key, label) of `series` against step; None when no row has any of the keys."""
    present = [(k, label) for k, label in series if any(k in r for r in rows)]
    if not present:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for key, label in present:
        pts = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, linewidth=1.2)
    if hline is not None:
        ax.axhline(hline, color="0.5", linewidth=1, linestyle=":", label=f"{hline:g}")
    _mark_events(ax, events)
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _panels(items: list, max_panels: int, width: float, height: float):
    """Up to `max_panels` items evenly spaced over `items` (first and last kept), and a row of axes."""
    picks = [items[round(i)] for i in np.linspace(0, len(items) - 1, min(max_panels, len(items)))]
    fig, axes = pyplot().subplots(1, len(picks), figsize=(width * len(picks), height), squeeze=False)
    return fig, list(zip(axes[0], picks, strict=True))


def sample_timeline(paths: list[Path], max_panels: int = 6) -> bytes | None:
    """Up to `max_panels` fixed-latent grids, evenly spaced over the run, side by side with their steps."""
    if not paths:
        return None
    fig, panels = _panels(paths, max_panels, 3, 3.3)
    for ax, path in panels:
        img = np.asarray(Image.open(path).convert("RGB"))
        ax.imshow(img)
        ax.set_title(f"step {int(path.stem.split('_')[-1])}", fontsize=9)
        ax.axis("off")
    return _png(fig)


def gif(frames: list[bytes | Path], ms: int = 400) -> bytes | None:
    """An animated GIF of PNG frames (bytes or files); the last frame lingers."""
    if not frames:
        return None
    images = [Image.open(io.BytesIO(f) if isinstance(f, bytes) else f).convert("RGB") for f in frames]
    size = images[0].size
    images = [im if im.size == size else im.resize(size) for im in images]
    buf = io.BytesIO()
    durations = [ms] * (len(images) - 1) + [ms * 5]
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return buf.getvalue()


def surface_panel(ax, data: dict) -> None:
    """D's probability of "real" as a heat map, real points in grey, generated in red."""
    xs, ys = data["xs"], data["ys"]
    mesh = ax.pcolormesh(xs, ys, data["prob"], cmap="coolwarm_r", vmin=0, vmax=1, shading="auto")
    ax.scatter(data["real"][:, 0], data["real"][:, 1], s=2, c="0.3", alpha=0.4)
    ax.scatter(data["fake"][:, 0], data["fake"][:, 1], s=2, c="red", alpha=0.6)
    ax.set_title(f"step {int(data['step'])}", fontsize=9)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return mesh


def surface_frame(data: dict) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4))
    mesh = surface_panel(ax, data)
    fig.colorbar(mesh, ax=ax, label="D(x) = P(real)", fraction=0.046)
    return _png(fig)


def surface_grid(datas: list[dict], max_panels: int = 6) -> bytes | None:
    if not datas:
        return None
    fig, panels = _panels(datas, max_panels, 3.2, 3.4)
    for ax, data in panels:
        mesh = surface_panel(ax, data)
    fig.colorbar(mesh, ax=[ax for ax, _ in panels], label="D(x) = P(real)", fraction=0.02)
    return _png(fig)
