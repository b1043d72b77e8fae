"""`gankit report`: report.html of a run from its files."""
from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write report.html with the run's curves, samples and health events",
                       epilog="example:\n  gankit report runs/<run>   # then open runs/<run>/report.html",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory")


def run(args) -> int:
    from gankit.report import build_report

    print(json.dumps(build_report(args.run)))
    return 0
