"""The work of each process: features of its share of the images, fed to torchmetrics ``Metric`` objects that
synchronise across processes at ``compute``.

Images are taken in batches of ``batch_size`` by stream position; batch b goes to process b mod W. A process
with no batch still updates every metric once with zero rows, so that every process joins each gather (a count
that does not divide among the processes never hangs). Positions travel with the rows, so the gathered rows
are in one order whatever W is: the scores equal a single process's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor

from illusioncraft.metrics.collected import AllRows
from illusioncraft.metrics.fid import FrechetDistance, KernelDistance
from illusioncraft.metrics.inception_score import InceptionScore
from illusioncraft.metrics.prdc import DensityCoverage, PrecisionRecall
from illusioncraft.metrics.statistics import save_statistics, write_cache_key


@dataclass
class Plan:
    """Everything the processes need, built once before they start."""

    metrics: tuple[str, ...]
    extractor: Any
    fake: Any  # GeneratedImages or FolderImages
    n_fake: int
    batch_size: int
    real: Any = None  # RealImages whose features are computed here, or None
    reference: Optional[tuple[Tensor, Tensor]] = None  # (mu, sigma) read from a file
    reference_features: Optional[Tensor] = None  # real features read from a file
    prompts: Any = None  # CaptionedPrompts of a text-to-image checkpoint
    attribute_classifier: Any = None
    kid: dict[str, int] = field(default_factory=dict)
    save_to: list[tuple[Path, Optional[dict[str, Any]]]] = field(default_factory=list)  # (file, cache key or None)
    progress: bool = True


def build_metrics(plan: Plan) -> dict[str, Any]:
    d, metrics = plan.extractor.num_features, {}
    if "fid" in plan.metrics:
        metrics["fid"] = FrechetDistance(d, reference=plan.reference)
    if "kid" in plan.metrics:
        metrics["kid"] = KernelDistance(**plan.kid)
    if "is" in plan.metrics:
        metrics["is"] = InceptionScore()
    if "prdc" in plan.metrics:
        metrics["precision_recall"], metrics["density_coverage"] = PrecisionRecall(), DensityCoverage()
    return metrics


def my_batches(count: int, batch_size: int, rank: int, world: int) -> list[tuple[int, int]]:
    """(start, size) of the batches of ``count`` positions that process ``rank`` of ``world`` handles."""
    starts = list(range(0, count, batch_size))[rank::world]
    return [(start, min(batch_size, count - start)) for start in starts]


def update_real(metrics: dict[str, Any], features: Tensor, positions: Tensor) -> None:
    for name, metric in metrics.items():
        if name in ("fid", "kid", "precision_recall", "density_coverage") and not (
                name == "fid" and metric.reference is not None):
            metric.update(features, real=True, **({} if name == "fid" else {"positions": positions}))


def update_fake(metrics: dict[str, Any], features: Tensor, logits: Optional[Tensor], positions: Tensor) -> None:
    for name, metric in metrics.items():
        if name == "fid":
            metric.update(features, real=False)
        elif name == "is":
            metric.update(logits, positions=positions)
        else:
            metric.update(features, real=False, positions=positions)


def run_on_rank(fabric: Any, plan: Plan) -> Optional[dict[str, Any]]:
    """Score this process's share; rank 0 returns the values (and writes statistics files)."""
    device, rank, world = fabric.device, fabric.global_rank, fabric.world_size
    extractor = plan.extractor.to(device)
    if hasattr(plan.fake, "model"):
        plan.fake.model.to(device)
    metrics = {name: metric.to(device) for name, metric in build_metrics(plan).items()}
    d = extractor.num_features
    real_rows = AllRows("real").to(device) if plan.real is not None and plan.save_to else None
    matches = AllRows("fake").to(device) if plan.attribute_classifier is not None else None
    real_batches = my_batches(plan.real.count, plan.batch_size, rank, world) if plan.real is not None else []
    fake_batches = my_batches(plan.n_fake, plan.batch_size, rank, world)
    progress = Progress(len(real_batches) + len(fake_batches), plan.progress and rank == 0)

    if plan.reference_features is not None:  # read from a file: rank 0 adds them all, the others none
        rows = plan.reference_features if rank == 0 else plan.reference_features[:0]
        update_real(metrics, rows.to(device), torch.arange(rows.shape[0], device=device))
    for start, size in real_batches or ([(0, 0)] if plan.real is not None else []):
        features = extractor(plan.real.batch(start, size).to(device)) if size else torch.zeros(0, d, device=device)
        positions = torch.arange(start, start + size, device=device)
        update_real(metrics, features, positions)
        if real_rows is not None:
            real_rows.update(features, real=True, positions=positions)
        progress.advance()
    for start, size in fake_batches or [(0, 0)]:
        positions = torch.arange(start, start + size, device=device)
        if size:
            images = plan.fake.batch(start, size).to(device)
            features, logits = extractor.features_and_logits(images)
        else:
            images, features = None, torch.zeros(0, d, device=device)
            logits = torch.zeros(0, extractor.num_classes or 1, device=device)
        update_fake(metrics, features, logits, positions)
        if matches is not None:
            asked = plan.prompts.asked(start, size).to(device)
            found = plan.attribute_classifier.to(device).predict(images) if size else asked
            matches.update((found == asked).float(), positions=positions)
        progress.advance()
    progress.close()

    values = {name: metric.compute() for name, metric in metrics.items()}  # every process joins each gather
    if matches is not None:
        agreement = matches.compute()  # (N, A): 1 where the classifier reads the attribute the caption asked for
        names = plan.attribute_classifier.attribute_names
        values["attribute_accuracy"] = float(agreement.mean())
        values["attribute_all"] = float(agreement.all(dim=1).float().mean())
        values.update({f"attribute_accuracy_{name}": float(agreement[:, i].mean()) for i, name in enumerate(names)})
    if real_rows is not None:
        features = real_rows.compute()
        if rank == 0:
            save_real_statistics(features, plan.save_to)
    if "fid" in metrics:
        values["n_real"] = int(plan.reference_features.shape[0]) if plan.reference_features is not None else (
            plan.real.count if plan.real is not None else None)
    return {key: _plain(value) for key, value in values.items()} if rank == 0 else None


def save_real_statistics(features: Tensor, targets: list[tuple[Path, Optional[dict[str, Any]]]]) -> None:
    """Write the real set's mean, covariance and features to each target (cache files also get their key)."""
    features = features.double().cpu()
    mu, sigma = features.mean(dim=0), torch.cov(features.T)
    for path, key in targets:
        save_statistics(path, mu, sigma, features)
        if key is not None:
            write_cache_key(path, key)


def _plain(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.detach().cpu().tolist() if value.numel() > 1 else float(value)
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


class Progress:
    """A rich progress bar over this process's batches (rank 0 only)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled and total:
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(transient=True)
            self.task = self.bar.add_task("evaluate: batches of rank 0", total=total)
            self.bar.start()

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
