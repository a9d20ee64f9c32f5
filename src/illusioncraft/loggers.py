"""Experiment loggers by name. Each writes inside the run directory; W&B runs offline unless told otherwise
(``illusioncraft.wandb_run``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Optional

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from illusioncraft.registry import register
from illusioncraft.wandb_run import wandb_run_logger


def _read_metrics_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        return [], []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _metrics_csv_header(path: Path) -> list[str]:
    """The columns of a metrics file (its first line only: the file grows with the run)."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return next(csv.reader(handle), [])


class AppendingExperimentWriter(ExperimentWriter):
    """Lightning's CSV writer, except that it adds to a ``metrics.csv`` written by another process of the same run.

    Lightning's writer forgets the columns of a file it did not write itself and rewrites it with only its own:
    under ``ddp_spawn``/``ddp_fork`` the test after fitting runs in new processes, and would lose the fit's metrics.
    """

    def __init__(self, log_dir: str, keep_rows_before: Optional[int] = None) -> None:
        path = Path(log_dir) / self.NAME_METRICS_FILE
        header, rows = _read_metrics_csv(path) if keep_rows_before is not None else ([], [])
        super().__init__(log_dir)  # deletes an existing metrics.csv
        if header:  # resuming: the rows logged before the checkpoint stay, later ones (not in the checkpoint) go
            kept = [row for row in rows if row.get("step", "").isdigit() and int(row["step"]) < keep_rows_before]
            with open(path, "w", newline="") as handle:
                table = csv.DictWriter(handle, fieldnames=header)
                table.writeheader()
                table.writerows(kept)

    def save(self) -> None:
        if self.metrics:
            header = _metrics_csv_header(Path(self.metrics_file_path))
            self.metrics_keys = sorted(set(self.metrics_keys) | set(header))
        super().save()


class ResumableCSVLogger(CSVLogger):
    """CSVLogger whose ``metrics.csv`` is opened once per run, in the launching process, and then only added to.

    ``open_metrics()`` (called by the CLI before training) clears a stale file, or, when a run resumes in its own
    directory, keeps the rows logged before the checkpoint's step. Processes started later (DDP workers, the test
    after fitting) inherit the opened writer and append.
    """

    def open_metrics(self, keep_rows_before: Optional[int] = None) -> None:
        if rank_zero_only.rank == 0 and self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = AppendingExperimentWriter(self.log_dir, keep_rows_before)

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        self.open_metrics()
        return self._experiment


@register("csv", kind="logger")
def csv_logger(run_dir: Path, run_name: str) -> Logger:
    """Metrics to ``<run dir>/metrics.csv`` and hyper-parameters to ``hparams.yaml``."""
    return ResumableCSVLogger(save_dir=str(run_dir), name="", version="")


@register("wandb", kind="logger")
def wandb_logger(
    run_dir: Path, run_name: str, mode: str = "offline", project: str = "illusioncraft", entity: Optional[str] = None,
    group: Optional[str] = None, tags: Optional[list[str]] = None, notes: Optional[str] = None,
    job_type: Optional[str] = None, log_model: bool = False, resume_id: Optional[str] = None,
) -> Logger:
    """Weights & Biases, offline by default: files under ``<run dir>/wandb/``, ready for ``wandb sync``."""
    return wandb_run_logger(run_dir, run_name, mode=mode, project=project, entity=entity, group=group, tags=tags,
                            notes=notes, job_type=job_type, log_model=log_model, resume_id=resume_id)


@register("tensorboard", kind="logger")
def tensorboard_logger(run_dir: Path, run_name: str) -> Logger:
    """TensorBoard event files in the run directory (``tensorboard --logdir runs``)."""
    return TensorBoardLogger(save_dir=str(run_dir), name="", version="", default_hp_metric=False)
