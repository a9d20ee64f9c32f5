"""Where a run writes: ``<root>/<name>/version_<n>/`` (config, checkpoints, metrics, pictures, W&B files)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

# Set by the launching process so that the extra processes of a multi-process strategy, which run the
# command again, write into the same directory instead of claiming the next version.
RUN_DIR_ENV = "ILLUSIONCRAFT_RUN_DIR"


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


def next_version(parent: Path) -> Path:
    """``parent/version_<n>`` with n one more than the highest existing version."""
    versions = [int(m.group(1)) for p in parent.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name))]
    return parent / f"version_{max(versions, default=-1) + 1}"


def resolve_run_dir(options: RunOptions, name: str) -> Path:
    """The run directory for this process, shared with the other ranks of a multi-process launch."""
    inherited = os.environ.get(RUN_DIR_ENV)
    if inherited and int(os.environ.get("LOCAL_RANK", "0")) > 0:
        return Path(inherited)
    run_dir = Path(options.dir) if options.dir else next_version(Path(options.root) / name)
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ[RUN_DIR_ENV] = str(run_dir)
    return run_dir
