"""Optimisers chosen by name from YAML, with their hyper-parameters.

A spec is a mapping ``{name: adam, lr: 0.001, ...}`` (or just a name). Batch gradient descent, SGD and
mini-batch gradient descent are all ``sgd``: they differ only in the datamodule's batch size
(``full``, 1, or anything between).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Union

import torch
from torch.optim import Optimizer

from illusioncraft import registry
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register

OptimizerSpec = Union[str, Mapping[str, Any]]
Params = Iterable[Any]


@register("sgd", kind="optimizer")
def sgd(params: Params, lr: float = 0.01, weight_decay: float = 0.0) -> Optimizer:
    """Plain gradient descent w -= lr * g (batch, stochastic or mini-batch by the batch size)."""
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)


@register("momentum", kind="optimizer")
def momentum(
    params: Params, lr: float = 0.01, momentum: float = 0.9, nesterov: bool = False, weight_decay: float = 0.0
) -> Optimizer:
    """SGD with momentum in torch's convention v = momentum * v + g (no (1 - momentum) factor)."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


@register("rmsprop", kind="optimizer")
def rmsprop(
    params: Params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> Optimizer:
    """RMSprop: divide the step by a running root mean square of recent gradients (torch.optim.RMSprop)."""
    return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps, momentum=momentum, weight_decay=weight_decay)


@register("adam", kind="optimizer")
def adam(
    params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> Optimizer:
    """Adam: bias-corrected first and second moment estimates (torch.optim.Adam)."""
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)


@register("adamw", kind="optimizer")
def adamw(
    params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
    weight_decay: float = 0.01,
) -> Optimizer:
    """AdamW: Adam with decoupled weight decay (torch.optim.AdamW)."""
    return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)


def split_spec(spec: OptimizerSpec | None, default: str = "adam") -> tuple[str, dict[str, Any]]:
    """(name, hyper-parameters) of a spec given as a name or a mapping with a ``name`` key."""
    if spec is None:
        return default, {}
    if isinstance(spec, str):
        return spec, {}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(f"an optimizer is a name or a mapping with a 'name' key (e.g. {{name: adam, lr: 0.001}}); got {spec!r}")
    arguments = {key: value for key, value in spec.items() if key != "name"}
    return str(spec["name"]), arguments


def check_optimizer_spec(spec: OptimizerSpec | None, default: str = "adam") -> None:
    """Fail early, with one line, on an unknown optimizer name or argument name."""
    name, arguments = split_spec(spec, default)
    registry.check_arguments("optimizer", name, arguments, skip=("params",))


def build_optimizer(spec: OptimizerSpec | None, params: Params, default: str = "adam") -> Optimizer:
    """Build the optimizer a spec names; out-of-range values are one-line errors naming the optimizer."""
    name, arguments = split_spec(spec, default)
    registry.check_arguments("optimizer", name, arguments, skip=("params",))
    try:
        return registry.get("optimizer", name)(params, **arguments)
    except ValueError as error:
        raise ConfigError(f"optimizer '{name}': {error}") from None
