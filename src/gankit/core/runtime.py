"""Device choice and seeding. Nothing here runs at import time: device and seed are always arguments."""
from __future__ import annotations

import random

import numpy as np
import torch

from gankit.core.errors import GankitError


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when present, else CPU. An explicit device that is absent is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise GankitError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GankitError("device 'cuda' was asked for but this torch build sees no GPU; use --device cpu")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch's global generators (used only for weight initialisation)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    """A private RNG stream, so training randomness can be saved and restored exactly."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def busy_cpu_note(threads: int | None = None) -> str | None:
    """One line when the machine is already busy: a multi-threaded torch process on oversubscribed cores
    slows down many times over (13-16 against 94-248 img/s measured side by side on a loaded 2-core machine),
    and one thread per process is the remedy. None when the 1-minute load average is within the cores."""
    import os

    try:
        load = os.getloadavg()[0]
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    except OSError:
        return None
    threads = torch.get_num_threads() if threads is None else threads
    if load <= cores or threads <= 1:
        return None
    return (f"note: this machine is busy (load average {load:.1f} on {cores} cores) and torch uses {threads} "
            "threads, which then slow each other down many times over; OMP_NUM_THREADS=1 in front of the "
            "command keeps a CPU run steady")
