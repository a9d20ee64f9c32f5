"""Image operations on batches (B, C, H, W) in [0, 1], each with a per-sample magnitude (B,) in [0, 1].

They are AugMix's operations (Hendrycks et al., 2020): the ones that do not overlap the corruptions used to
test robustness (no noise, blur, brightness, contrast or colour). All are vectorised over the batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _random_sign(magnitude: Tensor) -> Tensor:
    return magnitude * (torch.randint(0, 2, magnitude.shape, device=magnitude.device) * 2 - 1)


def _affine(images: Tensor, theta: Tensor) -> Tensor:
    """Warp each image by its own 2x3 matrix theta (B, 2, 3) in normalised coordinates; outside is black."""
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _identity_theta(b: int, device: torch.device) -> Tensor:
    return torch.eye(2, 3, device=device).unsqueeze(0).repeat(b, 1, 1)  # (B, 2, 3)


def autocontrast(images: Tensor, magnitude: Tensor) -> Tensor:
    """Stretch each channel of each image to the full [0, 1] range (magnitude unused)."""
    low = images.amin(dim=(2, 3), keepdim=True)
    high = images.amax(dim=(2, 3), keepdim=True)
    scale = torch.where(high > low, 1 / (high - low).clamp_min(1e-12), torch.ones_like(high))
    return torch.where(high > low, (images - low) * scale, images)


def equalize(images: Tensor, magnitude: Tensor) -> Tensor:
    """Histogram equalisation per image and channel over 256 levels (magnitude unused)."""
    b, c, h, w = images.shape
    levels = (images * 255).round().long().clamp(0, 255).view(b * c, h * w)  # (BC, HW)
    histogram = torch.zeros(b * c, 256, device=images.device).scatter_add_(1, levels, torch.ones_like(levels, dtype=torch.float))
    cdf = histogram.cumsum(dim=1)  # (BC, 256)
    cdf_min = torch.where(histogram > 0, cdf, torch.full_like(cdf, float("inf"))).amin(dim=1, keepdim=True)
    denominator = (h * w - cdf_min).clamp_min(1)
    lut = ((cdf - cdf_min) / denominator).clamp(0, 1)
    equalised = lut.gather(1, levels).view(b, c, h, w)
    flat = (cdf_min >= h * w).view(b, c, 1, 1)  # a single-level channel stays as it is
    return torch.where(flat, images, equalised)


def posterize(images: Tensor, magnitude: Tensor) -> Tensor:
    """Keep 4 down to 1 bits per channel as the magnitude grows."""
    bits = (4 - (magnitude * 4).long().clamp(0, 3)).view(-1, 1, 1, 1)  # (B, 1, 1, 1) in 1..4
    levels = (2**bits).float()
    return torch.floor(images * 255 / (256 / levels)) * (256 / levels) / 255


def solarize(images: Tensor, magnitude: Tensor) -> Tensor:
    """Invert the pixels above a threshold that falls from 1 to 0 as the magnitude grows."""
    threshold = (1 - magnitude).view(-1, 1, 1, 1)
    return torch.where(images >= threshold, 1 - images, images)


def rotate(images: Tensor, magnitude: Tensor) -> Tensor:
    """Rotate by up to 30 degrees, either way."""
    angle = _random_sign(magnitude) * math.radians(30)
    theta = _identity_theta(images.shape[0], images.device)
    theta[:, 0, 0], theta[:, 0, 1] = angle.cos(), -angle.sin()
    theta[:, 1, 0], theta[:, 1, 1] = angle.sin(), angle.cos()
    return _affine(images, theta)


def shear_x(images: Tensor, magnitude: Tensor) -> Tensor:
    """Shear horizontally by up to 0.3, either way."""
    theta = _identity_theta(images.shape[0], images.device)
    theta[:, 0, 1] = _random_sign(magnitude) * 0.3
    return _affine(images, theta)


def shear_y(images: Tensor, magnitude: Tensor) -> Tensor:
    """Shear vertically by up to 0.3, either way."""
    theta = _identity_theta(images.shape[0], images.device)
    theta[:, 1, 0] = _random_sign(magnitude) * 0.3
    return _affine(images, theta)


def translate_x(images: Tensor, magnitude: Tensor) -> Tensor:
    """Shift horizontally by up to a third of the width, either way."""
    theta = _identity_theta(images.shape[0], images.device)
    theta[:, 0, 2] = _random_sign(magnitude) * (2 / 3)  # normalised coordinates span 2
    return _affine(images, theta)


def translate_y(images: Tensor, magnitude: Tensor) -> Tensor:
    """Shift vertically by up to a third of the height, either way."""
    theta = _identity_theta(images.shape[0], images.device)
    theta[:, 1, 2] = _random_sign(magnitude) * (2 / 3)
    return _affine(images, theta)


AUGMIX_OPS = (autocontrast, equalize, posterize, solarize, rotate, shear_x, shear_y, translate_x, translate_y)
