"""Build a generator/discriminator pair from a registered network family by name (``illusioncraft list network``).

A family is a factory ``(latent_dim, data_shape, judged_shape, **options) -> (generator, discriminator)``:
the generator maps noise (B, latent_dim) to samples of ``data_shape``; the discriminator maps inputs of
``judged_shape`` (the data shape, or a packed or label-extended one) to one logit each (B,).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Optional

from torch import nn

from illusioncraft import registry
from illusioncraft.errors import ConfigError


def build_networks(
    family: str, latent_dim: int, data_shape: tuple[int, ...], judged_shape: tuple[int, ...],
    switches: Optional[Mapping[str, Any]] = None, **options: Any,
) -> tuple[nn.Module, nn.Module]:
    """The family's networks, given the options among ``options`` that its factory takes (others are not its own).
    ``switches`` (spectral norm, attention, ...) are options the user turned on: a family without one is an error,
    not a silent no-op; switches left off (None or False) are not passed."""
    factory = registry.get("network", family)
    accepted = inspect.signature(factory).parameters
    chosen = {key: value for key, value in (switches or {}).items() if value is not None and value is not False}
    missing = [key for key in chosen if key not in accepted]
    if missing:
        raise ConfigError(f"network family '{family}' has no option {', '.join(repr(key) for key in missing)}; "
                          f"its options: {', '.join(list(accepted)[3:]) or 'none'}")
    options = {key: value for key, value in options.items() if key in accepted}
    return factory(latent_dim, tuple(data_shape), tuple(judged_shape), **options, **chosen)
