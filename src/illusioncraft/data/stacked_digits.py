"""Stacked digits: PacGAN's stacked MNIST made from scikit-learn's embedded digits (no download).

Each image holds three digits, one per colour channel (red, green, blue), so there are 10^3 = 1,000 modes, and
the label of a stack is 100 * red + 10 * green + blue. The three digit classes are drawn uniformly and
independently (every mode equally likely), then each channel takes a random image of its class from the same
split of the digits (training stacks from training digits, and so on). A split stores its digit images once and
the (N, 3) picks; stacks are assembled when a batch is drawn, on the training device.
"""

from __future__ import annotations

from typing import Literal, Optional

import torch
from torch import Tensor
from torch.utils.data import Dataset

from illusioncraft.augment.pipeline import AugmentationSpecs
from illusioncraft.data.base import BatchSize, ImageClassificationDataModule
from illusioncraft.data.digits import DigitsDataModule
from illusioncraft.data.index_batches import IndexBatches, distribution
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register

CHANNELS = 3
MODES = 10**CHANNELS


def stack_label(digit_labels: Tensor) -> Tensor:
    """(N, 3) digit classes (red, green, blue) -> (N,) mode index 100 * red + 10 * green + blue."""
    return (digit_labels * torch.tensor([100, 10, 1], device=digit_labels.device)).sum(dim=1)


def draw_picks(labels: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """(n, 3) indices into digit images with ``labels`` (M,): each channel's class uniform over 0-9, then a uniform
    image of that class."""
    classes = torch.randint(0, 10, (n, CHANNELS), generator=generator)  # (n, 3)
    order = torch.argsort(labels, stable=True)  # digit indices grouped by class
    counts = torch.bincount(labels, minlength=10)
    if (counts == 0).any():
        raise ConfigError(f"data 'stacked_digits': a split has no image of digit(s) {(counts == 0).nonzero().flatten().tolist()}")
    starts = torch.cumsum(counts, 0) - counts
    offsets = (torch.rand(n, CHANNELS, generator=generator) * counts[classes]).long()  # uniform within the class
    return order[starts[classes] + offsets]


class StackedDigitImages(Dataset):
    """(image (3, S, S) in [0, 1], mode label) pairs assembled from ``digits`` (M, 1, S, S) and ``picks`` (N, 3)."""

    def __init__(self, digits: Tensor, digit_labels: Tensor, picks: Tensor) -> None:
        self.digits, self.digit_labels, self.picks = digits, digit_labels, picks

    def __len__(self) -> int:
        return len(self.picks)

    def batch(self, index: Tensor) -> tuple[Tensor, Tensor]:
        """Stacks ``index`` (B,): images (B, 3, S, S) and labels (B,)."""
        picks = self.picks[index]  # (B, 3)
        images = self.digits[picks].squeeze(2)  # (B, 3, 1, S, S) -> (B, 3, S, S)
        return images, stack_label(self.digit_labels[picks])

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        images, labels = self.batch(torch.tensor([index]))
        return images[0], int(labels[0])

    def to(self, device: torch.device) -> StackedDigitImages:
        return StackedDigitImages(self.digits.to(device), self.digit_labels.to(device), self.picks.to(device))


@register("stacked_digits")
class StackedDigitsDataModule(ImageClassificationDataModule):
    """Three embedded digits in the three colour channels: 1,000 equally likely modes (PacGAN's stacked MNIST)."""

    digit_channels = CHANNELS

    def __init__(
        self,
        n_samples: int = 50_000,
        batch_size: BatchSize = 64,
        image_size: Literal[16, 32] = 16,
        normalize: bool = False,
        augmentations: AugmentationSpecs = None,
        batch_augmentations: AugmentationSpecs = None,
        augmentation_seed: Optional[int] = None,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        if n_samples < 10:
            raise ConfigError(f"data 'stacked_digits': n_samples must be >= 10, got {n_samples}")
        if image_size not in (16, 32):
            raise ConfigError(f"data 'stacked_digits': image_size must be 16 or 32, got {image_size}")
        self.n_samples, self.image_size = n_samples, image_size
        self.image_shape = (CHANNELS, image_size, image_size)
        self.class_names = [f"{mode:03d}" for mode in range(MODES)]
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, augmentations=augmentations,
                         batch_augmentations=batch_augmentations, augmentation_seed=augmentation_seed)
        self.save_hyperparameters()
        self.use_normalization = normalize

    def load_splits(self) -> None:
        digits = DigitsDataModule(image_size=self.image_size, normalize=False, seed=self.seed)
        digits.setup("fit")
        generator = torch.Generator().manual_seed(self.seed)
        sizes = {"train": self.n_samples, "val": max(1, self.n_samples // 10), "test": max(1, self.n_samples // 10)}
        splits = {}
        for name, size in sizes.items():
            images, labels = getattr(digits, f"{name}_dataset").tensors  # (M, 1, S, S), (M,)
            splits[name] = StackedDigitImages(images, labels, draw_picks(labels, size, generator))
        self.train_dataset, self.val_dataset, self.test_dataset = splits["train"], splits["val"], splits["test"]
        if self.use_normalization:  # statistics of up to 10,000 training stacks
            pixels = splits["train"].batch(torch.arange(min(10_000, self.n_samples)))[0]
            self.mean, self.std = float(pixels.mean()), float(pixels.std())

    def _loader(self, dataset: Optional[Dataset], shuffle: bool) -> IndexBatches:
        if not isinstance(dataset, StackedDigitImages):  # a per-sample augmentation wraps it: a DataLoader
            return super()._loader(dataset, shuffle)
        size = len(dataset) if self.batch_size == "full" else self.batch_size
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer is not None else None
        placed = dataset.to(device) if device is not None else dataset
        return IndexBatches(len(placed), lambda index, _: placed.batch(index), size, shuffle, self.seed,
                            **distribution(trainer), device=device)
