"""Experiment loggers by name. Each writes inside the run directory; W&B runs offline unless told otherwise.

An offline W&B run needs no login and no network; upload it later with ``wandb sync <run dir>/wandb/offline-run-*``.
"""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger

from illusioncraft.registry import register


@register("csv", kind="logger")
def csv_logger(run_dir: Path, run_name: str) -> Logger:
    """Metrics to ``<run dir>/metrics.csv`` and hyper-parameters to ``hparams.yaml``."""
    return CSVLogger(save_dir=str(run_dir), name="", version="")


@register("wandb", kind="logger")
def wandb_logger(run_dir: Path, run_name: str, offline: bool = True, project: str = "illusioncraft") -> Logger:
    """Weights & Biases, offline by default: files under ``<run dir>/wandb/``, ready for ``wandb sync``."""
    # mode goes to wandb.init explicitly: Lightning's offline flag only sets WANDB_MODE, which W&B ignores once
    # an earlier run in the same process has set W&B up (it would then ask for a login).
    extra = {"mode": "offline"} if offline else {}
    return WandbLogger(name=run_name, save_dir=str(run_dir), project=project, offline=offline, **extra)


@register("tensorboard", kind="logger")
def tensorboard_logger(run_dir: Path, run_name: str) -> Logger:
    """TensorBoard event files in the run directory (``tensorboard --logdir runs``)."""
    return TensorBoardLogger(save_dir=str(run_dir), name="", version="", default_hp_metric=False)
