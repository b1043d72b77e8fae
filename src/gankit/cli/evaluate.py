"""`gankit eval`: measure a trained generator (gankit.latent.evaluate does the work)."""
from __future__ import annotations

import argparse
import json

from gankit.cli.common import add_device, add_psi, add_reckon_within, add_whole_pixels
from gankit.core.errors import GankitError


EVAL_EXAMPLES = """examples:
  gankit eval demo:mnist --n 2000             # the MNIST judge: FID in its features, KID, PR, DC, IS, classes
  gankit eval runs/<run> --extractor inception --metrics fid,kid --n 10000
  gankit eval runs/<run> --inception INCEPTION.pt      # the TorchScript Inception-v3 file, if not in the data dir
  gankit eval runs/<run> --real kept_aside/ --n 1000   # against photos you kept out of training
  gankit eval runs/shoes --pairs edges:fashion_mnist:thick   # image to image: drawings in another style
"""


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="measure a trained generator: FID, KID, precision/recall, density/coverage",
                       epilog=EVAL_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory or checkpoint file")
    p.add_argument("--metrics", default="", help="comma-separated: fid, kid, pr, dc, is, classes "
                                                 "(default: all the extractor supports)")
    p.add_argument("--extractor", help="inception, classifier (MNIST-like data) or identity (2-D points); "
                                       "default: classifier where one ships, identity for points, else inception")
    p.add_argument("--n", type=int, default=10000, help="generated samples (default 10000)")
    p.add_argument("--n-real", type=int, help="real samples (default: as many as --n, at most the dataset)")
    p.add_argument("--split", default="", help="real data split to compare with: train, test, or holdout (the "
                                               "default when the run held images out with data.holdout, else "
                                               "train); any split but train also gives the memorisation ratio")
    p.add_argument("--real", default="", metavar="FOLDER",
                   help="compare with the images of this folder instead (photos you kept out of training); gives "
                        "the memorisation ratio too")
    p.add_argument("--pairs", default="", metavar="DATA",
                   help="image-to-image runs: score on these pairs instead, with the run's size, classes and "
                        "hold-out (e.g. edges:fashion_mnist:thick, drawings in another style)")
    p.add_argument("--leak", action=argparse.BooleanOptionalAction, default=None,
                   help="the leak check: the share of samples a detector of the run's augmentations calls "
                        "augmented (default: on when the run augmented what D saw)")
    p.add_argument("--inception", default="", help="the Inception file (else $GANKIT_INCEPTION or the data dir)")
    p.add_argument("--classifier", default="", help="a judge from `gankit classifier train` (else the bundled one)")
    p.add_argument("--data-dir", help="folder holding the datasets (else the run's, else $GANKIT_DATA)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="seed of the generated samples' latents")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA")
    p.add_argument("--no-cache", action="store_true", help="recompute the real-data features")
    add_psi(p, "below 1 precision for recall, as in BigGAN's curves, above 1 the other way")
    p.add_argument("--jbt", type=float, default=1.0, metavar="SHARE",
                   help="keep only the latents where G's Jacobian norm is in its lowest JBT share, e.g. 0.95 "
                        "(Jacobian-based truncation: drops samples drawn between separate modes; 1 = off)")
    p.add_argument("--drs", type=float, default=1.0, metavar="SHARE",
                   help="keep only the latents whose images the run's own discriminator rates in its top DRS "
                        "share, e.g. 0.5 (discriminator rejection; needs the run, not a generator file; 1 = off)")
    add_whole_pixels(p)
    add_reckon_within(p)
    add_device(p)


def run(args) -> int:
    from gankit.latent.evaluate import EvalOptions, evaluate_run

    if args.real and args.split:
        raise GankitError("--real and --split both name the images to compare with: give one")
    opts = EvalOptions(n=args.n, n_real=args.n_real or 0, metrics=args.metrics, extractor=args.extractor or "",
                       split=args.split, real=args.real, pairs=args.pairs, leak=args.leak,
                       extractor_file=args.inception or args.classifier, data_dir=args.data_dir,
                       batch_size=args.batch_size, seed=args.seed, ema=not args.no_ema, cache=not args.no_cache,
                       psi=args.psi, jbt=args.jbt, drs=args.drs, device=args.device, whole_pixels=args.whole_pixels,
                       reckon_within=args.reckon_within)
    print(json.dumps(evaluate_run(args.run, opts)))
    return 0
