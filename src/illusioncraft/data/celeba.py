"""``celeba``: the aligned CelebA faces (``img_align_celeba/*.jpg``, 178x218) with the official partition.

``list_eval_partition.txt`` puts each image in train (0), val (1) or test (2). Images are cropped to a centred
square (side ``crop``, default 178: the whole width, the usual GAN crop; 140 or 108 keep only the face) and
resized with ``illusioncraft.data.images.read_image``. Labels: one class, or two by one of the 40 attributes of
``list_attr_celeba.txt`` (``label_attribute: Smiling`` gives ``not_Smiling`` / ``Smiling``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from torch import Tensor
from torch.utils.data import Dataset

from illusioncraft.augment.pipeline import AugmentationSpecs
from illusioncraft.data.base import BatchSize, ImageClassificationDataModule
from illusioncraft.data.images import read_image
from illusioncraft.errors import ConfigError, DataError
from illusioncraft.registry import register

ALIGNED_SIZE = (178, 218)  # (width, height) of every image in img_align_celeba
SPLITS = {"0": "train", "1": "val", "2": "test"}


def read_lines(path: Path) -> list[str]:
    """The non-empty lines of a text file of the data; one line naming it when it is missing or unreadable."""
    if not path.is_file():
        raise DataError(f"celeba: missing file '{path}'")
    try:
        return [line for line in path.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"celeba: cannot read '{path}': {error}") from None


def read_partition(path: Path) -> dict[str, list[str]]:
    """Image file names by split from ``list_eval_partition.txt`` (``<name>.jpg <0|1|2>`` per line)."""
    splits: dict[str, list[str]] = {name: [] for name in SPLITS.values()}
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split()
        if len(fields) != 2 or fields[1] not in SPLITS:
            raise DataError(f"celeba: '{path}' line {number} is not '<image>.jpg <0|1|2>': {line.strip()!r}")
        splits[SPLITS[fields[1]]].append(fields[0])
    return splits


def read_attribute(path: Path, attribute: str) -> dict[str, int]:
    """Image file name -> 1 if it has ``attribute`` else 0, from ``list_attr_celeba.txt`` (values -1 / 1)."""
    lines = read_lines(path)
    if len(lines) < 2:
        raise DataError(f"celeba: '{path}' has no attribute names line")
    names = lines[1].split()
    if attribute not in names:
        raise ConfigError(f"data 'celeba': label_attribute '{attribute}' is not one of {', '.join(names)}")
    column = names.index(attribute) + 1
    try:
        return {fields[0]: int(int(fields[column]) > 0) for fields in (line.split() for line in lines[2:])}
    except (IndexError, ValueError):
        raise DataError(f"celeba: '{path}' has a row without the '{attribute}' column") from None


class CelebAImages(Dataset):
    """(image (3, S, S) in [0, 1], label) pairs read on access: centred ``crop`` square, then resize."""

    def __init__(self, folder: Path, names: list[str], labels: list[int], size: int, crop: int) -> None:
        self.folder, self.names, self.labels, self.size = folder, names, labels, size
        width, height = ALIGNED_SIZE
        left, top = (width - crop) // 2, (height - crop) // 2
        self.box = (left, top, left + crop, top + crop)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image = read_image(self.folder / self.names[index], self.size, 3, box=self.box, what="celeba")
        return image, self.labels[index]


@register("celeba")
class CelebADataModule(ImageClassificationDataModule):
    """Aligned CelebA from ``root`` (``img_align_celeba/``, ``list_eval_partition.txt``), official splits."""

    def __init__(
        self,
        root: str,
        image_size: int = 64,
        crop: int = 178,
        label_attribute: Optional[str] = None,
        batch_size: BatchSize = 64,
        normalize: bool = False,
        augmentations: AugmentationSpecs = None,
        batch_augmentations: AugmentationSpecs = None,
        augmentation_seed: Optional[int] = None,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"celeba: data.root '{root}' is not a directory")
        if image_size < 4:
            raise ConfigError(f"data 'celeba': image_size must be >= 4, got {image_size}")
        if not 1 <= crop <= min(ALIGNED_SIZE):
            raise ConfigError(f"data 'celeba': crop must be between 1 and {min(ALIGNED_SIZE)} pixels, got {crop}")
        self.image_folder = self.root / "img_align_celeba"
        if not self.image_folder.is_dir():
            raise DataError(f"celeba: missing folder '{self.image_folder}' (the aligned images)")
        self.image_shape = (3, image_size, image_size)
        self.label_attribute, self.crop = label_attribute, crop
        self.class_names = ["face"] if label_attribute is None else [f"not_{label_attribute}", label_attribute]
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, augmentations=augmentations,
                         batch_augmentations=batch_augmentations, augmentation_seed=augmentation_seed)
        self.save_hyperparameters()
        if normalize:
            self.mean, self.std = 0.5, 0.5

    def load_splits(self) -> None:
        splits = read_partition(self.root / "list_eval_partition.txt")
        labels = None
        if self.label_attribute is not None:
            labels = read_attribute(self.root / "list_attr_celeba.txt", self.label_attribute)
        datasets = {}
        for split, names in splits.items():
            if not names:
                raise DataError(f"celeba: '{self.root / 'list_eval_partition.txt'}' puts no image in the {split} split")
            if labels is not None:
                missing = [name for name in names if name not in labels]
                if missing:
                    raise DataError(f"celeba: image '{missing[0]}' has no row in '{self.root / 'list_attr_celeba.txt'}'")
            split_labels = [labels[name] for name in names] if labels is not None else [0] * len(names)
            datasets[split] = CelebAImages(self.image_folder, names, split_labels, self.image_shape[-1], self.crop)
        self.train_dataset, self.val_dataset, self.test_dataset = datasets["train"], datasets["val"], datasets["test"]

