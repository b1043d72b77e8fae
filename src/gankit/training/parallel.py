"""Data-parallel training (DistributedDataParallel over the processes torchrun starts).

Replicated on every process: G, D, their optimizers and the EMA, built from the same seed and kept
identical because every update uses gradients averaged over all processes. Sharded: each global batch
(train.batch_size) and every random draw for it (see steps._draw). Only rank 0 writes files.
"""
from __future__ import annotations

import inspect
from functools import partial

import torch
import torch.distributed as tdist
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors
from torch.nn.parallel import DistributedDataParallel as DDP

from gankit.core.distributed import Dist
from gankit.core.errors import GankitError
from gankit.nn import scores
from gankit.training.steps import Game


# torch 2.13 renamed DDP's broadcast_buffers (still accepted, with a warning)
_SYNC_BUFFERS = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters
                 else "broadcast_buffers")


class Scorer(nn.Module):
    """D's (logits, class logits) from one forward call: the call DDP must see to average D's gradients
    (the steps read both heads, which D's own forward does not return)."""

    def __init__(self, D: nn.Module):
        super().__init__()
        self.D = D

    def forward(self, x: torch.Tensor, y: torch.Tensor | None):
        return scores(self.D, x, y)


def _has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def distribute(game: Game, d: Dist, sync_bn: bool) -> None:
    """Wrap G and D for `d`'s process group, in place (game.G and game.D stay the plain modules that
    checkpoints, samples and the EMA use)."""
    game.sync.shard = (d.rank, d.world)
    if d.world == 1:  # nothing to average; DDP's hooks cost 24% of mnist_dcgan's step on one H100
        return
    device = torch.device(d.device)
    if sync_bn and (_has_batch_norm(game.G) or _has_batch_norm(game.D)):
        if device.type != "cuda":
            raise GankitError("train.sync_bn needs GPUs: PyTorch's SyncBatchNorm does not run on CPU. Without it "
                              "each process normalises over its own shard of the batch")
        # converting swaps the BN modules but keeps their parameter objects, so the optimizers still hold them
        game.G = nn.SyncBatchNorm.convert_sync_batchnorm(game.G)
        game.D = nn.SyncBatchNorm.convert_sync_batchnorm(game.D)
    ids = [device.index] if device.type == "cuda" else None
    # DDP's own buffer sync is off: it rewrites BN's running statistics in place at every forward, between
    # D's forwards on reals and on fakes, whose cuDNN backward still needs them ("modified by an inplace
    # operation" on GPUs). Per-process batch norm instead takes rank 0's statistics (the ones checkpoints
    # keep) once per iteration, outside autograd.
    sync = {_SYNC_BUFFERS: False}
    game.sync.G_sync = DDP(game.G, device_ids=ids, **sync)
    game.sync.D_sync = DDP(Scorer(game.D), device_ids=ids, **sync)
    buffers = [b for m in (game.G, game.D) for b in m.buffers()]
    if buffers and not sync_bn:
        game.sync.sync_buffers = partial(broadcast_buffers, buffers)


@torch.no_grad()
def broadcast_buffers(buffers: list[torch.Tensor]) -> None:
    """Rank 0's values of `buffers` to every process: one broadcast per dtype, in the buffers' order (not a
    set's, whose order can differ between processes and pair a float broadcast with an integer one)."""
    for dtype in dict.fromkeys(b.dtype for b in buffers):
        group = [b for b in buffers if b.dtype == dtype]
        flat = _flatten_dense_tensors(group)
        tdist.broadcast(flat, 0)
        for b, value in zip(group, _unflatten_dense_tensors(flat, group)):
            b.copy_(value)
