"""``check_datamodule``: what models, samplers and multi-process runs rely on in a registered datamodule."""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor

from illusioncraft import registry
from illusioncraft.contracts import ClassLabelledData, ShapedData
from illusioncraft.testing.runs import (
    CommandFailed,
    PartSpec,
    Report,
    as_option,
    check_arguments,
    check_registration,
    part,
    read_metrics,
    run_command,
    workspace,
)


def check_datamodule(
    name: str,
    arguments: Optional[Mapping[str, Any]] = None,
    model: Optional[PartSpec] = None,
    bad_arguments: Iterable[Mapping[str, Any]] = (),
    work_dir: Optional[Path] = None,
) -> Report:
    """Check the datamodule registered as ``name`` (built with ``arguments``): registration, argument checking, the
    shape (and class names) known before ``setup``, picklable for spawned processes, batches of that shape with
    images in [0, 1] and labels in range, a training order fixed by the arguments (so a resumed run replays it), and
    a fit of ``model`` on it through ``illusioncraft fit`` (by default ``mlp`` for labelled images, ``gan`` for
    points). Raises ``ConformanceError`` naming the first behaviour that fails."""
    report = Report("datamodule", name)
    check_registration(report)
    arguments = dict(arguments or {})
    check_arguments(report, arguments, bad_arguments)
    data = registry.build("datamodule", name, **arguments)
    shape = _check_contract(report, data)
    try:
        pickle.loads(pickle.dumps(data))
    except Exception as error:  # the failure being reported
        report.fail("picklable", f"pickling failed ({type(error).__name__}: {error}); ddp_spawn sends the datamodule to "
                    "each process: build unpicklable things (open files, generators) in setup()")
    report.passed.append("picklable")
    first = _check_batches(report, data, shape)
    again = registry.build("datamodule", name, **arguments)
    again.setup("fit")
    if not _same(first, next(iter(again.train_dataloader()))):
        report.fail("order", "two datamodules built with the same arguments give different first training batches; draw "
                    "the order from the arguments (illusioncraft.data.sampling.EpochShuffleSampler) so a resumed run "
                    "replays it")
    report.passed.append("order")
    model_spec = part(model) if model is not None else _default_model(data, shape)
    if model_spec is None:
        report.skipped["fit"] = "no default model for this data; pass model="
        return report
    with workspace(work_dir) as directory:
        try:
            run_dir = run_command(directory, "fit", "--model", as_option(model_spec),
                                  "--data", as_option({"class_path": name, "init_args": arguments}))
        except CommandFailed as error:
            report.fail("fit", f"`illusioncraft fit` with model '{model_spec['class_path']}' stopped: {error}")
        if not read_metrics(run_dir):
            report.fail("fit", "the fit logged no metrics")
    report.passed.append("fit")
    return report


def _check_contract(report: Report, data: Any) -> tuple[int, ...]:
    if not isinstance(data, ShapedData) or data.data_shape is None:
        report.fail("contract", "data_shape is not known before setup(); models build their networks from it: set it "
                    "in __init__ ((C, H, W) for images, (D,) for points)")
    if isinstance(data, ClassLabelledData) and (not data.class_names or not all(isinstance(n, str) for n in data.class_names)):
        report.fail("contract", f"class_names must be a non-empty list of strings, got {data.class_names!r}")
    report.passed.append("contract")
    return tuple(data.data_shape)


def _samples_and_labels(batch: Any) -> tuple[Tensor, Optional[Tensor]]:
    if isinstance(batch, Mapping):
        return batch.get("image"), batch.get("label")
    if isinstance(batch, (tuple, list)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def _check_batches(report: Report, data: Any, shape: tuple[int, ...]) -> Any:
    data.setup("fit")
    first = None
    for split in ("train", "val"):
        loader = getattr(data, f"{split}_dataloader", None)
        if loader is None:
            continue
        batch = next(iter(loader()))
        first = batch if first is None else first
        samples, labels = _samples_and_labels(batch)
        if not isinstance(samples, Tensor) or tuple(samples.shape[1:]) != shape:
            got = tuple(samples.shape) if isinstance(samples, Tensor) else type(samples).__name__
            report.fail("batches", f"a {split} batch holds {got}, not (B, *data_shape) = (B, {', '.join(map(str, shape))})")
        if not samples.is_floating_point() or not torch.isfinite(samples).all():
            report.fail("batches", f"{split} samples must be finite floats")
        if len(shape) == 3 and (samples.min() < 0 or samples.max() > 1):
            report.fail("batches", f"{split} images span [{samples.min():.3g}, {samples.max():.3g}]; datasets yield images in "
                        "[0, 1] (normalise in on_after_batch_transfer, after the batch augmentations)")
        if isinstance(data, ClassLabelledData) and isinstance(labels, Tensor) and labels.ndim == 1:
            if labels.min() < 0 or labels.max() >= data.num_classes:
                report.fail("batches", f"{split} labels span {int(labels.min())}..{int(labels.max())}, outside "
                            f"0..{data.num_classes - 1} (num_classes = len(class_names))")
    if first is None:
        report.fail("batches", "it has no train_dataloader")
    report.passed.append("batches")
    return first


def _same(first: Any, second: Any) -> bool:
    a, b = _samples_and_labels(first)[0], _samples_and_labels(second)[0]
    return a.shape == b.shape and torch.equal(a, b)


def _default_model(data: Any, shape: tuple[int, ...]) -> Optional[dict[str, Any]]:
    if len(shape) == 3 and isinstance(data, ClassLabelledData):
        return {"class_path": "mlp", "init_args": {"hidden_sizes": [16]}}
    if len(shape) == 1:
        return {"class_path": "gan", "init_args": {"hidden_size": 16}}
    return None
