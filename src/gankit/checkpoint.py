"""Self-describing checkpoints that load without executing code.

A checkpoint is one torch file holding plain containers and tensors only:
{format, format_version, config, model: {name, G: kwargs, D: kwargs}, data: {...}, G, D, G_ema,
 opt_G, opt_D, step, rng, sampler, fixed, controllers} (and `processes`, how many trained it, for the record;
`controllers` is absent from files older than the rate controller). It is
read with `torch.load(weights_only=True)`, which refuses any pickle that would import or call code, and
written atomically.

A generator file ("gankit-generator") holds only what sampling needs: {format, format_version, config,
model, data, G (the EMA weights where the run kept them), ema, step, source}. The demo generators shipped
with gankit (`demo:mnist`, `demo:fashion`) are such files.
"""
from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import torch

from gankit.core.errors import GankitError
from gankit.core.files import atomic_write_bytes, load_tensor_file

FORMAT = "gankit-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"
REQUIRED = {"config", "model", "data", "G", "D", "G_ema", "opt_G", "opt_D", "step", "rng", "sampler", "fixed"}
GENERATOR_FORMAT = "gankit-generator"
GENERATOR_REQUIRED = {"config", "model", "data", "G", "step"}
DEMOS = {"mnist": "mnist.pt", "fashion": "fashion.pt"}  # demo:NAME, files in gankit/demos/


def demo_path(spec: str) -> Path | None:
    """The packaged file of `demo:NAME`, or None when `spec` does not name a demo."""
    if not str(spec).startswith("demo:"):
        return None
    name = str(spec)[5:]
    if name not in DEMOS:
        raise GankitError(f"no demo generator {name!r}; the demos are {', '.join('demo:' + d for d in DEMOS)}")
    return Path(str(resources.files("gankit") / "demos" / DEMOS[name]))


def checkpoint_path(path: str | Path) -> Path:
    """A run directory's latest checkpoint, a demo generator (`demo:mnist`), or the given file."""
    p = demo_path(path) or Path(path)
    if p.is_dir():
        p = p / CHECKPOINT_NAME
    if not p.is_file():
        raise GankitError(f"no checkpoint at {p}; pass a run directory that holds {CHECKPOINT_NAME} "
                          "or a checkpoint file")
    return p


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write `payload` (plus the format tag) atomically: a crash leaves the previous file intact."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **payload}, buf)
    atomic_write_bytes(path, buf.getvalue())


def save_generator(path: Path, ckpt: dict, source: str, half: bool = True) -> None:
    """Write the generator file of a checkpoint: the EMA weights where the run kept them, else G's; with
    `half`, stored as float16 (half the size; read back as float32)."""
    ema = ckpt.get("G_ema") is not None
    weights = ckpt["G_ema"] if ema else ckpt["G"]
    if half:
        weights = {k: v.half() if v.dtype == torch.float32 else v for k, v in weights.items()}
    buf = io.BytesIO()
    torch.save({"format": GENERATOR_FORMAT, "format_version": FORMAT_VERSION, "config": ckpt["config"],
                "model": ckpt["model"], "data": ckpt["data"], "G": weights,
                "ema": ema, "step": ckpt["step"], "source": source}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: str | Path, generator_only: bool = False) -> dict:
    """Read and validate a checkpoint (tensors on CPU). Never executes code from the file. With
    `generator_only`, a generator file (a demo) is accepted too, normalised to G_ema = None."""
    p = checkpoint_path(path)
    ckpt = load_tensor_file(p, "a gankit checkpoint")
    if generator_only and isinstance(ckpt, dict) and ckpt.get("format") == GENERATOR_FORMAT:
        return _generator_file(p, ckpt)
    if isinstance(ckpt, dict) and ckpt.get("format") == GENERATOR_FORMAT:
        raise GankitError(f"{p} holds a generator alone (no discriminator or optimizer state): it samples, it "
                          "cannot be resumed")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GankitError(f"{p} is not a gankit checkpoint (no '{FORMAT}' tag)")
    version = ckpt.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise GankitError(f"{p} has checkpoint format {version!r}, which this gankit does not understand "
                          f"(it reads format {FORMAT_VERSION}); upgrade gankit")
    missing = sorted(REQUIRED - set(ckpt))
    if missing:
        raise GankitError(f"{p} is an incomplete gankit checkpoint (no {', '.join(missing)})")
    try:
        check_structure(ckpt)
    except GankitError as exc:
        raise GankitError(f"{p} is damaged: {exc}") from exc
    return ckpt


