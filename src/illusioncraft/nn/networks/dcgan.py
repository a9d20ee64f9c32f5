"""DCGAN generator and discriminator (registered as the ``dcgan`` network family).

DCGAN follows Radford et al. (2016): strided (transposed) convolutions instead of pooling, batch norm everywhere
except the generator's output and the discriminator's input, ReLU in G with a tanh output, LeakyReLU(0.2) in D,
and weights drawn from N(0, 0.02). Options from later papers: spectral normalisation of the discriminator
(``discriminator_norm: spectral``, Miyato et al., 2018) and of the generator (``generator_spectral_norm``, SAGAN),
and a SAGAN self-attention block in both networks at the feature-map side ``attention``.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

from torch import Tensor, nn

from illusioncraft.errors import ConfigError
from illusioncraft.nn.networks.blocks import SelfAttention, spectral_normalized
from illusioncraft.registry import register

Norm = Literal["batch", "none", "spectral"]
NORMS = ("batch", "none", "spectral")


def _check_image_shape(data_shape: tuple[int, ...]) -> int:
    if len(data_shape) != 3 or data_shape[1] != data_shape[2] or data_shape[1] < 8 or data_shape[1] & (data_shape[1] - 1):
        raise ConfigError(f"dcgan: images must be square with a power-of-two side >= 8, got shape {tuple(data_shape)}")
    return int(math.log2(data_shape[1] // 4))


def check_attention(family: str, attention: Optional[int], sides: list[int]) -> None:
    """Refuse an attention side that is not one of the networks' inner feature-map sides."""
    if attention is not None and attention not in sides:
        raise ConfigError(f"{family}: attention must be the side of an inner feature map, one of "
                          f"{', '.join(map(str, sides))}; got {attention}")


class DCGANGenerator(nn.Module):
    """z -> (C, S, S): a 4x4 map from a transposed convolution, doubled in size until S; tanh output."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], width: int = 32,
                 attention: Optional[int] = None) -> None:
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
            if attention == 4 * 2 ** (step + 1) and not last:
                layers.append(SelfAttention(out))  # (B, out, side, side) attends over its side x side positions
            channels = out
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))  # (B, C, S, S)


class DCGANDiscriminator(nn.Module):
    """(C, S, S) -> one logit: strided convolutions halve the size down to 4x4, then a 4x4 convolution."""

    def __init__(self, data_shape: tuple[int, ...], width: int = 32, norm: Norm = "batch",
                 attention: Optional[int] = None) -> None:
        super().__init__()
        downs = _check_image_shape(data_shape)
        layers: list[nn.Module] = [nn.Conv2d(data_shape[0], width, 4, 2, 1), nn.LeakyReLU(0.2)]  # no norm on the input
        channels, side = width, data_shape[1] // 2
        if attention == side:
            layers.append(SelfAttention(channels))
        for _ in range(downs - 1):
            layers.append(nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(channels * 2))
            layers.append(nn.LeakyReLU(0.2))
            channels, side = channels * 2, side // 2
            if attention == side:
                layers.append(SelfAttention(channels))
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
    discriminator_norm: Norm = "batch", generator_spectral_norm: bool = False, attention: Optional[int] = None,
) -> tuple[nn.Module, nn.Module]:
    """DCGAN generator and discriminator (``width`` channels at the largest map), N(0, 0.02) initialisation;
    ``discriminator_norm``: batch, none or spectral; ``attention``: side of the maps a self-attention block sees."""
    if discriminator_norm not in NORMS:
        raise ConfigError(f"dcgan: discriminator_norm must be one of {', '.join(NORMS)}, got {discriminator_norm!r}")
    _check_image_shape(data_shape)
    check_attention("dcgan", attention, [2**k for k in range(3, int(math.log2(data_shape[1])))])
    generator = DCGANGenerator(latent_dim, data_shape, width, attention)
    discriminator = DCGANDiscriminator(judged_shape, width, discriminator_norm, attention)
    generator.apply(dcgan_init)
    discriminator.apply(dcgan_init)
    if generator_spectral_norm:
        spectral_normalized(generator)
    if discriminator_norm == "spectral":
        spectral_normalized(discriminator)
    return generator, discriminator
