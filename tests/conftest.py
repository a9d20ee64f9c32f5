"""Shared helpers: run the real CLI in-process with tiny limits, and read what a run wrote."""

from __future__ import annotations

import csv
import sys
import textwrap
from pathlib import Path

import lightning.pytorch  # noqa: F401 - Lightning's log handlers take the session's stderr, not one test's capture
import pytest

from illusioncraft import registry
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
    """Run the CLI expecting a user error: exit status 2, no traceback and exactly one error line on stderr, returned."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("illusioncraft: error:")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch):
    """The registry with its built-ins, plugins not yet loaded: whatever a test registers, and the plugin modules it
    imports afresh, vanish afterwards."""
    registry.load_built_ins()
    monkeypatch.setattr(registry, "_entries", {kind: dict(names) for kind, names in registry._entries.items()})
    monkeypatch.setattr(registry, "_by_object", dict(registry._by_object))
    monkeypatch.setattr(registry, "_by_import_path", dict(registry._by_import_path))
    monkeypatch.setattr(registry, "_state", {"built_ins": True, "plugins": False})
    for kind in registry.KINDS:  # drop the installed plugins' entries, so loading them again registers them afresh
        for name, item in list(registry._entries[kind].items()):
            if item.origin != registry.BUILT_IN:
                del registry._entries[kind][name]

    def reloaded(name: str) -> bool:
        return name.startswith("illusioncraft_example_plugin")

    saved = {name: sys.modules.pop(name) for name in [n for n in sys.modules if reloaded(n)]}
    yield registry
    for name in [n for n in sys.modules if reloaded(n)]:
        del sys.modules[name]
    sys.modules.update(saved)


def fake_plugin_distribution(site: Path, dist: str, module: str, source: str) -> None:
    """An installed distribution ``dist`` under ``site`` whose ``illusioncraft.plugins`` entry point is ``module``."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[illusioncraft.plugins]\nentry = {module}\n")
