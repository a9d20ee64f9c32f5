"""The bars datamodule: procedural images of one horizontal or vertical bar, a dataset that needs no download."""

from typing import Any, Optional

import torch
from torch.utils.data import TensorDataset

from illusioncraft.plugin_api import ConfigError, ImageClassificationDataModule, register


@register("bars")
class Bars(ImageClassificationDataModule):
    """One bright horizontal or vertical bar per image on a noisy dark background; classes horizontal, vertical."""

    def __init__(
        self,
        n_images: int = 2000,
        image_size: int = 16,
        noise: float = 0.1,
        batch_size: int = 64,
        seed: int = 0,
        num_workers: int = 0,
        augmentations: Optional[list[dict[str, Any]]] = None,
        batch_augmentations: Optional[list[dict[str, Any]]] = None,
        augmentation_seed: Optional[int] = None,
    ) -> None:
        if n_images < 30 or image_size < 4:
            raise ConfigError(f"data 'bars': n_images must be >= 30 and image_size >= 4, got {n_images}, {image_size}")
        if not 0.0 <= noise <= 0.5:
            raise ConfigError(f"data 'bars': noise must be in [0, 0.5], got {noise}")
        self.n_images, self.image_size, self.noise = n_images, image_size, noise
        # known before any pixel is drawn, and set before the base class's __init__ (it reads the class count)
        self.image_shape = (1, image_size, image_size)
        self.class_names = ["horizontal", "vertical"]
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, augmentations=augmentations,
                         batch_augmentations=batch_augmentations, augmentation_seed=augmentation_seed)

    def load_splits(self) -> None:
        """80 / 10 / 10 % train / val / test splits of images in [0, 1], drawn from the seed."""
        n, size = self.n_images, self.image_size
        generator = torch.Generator().manual_seed(self.seed)
        labels = torch.randint(0, 2, (n,), generator=generator)  # 0 horizontal, 1 vertical
        position = torch.randint(0, size, (n, 1, 1), generator=generator)
        rows = (torch.arange(size).view(1, size, 1) == position).float().expand(n, size, size)  # (N, S, S)
        images = torch.where(labels.view(n, 1, 1) == 0, rows, rows.transpose(1, 2)).unsqueeze(1)  # (N, 1, S, S)
        images = (images + self.noise * torch.rand(images.shape, generator=generator)).clamp(0, 1)
        cut = [int(n * 0.8), int(n * 0.9)]
        parts = [TensorDataset(x, y) for x, y in zip(images.tensor_split(cut), labels.tensor_split(cut), strict=True)]
        self.train_dataset, self.val_dataset, self.test_dataset = parts
