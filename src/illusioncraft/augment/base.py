"""What every registered augmentation is: a per-sample albumentations transform, a batch operation, or both."""

from __future__ import annotations

import inspect
from typing import Any

from torch import Tensor, nn

from illusioncraft import registry
from illusioncraft.errors import ConfigError, PluginError


class BatchAugmentation(nn.Module):
    """An augmentation applied to a whole batch on the device, vectorised over the batch.

    ``forward(images, targets)`` takes images (B, C, H, W) in [0, 1] and targets (B,) class indices or (B, K)
    probabilities, and returns the augmented pair; ``num_classes`` is set by the datamodule before use.
    """

    num_classes: int = 0
    views_per_image: int = 1  # images per input image in the returned batch (AugMix with jsd: 3)
    keeps_range: bool = True  # outputs stay in [0, 1] (False for augmentations of a GAN discriminator's inputs)

    def config(self) -> dict[str, Any]:
        """The arguments that rebuild this augmentation (written to the run's augmentation.json): each ``__init__``
        argument read back from the attribute of the same name (override this where they are stored otherwise)."""
        if hasattr(self, "_config"):  # the built-ins record theirs explicitly
            return dict(self._config)
        arguments = [
            parameter.name for parameter in inspect.signature(type(self).__init__).parameters.values()
            if parameter.name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]
        missing = [name for name in arguments if not hasattr(self, name)]
        if missing:
            raise PluginError(
                f"augmentation '{registry.name_of(self)}': config() reads each __init__ argument back from the attribute "
                f"of the same name, and there is no self.{missing[0]}; set it in __init__ or override config()"
            )
        return {name: getattr(self, name) for name in arguments}

    def forward(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


def check_probability(augmentation: str, key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"augmentation '{augmentation}': {key} must be in [0, 1], got {value}")


def check_positive(augmentation: str, key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"augmentation '{augmentation}': {key} must be > 0, got {value}")
