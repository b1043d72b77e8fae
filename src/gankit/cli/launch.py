"""`gankit train --nproc N`: hand the command over to torchrun, which starts and watches the N processes."""
from __future__ import annotations

import os
import sys

from gankit.core.distributed import launched
from gankit.core.errors import GankitError


def without_nproc(argv: list[str]) -> list[str]:
    """The command line minus its --nproc option, for the processes torchrun starts."""
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token == "--nproc":
            skip = True
        elif not token.startswith("--nproc="):
            out.append(token)
    return out


def torchrun_command(argv: list[str], nproc: int) -> list[str]:
    # the module form runs torchrun with this very interpreter (and so this gankit)
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "gankit", *without_nproc(argv)]


def hand_over(argv: list[str], nproc: int) -> None:
    """Replace this process by torchrun (so signals reach it directly). Does not return."""
    if nproc < 1:
        raise GankitError(f"--nproc must be >= 1, got {nproc}")
    if launched():
        raise GankitError("--nproc starts the processes through torchrun; this process is already one of them")
    command = torchrun_command(argv, nproc)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
