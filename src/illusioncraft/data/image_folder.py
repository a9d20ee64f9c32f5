"""A user's images in class sub-folders: ``root/<class>/*.png`` or ``root/{train,val,test}/<class>/*.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import Dataset

from illusioncraft.augment.pipeline import AugmentationSpecs
from illusioncraft.data.base import BatchSize, ImageClassificationDataModule
from illusioncraft.data.image_cache import CACHE_MODES, CachedImages, CacheMode, decoded_images
from illusioncraft.data.images import IMAGE_SUFFIXES, check_readable, read_image
from illusioncraft.errors import ConfigError, DataError
from illusioncraft.registry import register


class ImageFileDataset(Dataset):
    """(path, label) pairs decoded on access to (C, size, size) images in [0, 1]."""

    def __init__(self, samples: list[tuple[Path, int]], channels: int, size: int) -> None:
        self.samples, self.channels, self.size = samples, channels, size

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return read_image(path, self.size, self.channels, what="image_folder"), label


def scan_classes(root: Path) -> tuple[list[str], list[tuple[Path, str]]]:
    """Class names (sorted sub-folder names) and (file, class) pairs under ``root``."""
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [
        (f, d.name) for d in class_dirs for f in sorted(d.rglob("*")) if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
    ]
    return [d.name for d in class_dirs], files


@register("image_folder")
class ImageFolderDataModule(ImageClassificationDataModule):
    """Your own images, one sub-folder per class (PNG/JPEG/...), split by seed unless train/val/test exist.

    ``cache: memory`` decodes every image once into memory, ``disk`` into a mapped file reused by later runs
    (``illusioncraft.data.image_cache``); ``none`` decodes each image when it is drawn.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 32,
        channels: Literal[1, 3] = 3,
        batch_size: BatchSize = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        normalize: bool = True,
        augmentations: AugmentationSpecs = None,
        batch_augmentations: AugmentationSpecs = None,
        augmentation_seed: Optional[int] = None,
        seed: int = 0,
        num_workers: int = 0,
        cache: CacheMode = "none",
    ) -> None:
        if cache not in CACHE_MODES:
            raise ConfigError(f"data 'image_folder': cache must be one of {', '.join(CACHE_MODES)}, got {cache!r}")
        if image_size < 1:
            raise ConfigError(f"data 'image_folder': image_size must be positive, got {image_size}")
        if channels not in (1, 3):
            raise ConfigError(f"data 'image_folder': channels must be 1 or 3, got {channels}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"image_folder: root '{self.root}' is not a directory")
        self.image_shape = (channels, image_size, image_size)
        presplit = all((self.root / s).is_dir() for s in ("train", "val", "test"))
        self.class_names, _ = scan_classes(self.root / "train" if presplit else self.root)
        if len(self.class_names) < 2:
            raise DataError(f"image_folder: '{self.root}' needs at least two class sub-folders, found {self.class_names}")
        super().__init__(
            batch_size=batch_size, num_workers=num_workers, seed=seed, augmentations=augmentations,
            batch_augmentations=batch_augmentations, augmentation_seed=augmentation_seed,
        )
        self.save_hyperparameters()
        if normalize:
            self.mean, self.std = 0.5, 0.5

    def _labelled(self, folder: Path) -> list[tuple[Path, int]]:
        names, files = scan_classes(folder)
        unknown = sorted(set(names) - set(self.class_names))
        if unknown:
            raise DataError(f"image_folder: '{folder}' has classes not in the training split: {unknown}")
        if not files:
            raise DataError(f"image_folder: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) under '{folder}'")
        for path, _ in files:
            check_readable(path, "image_folder")
        index = {name: i for i, name in enumerate(self.class_names)}
        return [(path, index[name]) for path, name in files]

    def load_splits(self) -> None:
        hp = self.hparams
        if all((self.root / s).is_dir() for s in ("train", "val", "test")):
            splits = {s: self._labelled(self.root / s) for s in ("train", "val", "test")}
        else:
            samples = self._labelled(self.root)
            labels = [label for _, label in samples]
            try:
                rest, test = train_test_split(samples, test_size=hp.test_fraction, stratify=labels, random_state=hp.seed)
                rest_labels = [label for _, label in rest]
                train, val = train_test_split(
                    rest, test_size=hp.val_fraction / (1 - hp.test_fraction), stratify=rest_labels, random_state=hp.seed
                )
            except ValueError as error:
                raise DataError(f"image_folder: cannot split '{self.root}' into train/val/test: {error}") from None
            splits = {"train": train, "val": val, "test": test}
        make = lambda s: self._dataset(splits[s])  # noqa: E731
        self.train_dataset, self.val_dataset, self.test_dataset = make("train"), make("val"), make("test")

    def _dataset(self, samples: list[tuple[Path, int]]) -> Dataset:
        """Files decoded on access, or decoded once into the cache (``cache: memory|disk``)."""
        hp = self.hparams
        if hp.cache == "none":
            return ImageFileDataset(samples, hp.channels, hp.image_size)
        images = decoded_images([path for path, _ in samples], hp.image_size, hp.channels, hp.cache, what="image_folder")
        return CachedImages(images, torch.tensor([label for _, label in samples]))
