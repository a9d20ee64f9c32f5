"""Build a generator/discriminator pair from a registered network family by name (``illusioncraft list network``).

A family is a factory ``(latent_dim, data_shape, judged_shape, **options) -> (generator, discriminator)``:
the generator maps noise (B, latent_dim) to samples of ``data_shape``; the discriminator maps inputs of
``judged_shape`` (the data shape, or a packed or label-extended one) to one logit each (B,).
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from illusioncraft import registry


def build_networks(
    family: str, latent_dim: int, data_shape: tuple[int, ...], judged_shape: tuple[int, ...], **options: Any
) -> tuple[nn.Module, nn.Module]:
    """The family's networks, given the options among ``options`` that its factory takes (others are not its own)."""
    factory = registry.get("network", family)
    accepted = inspect.signature(factory).parameters
    return factory(latent_dim, tuple(data_shape), tuple(judged_shape),
                   **{key: value for key, value in options.items() if key in accepted})
