"""`gankit translate`: a run trained on image pairs turns each input image into its output."""
from __future__ import annotations

import argparse
import json

from gankit.cli.common import add_generator_options, open_generator

TRANSLATE_EXAMPLES = """examples (a run trained on image pairs: drawings -> photos, small -> large):
  gankit translate runs/<run> --input drawing.png --out photo.png
  gankit translate runs/<run> --input drawings/ --out photos/        # same names, one output each
  gankit translate runs/<run> --input small.npy --out large.npy      # uint8 [N, H, W] or [N, H, W, C]
  gankit translate runs/<run> --input drawing.png --out other.png --seed 3   # another of G's outputs
"""


def add_parser(sub) -> None:
    p = sub.add_parser("translate", help="turn images into images with a run trained on pairs (drawing -> "
                                         "photo, upscaling)", epilog=TRANSLATE_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory or checkpoint file of an image-to-image run")
    p.add_argument("--input", required=True, help="an image file, a folder of images or a .npy of uint8 images")
    p.add_argument("--out", required=True, help="the same kind: NAME.png, a folder, or NAME.npy")
    p.add_argument("--seed", type=int, default=0, help="the noise G adds (pix2pix): another seed, another output")
    add_generator_options(p)


def run(args) -> int:
    from gankit.latent.translate import read_sources, translate_sources, write_outputs

    generator = open_generator(args)
    sources = read_sources(args.input)
    outputs = translate_sources(generator, sources, seed=args.seed)
    written = write_outputs(outputs, sources, args.out, force=args.force)
    print(json.dumps({"n": len(outputs), "seed": args.seed, "out": args.out, "files": len(written)}))
    return 0
