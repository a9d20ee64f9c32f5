"""SNGAN's ResNet generator and discriminator (Miyato et al., 2018), registered as the ``sngan`` network family.

The generator maps z to a 4x4 map and doubles it with residual up-blocks (batch norm, ReLU, nearest up-sampling,
two 3x3 convolutions, a 1x1 shortcut) to the image side; the discriminator starts with an optimised residual
block, halves the side with residual down-blocks (average pooling) to 8x8, adds two residual blocks there, then
ReLU, a sum over positions and a linear layer, with spectral normalisation on every layer. At 32 px this is the
paper's CIFAR-10 architecture; any power-of-two side from 16 to 128 works. Initialisation as in Mimicry: Xavier
uniform with gain sqrt(2) on residual convolutions, 1 on shortcuts and linear layers.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

import torch.nn.functional as F
from torch import Tensor, nn

from illusioncraft.errors import ConfigError
from illusioncraft.nn.networks.blocks import SelfAttention, spectral_normalized
from illusioncraft.nn.networks.dcgan import check_attention
from illusioncraft.registry import register

SNNorm = Literal["spectral", "none"]


def _xavier(layer: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight, gain)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class GeneratorBlock(nn.Module):
    """(B, C_in, S, S) -> (B, C_out, 2S, 2S): BN, ReLU, up-sample, conv3x3, BN, ReLU, conv3x3 + 1x1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.BatchNorm2d(in_channels), nn.BatchNorm2d(out_channels)
        self.conv1 = _xavier(nn.Conv2d(in_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.conv2 = _xavier(nn.Conv2d(out_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.shortcut = _xavier(nn.Conv2d(in_channels, out_channels, 1), 1.0)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DiscriminatorBlock(nn.Module):
    """(B, C_in, S, S) -> (B, C_out, S/2 or S): [ReLU,] conv3x3, ReLU, conv3x3, [avg-pool] + shortcut.
    ``first``: the optimised block on the image (no ReLU before its first convolution, pooled shortcut)."""

    def __init__(self, in_channels: int, out_channels: int, down: bool, first: bool = False) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = _xavier(nn.Conv2d(in_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.conv2 = _xavier(nn.Conv2d(out_channels, out_channels, 3, 1, 1), math.sqrt(2))
        learned = first or down or in_channels != out_channels
        self.shortcut = _xavier(nn.Conv2d(in_channels, out_channels, 1), 1.0) if learned else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        skip = x
        if self.first:
            skip = self.shortcut(F.avg_pool2d(x, 2))
        elif self.shortcut is not None:
            skip = self.shortcut(x)
            skip = F.avg_pool2d(skip, 2) if self.down else skip
        return h + skip


def _check_side(data_shape: tuple[int, ...]) -> int:
    side = data_shape[1] if len(data_shape) == 3 else 0
    if len(data_shape) != 3 or data_shape[1] != data_shape[2] or not 16 <= side <= 128 or side & (side - 1):
        raise ConfigError(f"sngan: images must be square with a power-of-two side from 16 to 128, got shape {tuple(data_shape)}")
    return side


class SNGANGenerator(nn.Module):
    """z (B, latent) -> (B, C, S, S): linear to 4x4, residual up-blocks to S, BN, ReLU, conv3x3, tanh."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], width: int, attention: Optional[int] = None) -> None:
        super().__init__()
        side, self.width = _check_side(data_shape), width
        self.project = _xavier(nn.Linear(latent_dim, 16 * width), 1.0)
        blocks: list[nn.Module] = []
        for step in range(int(math.log2(side // 4))):
            blocks.append(GeneratorBlock(width, width))
            if attention == 8 * 2**step:
                blocks.append(SelfAttention(width))
        self.blocks = nn.Sequential(*blocks)
        self.output = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), _xavier(nn.Conv2d(width, data_shape[0], 3, 1, 1), 1.0),
                                    nn.Tanh())

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(z.shape[0], self.width, 4, 4)  # (B, width, 4, 4)
        return self.output(self.blocks(h))  # (B, C, S, S)


class SNGANDiscriminator(nn.Module):
    """(B, C, S, S) -> (B,): optimised block, down-blocks to 8x8, two blocks at 8x8, ReLU, sum over positions, linear."""

    def __init__(self, data_shape: tuple[int, ...], width: int, attention: Optional[int] = None) -> None:
        super().__init__()
        side = _check_side(data_shape)
        blocks: list[nn.Module] = [DiscriminatorBlock(data_shape[0], width, down=True, first=True)]
        side //= 2
        while side > 8:
            if attention == side:
                blocks.append(SelfAttention(width))
            blocks.append(DiscriminatorBlock(width, width, down=True))
            side //= 2
        if attention == 8:
            blocks.append(SelfAttention(width))
        blocks += [DiscriminatorBlock(width, width, down=False), DiscriminatorBlock(width, width, down=False)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = _xavier(nn.Linear(width, 1), 1.0)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # (B, width): summed over the 8x8 positions
        return self.linear(h).flatten()


@register("sngan", kind="network")
def sngan_networks(
    latent_dim: int, data_shape: tuple[int, ...], judged_shape: tuple[int, ...], width: int = 128,
    discriminator_norm: SNNorm = "spectral", generator_spectral_norm: bool = False, attention: Optional[int] = None,
) -> tuple[nn.Module, nn.Module]:
    """SNGAN ResNet generator and discriminator, ``width`` channels per block; spectral normalisation on every
    discriminator layer (``discriminator_norm: none`` for a WGAN-GP critic); ``attention``: a SAGAN block's side."""
    if discriminator_norm not in ("spectral", "none"):
        raise ConfigError(f"sngan: discriminator_norm must be spectral or none, got {discriminator_norm!r}")
    side = _check_side(data_shape)
    check_attention("sngan", attention, [2**k for k in range(3, int(math.log2(side)))])
    generator = SNGANGenerator(latent_dim, data_shape, width, attention)
    discriminator = SNGANDiscriminator(judged_shape, width, attention)
    if generator_spectral_norm:
        spectral_normalized(generator)
    if discriminator_norm == "spectral":
        spectral_normalized(discriminator)
    return generator, discriminator
