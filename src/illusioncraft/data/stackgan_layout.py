"""StackGAN's own CUB-200 / Oxford-102 layout, read for ``captioned_folder`` with ``layout: stackgan``::

    root/train/filenames.pickle            keys '<class>/<name>' of the training images (a list of strings)
    root/train/class_info.pickle           their class ids (mismatched captions come from another class)
    root/train/char-CNN-RNN-embeddings.pickle   (N, 10, 1024) sentence embeddings, read when named
    root/test/...                          the same for the test images (StackGAN's unseen classes)
    root/CUB_200_2011/images/<key>.jpg     (or root/images/<key>.jpg for Oxford-102)
    root/CUB_200_2011/images.txt, bounding_boxes.txt   CUB's boxes: '<id> <path>' and '<id> x y width height'
    root/text_c10/<key>.txt                (or root/text/<key>.txt) one caption per line

Splits are StackGAN's: ``train/`` trains, ``test/`` is the validation and the test split. Birds are cropped
as StackGAN crops them: a square of side 1.5 x max(width, height) of the box, centred on it, clipped to the
image. The pickles are read through ``illusioncraft.safe_pickle`` (strings, numbers and arrays only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from illusioncraft.data.image_cache import ImageFiles
from illusioncraft.data.images import Box, BoxOf
from illusioncraft.errors import DataError
from illusioncraft.safe_pickle import load_pickle

NAME = "captioned_folder"
CUB = "CUB_200_2011"


@dataclass(frozen=True)
class StackGANBox:
    """StackGAN's crop of a bird: the square of half-side R = int(0.75 max(w, h)) around the box's integer
    centre, clipped to the image (a function of the image's size, with a stable repr for cache keys)."""

    radius: int
    centre_x: int
    centre_y: int

    def __call__(self, image_width: int, image_height: int) -> Box:
        return (max(0, self.centre_x - self.radius), max(0, self.centre_y - self.radius),
                min(image_width, self.centre_x + self.radius), min(image_height, self.centre_y + self.radius))


def stackgan_box(x: float, y: float, width: float, height: float) -> BoxOf:
    """The ``StackGANBox`` of a bounding box (x, y, width, height) from CUB's bounding_boxes.txt."""
    return StackGANBox(int(max(width, height) * 0.75), int((2 * x + width) / 2), int((2 * y + height) / 2))


def read_bounding_boxes(cub: Path) -> dict[str, BoxOf]:
    """Image key ('<class>/<name>', no suffix) -> its crop, from CUB's ``images.txt`` and ``bounding_boxes.txt``."""
    paths, boxes = {}, {}
    for filename, table in (("images.txt", paths), ("bounding_boxes.txt", boxes)):
        path = cub / filename
        if not path.is_file():
            raise DataError(f"{NAME}: missing file '{path}' (CUB's boxes need images.txt and bounding_boxes.txt)")
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                table[fields[0]] = fields[1] if filename == "images.txt" else [float(v) for v in fields[1:5]]
            except (IndexError, ValueError):
                raise DataError(f"{NAME}: '{path}' line {number} is malformed: {line.strip()!r}") from None
    missing = sorted(set(paths) - set(boxes))
    if missing:
        raise DataError(f"{NAME}: image id {missing[0]} of '{cub / 'images.txt'}' has no row in bounding_boxes.txt")
    return {str(Path(paths[i]).with_suffix("")): stackgan_box(*[int(v) for v in boxes[i]]) for i in paths}


def _string_list(value: Any, path: Path) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, bytes)) for v in value):
        raise DataError(f"{NAME}: '{path}' is not a list of image keys")
    return [v.decode("latin1") if isinstance(v, bytes) else v for v in value]


def _first_existing(candidates: list[Path], what: str) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise DataError(f"{NAME}: {what} not found; looked for {', '.join(repr(str(c)) for c in candidates)}")


def _captions(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise DataError(f"{NAME}: cannot read caption file '{path}': {error}") from None
    captions = [line.replace("\ufffd\ufffd", " ").strip() for line in lines if line.strip()]
    if not captions:
        raise DataError(f"{NAME}: caption file '{path}' is empty; write one caption per line")
    return captions


def read_stackgan_split(root: Path, split: str, size: int, embeddings: Optional[str]) -> dict[str, Any]:
    """One split (``train`` or ``test``) as the fields of a ``CaptionedSplit``."""
    from illusioncraft.text import load_sentence_embeddings

    folder = root / split
    filenames_path = folder / "filenames.pickle"
    keys = _string_list(load_pickle(filenames_path, f"{NAME} image keys"), filenames_path)
    if len(keys) < 2:
        raise DataError(f"{NAME}: '{filenames_path}' lists {len(keys)} images; a split needs at least 2")
    class_path = folder / "class_info.pickle"
    if class_path.is_file():
        classes = np.asarray(load_pickle(class_path, f"{NAME} class ids")).reshape(-1)
        if len(classes) != len(keys):
            raise DataError(f"{NAME}: '{class_path}' has {len(classes)} class ids for {len(keys)} images")
        groups = torch.as_tensor(classes.astype(np.int64))
    else:  # StackGAN's own fallback: every image its own class
        groups = torch.arange(len(keys))
    image_dir = _first_existing([root / CUB / "images", root / "images", root], "the image folder")
    boxes = read_bounding_boxes(root / CUB) if (root / CUB / "bounding_boxes.txt").is_file() else {}
    text_dir = _first_existing([root / "text_c10", root / "text"], "the caption folder (text_c10/ or text/)")
    paths, crops, captions = [], [], []
    for key in keys:
        path = image_dir / f"{key}.jpg"
        if not path.is_file():
            raise DataError(f"{NAME}: image '{path}' of '{filenames_path}' does not exist")
        caption_file = text_dir / f"{key}.txt"
        if not caption_file.is_file():
            raise DataError(f"{NAME}: missing caption file '{caption_file}' for image '{path}'")
        if boxes and key not in boxes:
            raise DataError(f"{NAME}: image '{key}' has no bounding box in '{root / CUB / 'bounding_boxes.txt'}'")
        paths.append(path)
        crops.append(boxes.get(key))
        captions.append(_captions(caption_file))
    vectors = None
    if embeddings is not None:
        vectors = load_sentence_embeddings(folder / embeddings)  # (N, C, D)
        if vectors.shape[0] != len(keys):
            raise DataError(f"{NAME}: '{folder / embeddings}' has {vectors.shape[0]} rows for the {len(keys)} images "
                            f"of '{filenames_path}'")
    return {"images": ImageFiles(paths, size, crops, what=NAME), "captions": captions,
            "attributes": torch.zeros(len(keys), 0, dtype=torch.long), "groups": groups, "embeddings": vectors}
