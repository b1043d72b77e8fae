"""`gankit sample`: write samples of a trained generator as a grid, PNGs or an array."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from gankit.cli.common import add_generator_options, add_psi, open_generator
from gankit.core.errors import GankitError


SAMPLE_EXAMPLES = """examples (demo:mnist and demo:fashion ship with gankit; pass a run directory for your own):
  gankit sample demo:mnist --n 64 --out grid.png
  gankit sample demo:mnist --n 100 --out digits/      # one PNG per sample
  gankit sample demo:mnist --n 1000 --out samples.npy --seed 1    # uint8 [N, H, W, C]
  gankit sample demo:fashion --label sneaker --n 16 --out sneakers.png   # conditional generators
  gankit sample demo:fashion --class-grid --n 8 --out classes.png
  gankit sample demo:fashion --per-class 100 --out synthetic/   # synthetic/<class>/000000.png ...
  gankit sample demo:fashion --per-class 500 --min-confidence 0.9 --out synthetic.npz   # x, y, class_names
  gankit sample runs/<run> --n 64 --out grid.png
"""


def add_parser(sub) -> None:
    p = sub.add_parser("sample", help="write samples from a trained generator", epilog=SAMPLE_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory or checkpoint file")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", required=True, help="grid.png, a folder/ (one PNG each) or samples.npy (uint8, "
                                                "[N, H, W, C] images; float32 [N, 2] for 2-D points)")
    p.add_argument("--seed", type=int, default=0)
    add_generator_options(p)
    p.add_argument("--label", help="conditional generators: the class to draw, by index or name (e.g. 7, sneaker)")
    p.add_argument("--class-grid", action="store_true",
                   help="conditional generators: one row per class, --n columns sharing their latents")
    add_psi(p)
    p.add_argument("--per-class", type=int, metavar="N",
                   help="conditional generators: a labelled dataset of N samples of every class (instead of --n), "
                        "written to a folder/ (one sub-folder per class) or an .npz (x uint8 [N, H, W, C], y, "
                        "class_names)")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                   help="with --per-class: keep only samples the dataset's classifier gives probability >= P of "
                        "their class (draws more until each class is full)")
    p.add_argument("--classifier", default="", metavar="PATH",
                   help="with --min-confidence: a classifier file (gankit classifier train) instead of the bundled one")
    p.add_argument("--jbt", type=float, default=1.0, metavar="SHARE",
                   help="keep only the latents where G's Jacobian norm is in its lowest JBT share, e.g. 0.95 "
                        "(Jacobian-based truncation: drops samples drawn between separate modes; 1 = off)")
    p.add_argument("--drs", type=float, default=1.0, metavar="SHARE",
                   help="keep only the latents whose images the run's own discriminator rates in its top DRS "
                        "share, e.g. 0.5 (discriminator rejection; needs the run, not a generator file; 1 = off)")


def run(args) -> int:
    from gankit.latent import sample, write
    from gankit.latent.generator import psi_for

    if args.n <= 0:
        raise GankitError(f"--n must be positive, got {args.n}")
    if args.min_confidence and args.per_class is None:
        raise GankitError("--min-confidence filters a --per-class dataset; pass --per-class N")
    generator = open_generator(args)
    args.psi = psi_for(generator, args.psi)  # the run's own unless --psi: resolved once, printed as drawn
    if args.per_class is not None:
        return _per_class(generator, args)
    if args.class_grid:
        if args.jbt != 1.0 or args.drs != 1.0:
            raise GankitError("--class-grid shares each column's latent across classes; it cannot take --jbt or "
                              "--drs")
        return _class_grid(generator, args)
    labels = None
    if args.label is not None:
        import torch

        from gankit.latent.groups import resolve_label

        labels = torch.full((args.n,), resolve_label(generator, args.label))
    samples = sample(generator, args.n, seed=args.seed, labels=labels, psi=args.psi, jbt=args.jbt, drs=args.drs)
    # classes drawn in turn get a column each; clusters are drawn in their shares, so no column is theirs
    by_class = labels is None and generator.label_prior is None
    written = write(samples, args.out, kind=generator.kind, force=args.force,
                    nrow=(generator.num_classes or None) if by_class else None)
    print(json.dumps({"n": args.n, "seed": args.seed, "psi": args.psi, "out": args.out, "files": len(written)}))
    return 0


def _per_class(generator, args) -> int:
    from gankit.latent.synthetic import per_class, write_labelled

    if args.per_class <= 0:
        raise GankitError(f"--per-class must be positive, got {args.per_class}")
    if args.label is not None or args.class_grid:
        raise GankitError("--per-class draws every class; it takes no --label or --class-grid")
    samples, labels = per_class(generator, args.per_class, seed=args.seed, psi=args.psi, jbt=args.jbt,
                                min_confidence=args.min_confidence, classifier=args.classifier, drs=args.drs)
    written = write_labelled(samples, labels, generator.class_names, args.out, force=args.force)
    print(json.dumps({"per_class": args.per_class, "classes": generator.num_classes, "n": len(labels),
                      "seed": args.seed, "psi": args.psi, "min_confidence": args.min_confidence, "out": args.out,
                      "files": len(written)}))
    return 0


def _class_grid(generator, args) -> int:
    """One row per class, one column per latent (seeds seed .. seed + n - 1)."""
    from gankit.core.images import make_grid, save_png
    from gankit.latent.render import Renderer
    from gankit.latent.sample import output_kind

    if output_kind(args.out) != "grid":
        raise GankitError("--class-grid writes one PNG: pass --out grid.png")
    if Path(args.out).exists() and not args.force:
        raise GankitError(f"{args.out} already exists; choose another --out or pass --force to overwrite")
    out = Renderer(generator).class_grid(list(range(args.seed, args.seed + args.n)), psi=args.psi)
    if out["error"]:
        raise GankitError(out["error"])
    save_png(make_grid(out["images"], nrow=args.n, scale=max(1, 32 // out["images"].shape[1])), args.out)
    print(json.dumps({"n": args.n, "seed": args.seed, "psi": args.psi, "out": args.out, "rows": out["rows"]}))
    return 0
