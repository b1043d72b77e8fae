"""Several processes training one run: the process group that `torchrun` sets up, and the few
collectives the training loop needs beyond DDP's gradient averaging.

gankit never starts processes itself: torchrun (or any launcher setting RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT) does. Every helper here is a no-op for a single process, so the
single-process path pays nothing.
"""
from __future__ import annotations

import datetime
import logging
import os
import sys
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as dist

from gankit.core.errors import GankitError
from gankit.core.runtime import resolve_device

# words in the errors gloo and NCCL raise when a peer is gone or a collective timed out
_COMM_ERROR_WORDS = ("gloo", "nccl", "connection", "timed out", "timeout", "broken pipe", "socket")
_joined = False  # init() ran in this process: it is one of a job's processes (see end_process)


@dataclass(frozen=True)
class Dist:
    """Where this process stands in the job. `enabled` is true under torchrun, even with one process
    (so DDP's own overhead can be measured); a plain run is `Dist()`."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    enabled: bool = False
    device: str = ""  # this process's device ("cuda:<local_rank>" or "cpu") when enabled

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes files and logs."""
        return self.rank == 0


def launched() -> bool:
    """Whether torchrun (or another launcher with its environment variables) started this process."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def process_device(name: str, local_rank: int, world: int) -> torch.device:
    """auto/cuda: the GPU of this process's local rank; cpu: the CPU. One fixed GPU for every process
    would make them share it, so cuda:N is refused when there are several. (Also the check `--nproc`
    makes before starting anything, with the highest local rank.)"""
    device = resolve_device(name)
    if device.type != "cuda":
        return device
    if device.index is not None and world > 1:
        raise GankitError(f"train.device {name!r} names one GPU for {world} processes; use auto or cuda "
                          "(each process takes the GPU of its local rank)")
    index = device.index if device.index is not None else local_rank
    if index >= torch.cuda.device_count():
        raise GankitError(f"local rank {local_rank} needs GPU {index} but this machine has "
                          f"{torch.cuda.device_count()}; start at most that many processes per node")
    return torch.device("cuda", index)


def init(device: str = "auto", timeout_s: float = 600.0) -> Dist:
    """Join the process group torchrun prepared: NCCL on GPUs, gloo on CPUs. A collective that waits
    longer than `timeout_s` (a peer died or hangs) raises instead of hanging the job."""
    rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    dev = process_device(device, local, world)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=timeout_s))
    global _joined
    _joined = True
    return Dist(rank=rank, world=world, local_rank=local, enabled=True, device=str(dev))


def shutdown(d: Dist, clean: bool = True) -> None:
    """Leave the process group. After a clean finish every process waits for the others first, so none
    closes its connections while a peer still finishes its last collective. After a failure nobody waits:
    a peer may be gone. (Then end the process with `end_process`.)"""
    if d.enabled and dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def joined() -> bool:
    """Whether this process joined a process group (through `init`), even one since left."""
    return _joined


def end_process(code: int) -> NoReturn:
    """End a job's process with `code` once its work is done and written, skipping the interpreter's
    teardown. A gloo worker thread can still be releasing its last collective (the final barrier keeps the
    ones before it) while Python finalises; if that frees a tensor Python created, the thread must take the
    GIL, which a finalising interpreter answers with pthread_exit, and its forced unwind through a C++
    destructor aborts the process ("terminate called without an active exception", exit -6), failing a
    job that had finished. Seen in 2 of 116 test runs on two busy cores; a core dump showed exactly that
    stack. Every file gankit writes is closed by then; only the standard streams and log handlers buffer."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a reader that left
            pass
    os._exit(code)


def all_mean(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """The mean of `t` over the processes (in place; gloo has no AVG, so sum then divide)."""
    if d.world > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= d.world
    return t


def all_max(t: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.world > 1:
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t


def from_main(value, d: Dist):
    """Rank 0's `value` on every process (any picklable object: a checkpoint, a run directory, log rows).
    The other processes pass None."""
    if d.world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, device=torch.device(d.device) if d.device.startswith("cuda") else None)
    return box[0]


def is_comm_error(exc: BaseException) -> bool:
    """Whether an error comes from the process group (a peer died, a collective timed out)."""
    if isinstance(exc, dist.DistError):
        return True
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in _COMM_ERROR_WORDS)
