"""DiffAugment (Zhao et al., 2020): differentiable colour, translation and cutout for GAN training.

Applied to both real and generated images before the discriminator; every operation is differentiable with
respect to the images, so the generator's gradient flows through it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from illusioncraft.augment.base import BatchAugmentation, check_probability
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register


def color(x: Tensor) -> Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5) per sample."""
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each sample by up to ratio of its size in each direction, filling with zeros."""
    b, _, h, w = x.shape
    shift_y, shift_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-shift_y, shift_y + 1, (b, 1, 1), device=x.device)
    tx = torch.randint(-shift_x, shift_x + 1, (b, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + ty + 1).clamp(0, h + 1)  # (B, H, 1) into the padded image
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + tx + 1).clamp(0, w + 1)  # (B, 1, W)
    padded = F.pad(x, [1, 1, 1, 1])  # (B, C, H+2, W+2): the border supplies the zeros
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero a square of side ratio * size at a random position per sample."""
    b, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - size_y % 2), (b, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - size_x % 2), (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((rows - oy + size_y // 2) >= 0) & ((rows - oy + size_y // 2) < size_y)
    inside = inside & ((cols - ox + size_x // 2) >= 0) & ((cols - ox + size_x // 2) < size_x)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: Tensor, policy: str = "color,translation,cutout") -> Tensor:
    """Apply the comma-separated policy's operations in order."""
    for name in [p.strip() for p in policy.split(",") if p.strip()]:
        x = POLICIES[name](x)
    return x


@register("diffaugment", kind="augmentation")
class DiffAugment(BatchAugmentation):
    """DiffAugment: differentiable colour, translation and cutout (for GAN discriminators; usable on any batch)."""

    keeps_range = False  # the paper's colour jitter acts on the discriminator's [-1, 1] inputs and leaves that range

    def __init__(self, policy: str = "color,translation,cutout", p: float = 1.0) -> None:
        super().__init__()
        check_probability("diffaugment", "p", p)
        unknown = [p for p in policy.split(",") if p.strip() and p.strip() not in POLICIES]
        if unknown:
            raise ConfigError(f"augmentation 'diffaugment': unknown policy part(s) {unknown}; known: {', '.join(POLICIES)}")
        self.policy, self.p = policy, p
        self._config = {"policy": policy, "p": p}

    def forward(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        applied = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < self.p
        return torch.where(applied, diff_augment(images, self.policy), images), targets
