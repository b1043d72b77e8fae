"""`gankit train --nproc N`: start and watch the N processes with torchrun's launcher, run in this process so
that its failures and Ctrl-C end in one gankit line and an exit code that says what happened, not in a
launcher traceback."""
from __future__ import annotations

import logging
import os
import signal
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


def torchrun_args(argv: list[str], nproc: int) -> list[str]:
    # the workers run `python -m gankit` with this very interpreter (and so this gankit)
    return ["--standalone", f"--nproc-per-node={nproc}", "-m", "gankit", *without_nproc(argv)]


def torchrun_command(argv: list[str], nproc: int) -> list[str]:
    """The equivalent torchrun command line (what the docs show for several machines)."""
    return [sys.executable, "-m", "torch.distributed.run", *torchrun_args(argv, nproc)]


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def cause(failures: dict) -> tuple | None:
    """(rank, failure) of the process a signal killed first in rank order, or None: the others then fail on
    losing contact with it, and torchrun stops them with SIGTERM, so a SIGTERM'd rank is the cause only when
    no other signal killed one (a survivor's SIGTERM can be recorded before the real cause's SIGKILL)."""
    killed = {r: f for r, f in failures.items() if f.exitcode < 0}
    if not killed:
        return None
    rank = min(killed, key=lambda r: (killed[r].exitcode == -signal.SIGTERM, r))
    return rank, killed[rank]


def launch(argv: list[str], nproc: int) -> int:
    """Run the job in `nproc` processes; returns the exit code for the whole job. A worker's own message
    (rank 0's resume line, or a survivor's 'lost contact' line) has been printed by the worker itself."""
    if nproc < 1:
        raise GankitError(f"--nproc must be >= 1, got {nproc}")
    if launched():
        raise GankitError("--nproc starts the processes through torchrun; this process is already one of them")
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # its shutdown chatter: we say it once
    # torchrun sets one thread per worker when this is unset, with a five-line banner saying so
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        torchrun.run(torchrun.parse_args(torchrun_args(argv, nproc)))
    except SignalException as exc:
        code = 128 + exc.sigval
        print(f"stopped by {exc.sigval.name}: the {nproc} processes were told to checkpoint and stop; resume "
              "with the command printed above", file=sys.stderr)
        return code
    except ChildFailedError as exc:
        rank, failure = cause(exc.failures) or exc.get_first_failure()
        if failure.exitcode < 0:
            print(f"error: process {rank} of {nproc} was killed by {_signal_name(failure.exitcode)}; the others "
                  "stopped and the last checkpoint is intact: resume with the command printed above",
                  file=sys.stderr)
            return 128 - failure.exitcode
        if failure.exitcode not in (2, 3):  # 2 and 3: the worker already said why in one line
            print(f"error: process {rank} of {nproc} failed with exit code {failure.exitcode} (its message is "
                  "above)", file=sys.stderr)
        return failure.exitcode
    return 0
