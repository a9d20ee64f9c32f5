"""The progress bar every run shows: Lightning's rich bar, reading the logged numbers only when they change."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar
from torch import Tensor

from illusioncraft.registry import register
from illusioncraft.step_logs import logs_this_step


@register("progress_bar")
class LoggedStepsProgressBar(RichProgressBar):
    """Lightning's ``RichProgressBar``: the batch counter moves every batch, the numbers beside it are read only
    on the batches whose values are logged (every ``log_every_n_steps``), since reading them turns tensors into
    Python numbers, a host-device synchronisation on a GPU, and the values change only on those batches. It shows
    the ``train/`` values the model logged (``illusioncraft.step_logs``) beside Lightning's own."""

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        for name, value in trainer.callback_metrics.items():
            if name.startswith("train/") and name not in metrics and isinstance(value, Tensor) and value.numel() == 1:
                metrics[name] = value.item()
        return metrics

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not self.is_disabled and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()  # as Lightning's bar does after a mid-epoch restart
        self._update(self.train_progress_bar_id, batch_idx + 1)
        if logs_this_step(trainer):
            self._update_metrics(trainer, pl_module)
        self.refresh()
