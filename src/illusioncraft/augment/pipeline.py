"""A datamodule's augmentations: the per-sample albumentations pipeline and the batch-level list, built from YAML.

YAML form, under a datamodule's init_args::

    augmentations:                      # per sample, in the DataLoader workers (albumentations)
      - {name: rotate, params: {limit: 10, p: 0.5}}
      - {name: cutout, params: {size: 0.25}}     # CoarseDropout per sample
    batch_augmentations:                # per batch, on the device, after transfer
      - {name: cutmix, params: {cutmix_alpha: 1.0}}
    augmentation_seed: 0                # makes the per-sample pipeline deterministic
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import albumentations as A
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from illusioncraft.augment.base import BatchAugmentation
from illusioncraft.augment.batch import build_batch_augmentation, build_sample_transform
from illusioncraft.errors import ConfigError

AugmentationSpecs = Optional[list[dict[str, Any]]]


def _split_spec(spec: Any, where: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(spec, dict) or "name" not in spec or set(spec) - {"name", "params"}:
        raise ConfigError(f"{where}: each entry is {{name: ..., params: {{...}}}}, got {spec!r}")
    params = spec.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: params of '{spec['name']}' must be a mapping, got {params!r}")
    return str(spec["name"]), dict(params)


def build_sample_pipeline(specs: AugmentationSpecs, seed: Optional[int]) -> Optional[A.Compose]:
    """The per-sample albumentations Compose (None when there is nothing to apply)."""
    if not specs:
        return None
    transforms = [build_sample_transform(*_split_spec(spec, "augmentations")) for spec in specs]
    return A.Compose(transforms, seed=seed)


def build_batch_pipeline(specs: AugmentationSpecs, num_classes: int) -> list[tuple[str, BatchAugmentation]]:
    """(name, augmentation) pairs applied in order to each training batch on the device."""
    pipeline = []
    for spec in specs or []:
        name, params = _split_spec(spec, "batch_augmentations")
        augmentation = build_batch_augmentation(name, params)
        augmentation.num_classes = num_classes
        pipeline.append((name, augmentation))
    return pipeline


def describe(sample: Optional[A.Compose], batch: list[tuple[str, BatchAugmentation]], seed: Optional[int]) -> dict[str, Any]:
    """Everything needed to rebuild both pipelines: albumentations' own to_dict plus the batch list."""
    return {
        "seed": seed,
        "albumentations": A.to_dict(sample) if sample is not None else None,
        "batch": [{"name": name, "params": augmentation.config()} for name, augmentation in batch],
    }


def save(path: Path, description: dict[str, Any]) -> None:
    path.write_text(json.dumps(description, indent=2, default=list))


def load_sample_pipeline(path: Path) -> Optional[A.Compose]:
    """Rebuild the per-sample pipeline written by ``save``, with its seed: the same inputs give the same outputs."""
    description = json.loads(Path(path).read_text())
    if description["albumentations"] is None:
        return None
    pipeline = A.from_dict(description["albumentations"])
    if description["seed"] is not None:
        pipeline.set_random_seed(description["seed"])
    return pipeline


def apply_sample(pipeline: A.Compose, image: Tensor) -> Tensor:
    """Run an albumentations pipeline on one image (C, H, W) in [0, 1]; returns (C, H, W) float32."""
    array = image.permute(1, 2, 0).numpy().astype(np.float32)  # (H, W, C)
    out = pipeline(image=array)["image"]
    if out.ndim == 2:
        out = out[..., None]
    return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1))).float()


class SampleAugmentedDataset(Dataset):
    """Applies the per-sample pipeline to each (image (C, H, W) in [0, 1], label) of another dataset."""

    def __init__(self, dataset: Dataset, pipeline: A.Compose) -> None:
        self.dataset, self.pipeline = dataset, pipeline

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Tensor, Any]:
        image, label = self.dataset[index]
        return apply_sample(self.pipeline, image), label