def _generator_file(p: Path, ckpt: dict) -> dict:
    missing = sorted(GENERATOR_REQUIRED - set(ckpt))
    if missing or ckpt.get("format_version") != FORMAT_VERSION:
        raise GankitError(f"{p} is an incomplete or unknown gankit generator file")
    weights = ckpt["G"]
    if isinstance(weights, dict):  # stored as float16 to halve the file: computed in float32
        weights = {k: v.float() if isinstance(v, torch.Tensor) and v.dtype == torch.float16 else v
                   for k, v in weights.items()}
    out = {**ckpt, "G": weights, "G_ema": None}
    try:
        _check_generator_part(out)
        _require(isinstance(ckpt.get("ema", False), bool), "its ema flag must be true or false")
    except GankitError as exc:
        raise GankitError(f"{p} is damaged: {exc}") from exc
    return out


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise GankitError(what)


def _is_tensor_dict(value) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                           for k, v in value.items())


def check_structure(ckpt: dict) -> None:
    """The types and plain values every reader relies on (a tampered file must not reach them as anything
    else). The networks' option values and tensor shapes are checked by gankit.models against the
    architecture the file names, before anything is built."""
    _check_generator_part(ckpt)
    for key in ("sampler", "rng", "opt_G", "opt_D", "fixed"):
        _require(isinstance(ckpt[key], dict), f"its {key} must be a mapping, got {type(ckpt[key]).__name__}")
    _require(_is_tensor_dict(ckpt["D"]), "its D weights must map names to tensors")
    _require(ckpt["G_ema"] is None or _is_tensor_dict(ckpt["G_ema"]), "its G_ema weights must map names to tensors")
    _check_fixed(ckpt["fixed"])
    _require(isinstance(ckpt.get("controllers", {}), dict), "its controllers must be a mapping")


def _check_generator_part(ckpt: dict) -> None:
    """What sampling reads, in a checkpoint and in a generator file alike."""
    step = ckpt["step"]
    _require(isinstance(step, int) and not isinstance(step, bool) and step >= 0,
             f"its step must be a whole number >= 0, got {step!r:.40}")
    for key in ("config", "model", "data"):
        _require(isinstance(ckpt[key], dict), f"its {key} must be a mapping, got {type(ckpt[key]).__name__}")
    _require(_is_tensor_dict(ckpt["G"]), "its G weights must map names to tensors")
    data = ckpt["data"]
    names = data.get("class_names", [])
    _require(isinstance(names, list) and len(names) <= 10_000 and all(isinstance(n, str) and len(n) <= 200
                                                                       for n in names),
             "its data.class_names must be a list of short strings")
    _require(data.get("kind", "image") in ("image", "points", "clip"), "its data.kind must be image, points or clip")
    _require(isinstance(data.get("name", ""), str), "its data.name must be a string")


def _check_fixed(fixed: dict) -> None:
    z, y = fixed.get("z"), fixed.get("y")
    _require(isinstance(z, torch.Tensor) and z.dim() == 2 and z.is_floating_point() and z.shape[0] >= 1,
             "its fixed latents must be a float tensor [N, z_dim]")
    labels = isinstance(y, torch.Tensor) and y.dtype == torch.int64 and tuple(y.shape) == (len(z),)
    sources = isinstance(y, torch.Tensor) and y.is_floating_point() and y.dim() == 4 and len(y) == len(z)
    _require(y is None or labels or sources,
             "its fixed labels must be None, int64 [N] or (image-to-image runs) float source images [N, C, H, W]")
