"""Weights & Biases for IllusionCraft runs: the mode (online, offline, disabled), a login check that never prompts,
checkpoints as model artifacts (offline too), the run id kept in the run directory so ``--ckpt_path last``
continues the same W&B run, and the run's metric provenance in the W&B summary.

Offline runs need no login and no network: files land in ``<run dir>/wandb/offline-run-*`` for ``wandb sync``.
"""

from __future__ import annotations

import json
import netrc
import os
import sys
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlparse

from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from illusioncraft.errors import ConfigError

MODES = ("online", "offline", "disabled")
MODE_ALIASES = {"dryrun": "offline", "run": "online"}  # W&B's older names for the modes
RUN_ID_FILE = "run-id.txt"  # under <run dir>/wandb/


def close_failed_run() -> None:
    """Finish the process's W&B run, marked failed, if a command that started one ends in an error: otherwise the
    next run started in the same process (a sweep, a notebook, a test) would write into the failed run."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish(exit_code=1)


def resolve_mode(configured: str) -> str:
    """The W&B mode of a run: ``WANDB_MODE`` from the environment when set (as W&B users expect), else ``configured``."""
    from_environment = os.environ.get("WANDB_MODE")
    mode = MODE_ALIASES.get(from_environment, from_environment) if from_environment else configured
    if mode not in MODES:
        where = f"WANDB_MODE={from_environment}" if from_environment else f"--run.wandb.mode {configured}"
        raise ConfigError(f"{where}: the W&B mode is one of {', '.join(MODES)}")
    return mode


def has_login() -> bool:
    """Whether W&B has credentials (WANDB_API_KEY, an identity token file, or a ``wandb login`` in the netrc file)."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return path.is_file() and netrc.netrc(str(path)).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def stored_run_id(run_dir: Path) -> Optional[str]:
    """The W&B run id a run directory recorded, if any (what ``--ckpt_path last`` continues)."""
    path = Path(run_dir) / "wandb" / RUN_ID_FILE
    if not path.is_file():
        return None
    return path.read_text().strip() or None


class RunLogger(WandbLogger):
    """Lightning's ``WandbLogger``, plus: the run id kept in the run directory, the best and last checkpoints as a
    model artifact when ``log_model`` (offline too: Lightning refuses that combination), and the run's metric
    provenance (``metric_provenance.json``) in the summary."""

    def __init__(self, run_dir: Path, log_model: bool = False, **kwargs: Any) -> None:
        super().__init__(save_dir=str(run_dir), **kwargs)
        self.run_dir, self.log_checkpoints = Path(run_dir), log_model
        self._model_checkpoints: dict[int, Any] = {}
        self._logged_checkpoints: set[tuple[str, float]] = set()

    @property
    def experiment(self) -> Any:
        run = WandbLogger.experiment.fget(self)
        if rank_zero_only.rank == 0 and self._wandb_init.get("mode") != "disabled" and getattr(run, "id", None):
            path = self.run_dir / "wandb" / RUN_ID_FILE
            if not path.is_file() or path.read_text().strip() != run.id:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(run.id)
        return run

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self.log_checkpoints:
            self._model_checkpoints[id(checkpoint_callback)] = checkpoint_callback

    @rank_zero_only
    def finalize(self, status: str) -> None:
        super().finalize(status)
        if self._experiment is None or self._wandb_init.get("mode") == "disabled":
            return
        if status == "success":
            for callback in self._model_checkpoints.values():
                self._log_checkpoints(callback)
        self._summarise_provenance()

    def _log_checkpoints(self, callback: Any) -> None:
        """The best checkpoint (alias ``best``), then the last (alias ``latest``), as versions of one model artifact."""
        import wandb

        score = callback.best_model_score
        for path, alias in ((callback.best_model_path, "best"), (callback.last_model_path, "latest")):
            if not path or not Path(path).is_file() or (path, Path(path).stat().st_mtime) in self._logged_checkpoints:
                continue
            metadata = {"file": Path(path).name, "monitor": callback.monitor, "mode": callback.mode,
                        "best_score": None if score is None else float(score)}
            artifact = wandb.Artifact(name=f"model-{self.experiment.id}", type="model", metadata=metadata)
            artifact.add_file(path, name="model.ckpt")
            self.experiment.log_artifact(artifact, aliases=[alias])
            self._logged_checkpoints.add((path, Path(path).stat().st_mtime))

    def _summarise_provenance(self) -> None:
        """The latest record of each score in ``metric_provenance.json`` as ``provenance/<metric>`` in the summary."""
        path = self.run_dir / "metric_provenance.json"
        if not path.is_file():
            return
        latest = {record["metric"]: record for record in json.loads(path.read_text())}
        for metric, record in latest.items():
            self.experiment.summary[f"provenance/{metric}"] = {key: value for key, value in record.items() if key != "metric"}


def wandb_run_logger(
    run_dir: Path, run_name: str, mode: str = "offline", project: str = "illusioncraft", entity: Optional[str] = None,
    group: Optional[str] = None, tags: Optional[list[str]] = None, notes: Optional[str] = None,
    job_type: Optional[str] = None, log_model: bool = False, resume_id: Optional[str] = None,
) -> RunLogger:
    """The W&B logger of a run; ``resume_id`` continues that W&B run (``resume="allow"``) instead of starting one."""
    mode = resolve_mode(mode)
    if mode == "online" and not has_login():
        raise ConfigError("W&B mode online needs a login: run `wandb login` (or set WANDB_API_KEY), "
                          "or log offline (--run.wandb.mode offline) and `wandb sync` later")
    # mode goes to wandb.init explicitly: Lightning's offline flag only sets WANDB_MODE, which W&B ignores once an
    # earlier run in the same process has set W&B up, and which would then outlive this run in the environment.
    return RunLogger(run_dir, log_model=log_model, name=run_name, project=project, entity=entity, group=group,
                     tags=list(tags) if tags else None, notes=notes, job_type=job_type, mode=mode, id=resume_id)
