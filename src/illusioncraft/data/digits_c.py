"""digits-c: the digits test split under common corruptions at 5 severities, generated here (no download).

After ImageNet-C (Hendrycks & Dietterich, 2019), scaled to 8-32 px images in [0, 1]: Gaussian noise, Gaussian
blur, contrast loss, elastic warping and pixelation. Training and validation splits stay clean, so a model
trained on ``digits`` is tested on ``digits_c`` with the same split, statistics and seed.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

from illusioncraft.augment.pipeline import AugmentationSpecs
from illusioncraft.data.base import BatchSize
from illusioncraft.data.digits import DigitsDataModule
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register

Corruption = Literal["gaussian_noise", "gaussian_blur", "contrast", "elastic", "pixelate"]
CORRUPTIONS: tuple[str, ...] = ("gaussian_noise", "gaussian_blur", "contrast", "elastic", "pixelate")


def _gaussian_kernel(sigma: float) -> Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (N, C, H, W) with reflect padding."""
    kernel = _gaussian_kernel(sigma)
    k, c = kernel.numel(), images.shape[1]
    padded = F.pad(images, [k // 2, k // 2, k // 2, k // 2], mode="reflect" if k // 2 < images.shape[-1] else "replicate")
    horizontal = F.conv2d(padded, kernel.view(1, 1, 1, k).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(horizontal, kernel.view(1, 1, k, 1).repeat(c, 1, 1, 1), groups=c)


def corrupt(images: Tensor, corruption: str, severity: int, seed: int = 0) -> Tensor:
    """Corrupted copy of (N, C, H, W) images in [0, 1]; deterministic for a seed. Severity 1 (mild) to 5."""
    if corruption not in CORRUPTIONS:
        raise ConfigError(f"digits_c: unknown corruption '{corruption}'; known: {', '.join(CORRUPTIONS)}")
    if severity not in range(1, 6):
        raise ConfigError(f"digits_c: severity must be 1..5, got {severity}")
    generator = torch.Generator().manual_seed(seed * 100 + severity)
    size = images.shape[-1]
    scale = size / 8  # parameters are set for 8 px digits and grow with the image
    level = severity - 1
    if corruption == "gaussian_noise":
        std = (0.08, 0.12, 0.18, 0.26, 0.38)[level]
        out = images + std * torch.randn(images.shape, generator=generator)
    elif corruption == "gaussian_blur":
        out = gaussian_blur(images, (0.4, 0.55, 0.7, 0.85, 1.0)[level] * scale)
    elif corruption == "contrast":
        factor = (0.4, 0.3, 0.2, 0.1, 0.05)[level]
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        out = (images - mean) * factor + mean
    elif corruption == "elastic":
        alpha, sigma = (0.6, 0.9, 1.2, 1.5, 1.8)[level] * scale, 1.0 * scale
        field = torch.rand((images.shape[0], 2, size, size), generator=generator) * 2 - 1  # (N, 2, H, W)
        field = gaussian_blur(field, sigma) * alpha * 2 / size  # pixels -> normalised coordinates
        base = F.affine_grid(torch.eye(2, 3).expand(images.shape[0], 2, 3), list(images.shape), align_corners=False)
        out = F.grid_sample(images, base + field.permute(0, 2, 3, 1), padding_mode="border", align_corners=False)
    else:  # pixelate
        small = max(2, round(size * (0.85, 0.75, 0.625, 0.5, 0.375)[level]))  # 8 px: 7, 6, 5, 4, 3
        out = F.interpolate(F.interpolate(images, size=(small, small), mode="area"), size=(size, size), mode="nearest")
    return out.clamp(0, 1)


@register("digits_c")
class DigitsCorruptedDataModule(DigitsDataModule):
    """The digits split with its test images corrupted (noise, blur, contrast, elastic, pixelate; severity 1-5)."""

    def __init__(
        self,
        corruption: Corruption = "gaussian_noise",
        severity: int = 3,
        batch_size: BatchSize = 64,
        image_size: Literal[8, 16, 32] = 8,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        normalize: bool = True,
        classes: Optional[list[int]] = None,
        augmentations: AugmentationSpecs = None,
        batch_augmentations: AugmentationSpecs = None,
        augmentation_seed: Optional[int] = None,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        if corruption not in CORRUPTIONS:
            raise ConfigError(f"data 'digits_c': unknown corruption '{corruption}'; known: {', '.join(CORRUPTIONS)}")
        if severity not in range(1, 6):
            raise ConfigError(f"data 'digits_c': severity must be 1..5, got {severity}")
        super().__init__(
            batch_size=batch_size, image_size=image_size, val_fraction=val_fraction, test_fraction=test_fraction,
            normalize=normalize, classes=classes, augmentations=augmentations, batch_augmentations=batch_augmentations,
            augmentation_seed=augmentation_seed, seed=seed, num_workers=num_workers,
        )
        self.corruption, self.severity = corruption, severity

    def load_splits(self) -> None:
        super().load_splits()
        images, labels = self.test_dataset.tensors
        self.test_dataset = TensorDataset(corrupt(images, self.corruption, self.severity, self.seed), labels)
