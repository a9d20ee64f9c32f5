"""Mode coverage of a generator trained on a 2-D Gaussian mixture or on stacked digits, after every validation."""

from __future__ import annotations

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from illusioncraft import registry
from illusioncraft.contracts import GeneratorModel, MixtureData, StackedDigitData
from illusioncraft.errors import ConfigError
from illusioncraft.metrics.modes import mode_coverage, read_stacked_digits, stacked_mode_coverage
from illusioncraft.registry import register


@register("mode_coverage")
class ModeCoverage(Callback):
    """Logs ``val/modes``, ``val/high_quality`` and ``val/reverse_kl`` over ``n_samples`` samples when the data is a
    Gaussian mixture (``ring8``, ``grid25``), and ``val/modes`` and ``val/reverse_kl`` on stacked digits (each channel
    read by the ``digits_classifier``); does nothing on other data."""

    def __init__(self, n_samples: int = 2500) -> None:
        if n_samples < 1:
            raise ConfigError(f"callback 'mode_coverage': n_samples must be >= 1, got {n_samples}")
        self.n_samples = n_samples

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        data = trainer.datamodule
        stacked = isinstance(data, StackedDigitData)
        if trainer.sanity_checking or not (stacked or isinstance(data, MixtureData)) or not isinstance(pl_module, GeneratorModel):
            return
        with torch.random.fork_rng(devices=[]):  # scoring must not shift the training run's random stream
            torch.manual_seed(trainer.current_epoch)
            samples = pl_module.sample(self.n_samples).cpu()
            if stacked:
                classifier = registry.build("feature_extractor", "digits_classifier").network
                modes = stacked_mode_coverage(read_stacked_digits(samples, classifier), data.digit_channels)
                pl_module.log_dict({"val/modes": float(modes.modes_captured), "val/reverse_kl": modes.reverse_kl})
                return
        coverage = mode_coverage(samples, data.modes, data.std)
        pl_module.log_dict({
            "val/modes": float(coverage.modes_captured),
            "val/high_quality": coverage.high_quality,
            "val/reverse_kl": coverage.reverse_kl,
        })
