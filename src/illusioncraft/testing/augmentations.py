"""``check_augmentation``: what the datamodules rely on in a registered batch-level or per-sample augmentation."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional

import albumentations as A
import torch
from torch import Tensor

from illusioncraft import registry
from illusioncraft.augment.base import BatchAugmentation
from illusioncraft.augment.batch import build_sample_transform
from illusioncraft.augment.pipeline import apply_sample
from illusioncraft.testing.runs import (
    CommandFailed,
    Report,
    as_option,
    check_arguments,
    check_registration,
    run_command,
    workspace,
)

BATCH, CHANNELS, SIZE, CLASSES = 8, 3, 8, 4


def check_augmentation(
    name: str,
    arguments: Optional[Mapping[str, Any]] = None,
    bad_arguments: Iterable[Mapping[str, Any]] = (),
    work_dir: Optional[Path] = None,
) -> Report:
    """Check the augmentation registered as ``name`` (built with ``arguments``). Batch level: on the input's device
    and dtype, images kept in [0, 1], targets as class indices or probability rows, soft targets accepted, the same
    result for the same seed, and ``config()`` rebuilding it. Per sample: an albumentations transform that keeps
    [0, 1] and follows the pipeline's seed. Then a classifier fit through ``illusioncraft fit`` with it, whose
    ``augmentation.json`` records its arguments. Raises ``ConformanceError`` naming the first behaviour that fails."""
    report = Report("augmentation", name)
    entry = check_registration(report)
    arguments = dict(arguments or {})
    check_arguments(report, arguments, bad_arguments)
    built = None if getattr(entry, "sample_only", False) else registry.build("augmentation", name, **arguments)
    if isinstance(built, BatchAugmentation):
        _check_batch(report, built, arguments)
    if built is None or hasattr(built, "sample_transform"):
        _check_sample(report, arguments)
    if built is not None and not isinstance(built, BatchAugmentation) and not hasattr(built, "sample_transform"):
        report.fail("kind", "an augmentation is a BatchAugmentation subclass (batch level), a factory registered with "
                    "sample_only = True returning an albumentations transform, or both (a sample_transform() method)")
    where = "batch_augmentations" if isinstance(built, BatchAugmentation) else "augmentations"
    data = {"class_path": "digits", "init_args": {"batch_size": 32, where: [{"name": name, "params": arguments}],
                                                  "augmentation_seed": 0}}
    views = built.views_per_image if isinstance(built, BatchAugmentation) else 1
    model = {"class_path": "mlp", "init_args": {"hidden_sizes": [16], **({"loss": "jsd"} if views == 3 else {})}}
    with workspace(work_dir) as directory:
        try:
            run_dir = run_command(directory, "fit", "--model", as_option(model), "--data", as_option(data))
        except CommandFailed as error:
            report.fail("fit", f"`illusioncraft fit` of an mlp on digits with it under {where} stopped: {error}")
        recorded = json.loads((run_dir / "augmentation.json").read_text())
        if isinstance(built, BatchAugmentation) and recorded["batch"] != [{"name": name, "params": _plain(built.config())}]:
            report.fail("fit", f"augmentation.json records {recorded['batch']}, not its config() {built.config()}")
    report.passed.append("fit")
    return report


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))


def _run(augmentation: BatchAugmentation, images: Tensor, targets: Tensor, seed: int = 0) -> tuple[Tensor, Tensor]:
    torch.manual_seed(seed)
    return augmentation(images, targets)


def _check_batch(report: Report, augmentation: BatchAugmentation, arguments: dict[str, Any]) -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    generator = torch.Generator().manual_seed(0)
    for device in devices:
        augmentation.to(device).num_classes = CLASSES
        images = torch.rand(BATCH, CHANNELS, SIZE, SIZE, generator=generator).to(device)  # (B, C, H, W) in [0, 1]
        labels = (torch.arange(BATCH) % CLASSES).to(device)  # (B,)
        soft = torch.nn.functional.one_hot(labels, CLASSES).float()  # (B, K): what mixup hands the next step
        for targets in (labels, soft):
            out, out_targets = _run(augmentation, images, targets)
            _check_output(report, augmentation, images, out, out_targets)
            again = _run(augmentation, images, targets)
            if not (torch.equal(out, again[0]) and torch.equal(out_targets, again[1])):
                report.fail("batch", "the same seed gave different results: draw randomness from torch's generator "
                            "on the images' device")
        report.passed.append(f"batch on {device}")
    config = augmentation.config()
    try:
        json.dumps(config, default=list)
        rebuilt = registry.build("augmentation", report.name, **config)
    except Exception as error:  # the failure being reported
        report.fail("config", f"config() {config!r} does not rebuild it ({type(error).__name__}: {error})")
    rebuilt.to("cpu").num_classes = CLASSES
    augmentation.to("cpu")
    images, labels = torch.rand(BATCH, CHANNELS, SIZE, SIZE, generator=generator), torch.arange(BATCH) % CLASSES
    if not torch.equal(_run(augmentation, images, labels)[0], _run(rebuilt, images, labels)[0]):
        report.fail("config", f"config() {config!r} rebuilds an augmentation that acts differently: it must record every "
                    "argument (augmentation.json is how a run is reproduced)")
    accepted = set(inspect.signature(type(augmentation).__init__).parameters) - {"self"}
    if set(config) - accepted:
        report.fail("config", f"config() holds {sorted(set(config) - accepted)}, which __init__ does not take")
    report.passed.append("config")


def _check_output(report: Report, augmentation: BatchAugmentation, images: Tensor, out: Tensor, targets: Tensor) -> None:
    views = augmentation.views_per_image
    if out.device != images.device or out.dtype != images.dtype:
        report.fail("batch", f"images came back as {out.dtype} on {out.device}, not {images.dtype} on {images.device}: "
                    "batch augmentations run on the device, after transfer")
    if tuple(out.shape) != (BATCH * views, *images.shape[1:]):
        report.fail("batch", f"images came back shaped {tuple(out.shape)}, expected {(BATCH * views, *images.shape[1:])} "
                    f"(views_per_image = {views})")
    if augmentation.keeps_range and (out.min() < 0 or out.max() > 1):
        report.fail("batch", f"images left [0, 1] (span [{out.min():.3g}, {out.max():.3g}]); clamp, or set keeps_range = "
                    "False if it is meant for a GAN discriminator's inputs")
    if targets.device != images.device:
        report.fail("batch", f"targets came back on {targets.device}")
    if targets.ndim == 1:
        if targets.shape[0] != BATCH or targets.is_floating_point():
            report.fail("batch", f"class-index targets must stay (B,) integers, got {tuple(targets.shape)} {targets.dtype}")
    elif targets.shape != (BATCH, CLASSES) or not torch.allclose(targets.sum(dim=1), torch.ones(BATCH, device=targets.device)):
        report.fail("batch", f"soft targets must be (B, num_classes) probability rows, got {tuple(targets.shape)}")


def _check_sample(report: Report, arguments: dict[str, Any]) -> None:
    transform = build_sample_transform(report.name, arguments)
    if not isinstance(transform, A.BasicTransform):
        report.fail("sample", f"the per-sample form is {type(transform).__name__}, not an albumentations transform")
    image = torch.rand(CHANNELS, SIZE, SIZE, generator=torch.Generator().manual_seed(0))  # (C, H, W) in [0, 1]
    first = apply_sample(A.Compose([transform], seed=0), image)
    second = apply_sample(A.Compose([build_sample_transform(report.name, arguments)], seed=0), image)
    if first.shape[0] != CHANNELS or first.min() < 0 or first.max() > 1:
        report.fail("sample", f"an image came back shaped {tuple(first.shape)} spanning [{first.min():.3g}, {first.max():.3g}]")
    if first.shape != second.shape or not torch.equal(first, second):
        report.fail("sample", "the same pipeline seed gave different results")
    report.passed.append("sample")
