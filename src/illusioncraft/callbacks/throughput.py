"""Training throughput in every run's logs: Lightning's ``ThroughputMonitor``, measured on the logged batches."""

from __future__ import annotations

import time
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ThroughputMonitor
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from illusioncraft.registry import register
from illusioncraft.step_logs import logs_this_step


def batch_size(batch: Any) -> int:
    """Samples in a batch: the first tensor's length (images of an (images, labels) pair, a dict's ``image``)."""
    if isinstance(batch, dict):
        batch = batch.get("image", next(iter(batch.values())))
    if isinstance(batch, (tuple, list)):
        batch = batch[0]
    return int(batch.shape[0])


@register("throughput")
class LoggedStepsThroughput(ThroughputMonitor):
    """Logs ``throughput/device/samples_per_sec`` and ``throughput/device/batches_per_sec`` of training (and across
    devices, ``throughput/samples_per_sec`` ...) over the last ``window_size - 1`` intervals between logged batches,
    validation time left out. Batches and samples are counted on every
    batch without touching the device; the clock is read, after waiting for the device on a GPU, only on the
    batches whose values are logged (every ``log_every_n_steps``), so the measurement adds no synchronisation to
    the other training steps. Validation is left out: neither its batches nor its time count."""

    def __init__(self, window_size: int = 2) -> None:
        super().__init__(batch_size_fn=batch_size, window_size=window_size, separator="/")
        self.pending_batches = self.pending_samples = 0
        self.validation_seconds, self.validation_start = 0.0, 0.0

    @rank_zero_only
    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           *args: Any) -> None:
        self.pending_batches += 1
        self.pending_samples += batch_size(batch)
        if not logs_this_step(trainer):
            return
        stage = trainer.state.stage
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()  # the queued kernels are part of the interval
        self._batches[stage] += self.pending_batches
        self._samples[stage] += self.pending_samples
        self.pending_batches = self.pending_samples = 0
        elapsed = time.perf_counter() - self._t0s[stage] - self.validation_seconds
        self._throughputs[stage].update(time=elapsed, batches=self._batches[stage], samples=self._samples[stage])
        metrics = {f"throughput/{name}": value for name, value in self._throughputs[stage].compute().items()}
        trainer._logger_connector.log_metrics(metrics)  # at the logger step of this batch's losses

    # Validation is neither measured nor counted in the training time (and adds no synchronisation either).
    @rank_zero_only
    def on_validation_start(self, trainer: Trainer, *args: Any) -> None:
        self.validation_start = time.perf_counter()

    def on_validation_batch_end(self, *args: Any, **kwargs: Any) -> None:
        """Validation batches are not counted."""

    @rank_zero_only
    def on_validation_end(self, trainer: Trainer, *args: Any) -> None:
        if not trainer.sanity_checking:
            self.validation_seconds += time.perf_counter() - self.validation_start
