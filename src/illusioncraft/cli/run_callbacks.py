"""Where a run's callbacks come from, in one place.

Every ``fit``/``validate``/``test``/``predict`` run gets, besides the callbacks configured under
``trainer.callbacks``:

1. the model's own defaults (``model.default_callbacks()``: sample pictures, scores, a confusion matrix);
2. a ``ModelCheckpoint`` writing ``checkpoints/last.ckpt`` and the best checkpoint by the model's
   ``checkpoint_monitor`` (unless checkpointing is off);
3. a rich progress bar whose numbers are read on logged batches only (unless the progress bar is off);
4. fault tolerance: ``stop_on_nonfinite``, ``save_on_signal``, ``random_state`` (``illusioncraft.callbacks.fault``)
   and ``checkpoint_path_guard`` (``illusioncraft.callbacks.checkpoint_paths``: no path a checkpoint records is
   loaded or deleted unless it lies in the run's checkpoint directory);
5. ``throughput`` (``illusioncraft.callbacks.throughput``): Lightning's ThroughputMonitor, ``throughput/*`` in the logs.

A configured callback replaces a default of the same type, so its settings win and nothing runs twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch import Callback
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar

from illusioncraft import registry
from illusioncraft.callbacks.checkpointing import RunCheckpoint
from illusioncraft.contracts import RunDefaults

FAULT_TOLERANCE = ("stop_on_nonfinite", "save_on_signal", "random_state", "checkpoint_path_guard")
MEASUREMENT = ("throughput",)


def checkpoint_callback(run_dir: Path, model: Any) -> RunCheckpoint:
    """``last.ckpt`` plus the best checkpoint by the model's monitored metric (or the latest, with none)."""
    monitor, mode = model.checkpoint_monitor if isinstance(model, RunDefaults) else (None, "min")
    return RunCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best-{epoch:03d}-{step}" if monitor else "{epoch:03d}-{step}",
        monitor=monitor,
        mode=mode,
        save_last=True,
        save_top_k=1,
        auto_insert_metric_name=False,
    )


def default_callbacks(model: Any, trainer_config: dict[str, Any], run_dir: Path) -> list[Callback]:
    """The callbacks to add to the configured ones (``trainer_config['callbacks']``) for this run."""
    configured = list(trainer_config.get("callbacks") or [])

    def configured_as(kind: type) -> bool:
        return any(isinstance(callback, kind) for callback in configured)

    defaults = list(model.default_callbacks()) if isinstance(model, RunDefaults) else []
    defaults = [callback for callback in defaults if not configured_as(type(callback))]
    if trainer_config.get("enable_checkpointing", True) is not False and not configured_as(ModelCheckpoint):
        defaults.append(checkpoint_callback(run_dir, model))
    if trainer_config.get("enable_progress_bar", True) is not False and not configured_as(ProgressBar):
        defaults.append(registry.build("callback", "progress_bar"))
    for name in (*FAULT_TOLERANCE, *MEASUREMENT):
        kind = registry.get("callback", name)
        if not configured_as(kind):
            defaults.append(kind())
    return defaults
