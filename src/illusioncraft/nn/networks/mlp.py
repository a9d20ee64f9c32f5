"""MLP generator and discriminator, for 2-D points or flattened images (registered as the ``mlp`` network family)."""

from __future__ import annotations

import math

from torch import Tensor, nn

from illusioncraft.registry import register


class MLPGenerator(nn.Module):
    """z (B, latent) -> samples of ``data_shape``; tanh output for images, linear for points."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        self.data_shape = tuple(data_shape)
        layers: list[nn.Module] = []
        width = latent_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, math.prod(self.data_shape)))
        if len(self.data_shape) == 3:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(z.shape[0], *self.data_shape)


class MLPDiscriminator(nn.Module):
    """Samples of ``data_shape`` -> one logit each (B,)."""

    def __init__(self, data_shape: tuple[int, ...], hidden: int = 128, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(data_shape)
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)


@register("mlp", kind="network")
def mlp_networks(
    latent_dim: int, data_shape: tuple[int, ...], judged_shape: tuple[int, ...], hidden_size: int = 128, depth: int = 3
) -> tuple[nn.Module, nn.Module]:
    """MLP generator and discriminator with ``depth`` hidden layers of ``hidden_size`` units (points or images)."""
    return MLPGenerator(latent_dim, data_shape, hidden_size, depth), MLPDiscriminator(judged_shape, hidden_size, depth)
