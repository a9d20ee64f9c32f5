"""Exponential moving averages of a network's weights, and evaluation mode for the span of a call."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` that no optimiser trains (the start of a moving average)."""
    return copy.deepcopy(module).requires_grad_(False)


@torch.no_grad()
def update_average(average: nn.Module, current: nn.Module, decay: float) -> None:
    """average <- decay * average + (1 - decay) * current for parameters; buffers (batch-norm statistics) copied."""
    for kept, new in zip(average.parameters(), current.parameters(), strict=True):
        kept.lerp_(new, 1 - decay)
    for kept, new in zip(average.buffers(), current.buffers(), strict=True):
        kept.copy_(new)


@contextmanager
def evaluation_mode(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode inside the block, then back in the mode it was in."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
