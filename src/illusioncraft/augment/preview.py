"""``illusioncraft augment``: a picture of N training images beside augmented versions of them.

Each row is one image: the original, then ``views`` independent draws of the config's whole pipeline (the
per-sample albumentations transforms, then the batch-level augmentations applied to the N images together, so
Mixup/CutMix partners come from the same rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml
from PIL import Image

from illusioncraft import registry
from illusioncraft.augment.pipeline import SampleAugmentedDataset, apply_sample
from illusioncraft.errors import ConfigError
from illusioncraft.imaging import image_grid


def datamodule_from_config(path: Path) -> Any:
    """The ``data:`` section of an experiment YAML, instantiated (registry name or import path)."""
    if not path.is_file():
        raise ConfigError(f"augment: config file '{path}' does not exist")
    document = yaml.safe_load(path.read_text()) or {}
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or "class_path" not in data:
        raise ConfigError(f"augment: '{path}' has no 'data:' section with a class_path")
    class_path = str(data["class_path"])
    cls = registry.resolve_class_path("datamodule", class_path)
    try:
        return cls(**(data.get("init_args") or {}))
    except TypeError as error:
        raise ConfigError(f"augment: data '{class_path}' in '{path}': {error}") from None


@torch.no_grad()
def preview(data: Any, n: int = 8, views: int = 5, seed: int = 0, cell: int = 64) -> Image.Image:
    """Grid of ``n`` rows: each training image, then ``views`` augmented versions of it."""
    torch.manual_seed(seed)
    data.setup("fit")
    base = data.train_dataset.dataset if isinstance(data.train_dataset, SampleAugmentedDataset) else data.train_dataset
    n = min(n, len(base))
    originals = torch.stack([base[i][0] for i in range(n)])  # (n, C, H, W) in [0, 1]
    labels = torch.as_tensor([int(base[i][1]) for i in range(n)])
    rows = [originals]
    for _ in range(views):
        if data.sample_pipeline is not None:
            augmented = torch.stack([apply_sample(data.sample_pipeline, image) for image in originals])
        else:
            augmented = originals.clone()
        targets = labels
        for _, step in data.batch_pipeline:
            augmented, targets = step(augmented, targets)
        if augmented.shape[0] > n:  # AugMix + JSD returns (clean, view 1, view 2): show view 1
            augmented = augmented[n : 2 * n]
        rows.append(augmented.clamp(0, 1))
    tiles = torch.stack(rows, dim=1).flatten(0, 1)  # (n * (views + 1), C, H, W), row-major per image
    grid = image_grid(tiles, nrow=views + 1, value_range=(0.0, 1.0), padding=1)
    scale = max(1, cell // originals.shape[-1])
    return grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
