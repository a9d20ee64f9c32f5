"""scikit-learn's 1,797 real 8x8 handwritten digits (shipped with the package: no download)."""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import TensorDataset

from illusioncraft.augment.pipeline import AugmentationSpecs
from illusioncraft.data.base import BatchSize, ImageClassificationDataModule
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register


def digits_split(
    seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.2, classes: Optional[list[int]] = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Deterministic stratified train/val/test split: images (N, 8, 8) in [0, 1] and labels remapped to 0..K-1."""
    images, labels = load_digits(return_X_y=True)
    images = images.reshape(-1, 8, 8).astype(np.float32) / 16.0
    if classes is not None:
        keep = np.isin(labels, classes)
        images, labels = images[keep], np.searchsorted(sorted(classes), labels[keep])
    rest_x, test_x, rest_y, test_y = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=seed
    )
    train_x, val_x, train_y, val_y = train_test_split(
        rest_x, rest_y, test_size=val_fraction / (1 - test_fraction), stratify=rest_y, random_state=seed
    )
    return {"train": (train_x, train_y), "val": (val_x, val_y), "test": (test_x, test_y)}


@register("digits")
class DigitsDataModule(ImageClassificationDataModule):
    """scikit-learn's 8x8 handwritten digits, split by seed, optionally upscaled to 16 or 32 px."""

    def __init__(
        self,
        batch_size: BatchSize = 64,
        image_size: Literal[8, 16, 32] = 8,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        normalize: bool = True,
        classes: Optional[list[int]] = None,
        augmentations: AugmentationSpecs = None,
        batch_augmentations: AugmentationSpecs = None,
        augmentation_seed: Optional[int] = None,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        if image_size not in (8, 16, 32):
            raise ConfigError(f"data 'digits': image_size must be 8, 16 or 32, got {image_size}")
        for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0.0 < value < 1.0:
                raise ConfigError(f"data 'digits': {key} must be in (0, 1), got {value}")
        if val_fraction + test_fraction >= 1.0:
            raise ConfigError("data 'digits': val_fraction + test_fraction must be < 1")
        if classes is not None:
            bad = [c for c in classes if c not in range(10)]
            if bad or len(set(classes)) < 2:
                raise ConfigError(f"data 'digits': classes must be at least two distinct digits 0-9, got {classes}")
        self.image_size = image_size
        self.image_shape = (1, image_size, image_size)
        self.class_names = [str(c) for c in (sorted(classes) if classes else range(10))]
        super().__init__(
            batch_size=batch_size, num_workers=num_workers, seed=seed, augmentations=augmentations,
            batch_augmentations=batch_augmentations, augmentation_seed=augmentation_seed,
        )
        self.save_hyperparameters()
        self.use_normalization = normalize

    def _to_tensor(self, images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(images).unsqueeze(1)  # (N, 1, 8, 8)
        if self.image_size != 8:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return x.clamp(0, 1)  # (N, 1, S, S)

    def load_splits(self) -> None:
        hp = self.hparams
        split = digits_split(hp.seed, hp.val_fraction, hp.test_fraction, hp.classes)
        images = {name: self._to_tensor(x) for name, (x, _) in split.items()}
        if self.use_normalization:  # statistics of the training split at the final resolution
            self.mean, self.std = float(images["train"].mean()), float(images["train"].std())
        datasets = {name: TensorDataset(images[name], torch.from_numpy(np.asarray(y)).long()) for name, (_, y) in split.items()}
        self.train_dataset, self.val_dataset, self.test_dataset = datasets["train"], datasets["val"], datasets["test"]
