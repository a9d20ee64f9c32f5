"""``check_callback``: what checkpoints, resumed runs and spawned processes rely on in a registered callback."""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.pytorch.callbacks import ProgressBar

from illusioncraft import registry
from illusioncraft.testing.runs import (
    CommandFailed,
    PartSpec,
    Report,
    as_option,
    check_arguments,
    check_registration,
    part,
    run_command,
    workspace,
)

DEFAULT_MODEL = {"class_path": "mlp", "init_args": {"hidden_sizes": [16]}}
DEFAULT_DATA = {"class_path": "digits", "init_args": {"batch_size": 32}}


def check_callback(
    name: str,
    arguments: Optional[Mapping[str, Any]] = None,
    model: Optional[PartSpec] = None,
    data: Optional[PartSpec] = None,
    bad_arguments: Iterable[Mapping[str, Any]] = (),
    work_dir: Optional[Path] = None,
) -> Report:
    """Check the callback registered as ``name`` (built with ``arguments``): registration, argument checking,
    picklable for spawned processes, a state that survives ``torch.load(weights_only=True)`` (how checkpoints are
    read), and a fit of ``model`` on ``data`` (an mlp on digits by default) with it in ``trainer.callbacks``, resumed
    once with ``--ckpt_path last``. Raises ``ConformanceError`` naming the first behaviour that fails."""
    report = Report("callback", name)
    check_registration(report)
    arguments = dict(arguments or {})
    check_arguments(report, arguments, bad_arguments)
    callback = registry.build("callback", name, **arguments)
    try:
        pickle.loads(pickle.dumps(callback))
    except Exception as error:  # the failure being reported
        report.fail("picklable", f"pickling failed ({type(error).__name__}: {error}); ddp_spawn sends callbacks to each "
                    "process: create unpicklable things in setup()")
    report.passed.append("picklable")
    _check_state(report, callback)
    options = ["--model", as_option(part(model) if model is not None else DEFAULT_MODEL),
               "--data", as_option(part(data) if data is not None else DEFAULT_DATA),
               "--trainer.callbacks", json.dumps([{"class_path": name, "init_args": arguments}])]
    if isinstance(callback, ProgressBar):  # a progress bar needs the trainer's progress bar on
        options += ["--trainer.enable_progress_bar", "true"]
    with workspace(work_dir) as directory:
        try:
            run_dir = run_command(directory, "fit", *options)
            run_command(directory, "fit", *options, "--ckpt_path", "last", "--trainer.max_epochs", "2", run_dir=run_dir)
        except CommandFailed as error:
            report.fail("fit", f"`illusioncraft fit` with it (then resumed) stopped: {error}")
    report.passed.append("fit")
    return report


def _check_state(report: Report, callback: Any) -> None:
    state = callback.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    try:
        restored = torch.load(buffer, weights_only=True)
    except Exception as error:  # the failure being reported
        report.fail("state", f"state_dict() cannot be read back with weights_only=True ({type(error).__name__}); keep "
                    "tensors and plain values in it, or resuming from a checkpoint fails")
    fresh = type(callback).__new__(type(callback))
    fresh.__dict__.update(callback.__dict__)
    fresh.load_state_dict(restored)
    if _plain(fresh.state_dict()) != _plain(state):
        report.fail("state", "load_state_dict(state_dict()) does not restore the same state")
    report.passed.append("state")


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
