"""Class-conditional wrappers around any generator and discriminator (Mirza & Osindero, 2014)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ConditionalGenerator(nn.Module):
    """Generator of (z, label): the label's learned embedding is appended to the noise."""

    def __init__(self, base: nn.Module, num_classes: int, embed_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, embed_dim)
        self.base = base

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.base(torch.cat([z, self.embedding(labels)], dim=1))  # (B, latent + embed) -> sample


class ConditionalDiscriminator(nn.Module):
    """Discriminator of (x, label): one-hot label maps appended as channels (images) or features (vectors)."""

    def __init__(self, base: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.base, self.num_classes = base, num_classes

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        one_hot = nn.functional.one_hot(labels, self.num_classes).to(x.dtype)  # (B, K)
        if x.ndim == 4:
            maps = one_hot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])  # (B, K, H, W)
            return self.base(torch.cat([x, maps], dim=1))
        return self.base(torch.cat([x.flatten(1), one_hot], dim=1))
