"""``mnist``: the four IDX files of MNIST (or Fashion-MNIST, same names and format) from a folder, gzipped or not.

IDX: a big-endian header (magic 0x00000803 for images, 0x00000801 for labels, then the item count and, for
images, rows and columns) followed by unsigned bytes. Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from illusioncraft.augment.pipeline import AugmentationSpecs
from illusioncraft.data.base import BatchSize
from illusioncraft.data.in_memory import InMemoryImageDataModule
from illusioncraft.errors import ConfigError, DataError
from illusioncraft.registry import register

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801


def find_file(root: Path, name: str) -> Path:
    """``root/name`` or ``root/name.gz`` (also under torchvision's ``MNIST/raw``); one line naming it if absent."""
    for folder in (root, root / "MNIST" / "raw"):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DataError(f"mnist: missing file '{root / name}' (or '{name}.gz'); expected the four IDX files in data.root")


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The uint8 array of an IDX file: (N,) labels or (N, rows, cols) images."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"mnist: cannot read '{path}': {error}") from None
    dims = 3 if magic == IMAGE_MAGIC else 1
    header = 4 + 4 * dims
    if len(raw) < header or struct.unpack(">I", raw[:4])[0] != magic:
        raise DataError(f"mnist: '{path}' is not an IDX file of {'images' if dims == 3 else 'labels'} "
                        f"(expected magic number {magic:#010x})")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    if len(raw) - header != int(np.prod(shape)):
        raise DataError(f"mnist: '{path}' holds {len(raw) - header} bytes of data, its header promises {int(np.prod(shape))}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


@register("mnist")
class MNISTDataModule(InMemoryImageDataModule):
    """MNIST from its IDX files in ``root`` (``.gz`` or not); the validation split is a seeded share of training."""

    def __init__(
        self,
        root: str,
        image_size: int = 28,
        batch_size: BatchSize = 64,
        val_fraction: float = 0.1,
        normalize: bool = True,
        class_names: Optional[list[str]] = None,
        augmentations: AugmentationSpecs = None,
        batch_augmentations: AugmentationSpecs = None,
        augmentation_seed: Optional[int] = None,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"mnist: data.root '{root}' is not a directory")
        names = list(class_names) if class_names is not None else [str(digit) for digit in range(10)]
        if len(names) != 10:
            raise ConfigError(f"data 'mnist': class_names must name 10 classes, got {len(names)}")
        super().__init__("mnist", (1, image_size, image_size), names, batch_size, val_fraction, normalize,
                         augmentations, batch_augmentations, augmentation_seed, seed, num_workers)
        self.save_hyperparameters()

    def read_arrays(self) -> dict[str, tuple[Tensor, Tensor]]:
        arrays = {}
        for split, (image_name, label_name) in FILES.items():
            images_path, labels_path = find_file(self.root, image_name), find_file(self.root, label_name)
            images, labels = read_idx(images_path, IMAGE_MAGIC), read_idx(labels_path, LABEL_MAGIC)
            if len(images) != len(labels):
                raise DataError(f"mnist: '{images_path}' has {len(images)} images but '{labels_path}' {len(labels)} labels")
            if labels.size and labels.max() > 9:
                raise DataError(f"mnist: '{labels_path}' has label {int(labels.max())}; MNIST labels are 0-9")
            arrays[split] = (torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))
        return arrays
