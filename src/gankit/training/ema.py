"""Exponential moving average of the generator's weights (Karras et al. 2018; Yazıcı et al. 2019)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps `model` = decay·model + (1 - decay)·G after each G update; buffers (BN statistics) are copied."""

    def __init__(self, generator: nn.Module, decay: float, start: int = 0):
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)
        self.decay, self.start = decay, start

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
