"""2-D Gaussian mixtures for measuring mode collapse (PacGAN's settings): a ring of 8 and a grid of 25 modes."""

from __future__ import annotations

import math
from typing import Optional

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import TensorDataset

from illusioncraft.data.index_batches import IndexBatches, tensor_batches
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register


def ring_modes(n: int = 8, radius: float = 1.0) -> Tensor:
    angles = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    return torch.stack([radius * angles.cos(), radius * angles.sin()], dim=1).float()  # (n, 2)


def grid_modes(side: int = 5, spacing: float = 2.0) -> Tensor:
    values = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing  # -4, -2, 0, 2, 4
    return torch.cartesian_prod(values, values)  # (side^2, 2)


class MixtureDataModule(LightningDataModule):
    """Points from an equal-weight mixture of isotropic Gaussians; labels are the mode indices."""

    modes: Tensor
    std: float

    def __init__(self, n_samples: int = 50_000, batch_size: int = 500, seed: int = 0) -> None:
        super().__init__()
        if n_samples < 1 or batch_size < 1:
            raise ConfigError(f"data: n_samples and batch_size must be >= 1, got {n_samples}, {batch_size}")
        self.n_samples, self.batch_size, self.seed = n_samples, batch_size, seed
        self.data_shape = (2,)
        self.train_dataset: Optional[TensorDataset] = None

    def sample(self, n: int, seed: int) -> tuple[Tensor, Tensor]:
        generator = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, self.modes.shape[0], (n,), generator=generator)
        points = self.modes[labels] + self.std * torch.randn(n, 2, generator=generator)
        return points, labels

    def setup(self, stage: Optional[str] = None) -> None:
        if self.train_dataset is None:
            self.train_dataset = TensorDataset(*self.sample(self.n_samples, self.seed))
            self.val_dataset = TensorDataset(*self.sample(self.batch_size, self.seed + 1))

    def train_dataloader(self) -> IndexBatches:
        # whole batches indexed at once on the training device, in an order seeded by (seed, epoch)
        return tensor_batches(self.train_dataset.tensors, self.batch_size, True, self.seed, drop_last=True,
                              trainer=self.trainer)

    def val_dataloader(self) -> IndexBatches:
        return tensor_batches(self.val_dataset.tensors, self.batch_size, False, trainer=self.trainer)


@register("ring8")
class Ring8(MixtureDataModule):
    """Ring of 8 Gaussians on the unit circle, std 0.01 (PacGAN)."""

    modes = ring_modes(8, 1.0)
    std = 0.01


@register("grid25")
class Grid25(MixtureDataModule):
    """Grid of 25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05 (PacGAN)."""

    modes = grid_modes(5, 2.0)
    std = 0.05
