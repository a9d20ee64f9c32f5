"""Inception Score (Salimans et al., 2016): exp(E_x KL(p(y|x) || p(y))), over 10 splits, mean and std.

p(y|x) is the softmax of an extractor's class logits (Inception's 1,008 logits without the classifier's bias,
as torch-fidelity and TTUR take them); p(y) is the mean of p(y|x) within a split. Split i holds samples
[i N / s, (i + 1) N / s) in stream order; the std is over splits (population std, as the references report).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from illusioncraft.metrics.collected import CollectedFeatures


def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of the Inception Score of (N, K) class logits over ``splits`` consecutive splits."""
    n = logits.shape[0]
    if n < splits:
        raise ValueError(f"inception score: {n} samples cannot fill {splits} splits")
    log_p = logits.double().log_softmax(dim=1)  # (N, K)
    scores = []
    for i in range(splits):
        part = log_p[i * n // splits:(i + 1) * n // splits]
        log_marginal = part.exp().mean(dim=0).log()  # (K,) log p(y) of this split
        kl = (part.exp() * (part - log_marginal)).sum(dim=1)  # (n_i,) KL(p(y|x) || p(y))
        scores.append(kl.mean().exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std(unbiased=False))


class InceptionScore(CollectedFeatures):
    """Collects generated samples' class logits; ``compute`` returns (mean, std) over ``splits`` splits."""

    higher_is_better = True

    def __init__(self, splits: int = 10, **kwargs: Any) -> None:
        super().__init__(sets=("fake",), **kwargs)
        self.splits = splits

    def compute(self) -> tuple[float, float]:
        return inception_score(self.rows("fake"), self.splits)
