"""DCGAN generator and discriminator (registered as the ``dcgan`` network family).

DCGAN follows Radford et al. (2016): strided (transposed) convolutions instead of pooling, batch norm everywhere
except the generator's output and the discriminator's input, ReLU in G with a tanh output, LeakyReLU(0.2) in D,
and weights drawn from N(0, 0.02).
"""

from __future__ import annotations

import math
from typing import Literal

from torch import Tensor, nn

from illusioncraft.errors import ConfigError
from illusioncraft.registry import register

Norm = Literal["batch", "none"]


def _check_image_shape(data_shape: tuple[int, ...]) -> int:
    if len(data_shape) != 3 or data_shape[1] != data_shape[2] or data_shape[1] < 8 or data_shape[1] & (data_shape[1] - 1):
        raise ConfigError(f"dcgan: images must be square with a power-of-two side >= 8, got shape {tuple(data_shape)}")
    return int(math.log2(data_shape[1] // 4))


class DCGANGenerator(nn.Module):
    """z -> (C, S, S): a 4x4 map from a transposed convolution, doubled in size until S; tanh output."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], width: int = 32) -> None:
        super().__init__()
        ups = _check_image_shape(data_shape)
        channels = width * 2**ups
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, channels, 4, 1, 0, bias=False),  # (B, channels, 4, 4)
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        ]
        for step in range(ups):
            last = step == ups - 1
            out = data_shape[0] if last else channels // 2
            layers.append(nn.ConvTranspose2d(channels, out, 4, 2, 1, bias=last))  # doubles H and W
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU()]
            channels = out
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))  # (B, C, S, S)


class DCGANDiscriminator(nn.Module):
    """(C, S, S) -> one logit: strided convolutions halve the size down to 4x4, then a 4x4 convolution."""

    def __init__(self, data_shape: tuple[int, ...], width: int = 32, norm: Norm = "batch") -> None:
        super().__init__()
        downs = _check_image_shape(data_shape)
        layers: list[nn.Module] = [nn.Conv2d(data_shape[0], width, 4, 2, 1), nn.LeakyReLU(0.2)]  # no norm on the input
        channels = width
        for _ in range(downs - 1):
            layers.append(nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=norm == "none"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(channels * 2))
            layers.append(nn.LeakyReLU(0.2))
            channels *= 2
        layers.append(nn.Conv2d(channels, 1, 4, 1, 0))  # (B, 1, 1, 1)
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) for (transposed) convolution and linear weights, N(1, 0.02) for batch-norm scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@register("dcgan", kind="network")
def dcgan_networks(
    latent_dim: int, data_shape: tuple[int, ...], judged_shape: tuple[int, ...], width: int = 32,
    discriminator_norm: Norm = "batch",
) -> tuple[nn.Module, nn.Module]:
    """DCGAN generator and discriminator (``width`` channels at the largest map), N(0, 0.02) initialisation."""
    generator = DCGANGenerator(latent_dim, data_shape, width)
    discriminator = DCGANDiscriminator(judged_shape, width, discriminator_norm)
    generator.apply(dcgan_init)
    discriminator.apply(dcgan_init)
    return generator, discriminator
