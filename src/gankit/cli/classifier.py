"""`gankit classifier train`: the judge CNN for MNIST-like data."""
from __future__ import annotations

import argparse
import json
import logging

from gankit.cli.common import add_device


def add_parser(sub) -> None:
    p = sub.add_parser("classifier", help="the judge for MNIST-like data (gankit eval --extractor classifier)")
    csub = p.add_subparsers(dest="action", required=True)
    t = csub.add_parser("train", help="train the judge CNN and record its test accuracy",
                        epilog="example:\n  gankit classifier train --data mnist --out mnist.pt",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--data", required=True, help="mnist or fashion_mnist")
    t.add_argument("--out", required=True, help="where to write the weights (.pt)")
    t.add_argument("--data-dir", default="", help="folder holding the datasets (else $GANKIT_DATA)")
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--seed", type=int, default=0)
    add_device(t)


def run(args) -> int:
    from gankit.core.runtime import resolve_device
    from gankit.data import DATASETS, DataConfig, load_dataset
    from gankit.metrics.classifier import save_classifier, train_classifier

    name = DATASETS.canonical(args.data)
    train, test = (load_dataset(DataConfig(name=name, data_dir=args.data_dir, split=split))
                   for split in ("train", "test"))
    log = logging.getLogger("gankit").info
    model, acc = train_classifier(train, test, epochs=args.epochs, flip=name == "fashion_mnist",
                                  seed=args.seed, device=str(resolve_device(args.device)), log=log)
    meta = {"dataset": name, "class_names": train.class_names, "test_accuracy": acc,
            "epochs": args.epochs, "seed": args.seed}
    save_classifier(model.cpu(), args.out, meta)
    print(json.dumps({"out": args.out, **meta}))
    return 0
