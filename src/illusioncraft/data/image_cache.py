"""Image folders decoded once into a uint8 tensor, so an epoch costs an indexing per batch instead of a decode per
image.

``cache: memory`` decodes every image of a split when the datamodule is set up and keeps the (N, C, S, S) uint8
tensor in memory; ``cache: disk`` writes it to a ``.npy`` file under ``$ILLUSIONCRAFT_CACHE/images/`` and maps that
file into memory (pages are read as batches touch them), so a later run, or a split larger than memory, skips the
decoding. The file's name is a hash of what decides its content: every image's path, size and modification time,
the crop boxes, the image size and the channels, so a changed folder is decoded afresh. Batches are drawn by index
on the host, copied into pinned memory when a GPU is present, and reach the device with a non-blocking copy; the
conversion to float in [0, 1] happens on the device (``as_float_images``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np
import torch
from torch import Tensor

from illusioncraft.cache import cache_dir
from illusioncraft.data.images import Box, BoxOf, read_image, read_pixels

CacheMode = Literal["none", "memory", "disk"]
CACHE_MODES = ("none", "memory", "disk")


Crop = Union[Box, BoxOf, None]  # a box, a box as a function of the image's size (with a stable repr), or none


def fingerprint(paths: Sequence[Path], size: int, channels: int, boxes: Optional[Sequence[Crop]]) -> str:
    """A hash of everything that decides the decoded pixels."""
    files = [(str(Path(p).resolve()), os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths]
    crops = [repr(box) for box in boxes] if boxes is not None else []
    return hashlib.sha256(json.dumps([files, size, channels, crops]).encode()).hexdigest()[:24]


def decode(paths: Sequence[Path], size: int, channels: int, boxes: Optional[Sequence[Crop]], what: str,
           out: np.ndarray) -> None:
    """Decode every image into ``out`` (N, C, S, S) uint8 (``read_image``'s crop and resampling)."""
    for index, path in enumerate(paths):
        out[index] = read_pixels(path, size, channels, None if boxes is None else boxes[index], what)  # (C, S, S)


def decoded_images(paths: Sequence[Path], size: int, channels: int = 3, mode: CacheMode = "memory",
                   boxes: Optional[Sequence[Crop]] = None, what: str = "data") -> Tensor:
    """(N, C, S, S) uint8 of the images, decoded now (``memory``) or read from the disk cache (``disk``)."""
    shape = (len(paths), channels, size, size)
    if mode == "memory":
        array = np.empty(shape, dtype=np.uint8)
        decode(paths, size, channels, boxes, what, array)
        return torch.from_numpy(array)
    path = cache_dir() / "images" / f"{what}_{fingerprint(paths, size, channels, boxes)}.npy"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        array = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=shape)
        decode(paths, size, channels, boxes, what, array)
        array.flush()
        del array
        os.replace(temporary, path)  # readers see a whole file or none
    return torch.from_numpy(np.load(path, mmap_mode="c"))  # copy-on-write map: nothing is read until indexed


def as_float_images(images: Tensor) -> Tensor:
    """uint8 images from a cache -> float in [0, 1] (on whatever device they are); float images unchanged."""
    return images.float().div_(255) if images.dtype == torch.uint8 else images


class CachedImages(torch.utils.data.Dataset):
    """Decoded images (N, C, S, S) uint8 with their labels: items are (float image in [0, 1], label), as an image
    folder's are; ``tensors`` (uint8 images, labels) are what batches are drawn from, on the host."""

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        self.images, self.labels = images, labels
        self.tensors = (images, labels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return as_float_images(self.images[index]), self.labels[index]


class DecodedImages:
    """Decoded images (N, C, S, S) uint8 on the host, for captioned folders: an item is a float image in [0, 1];
    ``take(index)`` gives a batch of uint8 images, converted to float on the device."""

    def __init__(self, pixels: Tensor) -> None:
        self.pixels = pixels

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> Tensor:
        return as_float_images(self.pixels[index])

    def take(self, index: Tensor) -> Tensor:
        return self.pixels[index]  # (B, C, S, S) uint8

    def subset(self, indices: list[int]) -> DecodedImages:
        return DecodedImages(self.pixels[indices])


class ImageFiles:
    """Image files (each with its crop, or none) decoded on access to (3, S, S) in [0, 1]; ``decoded(mode)`` gives
    them decoded once (``DecodedImages``)."""

    def __init__(self, paths: list[Path], size: int, boxes: Optional[list[Crop]] = None, what: str = "data") -> None:
        self.paths, self.size, self.what = paths, size, what
        self.boxes = boxes if boxes is not None else [None] * len(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Tensor:
        return read_image(self.paths[index], self.size, box=self.boxes[index], what=self.what)

    def take(self, index: Tensor) -> Tensor:
        return torch.stack([self[i] for i in index.tolist()])  # (B, 3, S, S)

    def subset(self, indices: list[int]) -> ImageFiles:
        return ImageFiles([self.paths[i] for i in indices], self.size, [self.boxes[i] for i in indices], self.what)

    def decoded(self, mode: CacheMode) -> DecodedImages:
        """All of them decoded once (``memory``) or through the disk cache (``disk``)."""
        return DecodedImages(decoded_images(self.paths, self.size, 3, mode, self.boxes, self.what))
