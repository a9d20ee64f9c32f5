"""Where a run writes: ``<root>/<name>/version_<n>/`` (config, checkpoints, metrics, pictures, W&B files)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from illusioncraft.errors import ConfigError

# Set by the launching process so that the extra processes of a multi-process strategy, which run the
# command again, write into the same directory instead of claiming the next version.
RUN_DIR_ENV = "ILLUSIONCRAFT_RUN_DIR"


@dataclass
class WandbOptions:
    """How a run appears in Weights & Biases (``--run.wandb.*``); ``WANDB_MODE`` in the environment wins over mode."""

    mode: Literal["online", "offline", "disabled"] = "offline"
    """online (needs `wandb login`), offline (files for `wandb sync`, no network) or disabled."""
    project: str = "illusioncraft"
    """W&B project."""
    entity: Optional[str] = None
    """W&B user or team (default: the login's)."""
    group: Optional[str] = None
    """Group runs together (e.g. the runs of one sweep or one comparison)."""
    tags: list[str] = field(default_factory=list)
    """Tags shown in the dashboard's run table."""
    notes: Optional[str] = None
    """A note on the run."""
    job_type: Optional[str] = None
    """Job type (e.g. train, eval)."""
    log_model: bool = False
    """Log the best and last checkpoints as a W&B model artifact (aliases best and latest) at the end of fit."""


@dataclass
class RunOptions:
    """Options of a run that are not the Trainer's: where it writes, how it logs, and what follows fitting."""

    root: str = "runs"
    """Parent folder of all runs (relative to the working directory)."""
    name: Optional[str] = None
    """Run name; defaults to the config file's stem, else the model's name."""
    dir: Optional[str] = None
    """Exact run directory, overriding root/name/version."""
    loggers: list[str] = field(default_factory=lambda: ["csv", "wandb"])
    """Logger names (see `illusioncraft list logger`); an empty list logs nothing."""
    test_after_fit: bool = True
    """After `fit`, evaluate the best checkpoint on the test split when the model and data have one."""
    wandb: WandbOptions = field(default_factory=WandbOptions)
    """Options of the wandb logger."""


def _version_number(name: str) -> Optional[int]:
    found = re.fullmatch(r"version_(\d+)", name)
    return int(found.group(1)) if found else None


def _versions(parent: Path) -> list[int]:
    return [number for path in parent.glob("version_*") if (number := _version_number(path.name)) is not None]


def run_name(options: Any, config_files: Sequence[Any], model_class: Optional[type]) -> str:
    """A run's name: ``--run.name``, else the last config file's stem, else the model's registry name."""
    if options.name:
        return options.name
    if config_files:
        return Path(str(config_files[-1])).stem
    if model_class is None:
        return "run"
    from illusioncraft import registry

    found = registry.find_by_object(model_class)
    return found.name if found else model_class.__name__.lower()


LAST = "last.ckpt"


def find_last_checkpoint(options: Any, name: str) -> Path:
    """``checkpoints/last.ckpt`` of ``--run.dir``, else of the newest ``<root>/<name>/version_<n>`` that has one."""
    if options.dir:
        path = Path(options.dir) / "checkpoints" / LAST
        if not path.is_file():
            raise ConfigError(f"--ckpt_path last: there is no {path} (the run in --run.dir {options.dir} saved no checkpoint)")
        return path
    parent = Path(options.root) / name
    for version in sorted(_versions(parent), reverse=True):
        path = parent / f"version_{version}" / "checkpoints" / LAST
        if path.is_file():
            return path
    raise ConfigError(
        f"--ckpt_path last: no run under {parent} has checkpoints/{LAST}; give the checkpoint's path, "
        "or --run.dir of the run to resume"
    )


def claim_next_version(parent: Path) -> Path:
    """A new ``parent/version_<n>``, created by this call: ``mkdir`` without ``exist_ok`` fails when another process
    took that number first, and the claim moves on to the next, so runs started together never share a directory."""
    parent.mkdir(parents=True, exist_ok=True)
    version = max(_versions(parent), default=-1) + 1
    while True:
        candidate = parent / f"version_{version}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            version += 1


def inherited_run_dir() -> Optional[Path]:
    """The directory the launching process chose, in the extra processes of a multi-process launch (else None)."""
    inherited = os.environ.get(RUN_DIR_ENV)
    return Path(inherited) if inherited and int(os.environ.get("LOCAL_RANK", "0")) > 0 else None


def resolve_run_dir(options: RunOptions, name: str) -> Path:
    """The run directory for this process: ``--run.dir``, the launching process's (extra ranks), or a newly claimed
    ``<root>/<name>/version_<n>``. ``latest`` does not move here: it moves when the run writes a checkpoint."""
    inherited = inherited_run_dir()
    if inherited is not None:
        return inherited
    try:
        if options.dir:
            run_dir = Path(options.dir)
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            run_dir = claim_next_version(Path(options.root) / name)
    except OSError as error:
        key, where = ("--run.dir", Path(options.dir)) if options.dir else ("--run.root", Path(options.root) / name)
        raise ConfigError(f"{key}: cannot create the run directory '{where}': {error.strerror or error}") from None
    os.environ[RUN_DIR_ENV] = str(run_dir)
    return run_dir


def remove_unused_run_dir(run_dir: Path) -> None:
    """Delete a version directory whose run failed before it did anything, so a failed start leaves no empty version
    behind; a directory holding any checkpoint is kept."""
    if not any(run_dir.rglob("*.ckpt")):
        shutil.rmtree(run_dir, ignore_errors=True)


def point_latest(run_dir: Path) -> None:
    """``<root>/<name>/latest`` -> ``run_dir``; called each time the run has written a checkpoint, so a later
    step (e.g. StackGAN Stage-II reading its Stage-I checkpoint) can name ``runs/<name>/latest/checkpoints/last.ckpt``.
    A run that saves no checkpoint (a validation, a failed start) never takes the link, and neither does an older
    version while ``latest`` names a newer one that holds checkpoints."""
    link = run_dir.parent / "latest"
    current = os.readlink(link) if link.is_symlink() else None
    if current == run_dir.name:
        return
    current_version, version = _version_number(current or ""), _version_number(run_dir.name)
    if current_version is not None and version is not None and current_version > version and any(link.glob("checkpoints/*.ckpt")):
        return
    temporary = run_dir.parent / f".latest-{os.getpid()}"
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(run_dir.name, target_is_directory=True)
        os.replace(temporary, link)  # atomic: readers see the old or the new target, never no link
    except OSError:  # file systems without symlinks: the versioned directory is still there
        temporary.unlink(missing_ok=True)
