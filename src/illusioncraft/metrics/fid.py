"""Fréchet distance between feature distributions (FID with any feature extractor), as a torchmetrics Metric.

FID = ||mu_r - mu_f||^2 + tr(S_r) + tr(S_f) - 2 tr((S_r S_f)^(1/2)). The trace of the matrix square root is
computed from symmetric eigen-decompositions: with S_r = V diag(w) V^T and R = V diag(sqrt w) V^T, the
eigenvalues of R S_f R (symmetric, positive semi-definite) are those of S_r S_f, so
tr((S_r S_f)^(1/2)) = sum sqrt(eigvalsh(R S_f R)). Sums are kept in float64 and summed across ranks.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


def trace_sqrt_product(sigma1: Tensor, sigma2: Tensor) -> Tensor:
    """tr((sigma1 sigma2)^(1/2)) for symmetric positive semi-definite matrices, via eigh."""
    w, v = torch.linalg.eigh(sigma1)
    root = (v * w.clamp_min(0).sqrt()) @ v.T  # sigma1^(1/2)
    return torch.linalg.eigvalsh(root @ sigma2 @ root).clamp_min(0).sqrt().sum()


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> Tensor:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    return (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt_product(sigma1, sigma2)


class FrechetDistance(Metric):
    """Accumulates feature sums of real and generated samples; ``compute`` returns their Fréchet distance."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, num_features: int) -> None:
        super().__init__()
        for prefix in ("real", "fake"):
            self.add_state(f"{prefix}_sum", torch.zeros(num_features, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{prefix}_outer", torch.zeros(num_features, num_features, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{prefix}_n", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, features: Tensor, real: bool) -> None:
        features = features.double()  # (N, d)
        prefix = "real" if real else "fake"
        setattr(self, f"{prefix}_sum", getattr(self, f"{prefix}_sum") + features.sum(dim=0))
        setattr(self, f"{prefix}_outer", getattr(self, f"{prefix}_outer") + features.T @ features)
        setattr(self, f"{prefix}_n", getattr(self, f"{prefix}_n") + features.shape[0])

    def _moments(self, prefix: str) -> tuple[Tensor, Tensor]:
        n = getattr(self, f"{prefix}_n")
        if n < 2:
            raise ValueError(f"FrechetDistance needs at least 2 {prefix} samples, got {int(n)}")
        mean = getattr(self, f"{prefix}_sum") / n
        covariance = (getattr(self, f"{prefix}_outer") - n * torch.outer(mean, mean)) / (n - 1)
        return mean, covariance

    def compute(self) -> Tensor:
        return frechet_distance(*self._moments("real"), *self._moments("fake")).float()
