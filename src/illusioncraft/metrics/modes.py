"""Mode coverage of 2-D Gaussian mixtures, as PacGAN and VEEGAN measure it.

A sample is high quality when it lies within 3 standard deviations of its nearest mode; a mode is captured
when it is the nearest mode of at least one high-quality sample; reverse KL compares the distribution of the
high-quality samples over modes with the uniform distribution of the data: KL(q || uniform).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ModeCoverage:
    modes_captured: int
    high_quality: float  # share of samples within 3 std of a mode
    reverse_kl: float


def mode_coverage(samples: Tensor, modes: Tensor, std: float) -> ModeCoverage:
    """Mode metrics of ``samples`` (N, 2) for a mixture with centres ``modes`` (M, 2) and per-mode ``std``."""
    distances = torch.cdist(samples.double(), modes.double())  # (N, M)
    nearest_distance, nearest = distances.min(dim=1)
    good = nearest_distance <= 3 * std
    counts = torch.bincount(nearest[good], minlength=modes.shape[0]).double()
    captured = int((counts > 0).sum())
    if counts.sum() == 0:
        return ModeCoverage(captured, 0.0, math.inf)
    q = counts / counts.sum()
    present = q > 0
    reverse_kl = float((q[present] * (q[present] * modes.shape[0]).log()).sum())
    return ModeCoverage(captured, float(good.double().mean()), reverse_kl)
