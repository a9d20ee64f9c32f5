"""Precision and recall (Kynkäänniemi et al., 2019) and density and coverage (Naeem et al., 2020) of generated
samples against real ones, from any extractor's features.

Each real sample x_i gets a ball of radius r_i = distance to its k-th nearest other real sample (likewise
each generated sample y_j within the generated set).

- precision: share of generated samples inside some real ball (d(x_i, y_j) <= r_i); k = 3.
- recall: share of real samples inside some generated ball (d(x_i, y_j) <= r'_j); k = 3.
- density: (1 / kM) sum_j #{i: d(x_i, y_j) < r_i}: how many real balls hold a generated sample on average,
  which rewards samples where the real data is dense and can exceed 1; k = 5.
- coverage: share of real balls that hold at least one generated sample (nearest y_j closer than r_i); k = 5.

The comparisons follow each paper's reference code (<= for precision/recall, < for density/coverage). Distances
are computed in blocks of ``block`` rows, so 50,000 x 50,000 pairs never sit in memory at once.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from illusioncraft.metrics.collected import CollectedFeatures

BLOCK = 1024


def kth_neighbour_distance(points: Tensor, k: int, block: int = BLOCK) -> Tensor:
    """(N,) distance from each row of ``points`` (N, d) to its k-th nearest other row."""
    if points.shape[0] <= k:
        raise ValueError(f"{points.shape[0]} samples cannot have a {k}-th nearest neighbour; give more than {k}")
    # the row itself is at distance 0, the smallest: the (k + 1)-th smallest is the k-th other row
    return torch.cat([torch.cdist(part, points).kthvalue(k + 1, dim=1).values for part in points.split(block)])


def precision_recall(real: Tensor, fake: Tensor, k: int = 3, block: int = BLOCK) -> tuple[float, float]:
    """(precision, recall) with k-nearest-neighbour balls (Kynkäänniemi et al., 2019)."""
    real_radius, fake_radius = kth_neighbour_distance(real, k, block), kth_neighbour_distance(fake, k, block)
    inside_real = torch.cat([(torch.cdist(part, real) <= real_radius).any(dim=1) for part in fake.split(block)])
    inside_fake = torch.cat([(torch.cdist(part, fake) <= fake_radius).any(dim=1) for part in real.split(block)])
    return float(inside_real.double().mean()), float(inside_fake.double().mean())


def density_coverage(real: Tensor, fake: Tensor, k: int = 5, block: int = BLOCK) -> tuple[float, float]:
    """(density, coverage) with the real samples' k-nearest-neighbour balls (Naeem et al., 2020)."""
    radius = kth_neighbour_distance(real, k, block)  # (N,)
    balls_holding = torch.cat([(torch.cdist(part, real) < radius).sum(dim=1) for part in fake.split(block)])  # (M,)
    nearest_fake = torch.cat([torch.cdist(part, fake).min(dim=1).values for part in real.split(block)])  # (N,)
    return float(balls_holding.double().sum() / (k * fake.shape[0])), float((nearest_fake < radius).double().mean())


class PrecisionRecall(CollectedFeatures):
    """Collects real and generated features; ``compute`` returns (precision, recall) with ``k`` neighbours."""

    higher_is_better = True

    def __init__(self, k: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k

    def compute(self) -> tuple[float, float]:
        return precision_recall(self.rows("real"), self.rows("fake"), self.k)


class DensityCoverage(CollectedFeatures):
    """Collects real and generated features; ``compute`` returns (density, coverage) with ``k`` neighbours."""

    higher_is_better = True

    def __init__(self, k: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k

    def compute(self) -> tuple[float, float]:
        return density_coverage(self.rows("real"), self.rows("fake"), self.k)
