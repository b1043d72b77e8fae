"""`gankit bench`: training throughput of presets on this device, as a table (or JSON)."""
from __future__ import annotations

import argparse
import json
import logging

from gankit.cli.common import add_device

EXAMPLES = """examples:
  gankit bench                                   # mnist_dcgan and mnist_mlp on the default device
  gankit bench --presets mnist_dcgan faces_dcgan --device cuda --set train.precision=bf16
  gankit bench --presets mnist_dcgan --set train.batch_size=512 --json
"""


def add_parser(sub) -> None:
    from gankit.training import PRESETS

    p = sub.add_parser("bench", help="images/s, FLOPs per iteration, share of the device's peak, memory",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["mnist_dcgan", "mnist_mlp"],
                   help=f"presets to measure: {', '.join(PRESETS.names())}")
    p.add_argument("--steps", type=int, default=50, help="steps per timed window (default 50)")
    p.add_argument("--repeats", type=int, default=3, help="timed windows; the median is reported (default 3)")
    add_device(p)
    p.add_argument("--data-dir", help="folder holding the datasets (else $GANKIT_DATA)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args) -> int:
    from gankit.core.config import parse_override
    from gankit.training.bench import bench_presets, format_table

    # the table (or JSON) is the whole output: no training progress lines in between
    logging.getLogger("gankit").setLevel(logging.WARNING)
    overrides = [parse_override(s) for s in args.set]
    if args.data_dir:
        overrides.insert(0, {"data": {"data_dir": args.data_dir}})
    result = bench_presets(args.presets, overrides, args.device, args.steps, args.repeats)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0
