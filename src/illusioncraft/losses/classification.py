"""Classification losses on logits: categorical cross-entropy (hard or soft targets) and binary cross-entropy."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from illusioncraft.errors import ConfigError
from illusioncraft.registry import register


@register("cross_entropy", kind="loss")
class CrossEntropy(nn.Module):
    """Categorical cross-entropy -sum_k y_k log softmax(z)_k, for class indices or soft (probability) targets."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"loss 'cross_entropy': label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        # logits (B, K); target (B,) class indices or (B, K) probabilities
        return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)


@register("binary_cross_entropy", kind="loss")
class BinaryCrossEntropy(nn.Module):
    """Binary cross-entropy -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))], computed stably from logits."""

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        # logits (B,) or (B, 1); target the same shape, values in [0, 1]
        return F.binary_cross_entropy_with_logits(logits.reshape(target.shape), target.to(logits.dtype))
