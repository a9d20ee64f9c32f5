"""``illusioncraft sweep``: run one experiment under several named sets of overrides and compare them.

A sweep file looks like this (paths are relative to the sweep file)::

    sweep:
      base: scratch_mlp_digits.yaml
      overrides: {trainer.max_epochs: 10, trainer.log_every_n_steps: 1}
      variants:
        batch_gd: {data.init_args.batch_size: full, model.init_args.optimizer: {name: scratch_gd, lr: 0.5}}
        adam: {model.init_args.optimizer: {name: scratch_adam, lr: 0.002}}

Every variant is a normal ``fit`` run in ``<out>/<variant>/``; the sweep then writes ``summary.csv`` (final
training loss, test accuracy, wall time, examples seen), ``loss_curves.png`` (mean training loss per epoch
against examples seen) and logs both to an offline W&B run in ``<out>/wandb/``.
"""

from __future__ import annotations

import csv
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from illusioncraft.errors import ConfigError
from illusioncraft.run_dir import claim_next_version

SWEEP_KEYS = {"base", "overrides", "variants"}


@dataclass
class VariantResult:
    """What one variant's run measured."""

    name: str
    run_dir: Path
    seconds: float
    epoch_losses: list[float]
    examples_per_epoch: int
    test_acc: float

    @property
    def examples_seen(self) -> list[int]:
        """Training examples seen at the end of each epoch."""
        return [self.examples_per_epoch * (epoch + 1) for epoch in range(len(self.epoch_losses))]


def load_sweep(path: Path) -> tuple[Path, dict[str, Any], dict[str, dict[str, Any]]]:
    """(base config, common overrides, variants) of a sweep file, with one-line errors for bad structure."""
    if not path.is_file():
        raise ConfigError(f"sweep: file '{path}' does not exist")
    document = yaml.safe_load(path.read_text()) or {}
    spec = document.get("sweep") if isinstance(document, dict) else None
    if not isinstance(spec, dict):
        raise ConfigError(f"sweep: '{path}' needs a top-level 'sweep:' mapping")
    unknown = sorted(set(spec) - SWEEP_KEYS)
    if unknown:
        raise ConfigError(f"sweep: '{path}' has unknown key(s) {unknown}; allowed: {sorted(SWEEP_KEYS)}")
    if "base" not in spec or not spec.get("variants"):
        raise ConfigError(f"sweep: '{path}' needs 'base' (a config file) and at least one entry under 'variants'")
    base = (path.parent / spec["base"]).resolve()
    if not base.is_file():
        raise ConfigError(f"sweep: base config '{base}' (from '{path}') does not exist")
    variants = spec["variants"]
    for name, overrides in variants.items():
        if not isinstance(overrides, dict):
            raise ConfigError(f"sweep: variant '{name}' in '{path}' must be a mapping of overrides")
    return base, dict(spec.get("overrides") or {}), variants


def to_arguments(overrides: dict[str, Any]) -> list[str]:
    """``{a.b: value}`` as command-line overrides ``--a.b <value as YAML>``."""
    arguments: list[str] = []
    for key, value in overrides.items():
        arguments += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    return arguments


def read_run(run_dir: Path) -> tuple[list[float], int, float]:
    """(mean training loss of each epoch, training examples per epoch, last test accuracy) from a run's files."""
    losses: dict[int, list[float]] = defaultdict(list)
    test_acc = float("nan")
    with open(run_dir / "metrics.csv") as handle:
        for row in csv.DictReader(handle):
            if row.get("train/loss"):
                losses[int(row["epoch"])].append(float(row["train/loss"]))
            if row.get("test/acc"):
                test_acc = float(row["test/acc"])
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    data = config["data"]["init_args"]
    examples = _training_examples(config["data"]["class_path"], data)
    return [sum(v) / len(v) for _, v in sorted(losses.items())], examples, test_acc


def _training_examples(class_path: str, init_args: dict[str, Any]) -> int:
    """Size of the training split of the datamodule a run used (rebuilt from its saved config)."""
    from illusioncraft import registry

    data = registry.resolve_class_path("datamodule", class_path)(**init_args)
    data.setup("fit")
    return len(data.train_dataset)


def run_sweep(
    path: Path, fit: Callable[[list[str]], None], out: Path | None = None, extra: dict[str, Any] | None = None
) -> list[VariantResult]:
    """Fit every variant with ``fit`` (the command line's ``fit``, given its arguments; ``extra`` overrides win over
    the file's), then write the summary, picture and W&B run."""
    from illusioncraft import registry

    base, common, variants = load_sweep(path)
    registry.load_plugins()  # one-off imports (Lightning, torchmetrics) before the first variant's clock starts
    out = out or claim_next_version(Path("runs") / path.stem)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for name, overrides in variants.items():
        run_dir = out / name
        settings = to_arguments({**common, **overrides, **(extra or {})})
        arguments = ["fit", "--config", str(base), *settings, "--run.dir", str(run_dir)]
        start = time.perf_counter()
        fit([*arguments, "--run.loggers", "[csv]"])
        seconds = time.perf_counter() - start
        losses, examples, test_acc = read_run(run_dir)
        results.append(VariantResult(name, run_dir, seconds, losses, examples, test_acc))
    write_summary(out / "summary.csv", results)
    from illusioncraft.plots import loss_curves

    loss_curves([(r.name, r.examples_seen, r.epoch_losses) for r in results], out / "loss_curves.png", title=path.stem)
    log_to_wandb(out, path.stem, results)
    print_table(results)
    print(f"sweep directory: {out}")
    return results


def write_summary(path: Path, results: list[VariantResult]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["variant", "final_train_loss", "test_acc", "wall_s", "epochs_x_train_size"])
        for r in results:
            writer.writerow([r.name, f"{r.epoch_losses[-1]:.4f}", f"{r.test_acc:.4f}", f"{r.seconds:.1f}", r.examples_seen[-1]])


def print_table(results: list[VariantResult]) -> None:
    print("| variant | final training loss | test accuracy | wall time s | epochs x train size |")
    print("|---|---|---|---|---|")
    for r in results:
        seen = r.examples_seen[-1]
        print(f"| {r.name} | {r.epoch_losses[-1]:.4f} | {r.test_acc:.4f} | {r.seconds:.1f} | {seen} |")


def log_to_wandb(out: Path, name: str, results: list[VariantResult]) -> None:
    """The loss curves and the summary table as one offline W&B run (``wandb sync`` uploads it later)."""
    import wandb

    run = wandb.init(project="illusioncraft", name=name, dir=str(out), mode="offline", reinit="create_new")
    table = wandb.Table(columns=["variant", "final_train_loss", "test_acc", "wall_s"])
    for r in results:
        table.add_data(r.name, r.epoch_losses[-1], r.test_acc, r.seconds)
    run.log({"loss_curves": wandb.Image(str(out / "loss_curves.png")), "summary": table})
    run.finish()
