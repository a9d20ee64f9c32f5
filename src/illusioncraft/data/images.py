"""Reading image files for every folder datamodule: one decoder, one crop, one resampling.

An image is decoded with Pillow, converted to grey (1 channel) or RGB (3), cropped to a box (by default the
centred square), resized to ``size`` x ``size`` with Pillow's bicubic filter (which low-pass filters when it
shrinks, so small images do not alias), and returned as float32 (C, size, size) in [0, 1]. A file Pillow cannot
read is a one-line ``DataError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from illusioncraft.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
RESAMPLING = Image.BICUBIC
_UNREADABLE = (UnidentifiedImageError, OSError, ValueError, SyntaxError)

Box = tuple[float, float, float, float]  # (left, top, right, bottom) in pixels
BoxOf = Callable[[int, int], Box]  # (width, height) of the image -> its crop box


def centre_square(width: int, height: int) -> Box:
    """The largest square centred in a width x height image."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def read_pixels(path: Path, size: int, channels: int = 3, box: Union[Box, BoxOf, None] = None,
                what: str = "data") -> np.ndarray:
    """(C, size, size) uint8: crop to ``box`` (default: the centred square; a function of the image's width and
    height gives a box that depends on them), then bicubic resize."""
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            crop = box(*image.size) if callable(box) else box
            image = image.crop(crop or centre_square(*image.size)).resize((size, size), RESAMPLING)
            array = np.asarray(image, dtype=np.uint8)  # (S, S) or (S, S, 3)
    except _UNREADABLE as error:
        raise DataError(f"{what}: cannot read image '{path}': {error}") from None
    return np.ascontiguousarray(array[None] if channels == 1 else array.transpose(2, 0, 1))


def read_image(path: Path, size: int, channels: int = 3, box: Union[Box, BoxOf, None] = None,
               what: str = "data") -> Tensor:
    """(C, size, size) float32 in [0, 1] of ``read_pixels``."""
    return torch.from_numpy(read_pixels(path, size, channels, box, what).astype(np.float32) / 255.0)


def image_dimensions(path: Path, what: str = "data") -> tuple[int, int]:
    """(width, height) of an image file, from its header."""
    try:
        with Image.open(path) as image:
            return image.size
    except _UNREADABLE as error:
        raise DataError(f"{what}: cannot read image '{path}': {error}") from None


def check_readable(path: Path, what: str = "data") -> None:
    """Open the file's header so a broken image is reported before training starts."""
    try:
        with Image.open(path) as image:
            image.verify()
    except _UNREADABLE as error:
        raise DataError(f"{what}: cannot read image '{path}': {error}") from None


def image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted by their path relative to it."""
    return sorted((f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda f: f.relative_to(folder).as_posix())
