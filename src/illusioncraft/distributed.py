"""Trainer settings a model needs: DDP's unused-parameter search for GANs, full precision for gradient penalties."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.strategies import DDPStrategy

from illusioncraft.errors import ConfigError

FULL_PRECISION = ("32-true", "64-true", "32", "64")


def configure_trainer_for_model(trainer: Trainer, model: Any) -> None:
    """Adjust ``trainer`` for ``model``, or refuse the combination with one line.

    - DDP (``ddp``, ``ddp_spawn``, ``ddp_fork``, or ``auto`` with several devices): a model that sets
      ``find_unused_parameters = True`` (every GAN: each optimizer step leaves the other network without
      gradients) gets ``find_unused_parameters=True``, as ``ddp_find_unused_parameters_true`` would, unless the
      strategy names a value itself.
    - The WGAN-GP gradient penalty takes a gradient of a gradient; in bf16/fp16 autocast its per-sample norms lose
      most of their precision, so mixed or half precision is refused for models with a penalty.
    """
    strategy = trainer.strategy
    if isinstance(strategy, DDPStrategy) and getattr(model, "find_unused_parameters", False):
        strategy._ddp_kwargs.setdefault("find_unused_parameters", True)  # read when DDP wraps the model in setup
    penalty = getattr(model, "penalty_weight", None)
    if penalty and str(trainer.precision) not in FULL_PRECISION:
        raise ConfigError(
            f"trainer: precision '{trainer.precision}' is not supported with a gradient penalty (lambda {penalty}), "
            "whose double backward needs float32; use --trainer.precision 32-true"
        )
