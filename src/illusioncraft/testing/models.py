"""``check_model``: what the command line, checkpoints and multi-process runs rely on in a registered model."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader, Subset

from illusioncraft.data.index_batches import IndexBatches
from illusioncraft.testing.runs import (
    TINY,
    CommandFailed,
    PartSpec,
    Report,
    as_option,
    check_arguments,
    check_finite,
    check_registration,
    part,
    read_metrics,
    run_command,
    workspace,
)

CLASSIFIER_DATA = {"class_path": "digits", "init_args": {"batch_size": 32}}
GAN_DATA = {"class_path": "digits", "init_args": {"batch_size": 32, "image_size": 16, "normalize": False}}


def default_data(model_class: type) -> dict[str, Any]:
    """Tiny data a model of this family trains on: 16 px digits in [0, 1] for GANs, 8 px digits otherwise."""
    from illusioncraft.models.gan.loop import AdversarialModule

    return GAN_DATA if issubclass(model_class, AdversarialModule) else CLASSIFIER_DATA


def check_model(
    name: str,
    arguments: Optional[Mapping[str, Any]] = None,
    data: Optional[PartSpec] = None,
    bad_arguments: Iterable[Mapping[str, Any]] = (),
    options: Sequence[str] = (),
    work_dir: Optional[Path] = None,
) -> Report:
    """Check the model registered as ``name`` (built with ``arguments``) on ``data`` (a datamodule name or
    ``{class_path, init_args}``; tiny digits by default): registration, argument checking, a fit of a few steps
    through ``illusioncraft fit``, the checkpoint round trip and resume, and metrics that stay right when
    validation is split across processes. ``options`` are further command-line arguments for every run (e.g. a
    smaller default callback). Raises ``ConformanceError`` naming the first behaviour that fails."""
    report = Report("model", name)
    model_class = check_registration(report)
    arguments = dict(arguments or {})
    check_arguments(report, arguments, bad_arguments)
    data_spec = part(data) if data is not None else default_data(model_class)
    options = ["--model", as_option({"class_path": name, "init_args": arguments}), "--data", as_option(data_spec), *options]
    with workspace(work_dir) as directory:
        run_dir = report.run_dir = _check_fit(report, model_class, directory, options)
        _check_checkpoint(report, model_class, directory, options, run_dir)
        _check_split_validation(report, directory, options, run_dir / "checkpoints" / "last.ckpt")
    return report


def _check_fit(report: Report, model_class: type, directory: Path, options: list[str]) -> Path:
    try:
        run_dir = run_command(directory, "fit", *options)
    except CommandFailed as error:
        report.fail("fit", f"`illusioncraft fit` stopped: {error}")
    if not (run_dir / "checkpoints" / "last.ckpt").is_file():
        report.fail("fit", "no checkpoints/last.ckpt was written")
    metrics = read_metrics(run_dir)
    if all(hasattr(model_class, key) for key in ("loss_names", "checkpoint_monitor")):  # RunDefaults
        check_finite(report, "fit", metrics, model_class.loss_names)
        monitor = model_class.checkpoint_monitor[0]
        if monitor is not None:
            check_finite(report, "fit", metrics, [monitor])
    report.passed.append("fit")
    return run_dir


def _check_checkpoint(report: Report, model_class: type, directory: Path, options: list[str], run_dir: Path) -> None:
    last = run_dir / "checkpoints" / "last.ckpt"
    try:
        checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    except Exception as error:  # the failure being reported
        report.fail("checkpoint", f"last.ckpt cannot be read with weights_only=True ({type(error).__name__}): keep "
                    "tensors and plain values in hyper-parameters and in on_save_checkpoint")
    try:
        loaded = model_class.load_from_checkpoint(last, map_location="cpu", weights_only=True)
    except Exception as error:  # the failure being reported
        report.fail("checkpoint", f"load_from_checkpoint failed ({type(error).__name__}: {error}); save every argument "
                    "the networks are built from (save_hyperparameters, shapes from the data included)")
    saved, restored = checkpoint["state_dict"], loaded.state_dict()
    if saved.keys() != restored.keys():
        report.fail("checkpoint", f"the rebuilt model has other weights: {sorted(set(saved) ^ set(restored))[:3]}")
    changed = [key for key in saved if not torch.equal(saved[key], restored[key])]
    if changed:
        report.fail("checkpoint", f"weights differ after loading: {changed[:3]}")
    try:
        run_command(directory, "fit", *options, "--ckpt_path", "last", "--trainer.max_epochs", "2", run_dir=run_dir)
    except CommandFailed as error:
        report.fail("checkpoint", f"resuming with --ckpt_path last stopped: {error}")
    resumed = torch.load(last, map_location="cpu", weights_only=True)
    if resumed["global_step"] <= checkpoint["global_step"] or resumed["epoch"] <= checkpoint["epoch"]:
        report.fail("checkpoint", f"resuming did not continue: step {checkpoint['global_step']} -> {resumed['global_step']}")
    report.passed.append("checkpoint")


def _check_split_validation(report: Report, directory: Path, options: list[str], checkpoint: Path) -> None:
    """Under DDP each process validates its share of the data, and a plain tensor logged without ``sync_dist=True``
    is that process's own value. Validating each half of the data stands in for the two processes: a value logged
    without synchronisation must then not depend on which half a process saw."""
    from lightning.pytorch.cli import LightningCLI

    from illusioncraft.cli.app import IllusionCraftCLI
    from illusioncraft.cli.class_paths import install_registry_class_names

    install_registry_class_names()
    arguments = [*TINY, "--trainer.limit_val_batches", "1.0", *options, "--run.dir", str(directory / "split"),
                 "--run.loggers", "[]", "--trainer.enable_checkpointing", "false"]
    cli: LightningCLI = IllusionCraftCLI(args=arguments, run=False)
    model, data, trainer = cli.model, cli.datamodule, cli.trainer
    if data is None or not callable(getattr(data, "val_dataloader", None)):
        report.skipped["split validation"] = "the data has no validation split"
        return
    unsynchronised = _record_unsynchronised_logs(model)
    original = data.val_dataloader
    results = []
    for rank in (0, 1):
        data.val_dataloader = _shard(original, rank)
        try:
            logged = trainer.validate(model, datamodule=data, ckpt_path=str(checkpoint), weights_only=True, verbose=False)
            results.append(logged[0])
        except _Unsplittable:
            report.skipped["split validation"] = "the validation loader has no batch size to split by"
            return
    for key in sorted(unsynchronised):
        first, second = results[0].get(key), results[1].get(key)
        if first is not None and second is not None and not math.isclose(first, second, rel_tol=1e-6, abs_tol=1e-9):
            report.fail("split validation", f"'{key}' is logged without sync_dist=True and depends on the data a process "
                        f"sees ({first:.6g} vs {second:.6g} on two halves): log it with sync_dist=True or through a "
                        "torchmetrics Metric, or every process but the first is ignored under DDP")
    report.passed.append("split validation")


class _Unsplittable(Exception):
    """A validation loader that cannot be split by index into two halves."""


def _shard(original: Callable[[], Any], rank: int) -> Callable[[], Any]:
    def loader() -> Any:
        full = original()
        if isinstance(full, IndexBatches):  # batches by index on the device: shard as a process of two would
            full.rank, full.world_size = rank, 2
            return full
        if not isinstance(full, DataLoader) or full.batch_size is None:
            raise _Unsplittable
        indices = range(rank, len(full.dataset), 2)  # what DistributedSampler gives rank `rank` of 2
        return DataLoader(Subset(full.dataset, indices), batch_size=full.batch_size, collate_fn=full.collate_fn)

    return loader


def _record_unsynchronised_logs(model: Any) -> set[str]:
    """Names the model (or a callback through it) logs during validation as plain values without ``sync_dist``."""
    from torchmetrics import Metric

    found: set[str] = set()
    original = model.log

    def log(name: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        trainer = model._trainer
        if trainer is not None and trainer.validating and not kwargs.get("sync_dist", False) and not isinstance(value, Metric):
            found.add(name)
        return original(name, value, *args, **kwargs)

    model.log = log
    return found
