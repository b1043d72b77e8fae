"""What every command's parser shares."""
from __future__ import annotations

import argparse

DEVICE_HELP = "auto (default: a CUDA GPU when there is one, else the CPU), cpu, cuda or cuda:N"


def add_generator_options(p: argparse.ArgumentParser) -> None:
    """--no-ema, --device and --force: what a command that runs a trained generator and writes files takes."""
    p.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA")
    add_device(p)
    p.add_argument("--force", action="store_true", help="overwrite existing files")


def open_generator(args):
    """The generator of args.run, as --no-ema and --device ask (see add_generator_options)."""
    from gankit.core.runtime import resolve_device
    from gankit.latent import load_generator

    return load_generator(args.run, ema=not args.no_ema, device=resolve_device(args.device))


def add_whole_pixels(p: argparse.ArgumentParser) -> None:
    """The one --whole-pixels option of the commands that run a frame predictor (predict, eval)."""
    p.add_argument("--whole-pixels", type=float, default=None, metavar="SHARE",
                   help="a run that moves whole digits (model.g.objects): pull each move this share of the way to "
                        "whole pixels, 0 (as trained: closest in MSE) to 1 (every frame as sharp as the truth); "
                        "default: the run's own, model.g.whole_pixels")


def add_reckon_within(p: argparse.ArgumentParser) -> None:
    """The one --reckon-within option of the commands that run a frame predictor (predict, eval)."""
    p.add_argument("--reckon-within", type=float, default=None, metavar="PX",
                   help="a run that follows several digits in a box (model.g.track, box, objects >= 2): move each "
                        "digit as dead reckoning from its past places says wherever that leaves at most PX pixels "
                        "of doubt, G's own move elsewhere (0: G's everywhere); default: the run's own, "
                        "model.g.reckon_within")


def add_psi(p: argparse.ArgumentParser, effect: str = "below 1: closer to the average sample, above 1: farther "
                                                      "from it, more variety for less fidelity") -> None:
    """The one --psi option of the commands that sample: absent, the run's own truncation (model.psi)."""
    p.add_argument("--psi", type=float, default=None,
                   help=f"truncation toward the mean latent, 0 to 2 (1 = off; {effect}); default: the run's own, "
                        "model.psi, which is 1 unless its preset chose another")


def add_device(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    """The one --device option: the same choices and default for every command (train leaves it to its
    config, whose default is auto too)."""
    p.add_argument("--device", default=default, help=DEVICE_HELP)
