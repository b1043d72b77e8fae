"""Exponential moving average of the generator's weights (Karras et al. 2018; Yazıcı et al. 2019)."""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

STANDING_BATCHES = 64  # batches of G's inputs whose statistics the averaged G's batch norm takes (see EMA.ready)
STANDING_SEED = 0  # their own stream: recomputing never draws from the run's, so resume stays exact


class EMA:
    """Keeps `model` = decay·model + (1 - decay)·G after each G update; buffers (BN statistics) are copied.

    `inputs(n, gen)` (G's inputs, a tuple: latents and labels) gives the averaged G batch-norm statistics of
    its own ("standing statistics", as BigGAN samples): G's running statistics describe G's activations, not
    those of its average, which moves less and spreads its activations less, so normalised by G's statistics
    its samples come out less varied than the average's own (docs/mnist.md has the measurement). `ready()`
    recomputes them when the weights have changed since."""

    def __init__(self, generator: nn.Module, decay: float, start: int = 0,
                 inputs: Callable[[int, torch.Generator], tuple] | None = None, batch_size: int = 64):
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)
        self.decay, self.start = decay, start
        self.inputs, self.batch_size = inputs, batch_size
        self.norms = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        self.standing = False  # whether the model's BN statistics are its own for its current weights

    @torch.no_grad()
    def update(self, generator: nn.Module, step: int) -> None:
        ema_params = list(self.model.parameters())
        params = [p.detach() for p in generator.parameters()]
        if step < self.start:
            torch._foreach_copy_(ema_params, params)
        else:
            # warm-up (as TensorFlow's ExponentialMovingAverage with num_updates): early on the average
            # follows G closely instead of staying near the random initialisation for ~1/(1-decay) steps
            decay = min(self.decay, (1 + step - self.start) / (10 + step - self.start))
            torch._foreach_lerp_(ema_params, params, 1.0 - decay)
        for ema_buf, buf in zip(self.model.buffers(), generator.buffers()):
            ema_buf.copy_(buf)
        self.standing = False

    @torch.no_grad()
    def ready(self) -> nn.Module:
        """The averaged G, to draw from: with its own BN statistics when it has `inputs` and batch norm (the
        averages over STANDING_BATCHES training-sized batches, each normalised by its own statistics as in
        training), recomputed only when the weights changed. The same weights always give the same
        statistics, so a checkpoint written after this resumes exactly."""
        if self.inputs is None or not self.norms or self.standing:
            return self.model
        momenta = [m.momentum for m in self.norms]
        for m in self.norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: every batch counts the same
        gen = torch.Generator().manual_seed(STANDING_SEED)  # on the CPU: `inputs` moves what it draws
        self.model.train()
        try:
            for _ in range(STANDING_BATCHES):
                self.model(*self.inputs(self.batch_size, gen))
        finally:
            self.model.eval()
            for m, momentum in zip(self.norms, momenta):
                m.momentum = momentum
        self.standing = True
        return self.model
