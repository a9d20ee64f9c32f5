"""Shared helpers: run the real CLI in-process with tiny limits, and read what a run wrote."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from illusioncraft.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
TINY = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
        "--trainer.limit_test_batches", "1", "--trainer.log_every_n_steps", "1"]


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Feature extractors the project trains (digits_classifier) are cached once per test session, not in $HOME."""
    import os

    previous = os.environ.get("ILLUSIONCRAFT_CACHE")
    os.environ["ILLUSIONCRAFT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("ILLUSIONCRAFT_CACHE", None)
    else:
        os.environ["ILLUSIONCRAFT_CACHE"] = previous


def run_cli(tmp_path: Path, *args: str, loggers: str = "[csv]") -> Path:
    """Run ``illusioncraft`` with ``args`` into a fresh run directory under ``tmp_path``; return that directory."""
    run_dir = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
    main([*args, "--run.dir", str(run_dir), "--run.loggers", loggers, *QUIET])
    return run_dir


def read_metrics(run_dir: Path) -> dict[str, float]:
    """The last logged value of every metric in a run's metrics.csv."""
    values: dict[str, float] = {}
    with open(run_dir / "metrics.csv") as handle:
        for row in csv.DictReader(handle):
            values.update({key: float(value) for key, value in row.items() if value not in ("", None)})
    return values


def cli_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the CLI expecting a user error: exit status 2 and exactly one line on stderr, returned."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("illusioncraft: error:")]
    assert len(lines) == 1, lines
    return lines[0]
