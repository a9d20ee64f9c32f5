"""Mode coverage of 2-D Gaussian mixtures and of stacked digits, as PacGAN and VEEGAN measure it.

Mixtures: a sample is high quality when it lies within 3 standard deviations of its nearest mode; a mode is
captured when it is the nearest mode of at least one high-quality sample; reverse KL compares the distribution of
the high-quality samples over modes with the uniform distribution of the data: KL(q || uniform).
Stacked digits: a classifier reads the digit of each colour channel; a mode (one of 1,000 triples) is captured when
at least one sample reads as it; reverse KL is that of the triples' histogram from uniform.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn


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


@dataclass(frozen=True)
class StackedModes:
    modes_captured: int
    reverse_kl: float
    samples: int


def reverse_kl_from_uniform(counts: Tensor) -> float:
    """KL(q || uniform) of the histogram ``counts`` (K,) over K equally likely modes (empty modes add nothing)."""
    q = counts.double() / counts.sum()
    present = q > 0
    return float((q[present] * (q[present] * counts.numel()).log()).sum())


def stacked_mode_coverage(digits: Tensor, channels: int = 3) -> StackedModes:
    """Modes captured and reverse KL of samples read as ``digits`` (N, channels), one class 0-9 per channel."""
    modes = (digits.long() * (10 ** torch.arange(channels - 1, -1, -1, device=digits.device))).sum(dim=1)  # (N,)
    counts = torch.bincount(modes, minlength=10**channels)
    return StackedModes(int((counts > 0).sum()), reverse_kl_from_uniform(counts), int(digits.shape[0]))


@torch.no_grad()
def read_stacked_digits(images: Tensor, classifier: nn.Module, batch_size: int = 1000) -> Tensor:
    """The digit class of each colour channel of ``images`` (N, C, H, W) in [0, 1] -> (N, C), read by ``classifier``
    (grey images -> class logits, e.g. the ``digits_classifier`` network)."""
    read = []
    for chunk in images.split(batch_size):
        b, c, h, w = chunk.shape
        logits = classifier(chunk.reshape(b * c, 1, h, w))  # (B * C, 10): each channel alone
        read.append(logits.argmax(dim=1).view(b, c))
    return torch.cat(read)
