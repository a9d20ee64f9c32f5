"""Logging a training step's values without forcing a host-device synchronisation on every step.

Lightning turns logged tensors into numbers (``.item()``, a synchronisation on a GPU) when it writes them to the
loggers, and on every batch for values logged with ``prog_bar=True``. Handing values to ``self.log`` on every
step also costs its bookkeeping each time. Lightning writes training values only every ``log_every_n_steps``
batches, so models hand them over only on those batches and without ``prog_bar``: the progress bar
(``illusioncraft.callbacks.progress``) reads the ``train/`` values itself on those batches. The logs and the bar
show the same numbers, and the steps in between neither synchronise nor pay for the bookkeeping.
"""

from __future__ import annotations

from collections.abc import Mapping

from lightning.pytorch import LightningModule, Trainer
from torch import Tensor


def logs_this_step(trainer: Trainer) -> bool:
    """Whether Lightning writes the values logged during the current training batch (every ``log_every_n_steps``
    batches, when stopping, and every batch of a ``fast_dev_run``). Lightning decides it in its logger connector's
    ``should_update_logs``, read here before the batch's step counter moves on."""
    return bool(trainer.fast_dev_run) or trainer._logger_connector.should_update_logs


def log_training_values(module: LightningModule, values: Mapping[str, Tensor]) -> None:
    """``module.log_dict(values)`` on the batches whose values Lightning writes; nothing on the others."""
    if logs_this_step(module.trainer):
        module.log_dict(dict(values))


def due(trainer: Trainer, batches: int, last: int, every: int) -> bool:
    """Whether a periodic picture or score is due after training batch ``batches`` (counted from 1), the previous
    one having been made after batch ``last`` (0: none yet): every ``every`` batches, moved to the next logged batch,
    whose synchronisation it shares instead of adding one of its own."""
    return batches - last >= every and logs_this_step(trainer)
