"""How images reach the Inception network's 299x299 input, as the reference implementations do it.

Both modes first quantise to 8 bits, as a saved PNG would be: ``round(255 x)`` for images in [0, 1].

- ``legacy``: bilinear resampling as TensorFlow 1.x's ``resize_bilinear`` (no half-pixel offset: output pixel
  i samples input position i x in/out) on the uint8 values; what TTUR, torch-fidelity and torchmetrics do, so
  the scores compare with most published tables.
- ``clean``: clean-fid's choice (Parmar et al., 2022): each channel resized by Pillow's bicubic filter on the
  uint8 values as 32-bit floats, clipped to [0, 255]. Unlike ``legacy`` it low-pass filters when it shrinks, so
  it does not alias; its scores differ from ``legacy``'s and compare only with clean-fid's.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import Tensor

ResizeMode = Literal["legacy", "clean"]
RESIZE_MODES = ("legacy", "clean")


def quantise(images: Tensor) -> Tensor:
    """(B, C, H, W) in [0, 1] (or uint8) -> uint8 RGB: round(255 x); one channel is repeated three times."""
    if images.dtype != torch.uint8:
        images = (images.float().clamp(0, 1) * 255).round().to(torch.uint8)
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def bilinear_like_tensorflow1(images: Tensor, size: int) -> Tensor:
    """(B, C, H, W) float -> (B, C, size, size) by TF 1.x bilinear resampling (align_corners=False)."""

    def positions(length: int) -> tuple[Tensor, Tensor, Tensor]:
        source = torch.arange(size, dtype=torch.float32, device=images.device) * torch.tensor(length / size)
        low = source.long()  # floor: positions are >= 0
        high = (low + 1).clamp_max(length - 1)
        return low, high, (source - low).to(images.dtype)

    rows_low, rows_high, row_weight = positions(images.shape[2])
    cols_low, cols_high, col_weight = positions(images.shape[3])
    top, bottom = images[:, :, rows_low], images[:, :, rows_high]  # (B, C, size, W)
    top = top[..., cols_low] + (top[..., cols_high] - top[..., cols_low]) * col_weight
    bottom = bottom[..., cols_low] + (bottom[..., cols_high] - bottom[..., cols_low]) * col_weight
    return top + (bottom - top) * row_weight.view(-1, 1)  # (B, C, size, size)


def bicubic_like_clean_fid(images: Tensor, size: int) -> Tensor:
    """(B, C, H, W) uint8 -> (B, C, size, size) float32 in [0, 255]: Pillow bicubic per channel, in float."""
    planes = images.cpu().numpy().astype(np.float32)  # (B, C, H, W)
    resized = np.empty((*planes.shape[:2], size, size), dtype=np.float32)
    for b in range(planes.shape[0]):
        for c in range(planes.shape[1]):
            resized[b, c] = np.asarray(Image.fromarray(planes[b, c]).resize((size, size), Image.BICUBIC))
    return torch.from_numpy(resized.clip(0, 255)).to(images.device)


def to_inception_input(images: Tensor, mode: ResizeMode, size: int = 299) -> Tensor:
    """Images in [0, 1] or uint8 -> the network's (B, 3, size, size) input in [-1, 1]."""
    pixels = quantise(images)
    if mode == "clean":
        resized = bicubic_like_clean_fid(pixels, size)
    else:
        resized = bilinear_like_tensorflow1(pixels.float(), size)
    return (resized - 128) / 128
