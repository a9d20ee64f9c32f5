"""``cifar10`` and ``cifar100``: the CIFAR sets from the files their authors distribute, nothing downloaded.

``format: binary`` (the default) reads the binary version: records of label byte(s) then 3,072 pixel bytes
(1,024 red, green, blue, row by row), with label names in ``batches.meta.txt`` (CIFAR-10) or
``fine_label_names.txt`` / ``coarse_label_names.txt`` (CIFAR-100). ``format: python`` reads the python version's
pickled dictionaries, through ``illusioncraft.safe_pickle`` (arrays and plain containers only), and only when
the user names that format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch
from torch import Tensor

from illusioncraft.augment.pipeline import AugmentationSpecs
from illusioncraft.data.base import BatchSize
from illusioncraft.data.in_memory import InMemoryImageDataModule
from illusioncraft.errors import ConfigError, DataError
from illusioncraft.registry import register
from illusioncraft.safe_pickle import load_pickle

PIXELS = 3 * 32 * 32
Format = Literal["binary", "python"]


class CIFARLayout:
    """Where one CIFAR version keeps its files and how many label bytes lead each binary record."""

    def __init__(self, folder: dict[str, str], train: dict[str, list[str]], test: dict[str, str],
                 meta: dict[str, str], label_bytes: int) -> None:
        self.folder, self.train, self.test, self.meta, self.label_bytes = folder, train, test, meta, label_bytes


CIFAR10 = CIFARLayout(
    folder={"binary": "cifar-10-batches-bin", "python": "cifar-10-batches-py"},
    train={"binary": [f"data_batch_{i}.bin" for i in range(1, 6)], "python": [f"data_batch_{i}" for i in range(1, 6)]},
    test={"binary": "test_batch.bin", "python": "test_batch"},
    meta={"binary": "batches.meta.txt", "python": "batches.meta"},
    label_bytes=1,
)
CIFAR100 = CIFARLayout(
    folder={"binary": "cifar-100-binary", "python": "cifar-100-python"},
    train={"binary": ["train.bin"], "python": ["train"]},
    test={"binary": "test.bin", "python": "test"},
    meta={"binary": "{labels}_label_names.txt", "python": "meta"},
    label_bytes=2,
)


def read_binary_batch(path: Path, label_bytes: int, label_index: int, name: str) -> tuple[Tensor, Tensor]:
    """(images (N, 3, 32, 32) uint8, labels (N,) long) from one binary batch file."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise DataError(f"{name}: cannot read '{path}': {error}") from None
    record = label_bytes + PIXELS
    if raw.size == 0 or raw.size % record:
        raise DataError(f"{name}: '{path}' is not a CIFAR binary batch: {raw.size} bytes is not a multiple of "
                        f"{record}-byte records")
    rows = raw.reshape(-1, record)
    return (torch.from_numpy(rows[:, label_bytes:].reshape(-1, 3, 32, 32).copy()),
            torch.from_numpy(rows[:, label_index].astype(np.int64)))


def read_python_batch(path: Path, label_key: bytes, name: str) -> tuple[Tensor, Tensor]:
    """(images, labels) from one pickled batch dictionary of the python version."""
    batch = load_pickle(path, f"{name} batch", encoding="bytes")
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise DataError(f"{name}: '{path}' is not a CIFAR python batch (expected the keys b'data' and {label_key!r})")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != PIXELS or len(data) != len(labels):
        raise DataError(f"{name}: '{path}' holds data of shape {data.shape} and {len(labels)} labels; "
                        f"expected (N, {PIXELS}) and N")
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels)


