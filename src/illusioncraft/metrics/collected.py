"""The base of metrics that need every feature row (KID, Inception Score, precision/recall, density/coverage).

Rows are kept per set (``real`` / ``fake``) as torchmetrics ``cat`` states, so ``compute`` sees the rows of
every process. Each row carries its position in the stream of samples: under DDP, process r may draw samples
r, r + W, ...; sorting by position at ``compute`` gives the order one process would have seen, which subset
and split choices (KID, Inception Score) depend on. Without positions, rows are numbered in arrival order.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


class CollectedFeatures(Metric):
    """Collects (N, d) rows of ``sets``; ``rows(name)`` returns one set's rows in stream order."""

    full_state_update = False

    def __init__(self, sets: tuple[str, ...] = ("real", "fake"), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sets = sets
        for name in sets:
            self.add_state(f"{name}_rows", [], dist_reduce_fx="cat")
            self.add_state(f"{name}_positions", [], dist_reduce_fx="cat")
        self._arrived = dict.fromkeys(sets, 0)

    def update(self, features: Tensor, real: bool = False, positions: Optional[Tensor] = None) -> None:
        """Add ``features`` (N, d) to the real or the generated set; ``positions`` (N,) their stream positions."""
        name = "real" if real else "fake"
        if name not in self.sets:
            raise ValueError(f"{type(self).__name__} takes only {', '.join(self.sets)} features")
        if positions is None:
            positions = torch.arange(self._arrived[name], self._arrived[name] + features.shape[0])
        self._arrived[name] += features.shape[0]
        getattr(self, f"{name}_rows").append(features.detach())
        getattr(self, f"{name}_positions").append(positions.to(features.device, torch.long))

    def rows(self, name: str) -> Tensor:
        """Every row of one set, from every process, ordered by stream position."""
        rows, positions = getattr(self, f"{name}_rows"), getattr(self, f"{name}_positions")
        if isinstance(rows, list) and not rows:
            raise ValueError(f"{type(self).__name__} has no {name} features")
        rows, positions = dim_zero_cat(rows), dim_zero_cat(positions)
        return rows[torch.argsort(positions, stable=True)]

    def reset(self) -> None:
        super().reset()
        self._arrived = dict.fromkeys(self.sets, 0)


class AllRows(CollectedFeatures):
    """Every row of one set from every process, in stream order: ``compute`` returns them (N, d)."""

    def __init__(self, set_name: str, **kwargs: Any) -> None:
        super().__init__(sets=(set_name,), **kwargs)
        self.set_name = set_name

    def compute(self) -> Tensor:
        return self.rows(self.set_name)
