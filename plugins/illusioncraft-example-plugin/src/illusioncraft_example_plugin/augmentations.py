"""Salt-and-pepper noise as a batch-level augmentation: a plugin's own entry in IllusionCraft's augmentation kind."""

import torch
from torch import Tensor

from illusioncraft.plugin_api import BatchAugmentation, ConfigError, register


@register("salt_and_pepper", kind="augmentation")
class SaltAndPepper(BatchAugmentation):
    """Set a random share ``amount`` of each image's pixels to 0 or 1 (images in [0, 1]), with probability p."""

    def __init__(self, amount: float = 0.02, p: float = 0.5) -> None:
        super().__init__()
        for key, value in (("amount", amount), ("p", p)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"augmentation 'salt_and_pepper': {key} must be in [0, 1], got {value}")
        self.amount, self.p = amount, p  # config() reads each __init__ argument back from these (augmentation.json)

    def forward(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        b = images.shape[0]
        hit = torch.rand_like(images) < self.amount  # (B, C, H, W)
        hit = hit & (torch.rand(b, 1, 1, 1, device=images.device) < self.p)
        salt = (torch.rand_like(images) < 0.5).to(images.dtype)
        return torch.where(hit, salt, images), targets
