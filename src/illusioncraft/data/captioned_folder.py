"""``captioned_folder``: your captioned images, in class folders or in StackGAN's own CUB / Oxford-102 layout."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import torch

from illusioncraft.data.captioned import CaptionedDataModule, CaptionedSplit, TextSteps, split_indices
from illusioncraft.data.image_cache import CACHE_MODES, CacheMode, ImageFiles
from illusioncraft.data.images import check_readable, image_files
from illusioncraft.data.stackgan_layout import read_stackgan_split
from illusioncraft.errors import ConfigError, DataError
from illusioncraft.registry import register

NAME = "captioned_folder"


def read_captions(path: Path, image: Path) -> list[str]:
    """The non-empty lines of a caption file; one-line errors for a missing, unreadable or empty file."""
    if not path.is_file():
        raise DataError(f"captioned_folder: missing caption file '{path}' for image '{image}' (one caption per line)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"captioned_folder: cannot read caption file '{path}': {error}") from None
    captions = [line.strip() for line in lines if line.strip()]
    if not captions:
        raise DataError(f"captioned_folder: caption file '{path}' is empty; write one caption per line")
    return captions


@register("captioned_folder")
class CaptionedFolderDataModule(CaptionedDataModule):
    """Your captioned images in the CUB / Oxford-102 layout: ``root/images/<class>/<name>.jpg`` with captions in
    ``root/text/<class>/<name>.txt`` (one per line); class folders are optional.

    ``embeddings`` names a file of pre-computed sentence embeddings (read with ``load_sentence_embeddings``) of
    shape (N images, captions per image, D) whose rows follow the images sorted by their path under
    ``images/`` (``<class>/<name>``); StackGAN's ``filenames.pickle`` order must be sorted that way first.
    The images are split into train and val by ``seed``; the test split is the val split.

    ``layout: stackgan`` reads StackGAN's own files instead (``illusioncraft.data.stackgan_layout``): its pickles
    of image keys and class ids, CUB's bounding boxes, its train/test split; ``embeddings`` then names the file
    in each split folder (``char-CNN-RNN-embeddings.pickle``).
    """

    def __init__(
        self,
        root: str,
        layout: Literal["folders", "stackgan"] = "folders",
        embeddings: Optional[str] = None,
        image_size: int = 32,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        text_steps: TextSteps = None,
        min_freq: int = 1,
        max_length: int = 16,
        val_fraction: float = 0.1,
        cache: CacheMode = "none",
    ) -> None:
        super().__init__(image_size, batch_size, num_workers, seed, text_steps, min_freq, max_length, val_fraction)
        if cache not in CACHE_MODES:
            raise ConfigError(f"data '{NAME}': cache must be one of {', '.join(CACHE_MODES)}, got {cache!r}")
        self.cache = cache
        self.save_hyperparameters()
        self.root, self.layout = Path(root), layout
        if not self.root.is_dir():
            raise DataError(f"captioned_folder: data.root '{root}' is not a directory")
        self.attribute_names, self.attribute_values = [], {}
        self.embeddings_path = embeddings
        if layout == "stackgan":
            for split in ("train", "test"):
                if not (self.root / split / "filenames.pickle").is_file():
                    raise DataError(f"captioned_folder: layout stackgan needs '{self.root / split / 'filenames.pickle'}'")
            return
        if layout != "folders":
            raise DataError(f"captioned_folder: layout must be 'folders' or 'stackgan', got {layout!r}")
        self.image_dir, self.text_dir = self.root / "images", self.root / "text"
        for folder in (self.image_dir, self.text_dir):
            if not folder.is_dir():
                raise DataError(
                    f"captioned_folder: '{folder}' is missing; expected images/<class>/<name>.jpg and text/<class>/<name>.txt"
                )
        if embeddings is not None and not Path(embeddings).is_file():
            raise DataError(f"captioned_folder: data.embeddings file '{embeddings}' does not exist")

    def _image_files(self) -> list[Path]:
        files = image_files(self.image_dir)
        if len(files) < 4:
            raise DataError(f"captioned_folder: '{self.image_dir}' needs at least 4 images (2 per split), found {len(files)}")
        return files

    def load_splits(self) -> dict[str, CaptionedSplit]:
        if self.layout == "stackgan":
            train, test = (CaptionedSplit(**read_stackgan_split(self.root, split, self.image_size, self.embeddings_path))
                           for split in ("train", "test"))
            if self.cache != "none":
                train.images, test.images = train.images.decoded(self.cache), test.images.decoded(self.cache)
            return {"train": train, "val": test, "test": test}
        files = self._image_files()
        captions = []
        for path in files:
            check_readable(path, NAME)
            captions.append(read_captions((self.text_dir / path.relative_to(self.image_dir)).with_suffix(".txt"), path))
        classes = [path.relative_to(self.image_dir).parts[0] if path.parent != self.image_dir else "" for path in files]
        if len(set(classes)) >= 2:  # mismatches come from another class directory
            groups = torch.tensor([sorted(set(classes)).index(c) for c in classes])
        else:  # no classes: any other image
            groups = torch.arange(len(files))
        embeddings = None
        if self.embeddings_path is not None:
            from illusioncraft.text import load_sentence_embeddings

            embeddings = load_sentence_embeddings(self.embeddings_path)  # (N, C, D)
            if embeddings.shape[0] != len(files):
                raise DataError(
                    f"captioned_folder: embeddings file '{self.embeddings_path}' has {embeddings.shape[0]} rows "
                    f"but '{self.image_dir}' has {len(files)} images (rows follow the sorted image paths)"
                )
        everything = CaptionedSplit(
            images=ImageFiles(files, self.image_size, what=NAME),
            captions=captions,
            attributes=torch.zeros(len(files), 0, dtype=torch.long),  # (N, 0): no attributes
            groups=groups,
            embeddings=embeddings,
        )
        train, val = split_indices(len(files), self.val_fraction, self.seed)
        splits = {"train": everything.subset(train), "val": everything.subset(val)}
        for split in splits.values():
            if len(set(split.groups.tolist())) < 2:  # a split with one class mismatches any other image
                split.groups = torch.arange(len(split))
            if self.cache != "none":
                split.images = split.images.decoded(self.cache)
        splits["test"] = splits["val"]
        return splits