class CIFARDataModule(InMemoryImageDataModule):
    """Shared reading of CIFAR-10 and CIFAR-100 (see the module docstring)."""

    layout: CIFARLayout
    dataset_name: str

    def __init__(self, root: str, format: Format, labels: str, image_size: int, batch_size: BatchSize,
                 val_fraction: float, normalize: bool, augmentations: AugmentationSpecs,
                 batch_augmentations: AugmentationSpecs, augmentation_seed: Optional[int], seed: int,
                 num_workers: int) -> None:
        if format not in ("binary", "python"):
            raise ConfigError(f"data '{self.dataset_name}': format must be 'binary' or 'python', got {format!r}")
        self.format, self.labels = format, labels
        self.folder = self._folder(Path(root))
        super().__init__(self.dataset_name, (3, image_size, image_size), self._label_names(), batch_size, val_fraction,
                         normalize, augmentations, batch_augmentations, augmentation_seed, seed, num_workers)

    def _folder(self, root: Path) -> Path:
        """``root`` itself, or its sub-folder of the chosen version (``cifar-10-batches-bin``, ...)."""
        if not root.is_dir():
            raise DataError(f"{self.dataset_name}: data.root '{root}' is not a directory")
        nested = root / self.layout.folder[self.format]
        return nested if nested.is_dir() else root

    def _file(self, name: str) -> Path:
        path = self.folder / name
        if not path.is_file():
            raise DataError(f"{self.dataset_name}: missing file '{path}' (format: {self.format})")
        return path

    def _label_names(self) -> list[str]:
        meta = self._file(self.layout.meta[self.format].format(labels=self.labels))
        if self.format == "binary":
            try:
                return [line.strip() for line in meta.read_text().splitlines() if line.strip()]
            except (OSError, UnicodeDecodeError) as error:
                raise DataError(f"{self.dataset_name}: cannot read '{meta}': {error}") from None
        table = load_pickle(meta, f"{self.dataset_name} label names", encoding="bytes")
        key = b"label_names" if self.layout is CIFAR10 else f"{self.labels}_label_names".encode()
        if not isinstance(table, dict) or key not in table:
            raise DataError(f"{self.dataset_name}: '{meta}' has no {key!r} entry")
        return [value.decode() if isinstance(value, bytes) else str(value) for value in table[key]]

    def _read(self, name: str) -> tuple[Tensor, Tensor]:
        path = self._file(name)
        if self.format == "binary":
            label_index = 1 if self.layout is CIFAR100 and self.labels == "fine" else 0
            images, labels = read_binary_batch(path, self.layout.label_bytes, label_index, self.dataset_name)
        else:
            key = b"labels" if self.layout is CIFAR10 else f"{self.labels}_labels".encode()
            images, labels = read_python_batch(path, key, self.dataset_name)
        if labels.numel() and int(labels.max()) >= len(self.class_names):
            raise DataError(f"{self.dataset_name}: '{path}' has label {int(labels.max())}, but the label names list "
                            f"{len(self.class_names)} classes")
        return images, labels

    def read_arrays(self) -> dict[str, tuple[Tensor, Tensor]]:
        train = [self._read(name) for name in self.layout.train[self.format]]
        return {"train": (torch.cat([images for images, _ in train]), torch.cat([labels for _, labels in train])),
                "test": self._read(self.layout.test[self.format])}


@register("cifar10")
class CIFAR10DataModule(CIFARDataModule):
    """CIFAR-10 (10 classes, 50,000 training and 10,000 test images of 32x32) from the binary or python files."""

    layout, dataset_name = CIFAR10, "cifar10"

    def __init__(self, root: str, format: Format = "binary", image_size: int = 32, batch_size: BatchSize = 64,
                 val_fraction: float = 0.1, normalize: bool = True, augmentations: AugmentationSpecs = None,
                 batch_augmentations: AugmentationSpecs = None, augmentation_seed: Optional[int] = None,
                 seed: int = 0, num_workers: int = 0) -> None:
        super().__init__(root, format, "", image_size, batch_size, val_fraction, normalize, augmentations,
                         batch_augmentations, augmentation_seed, seed, num_workers)
        self.save_hyperparameters()


@register("cifar100")
class CIFAR100DataModule(CIFARDataModule):
    """CIFAR-100 (100 fine or 20 coarse classes by ``labels``) from the binary or python files."""

    layout, dataset_name = CIFAR100, "cifar100"

    def __init__(self, root: str, format: Format = "binary", labels: Literal["fine", "coarse"] = "fine",
                 image_size: int = 32, batch_size: BatchSize = 64, val_fraction: float = 0.1, normalize: bool = True,
                 augmentations: AugmentationSpecs = None, batch_augmentations: AugmentationSpecs = None,
                 augmentation_seed: Optional[int] = None, seed: int = 0, num_workers: int = 0) -> None:
        if labels not in ("fine", "coarse"):
            raise ConfigError(f"data 'cifar100': labels must be 'fine' or 'coarse', got {labels!r}")
        super().__init__(root, format, labels, image_size, batch_size, val_fraction, normalize, augmentations,
                         batch_augmentations, augmentation_seed, seed, num_workers)
        self.save_hyperparameters()
