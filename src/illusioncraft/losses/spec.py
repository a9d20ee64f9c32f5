"""Losses chosen by name from YAML, with their parameters: ``loss: hinge`` or ``loss: {name: focal, gamma: 2.0}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from illusioncraft import registry
from illusioncraft.errors import ConfigError

LossSpec = Union[str, Mapping[str, Any]]


def split_loss_spec(spec: LossSpec) -> tuple[str, dict[str, Any]]:
    """(name, parameters) of a loss given as a name or as a mapping with a ``name`` key."""
    if isinstance(spec, str):
        return spec, {}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(f"a loss is a name or a mapping with a 'name' key (e.g. {{name: focal, gamma: 2.0}}); got {spec!r}")
    return str(spec["name"]), {key: value for key, value in spec.items() if key != "name"}


def build_loss(spec: LossSpec) -> Any:
    """The loss a spec names, built with its parameters (unknown names and arguments are one-line errors)."""
    name, parameters = split_loss_spec(spec)
    return registry.build("loss", name, **parameters)
