"""What every command's parser shares."""
from __future__ import annotations

import argparse

DEVICE_HELP = "auto (default: a CUDA GPU when there is one, else the CPU), cpu, cuda or cuda:N"


def add_device(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    """The one --device option: the same choices and default for every command (train leaves it to its
    config, whose default is auto too)."""
    p.add_argument("--device", default=default, help=DEVICE_HELP)
