"""Shared plumbing for image-classification datamodules: loaders, augmentation and normalisation.

Datasets yield images in [0, 1]. Splits held as tensors are batched by index on the training device
(``illusioncraft.data.index_batches``); image files, and any split with a per-sample augmentation pipeline (which
runs in the DataLoader, training split only), go through a DataLoader. After the batch reaches the device,
``on_after_batch_transfer`` applies the batch-level augmentations (training only) and then normalises with the
training split's statistics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, Union

from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset

from illusioncraft.augment import pipeline as augmentation
from illusioncraft.data.image_cache import CachedImages, as_float_images
from illusioncraft.data.index_batches import IndexBatches, tensor_batches
from illusioncraft.data.sampling import EpochShuffleSampler
from illusioncraft.errors import ConfigError, PluginError

BatchSize = Union[int, Literal["full"]]


class ImageClassificationDataModule(LightningDataModule):
    """Base for datamodules that yield ``(image (C, H, W) in [0, 1], label int)`` pairs.

    ``batch_size: full`` puts the whole split in one batch (batch gradient descent); ``1`` is stochastic
    gradient descent; anything between is mini-batch gradient descent.
    """

    def __init__(
        self,
        batch_size: BatchSize = 64,
        num_workers: int = 0,
        seed: int = 0,
        augmentations: augmentation.AugmentationSpecs = None,
        batch_augmentations: augmentation.AugmentationSpecs = None,
        augmentation_seed: Optional[int] = None,
    ) -> None:
        missing = [name for name in ("image_shape", "class_names") if not hasattr(self, name)]
        if missing:
            raise PluginError(
                f"datamodule {type(self).__name__}: set {' and '.join(missing)} before calling "
                "ImageClassificationDataModule.__init__ (the batch augmentations need the class count)"
            )
        super().__init__()
        if batch_size != "full" and (not isinstance(batch_size, int) or batch_size < 1):
            raise ConfigError(f"data: batch_size must be a positive integer or 'full', got {batch_size!r}")
        if num_workers < 0:
            raise ConfigError(f"data: num_workers must be >= 0, got {num_workers}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.augmentation_seed = augmentation_seed
        self.sample_pipeline = augmentation.build_sample_pipeline(augmentations, augmentation_seed)
        self.batch_pipeline = augmentation.build_batch_pipeline(batch_augmentations, self.num_classes)
        self.mean, self.std = 0.0, 1.0
        self.train_dataset: Optional[Dataset] = None
        self.val_dataset: Optional[Dataset] = None
        self.test_dataset: Optional[Dataset] = None

    # Subclasses set these before calling this class's __init__ (known without reading pixel data).
    image_shape: tuple[int, int, int]
    class_names: list[str]

    @property
    def data_shape(self) -> tuple[int, int, int]:
        return self.image_shape

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def views_per_image(self) -> int:
        """How many views of each image a training batch holds after the batch augmentations (3 for AugMix + JSD)."""
        views = 1
        for _, step in self.batch_pipeline:
            views *= step.views_per_image
        return views

    def augmentation_description(self) -> dict[str, Any]:
        return augmentation.describe(self.sample_pipeline, self.batch_pipeline, self.augmentation_seed)

    def setup(self, stage: Optional[str] = None) -> None:
        """Load the splits (``load_splits``) once, then record the augmentation pipeline in the run."""
        if self.train_dataset is None:
            self.load_splits()
            if self.sample_pipeline is not None:
                self.train_dataset = augmentation.SampleAugmentedDataset(self.train_dataset, self.sample_pipeline)
        trainer = self.trainer
        recorded = getattr(self, "_recorded_for", None) is trainer  # once per trainer, not once per stage
        if trainer is not None and not recorded and (self.sample_pipeline is not None or self.batch_pipeline):
            self._recorded_for = trainer
            description = self.augmentation_description()
            if trainer.is_global_zero:
                run_dir = Path(trainer.default_root_dir)
                run_dir.mkdir(parents=True, exist_ok=True)
                augmentation.save(run_dir / "augmentation.json", description)
            for logger in trainer.loggers:
                logger.log_hyperparams({"augmentation": description})

    def load_splits(self) -> None:
        """Set train/val/test datasets of [0, 1] images, and ``mean``/``std`` for normalisation."""
        raise NotImplementedError

    def normalize(self, images: Tensor) -> Tensor:
        return (images - self.mean) / self.std

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        images, targets = batch
        images = as_float_images(images)  # a decoded cache's uint8, converted on the device
        if self.batch_pipeline and self.trainer is not None and self.trainer.training:
            for _, step in self.batch_pipeline:
                images, targets = step(images, targets)
        return self.normalize(images), targets

    def _loader(self, dataset: Optional[Dataset], shuffle: bool) -> Union[DataLoader, IndexBatches]:
        """Tensors in memory: batches by index on the training device. Image files, or a per-sample augmentation:
        a DataLoader (seeded by (seed, epoch), not by one long-lived generator: a resumed run replays the same order)."""
        if dataset is None:
            raise RuntimeError("datamodule used before setup()")
        size = len(dataset) if self.batch_size == "full" else self.batch_size
        if isinstance(dataset, (TensorDataset, CachedImages)):  # embedded sets on the device; decoded folders on the host
            return tensor_batches(dataset.tensors, size, shuffle, self.seed, trainer=self.trainer,
                                  on_device=isinstance(dataset, TensorDataset))
        sampler = EpochShuffleSampler(dataset, self.seed) if shuffle else None
        return DataLoader(
            dataset,
            batch_size=size,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> Union[DataLoader, IndexBatches]:
        return self._loader(self.train_dataset, shuffle=True)

    def val_dataloader(self) -> Union[DataLoader, IndexBatches]:
        return self._loader(self.val_dataset, shuffle=False)

    def test_dataloader(self) -> Union[DataLoader, IndexBatches]:
        return self._loader(self.test_dataset, shuffle=False)

    def predict_dataloader(self) -> Union[DataLoader, IndexBatches]:
        return self._loader(self.test_dataset, shuffle=False)
