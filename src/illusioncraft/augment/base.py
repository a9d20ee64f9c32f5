"""What every registered augmentation is: a per-sample albumentations transform, a batch operation, or both."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from illusioncraft.errors import ConfigError


class BatchAugmentation(nn.Module):
    """An augmentation applied to a whole batch on the device, vectorised over the batch.

    ``forward(images, targets)`` takes images (B, C, H, W) in [0, 1] and targets (B,) class indices or (B, K)
    probabilities, and returns the augmented pair; ``num_classes`` is set by the datamodule before use.
    """

    num_classes: int = 0
    views_per_image: int = 1  # images per input image in the returned batch (AugMix with jsd: 3)

    def config(self) -> dict[str, Any]:
        """The arguments that rebuild this augmentation (written to the run's augmentation.json)."""
        return dict(getattr(self, "_config", {}))

    def forward(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


def check_probability(augmentation: str, key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"augmentation '{augmentation}': {key} must be in [0, 1], got {value}")


def check_positive(augmentation: str, key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"augmentation '{augmentation}': {key} must be > 0, got {value}")
