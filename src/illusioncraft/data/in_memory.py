"""Labelled image sets held in memory as uint8 arrays (MNIST, CIFAR): the shared split, resize and dataset.

The files give a training and a test set; the validation split is a seeded share of the training set. Images
stay uint8 (a quarter of float32's memory) and become float32 in [0, 1] when a sample is read.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from illusioncraft.augment.pipeline import AugmentationSpecs
from illusioncraft.data.base import BatchSize, ImageClassificationDataModule
from illusioncraft.errors import ConfigError


class UInt8Images(Dataset):
    """(image (C, H, W) float32 in [0, 1], label) pairs from a uint8 tensor (N, C, H, W) and labels (N,)."""

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.images[index].float() / 255, int(self.labels[index])


def resize_uint8(images: Tensor, size: int) -> Tensor:
    """(N, C, H, W) uint8 -> (N, C, size, size) uint8: antialiased bilinear, rounded back to uint8."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    chunks = [F.interpolate(chunk.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
              for chunk in images.split(4096)]
    return torch.cat(chunks).round().clamp(0, 255).to(torch.uint8)


def validation_indices(n: int, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """(train, val) indices of a seeded permutation of range(n), both sorted."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    return order[n_val:].sort().values, order[:n_val].sort().values


class InMemoryImageDataModule(ImageClassificationDataModule):
    """Base of datamodules whose files decode to uint8 arrays; subclasses implement ``read_arrays``."""

    def __init__(self, name: str, image_shape: tuple[int, int, int], class_names: list[str], batch_size: BatchSize,
                 val_fraction: float, normalize: bool, augmentations: AugmentationSpecs,
                 batch_augmentations: AugmentationSpecs, augmentation_seed: Optional[int], seed: int,
                 num_workers: int) -> None:
        if image_shape[-1] < 4:
            raise ConfigError(f"data '{name}': image_size must be >= 4, got {image_shape[-1]}")
        if not 0.0 < val_fraction < 1.0:
            raise ConfigError(f"data '{name}': val_fraction must be in (0, 1), got {val_fraction}")
        self.image_shape, self.class_names, self.val_fraction = image_shape, class_names, val_fraction
        self.use_normalization = normalize
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, augmentations=augmentations,
                         batch_augmentations=batch_augmentations, augmentation_seed=augmentation_seed)

    def read_arrays(self) -> dict[str, tuple[Tensor, Tensor]]:
        """``{"train": (images, labels), "test": (images, labels)}``: uint8 (N, C, H, W) and long (N,)."""
        raise NotImplementedError

    def load_splits(self) -> None:
        arrays = self.read_arrays()
        size = self.image_shape[-1]
        train_images, train_labels = arrays["train"]
        train_images = resize_uint8(train_images, size)
        keep, held_out = validation_indices(len(train_labels), self.val_fraction, self.seed)
        test_images, test_labels = arrays["test"]
        self.train_dataset = UInt8Images(train_images[keep], train_labels[keep])
        self.val_dataset = UInt8Images(train_images[held_out], train_labels[held_out])
        self.test_dataset = UInt8Images(resize_uint8(test_images, size), test_labels)
        if self.use_normalization:  # one mean and std, from up to 10,000 training images
            pixels = self.train_dataset.images[:10_000].float() / 255
            self.mean, self.std = float(pixels.mean()), float(pixels.std())
