"""`gankit classify`: a run whose discriminator names classes (ssgan; an AC-GAN) labels images."""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from gankit.cli.common import add_device
from gankit.core.errors import GankitError

CLASSIFY_EXAMPLES = """examples (a run of --model ssgan, or a conditional one with model.d_cond=acgan):
  gankit classify runs/<run> --input digit.png
  gankit classify runs/<run> --input digits/ --out predictions.csv    # name, class, index, confidence
  gankit classify runs/<run> --input digits.npy --out predictions.csv # uint8 [N, H, W] or [N, H, W, C]
"""


def add_parser(sub) -> None:
    p = sub.add_parser("classify", help="label images with a run's discriminator (semi-supervised GAN)",
                       epilog=CLASSIFY_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory or checkpoint file whose D classifies (--model ssgan)")
    p.add_argument("--input", required=True, help="an image file, a folder of images or a .npy of uint8 images")
    p.add_argument("--out", help="a .csv to write (name, class, index, confidence); default: print them")
    add_device(p)
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")


def run(args) -> int:
    from gankit.core.files import atomic_write_bytes
    from gankit.core.runtime import resolve_device
    from gankit.latent.classify import load_classifier_d
    from gankit.latent.sample import refuse_overwrite
    from gankit.latent.translate import conform, read_sources

    if args.out and Path(args.out).suffix.lower() != ".csv":
        raise GankitError(f"--out {args.out!r}: predictions are written as a .csv file")
    if args.out:
        refuse_overwrite([Path(args.out)], args.force)
    clf = load_classifier_d(args.run, device=resolve_device(args.device))
    sources = read_sources(args.input)
    probs = clf.probabilities(conform(sources.images, clf.shape))
    confidence, index = probs.max(1)
    names = sources.names or [str(i) for i in range(len(probs))]
    classes = [clf.class_names[k] if k < len(clf.class_names) else str(k) for k in index.tolist()]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "class", "index", "confidence"])
    for row in zip(names, classes, index.tolist(), confidence.tolist()):
        writer.writerow([row[0], row[1], row[2], f"{row[3]:.4f}"])
    if not args.out:
        sys.stdout.write(buf.getvalue())
        return 0
    atomic_write_bytes(Path(args.out), buf.getvalue().encode())
    counts = {name: classes.count(name) for name in dict.fromkeys(classes)}
    print(json.dumps({"n": len(names), "out": args.out, "classes": counts}))
    return 0
