"""Trainer settings a model needs: DDP's unused-parameter search for GANs, full precision for gradient penalties.

Both read the model's declared needs (``illusioncraft.contracts``): ``find_unused_parameters`` (every GAN: each
optimizer step leaves the other network without gradients) and ``penalty_weight`` (a gradient penalty's double
backward needs float32).
"""

from __future__ import annotations

from typing import Any

from illusioncraft.contracts import FullPrecisionModel, RunDefaults
from illusioncraft.errors import ConfigError

FULL_PRECISION = ("32-true", "64-true", "32", "64")
# Lightning's registered DDP strategies that also search for unused parameters
WITH_UNUSED_PARAMETERS = {
    name: f"{name}_find_unused_parameters_true" for name in ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook")
}


def needs_unused_parameter_search(model: Any) -> bool:
    return isinstance(model, RunDefaults) and model.find_unused_parameters


def strategy_for_model(strategy: Any, model: Any) -> Any:
    """The strategy to run ``model`` with: a DDP strategy named by string becomes its
    ``..._find_unused_parameters_true`` form for models that need it; anything else is kept as given (an explicit
    ``ddp_find_unused_parameters_false``, or a strategy object, is respected)."""
    if isinstance(strategy, str) and needs_unused_parameter_search(model):
        return WITH_UNUSED_PARAMETERS.get(strategy, strategy)
    return strategy


def check_precision(precision: Any, model: Any) -> None:
    """Refuse mixed or half precision for a model with a gradient penalty, with one line."""
    penalty = model.penalty_weight if isinstance(model, FullPrecisionModel) else 0
    if penalty and str(precision) not in FULL_PRECISION:
        raise ConfigError(
            f"trainer: precision '{precision}' is not supported with a gradient penalty (lambda {penalty}), "
            "whose double backward needs float32; use --trainer.precision 32-true"
        )
