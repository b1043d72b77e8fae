"""`gankit latent interpolate|arithmetic|edit|invert`: thin wrappers over gankit.latent.Renderer."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from gankit.cli.common import add_device, add_psi
from gankit.core.errors import GankitError

EXAMPLES = """examples:
  gankit latent interpolate demo:mnist --seeds 1,5,9 --steps 8 --out walk.png --gif walk.gif
  gankit latent interpolate demo:fashion --seeds 3 --labels sneaker,ankle-boot --out sneaker_to_boot.png   # conditional
  gankit latent arithmetic demo:mnist --group bold=judge:1 --group thin=judge:7 --group x=seeds:4 \\
      --expr "x + bold - thin" --out result.png
  gankit latent edit demo:mnist --seeds 1,2,3 --positive judge:0 --negative judge:1 \\
      --alphas=-1,0,1,2 --out edit.png
  gankit latent invert demo:mnist --image digit.png --out inverted.png --latents z.npy
  gankit latent invert runs/<run> --sketch drawing.png --out from_drawing.png   # iGAN: a drawing -> an image
  gankit latent edit demo:mnist --latents z.npy --positive judge:0 --negative judge:1 --out mine.png
"""


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise GankitError(f"cannot read numbers from {text!r}: write e.g. -1,0,1") from exc


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run directory or checkpoint file")
    p.add_argument("--out", required=True, help="the PNG to write")
    add_psi(p)
    p.add_argument("--label", help="class (index or name) for a conditional generator")
    add_device(p)
    p.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")


def add_parser(sub) -> None:
    p = sub.add_parser("latent", help="interpolate, do arithmetic on, edit and invert latents", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    tools = p.add_subparsers(dest="tool", required=True)
    t = tools.add_parser("interpolate", help="a walk through seeds' latents (or, conditional, through classes)")
    _common(t)
    t.add_argument("--seeds", help="e.g. 1,5,9: the points, in order")
    t.add_argument("--latents", help="or a .npy of latents to walk through (e.g. from invert --latents)")
    t.add_argument("--labels", help="classes to walk through (with one seed): e.g. 1,7 or sneaker,boot")
    t.add_argument("--steps", type=int, default=8, help="frames per leg (default 8)")
    t.add_argument("--mode", default="slerp", choices=["slerp", "lerp"])
    t.add_argument("--gif", help="also write the walk as an animated GIF")
    t = tools.add_parser("arithmetic", help='render e.g. "glasses_men - men + women" over group means')
    _common(t)
    t.add_argument("--group", action="append", required=True, metavar="NAME=SPEC",
                   help="a group: seeds:1,2,3 | class:NAME (conditional) | judge:NAME (MNIST-like, by classifier) | "
                        "npy:PATH (latents saved by invert --latents)")
    t.add_argument("--expr", required=True, help='e.g. "a - b + c" or "0.5*a + 0.5*b"')
    t.add_argument("--n", type=int, default=16, help="latents per class:/judge: group (default 16)")
    t = tools.add_parser("edit", help="move samples along an attribute direction (mean of one group minus another)")
    _common(t)
    t.add_argument("--seeds", help="the samples to edit, e.g. 1,2,3")
    t.add_argument("--latents", help="or a .npy of latents to edit (e.g. from invert --latents)")
    t.add_argument("--positive", required=True, help="group spec the direction points to")
    t.add_argument("--negative", required=True, help="group spec it points away from")
    t.add_argument("--alphas", default="-2,-1,0,1,2", help="strengths, one column each (write --alphas=-1,0,1)")
    t.add_argument("--n", type=int, default=16, help="latents per class:/judge: group (default 16)")
    t = tools.add_parser("invert", help="find the latent of a real image, by gradient descent through G")
    _common(t)
    what = t.add_mutually_exclusive_group(required=True)
    what.add_argument("--image", action="append", help="an image file (repeatable)")
    what.add_argument("--sketch", action="append", help="a drawing (dark strokes on light, repeatable): find the "
                                                        "image whose edges follow it (iGAN; no paired data needed)")
    t.add_argument("--steps", type=int, default=300)
    t.add_argument("--latents", help="also save the fitted latents as .npy")


def _check(result: dict) -> dict:
    if result["error"]:
        raise GankitError(result["error"])
    return result


def _scale(images: np.ndarray, target: int = 56) -> int:
    return max(1, target // images.shape[1])


def _interpolate(r, args) -> dict:
    from gankit.core.images import make_grid, save_gif, save_png
    from gankit.latent.groups import parse_seeds

    labels = args.labels.split(",") if args.labels else None
    spec = _targets(args)
    seeds = parse_seeds(args.seeds) if args.seeds else []
    points = spec if args.latents else None
    out = _check(r.interpolate(seeds, labels, args.steps, args.mode, args.psi, points=points))
    images = out["images"]
    # one strip while it fits on a screen, else one row per leg
    save_png(make_grid(images, nrow=len(images) if len(images) <= 24 else args.steps, scale=_scale(images)),
             args.out)
    if args.gif:
        save_gif(images, args.gif, scale=_scale(images, 128))
    return {"frames": len(images)}


def _arithmetic(r, args) -> dict:
    from gankit.core.images import save_panels

    groups = dict(_named(g) for g in args.group)
    out = _check(r.arithmetic(args.expr, groups, n=args.n, label=args.label, psi=args.psi))
    panels = [(f"{name} ({out['group_sizes'][name]})", img) for name, img in out["groups"].items()]
    save_panels(panels + [(f"= {args.expr}", out["images"][0])], args.out)
    return {"expression": args.expr, "group_sizes": out["group_sizes"]}


def _edit(r, args) -> dict:
    from gankit.core.images import make_grid, save_png

    alphas = _floats(args.alphas)
    out = _check(r.edit(_targets(args), args.positive, args.negative, alphas, n=args.n,
                        label=args.label, psi=args.psi))
    save_png(make_grid(out["images"], nrow=len(alphas), scale=_scale(out["images"])), args.out)
    return {"rows": out["rows"], "columns_alphas": alphas}


def _invert(r, args) -> dict:
    from gankit.core.images import make_grid, save_png

    files = args.sketch or args.image
    out = _check(r.invert(files, steps=args.steps, label=args.label, sketch=bool(args.sketch)))
    targets = out["targets"]
    if targets.shape[-1] != out["images"].shape[-1]:  # a drawing (one channel) above a colour image
        targets = np.repeat(targets, out["images"].shape[-1], axis=-1)
    pairs = np.concatenate([targets, out["images"]])  # targets on top, reconstructions below
    save_png(make_grid(pairs, nrow=len(files), scale=_scale(pairs)), args.out)
    if args.latents:
        np.save(args.latents, np.asarray(out["latents"], dtype=np.float32))
    return {"sketch_loss" if args.sketch else "mse": [round(e, 5) for e in out["errors"]]}


TOOLS = {"interpolate": _interpolate, "arithmetic": _arithmetic, "edit": _edit, "invert": _invert}


def run(args) -> int:
    from gankit.latent.render import Renderer

    outputs = [args.out, getattr(args, "gif", None)] + ([args.latents] if args.tool == "invert" else [])
    existing = [o for o in outputs if o and Path(o).exists()]
    if existing and not args.force:  # checked before any work, so nothing is half written
        raise GankitError(f"{existing[0]} already exists; choose another name or pass --force to overwrite")
    renderer = Renderer.open(args.run, device=args.device, ema=not args.no_ema)
    summary = TOOLS[args.tool](renderer, args)
    print(json.dumps({"tool": args.tool, "out": args.out, **summary}))
    return 0


def _targets(args) -> str:
    """--seeds or --latents as a group spec."""
    if bool(args.seeds) == bool(args.latents):
        raise GankitError("give either --seeds or --latents")
    return f"seeds:{args.seeds}" if args.seeds else f"npy:{args.latents}"


def _named(text: str) -> tuple[str, str]:
    name, sep, spec = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise GankitError(f"--group {text!r}: write NAME=SPEC, e.g. men=seeds:1,2,3")
    return name.strip(), spec.strip()
