"""The `gankit` command: one module per command (each an `add_parser(sub)` and a `run(args)`), thin argument
parsing over the library. Results as JSON on stdout, progress on stderr."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from gankit.cli import (bench, classifier, classify, evaluate, latent, predict, report, sample, serve, train,
                        translate)
from gankit.core.errors import GankitError

COMMANDS = {"train": train, "sample": sample, "report": report, "eval": evaluate, "classifier": classifier,
            "latent": latent, "bench": bench, "serve": serve, "translate": translate, "classify": classify,
            "predict": predict}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description="Train, watch and sample GANs.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (so redirections and test capture see progress)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _setup_logging() -> None:
    logger = logging.getLogger("gankit")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    _setup_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.version:
        from gankit import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    code = _dispatch(args)
    distributed = sys.modules.get("gankit.core.distributed")  # imported (with torch) only by commands that use it
    if distributed is not None and distributed.joined():  # one of torchrun's processes: see end_process
        distributed.end_process(code)
    return code


def _dispatch(args) -> int:
    try:
        return COMMANDS[args.command].run(args)
    except GankitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `gankit ... | head`: the reader left; don't fail again at exit's flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
