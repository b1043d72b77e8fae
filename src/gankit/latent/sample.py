"""Drawing samples from a trained generator and writing them as a grid, per-image PNGs or an array."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from gankit.core.errors import GankitError
from gankit.core.images import save_grid, save_png, save_scatter, to_uint8
from gankit.data.clusters import draw_labels
from gankit.latent.generator import TrainedGenerator, as_module, psi_for
from gankit.latent.jacobian import truncated_latents
from gankit.latent.rejection import load_critic, rejected_latents
from gankit.latent.space import Code, check_psi, stream_latents, truncate


def sampler(generator: TrainedGenerator | nn.Module, n: int, seed: int = 0, labels: torch.Tensor | None = None,
            psi: float | None = None, jbt: float = 1.0, drs: float = 1.0):
    """`draw(start, count)` -> samples [count, *shape] number start.. of n drawn from z ~ N(0, I) with `seed`
    (reproducible on one device type), for consumers that stream (evaluation) rather than hold all n.

    Conditional generators get `labels` [n], or the classes in turn (0, 1, ..., K-1, 0, ...) when None.
    `psi` (in PSI_RANGE) < 1 truncates the latents toward their mean (fidelity for variety); None: the run's
    own (model.psi, 1 unless its preset chose another; 1 for a bare G). `jbt` < 1
    keeps only latents where G's Jacobian norm is within its `jbt` quantile (see gankit.latent.jacobian): it
    drops the samples G draws between separate modes. `drs` < 1 keeps only latents whose images the run's own
    discriminator rates within its top `drs` share (see gankit.latent.rejection; G must come from a run).
    """
    psi = check_psi(psi_for(generator, psi))
    net = as_module(generator)
    if getattr(generator, "clip", None) is not None:
        raise GankitError("this generator predicts frames (it was trained on clips): use gankit predict RUN "
                          "--input CLIPS --out OUT")
    if getattr(net, "source_shape", None) is not None:
        raise GankitError("this generator translates images (it was trained on image pairs): use gankit translate "
                          "RUN --input IMAGES --out OUT")
    device = next(net.parameters()).device
    if net.num_classes and labels is None:
        labels = draw_labels(n, net.num_classes, getattr(generator, "label_prior", None), seed)
    if jbt != 1.0 and drs != 1.0:
        raise GankitError("--jbt and --drs each choose which latents to keep: give one")
    if jbt != 1.0:  # truncated_latents refuses a share outside (0, 1]
        z = truncated_latents(net, n, seed, jbt, labels, psi)
    elif drs != 1.0:
        z = rejected_latents(net, load_critic(generator, device), n, seed, drs, labels, psi)
    else:
        z = truncate(Code(stream_latents(net.z_dim, n, seed)), psi).z

    @torch.no_grad()
    def draw(start: int, count: int) -> torch.Tensor:
        y = None if labels is None else labels[start:start + count].to(device)
        return net(z[start:start + count].to(device), y).float()
    return draw


def sample(generator: TrainedGenerator | nn.Module, n: int, seed: int = 0, labels: torch.Tensor | None = None,
           batch_size: int = 1024, psi: float | None = None, jbt: float = 1.0, drs: float = 1.0) -> torch.Tensor:
    """n samples [n, *shape] on the CPU (see `sampler` for seeds, labels, psi, jbt and drs)."""
    draw = sampler(generator, n, seed, labels, psi, jbt, drs)
    return torch.cat([draw(start, min(batch_size, n - start)).cpu() for start in range(0, n, batch_size)])


def output_kind(out: str) -> str:
    """"grid" for .png, "array" for .npy, "folder" for a path ending in / or an existing directory."""
    if names_folder(out):
        return "folder"
    suffix = Path(out).suffix.lower()
    if suffix == ".png":
        return "grid"
    if suffix == ".npy":
        return "array"
    raise GankitError(f"--out {out!r}: use a .png file (grid), a .npy file (array) or a folder ending in /")


def names_folder(out: str) -> bool:
    """Whether --out names a folder: it ends in / (or \\) or is an existing directory."""
    return out.endswith(("/", "\\")) or Path(out).is_dir()


def write(samples: torch.Tensor, out: str, kind: str = "image", force: bool = False,
          nrow: int | None = None) -> list[str]:
    """Write samples to `out` (see output_kind); refuses to overwrite files unless `force`.
    `nrow` sets a grid's width (e.g. the number of classes, one column each)."""
    how = output_kind(out)
    path = Path(out)
    if how == "folder":
        if kind == "points":
            raise GankitError("2-D points have no per-sample images; use --out samples.npy or plot.png")
        images = to_uint8(samples)
        paths = [path / f"{i:06d}.png" for i in range(len(images))]
        refuse_overwrite(paths, force)
        path.mkdir(parents=True, exist_ok=True)
        for img, p in zip(images, paths):
            save_png(img, p)
        return [str(p) for p in paths]
    refuse_overwrite([path], force)
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "array":
        arr = samples.numpy().astype(np.float32) if kind == "points" else to_uint8(samples)
        np.save(path, arr)
    elif kind == "points":
        save_scatter(samples.numpy(), path)
    else:
        save_grid(samples, path, nrow=nrow)
    return [str(path)]


def write_array(arrays: list[np.ndarray], out: Path, force: bool, inputs: str, outputs: str) -> list[str]:
    """One output per input, stacked into the .npy `out` (a channel axis of 1 dropped): what an input given as
    a .npy (`inputs`: "sources", "clips") comes back as (`outputs`)."""
    if out.suffix.lower() != ".npy":
        raise GankitError(f"the {inputs} are a .npy array, so the {outputs} are one too: pass --out NAME.npy")
    refuse_overwrite([out], force)
    out.parent.mkdir(parents=True, exist_ok=True)
    stacked = np.stack(arrays)
    np.save(out, stacked[..., 0] if stacked.shape[-1] == 1 else stacked)
    return [str(out)]


def output_paths(out: Path, one: bool, names: list[str], suffix: str, force: bool, inputs: str) -> list[Path]:
    """Where one output per input goes: `out` itself for a single input (which must end in `suffix`), else
    `out`/NAME for each input's name; refuses to overwrite unless `force`."""
    if one:
        if out.suffix.lower() != suffix:
            raise GankitError(f"one input gives one output: pass --out NAME{suffix}")
        paths = [out]
    else:
        if out.exists() and not out.is_dir():
            raise GankitError(f"--out {out} is a file; a folder of {inputs} gives a folder of outputs")
        paths = [out / name for name in names]
    refuse_overwrite(paths, force)
    return paths


def refuse_overwrite(paths: list[Path], force: bool) -> None:
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise GankitError(f"{existing[0]} already exists; choose another --out or pass --force to overwrite")


__all__ = ["output_kind", "sample", "sampler", "write"]
