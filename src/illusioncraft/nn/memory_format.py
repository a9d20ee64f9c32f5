"""``channels_last``: convolution weights and image batches stored as (N, H, W, C) in memory.

The logical shapes stay (N, C, H, W); only the strides change. GPU convolution kernels for tensor cores (mixed
precision on Volta and later) read this layout without transposing, which is where it helps; on a CPU the
oneDNN kernels take either. Parameters are converted in place (``nn.Module.to`` keeps each Parameter object),
so optimisers, moving averages and checkpoints see the same tensors, with the same values, in the other layout.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

import torch
from torch import Tensor, nn


def to_channels_last(networks: Iterable[Optional[nn.Module]]) -> None:
    """Every 4-D parameter and buffer of each network in the channels-last layout (others are left as they are)."""
    for network in networks:
        if network is not None:
            network.to(memory_format=torch.channels_last)


def channels_last_batch(images: Tensor) -> Tensor:
    """An image batch (N, C, H, W) in the channels-last layout; other tensors unchanged."""
    return images.contiguous(memory_format=torch.channels_last) if images.ndim == 4 else images


def is_channels_last(network: nn.Module) -> bool:
    """Whether every 4-D parameter of ``network`` is stored channels-last (and there is at least one)."""
    weights = [p for p in network.parameters() if p.ndim == 4]
    return bool(weights) and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
