"""Shared DataLoader plumbing for image-classification datamodules."""

from __future__ import annotations

from typing import Literal, Optional, Union

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from illusioncraft.errors import ConfigError

BatchSize = Union[int, Literal["full"]]


class ImageClassificationDataModule(LightningDataModule):
    """Base for datamodules that yield ``(image (C, H, W) float, label int)`` pairs.

    ``batch_size: full`` puts the whole split in one batch (batch gradient descent); ``1`` is stochastic
    gradient descent; anything between is mini-batch gradient descent.
    """

    def __init__(self, batch_size: BatchSize = 64, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        if batch_size != "full" and (not isinstance(batch_size, int) or batch_size < 1):
            raise ConfigError(f"data: batch_size must be a positive integer or 'full', got {batch_size!r}")
        if num_workers < 0:
            raise ConfigError(f"data: num_workers must be >= 0, got {num_workers}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.train_dataset: Optional[Dataset] = None
        self.val_dataset: Optional[Dataset] = None
        self.test_dataset: Optional[Dataset] = None

    # Subclasses set these in __init__ (known without reading pixel data) or in setup().
    image_shape: tuple[int, int, int]
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def _loader(self, dataset: Optional[Dataset], shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("datamodule used before setup()")
        size = len(dataset) if self.batch_size == "full" else self.batch_size
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            dataset,
            batch_size=size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            generator=generator,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_dataset, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_dataset, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_dataset, shuffle=False)
