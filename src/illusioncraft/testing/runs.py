"""What every check shares: its report and failure, the argument checks, and tiny runs of the real command line."""

from __future__ import annotations

import contextlib
import csv
import inspect
import io
import json
import math
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from illusioncraft import registry
from illusioncraft.errors import IllusionCraftError, RegistryError

# A part given to a check: a registry name, or {class_path: name, init_args: {...}} as in a YAML.
PartSpec = Union[str, Mapping[str, Any]]

TINY = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "2",
        "--trainer.limit_test_batches", "1", "--trainer.log_every_n_steps", "1", "--trainer.num_sanity_val_steps", "0",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--seed_everything", "0"]


class ConformanceError(AssertionError):
    """An entry does not behave as IllusionCraft relies on; the message names the entry, the check and the fix."""


@dataclass
class Report:
    """The checks an entry passed, and those that did not apply to it (with the reason)."""

    kind: str
    name: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    run_dir: Optional[Path] = None  # the run the check trained (kept when the check was given a work_dir)

    def fail(self, check: str, problem: str) -> None:
        raise ConformanceError(f"{self.kind} '{self.name}' fails '{check}': {problem}")

    def __str__(self) -> str:
        skipped = "".join(f"; skipped {check} ({why})" for check, why in self.skipped.items())
        return f"{self.kind} '{self.name}': passed {', '.join(self.passed)}{skipped}"


def part(spec: PartSpec) -> dict[str, Any]:
    """A part as ``{class_path, init_args}``."""
    if isinstance(spec, str):
        return {"class_path": spec, "init_args": {}}
    return {"class_path": spec["class_path"], "init_args": dict(spec.get("init_args") or {})}


def check_registration(report: Report, obj: Any = None) -> Any:
    """The entry is registered under its name and kind (and is ``obj`` when one is given)."""
    try:
        found = registry.entry(report.kind, report.name)
    except RegistryError as error:
        report.fail("registration", f"{error}; decorate it with @register({report.name!r}) and import its module from the "
                    "package that the entry point 'illusioncraft.plugins' names")
    if obj is not None and found.obj is not obj:
        report.fail("registration", f"the name is registered to {found.import_path}, not to the object checked")
    report.passed.append("registration")
    return found.obj


def _parameters(obj: Any) -> list[inspect.Parameter]:
    return [p for p in registry._parameters_of(obj).values() if p.name not in ("self", "cls")]


def check_arguments(report: Report, arguments: Mapping[str, Any], bad_arguments: Iterable[Mapping[str, Any]],
                    skip: tuple[str, ...] = ()) -> None:
    """Typed arguments without ``**kwargs`` (so the command line checks them), a misspelt argument answered with a
    suggestion, and each of ``bad_arguments`` refused with one line naming the argument."""
    parameters = [p for p in _parameters(registry.get(report.kind, report.name)) if p.name not in skip]
    untyped = [p.name for p in parameters if p.annotation is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL,
                                                                                                      p.VAR_KEYWORD)]
    if untyped:
        report.fail("arguments", f"argument '{untyped[0]}' has no type hint, so the command line cannot check its values")
    named = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    typo = (named[0] if named else "argument") + "x"
    try:
        registry.build(report.kind, report.name, **arguments, **{typo: 1})
    except RegistryError as error:
        if named and f"did you mean '{named[0]}'" not in str(error):
            report.fail("arguments", f"a misspelt argument '{typo}' gave {str(error)!r}, without suggesting '{named[0]}'")
    except IllusionCraftError as error:  # an entry taking **kwargs checks the names itself
        if typo not in str(error):
            report.fail("arguments", f"a misspelt argument '{typo}' gave {str(error)!r}, which does not name it")
    except Exception as error:  # the failure being reported
        report.fail("arguments", f"a misspelt argument '{typo}' raised {type(error).__name__}: {error}, not one line")
    else:
        report.fail("arguments", f"a misspelt argument '{typo}' was accepted without a word (**kwargs?)")
    for bad in bad_arguments:
        try:
            registry.build(report.kind, report.name, **{**arguments, **bad})
        except IllusionCraftError as error:
            message = str(error)
            if "\n" in message.strip() or not any(key in message for key in bad):
                report.fail("arguments", f"{dict(bad)} was refused with {message!r}: one line naming the argument is expected")
        except Exception as error:  # any other exception is the failure being reported
            report.fail("arguments", f"{dict(bad)} raised {type(error).__name__}: {error}; raise ConfigError (one line "
                        "naming the argument) from illusioncraft.plugin_api")
        else:
            report.fail("arguments", f"{dict(bad)} was accepted; refuse it in __init__ with a ConfigError")
    report.passed.append("arguments")


class CommandFailed(Exception):
    """The command line ended with an error line (exit status 2) or an unexpected exception."""


def run_command(work_dir: Path, subcommand: str, *arguments: str, run_dir: Optional[Path] = None,
                loggers: str = "[csv]") -> Path:
    """Run ``illusioncraft SUBCOMMAND ARGUMENTS`` in this process with tiny limits; return its run directory."""
    from illusioncraft.cli import main

    run_dir = run_dir or work_dir / f"run{len(list(work_dir.glob('run*')))}"
    arguments = list(arguments)
    configs: list[str] = []  # a config file goes first, so the tiny limits and the arguments override it
    while "--config" in arguments:
        index = arguments.index("--config")
        configs += arguments[index:index + 2]
        del arguments[index:index + 2]
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
            main([subcommand, *configs, *TINY, *arguments, "--run.dir", str(run_dir), "--run.loggers", loggers])
    except SystemExit as stop:
        if stop.code not in (0, None):
            lines = [line for line in stderr.getvalue().splitlines() if line.startswith("illusioncraft")]
            raise CommandFailed(lines[-1] if lines else f"exit status {stop.code}") from None
    except Exception as error:
        raise CommandFailed(f"{type(error).__name__}: {error}") from error
    return run_dir


def as_option(spec: PartSpec) -> str:
    """A part as one command-line value (``--model '{"class_path": ..., "init_args": ...}'``)."""
    return json.dumps(part(spec))


def read_metrics(run_dir: Path) -> dict[str, float]:
    """The last logged value of every metric in a run's ``metrics.csv``."""
    values: dict[str, float] = {}
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return values
    with open(path) as handle:
        for row in csv.DictReader(handle):
            values.update({key: float(value) for key, value in row.items() if value not in ("", None)})
    return values


def check_finite(report: Report, check: str, metrics: Mapping[str, float], keys: Iterable[str]) -> None:
    """Each of ``keys`` was logged and is finite."""
    for key in keys:
        if key not in metrics:
            report.fail(check, f"'{key}' was not logged (logged: {', '.join(sorted(metrics)) or 'nothing'})")
        if not math.isfinite(metrics[key]):
            report.fail(check, f"'{key}' is {metrics[key]}")


@contextlib.contextmanager
def workspace(work_dir: Optional[Path]) -> Iterator[Path]:
    """``work_dir`` (created), or a temporary directory removed afterwards, for a check's runs."""
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        yield Path(work_dir)
        return
    with tempfile.TemporaryDirectory(prefix="illusioncraft-check-") as directory:
        yield Path(directory)
