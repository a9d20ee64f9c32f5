"""Fréchet distance (FID) and kernel distance (KID) between feature distributions, for any feature extractor.

FID = ||mu_r - mu_f||^2 + tr(S_r) + tr(S_f) - 2 tr((S_r S_f)^(1/2)). The trace of the matrix square root is
computed from symmetric eigen-decompositions: with S_r = V diag(w) V^T and R = V diag(sqrt w) V^T, the
eigenvalues of R S_f R (symmetric, positive semi-definite) are those of S_r S_f, so
tr((S_r S_f)^(1/2)) = sum sqrt(eigvalsh(R S_f R)). Sums are kept in float64 and summed across ranks.

KID follows torch-fidelity's protocol: per subset, ``subset_size`` generated and then ``subset_size`` real rows
drawn without replacement by ``numpy.random.RandomState(seed).choice``; the mean and the population std of the
subsets' unbiased MMD^2.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric

from illusioncraft.metrics.collected import CollectedFeatures


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

    def __init__(self, num_features: int, reference: Optional[tuple[Tensor, Tensor]] = None, **kwargs: Any) -> None:
        """``reference``: the real set's (mu, sigma), e.g. from a statistics file, instead of real features."""
        super().__init__(**kwargs)  # torchmetrics options, e.g. sync_on_compute=False
        self.reference = None if reference is None else tuple(value.double() for value in reference)
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

    def moments(self, prefix: str) -> tuple[Tensor, Tensor]:
        """(mean, covariance) of the ``real`` or ``fake`` features seen (over every rank, once synchronised)."""
        if prefix == "real" and self.reference is not None:
            return self.reference
        n = getattr(self, f"{prefix}_n")
        if n < 2:
            raise ValueError(f"FrechetDistance needs at least 2 {prefix} samples, got {int(n)}")
        mean = getattr(self, f"{prefix}_sum") / n
        covariance = (getattr(self, f"{prefix}_outer") - n * torch.outer(mean, mean)) / (n - 1)
        return mean, covariance

    def compute(self) -> Tensor:
        return frechet_distance(*self.moments("real"), *self.moments("fake")).float()


def polynomial_mmd(real: Tensor, fake: Tensor) -> Tensor:
    """Unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3 (KID's kernel, Binkowski et al., 2018)."""
    d, m, n = real.shape[1], real.shape[0], fake.shape[0]
    k_rr = (real @ real.T / d + 1) ** 3
    k_ff = (fake @ fake.T / d + 1) ** 3
    k_rf = (real @ fake.T / d + 1) ** 3
    within_real = (k_rr.sum() - k_rr.diagonal().sum()) / (m * (m - 1))
    within_fake = (k_ff.sum() - k_ff.diagonal().sum()) / (n * (n - 1))
    return within_real + within_fake - 2 * k_rf.mean()


def kernel_distance(real: Tensor, fake: Tensor, subsets: int = 10, subset_size: int = 500, seed: int = 0) -> tuple[float, float]:
    """KID: mean and population std of the unbiased polynomial MMD^2 over random subsets (torch-fidelity's
    draws: generated rows, then real rows, by one ``RandomState(seed)``); subsets shrink to the smaller set."""
    rng = np.random.RandomState(seed)
    size = min(subset_size, real.shape[0], fake.shape[0])
    values = []
    for _ in range(subsets):
        fake_rows = torch.from_numpy(rng.choice(fake.shape[0], size, replace=False))
        real_rows = torch.from_numpy(rng.choice(real.shape[0], size, replace=False))
        values.append(polynomial_mmd(real[real_rows.to(real.device)].double(), fake[fake_rows.to(fake.device)].double()))
    stacked = torch.stack(values)
    return float(stacked.mean()), float(stacked.std(unbiased=False))


class KernelDistance(CollectedFeatures):
    """Collects real and generated features; ``compute`` returns KID's (mean, std) over ``subsets`` subsets."""

    higher_is_better = False

    def __init__(self, subsets: int = 100, subset_size: int = 1000, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed

    def compute(self) -> tuple[float, float]:
        return kernel_distance(self.rows("real"), self.rows("fake"), self.subsets, self.subset_size, self.seed)
