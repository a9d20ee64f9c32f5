"""The ``illusioncraft`` command: LightningCLI (fit/validate/test/predict) plus ``list``, ``sweep``, ``plot``, ``augment``
and ``generate``.

Models and datamodules are chosen by their registry names (``model: {class_path: cnn, init_args: ...}``,
or ``--model cnn`` on the command line); full import paths work too.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

from illusioncraft import registry
from illusioncraft.errors import ConfigError, IllusionCraftError, RegistryError

SUBCOMMANDS = ("fit", "validate", "test", "predict")


def _install_registry_class_names() -> None:
    """Let jsonargparse resolve ``class_path: <registry name>`` for models, datamodules, callbacks and loggers."""
    from jsonargparse import _typehints

    original = _typehints.resolve_class_path_by_name
    if getattr(original, "_illusioncraft", False):
        return

    def resolve(cls: Any, name: str) -> str:
        if "." not in name and name == name.lower():
            for base in cls if isinstance(cls, tuple) else (cls,):
                kind = registry._kind_of(base)
                if kind is None:
                    continue
                if name in registry.names(kind):
                    return registry.entry(kind, name).import_path
                if "." not in original(base, name):
                    raise RegistryError(registry.unknown_name_message(kind, name))
        return original(cls, name)

    resolve._illusioncraft = True  # type: ignore[attr-defined]
    _typehints.resolve_class_path_by_name = resolve


def _build_cli_class() -> type:
    from lightning.pytorch import LightningModule
    from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar, RichProgressBar
    from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
    from lightning.pytorch.utilities.model_helpers import is_overridden
    from lightning.pytorch.utilities.rank_zero import rank_zero_info

    from illusioncraft.run_dir import RunOptions, resolve_run_dir

    class SaveAndLogConfig(SaveConfigCallback):
        """Writes the resolved config to the run directory and sends it to every logger (W&B shows it)."""

        def save_config(self, trainer: Any, pl_module: Any, stage: str) -> None:
            import yaml

            config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
            for logger in trainer.loggers:
                logger.log_hyperparams({"config": config})

    class IllusionCraftCLI(LightningCLI):
        """LightningCLI that builds the run directory, loggers and default callbacks from ``--run.*``."""

        def __init__(self, args: Optional[list[str]] = None) -> None:
            parser_kwargs: dict[str, Any] = {"exit_on_error": False}
            parser_kwargs.update({sub: {"exit_on_error": False} for sub in SUBCOMMANDS})
            super().__init__(
                model_class=None,
                datamodule_class=None,
                save_config_callback=SaveAndLogConfig,
                save_config_kwargs={"overwrite": True},
                parser_kwargs=parser_kwargs,
                args=args,
            )

        def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
            parser.add_class_arguments(RunOptions, "run")

        def _run_name(self) -> str:
            options = self._get(self.config_init, "run")
            if options.name:
                return options.name
            config_files = self._get(self.config, "config") or []
            if config_files:
                return Path(str(config_files[-1])).stem
            found = registry.find_by_object(type(self.model))
            return found.name if found else type(self.model).__name__.lower()

        def instantiate_trainer(self, **kwargs: Any) -> Any:
            options: RunOptions = self._get(self.config_init, "run")
            trainer_config = self._get(self.config_init, "trainer")
            self.run_dir = resolve_run_dir(options, self._run_name())
            kwargs["default_root_dir"] = str(self.run_dir)
            if trainer_config.get("logger") is None:
                for name in options.loggers:
                    registry.get("logger", name)  # unknown names fail before anything is created
                loggers = [registry.build("logger", name, self.run_dir, self.run_dir.parent.name) for name in options.loggers]
                kwargs["logger"] = loggers or False
            configured = list(trainer_config.get("callbacks") or [])
            defaults = list(self.model.default_callbacks()) if hasattr(self.model, "default_callbacks") else []
            if trainer_config.get("enable_checkpointing", True) is not False and not any(
                isinstance(c, ModelCheckpoint) for c in configured
            ):
                monitor, mode = getattr(self.model, "checkpoint_monitor", (None, "min"))
                defaults.append(
                    ModelCheckpoint(
                        dirpath=self.run_dir / "checkpoints",
                        filename="best-{epoch:03d}-{step}" if monitor else "{epoch:03d}-{step}",
                        monitor=monitor,
                        mode=mode,
                        save_last=True,
                        save_top_k=1,
                        auto_insert_metric_name=False,
                    )
                )
            if trainer_config.get("enable_progress_bar", True) is not False and not any(
                isinstance(c, ProgressBar) for c in configured
            ):
                defaults.append(RichProgressBar())
            self.trainer_defaults["callbacks"] = defaults
            return super().instantiate_trainer(**kwargs)

        def after_fit(self) -> None:
            options: RunOptions = self._get(self.config_init, "run")
            model_tests = is_overridden("test_step", self.model, LightningModule)
            data_tests = self.datamodule is not None and hasattr(self.datamodule, "test_dataloader")
            if options.test_after_fit and model_tests and data_tests and not self.trainer.interrupted:
                checkpoint = self.trainer.checkpoint_callback
                best = checkpoint.best_model_path if checkpoint is not None else ""
                self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None, weights_only=False)
            self._announce()

        def predict(self, model: Any, datamodule: Any = None, ckpt_path: Optional[str] = None, **kwargs: Any) -> None:
            """Predict, then write ``predictions.csv`` (index, label, one probability column per class)."""
            kwargs.pop("return_predictions", None)
            batches = self.trainer.predict(model, datamodule=datamodule, ckpt_path=ckpt_path, return_predictions=True)
            if self.trainer.is_global_zero and batches and isinstance(batches[0], dict) and "labels" in batches[0]:
                write_predictions(self.run_dir / "predictions.csv", batches)

        def _announce(self) -> None:
            rank_zero_info(f"run directory: {self.run_dir}")

        after_validate = after_test = after_predict = _announce

    return IllusionCraftCLI


def write_predictions(path: Path, batches: list[dict[str, Any]]) -> None:
    """Predicted labels and class probabilities of every predicted sample, in loader order, as CSV."""
    import csv

    import torch

    labels = torch.cat([batch["labels"] for batch in batches])
    probabilities = torch.cat([batch["probabilities"] for batch in batches])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "label", *[f"p_{k}" for k in range(probabilities.shape[1])]])
        for index, (label, row) in enumerate(zip(labels.tolist(), probabilities.tolist(), strict=True)):
            writer.writerow([index, label, *[f"{p:.6f}" for p in row]])


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else str(text)


def _explain_parse_error(error: Exception) -> str:
    """One line out of jsonargparse's nested explanation: the key, the class and the innermost reason."""
    lines = str(error).splitlines()
    for marker in ("unknown ", "is registered twice", "has no argument"):
        for line in lines:
            if marker in line:
                return line.strip().lstrip("- ")
    top = re.match(r'Parser key "([^"]+)"', lines[0]) if lines else None
    for index, line in enumerate(lines):
        problem = re.search(r"Problem with given class_path '([^']+)':", line)
        if problem:
            indent = len(line) - len(line.lstrip())
            detail = []
            for following in lines[index + 1 :]:
                if len(following) - len(following.lstrip()) <= indent:
                    break
                detail.append(following.strip())
            where = top.group(1) if top else "config"
            return f"{where} ({problem.group(1).rsplit('.', 1)[-1]}): " + " ".join(detail).replace("Parser key ", "key ")
    return _first_line(str(error))


def _user_error_in(error: BaseException) -> IllusionCraftError | None:
    """The IllusionCraftError behind ``error`` (jsonargparse wraps errors raised while instantiating), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, IllusionCraftError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def list_command(argv: list[str]) -> None:
    """``illusioncraft list [KIND]``: every registered name with its kind, origin and summary."""
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(prog="illusioncraft list", description="List registered names.")
    parser.add_argument("kind", nargs="?", choices=registry.KINDS, help="only this kind")
    options = parser.parse_args(argv)
    table = Table(title="IllusionCraft registry")
    for column in ("name", "kind", "origin", "description"):
        table.add_column(column)
    for item in registry.entries(options.kind):
        table.add_row(item.name, item.kind, item.origin, item.summary)
    console = Console(width=160)
    console.print(table)
    if options.kind is None:
        empty = [kind for kind in registry.KINDS if not registry.names(kind)]
        if empty:
            console.print(f"kinds with no entries installed: {', '.join(empty)}")


def sweep_command(argv: list[str]) -> None:
    """``illusioncraft sweep --config SWEEP.yaml [--out DIR]``: fit each variant and compare them."""
    from illusioncraft.sweep import run_sweep

    parser = argparse.ArgumentParser(prog="illusioncraft sweep", description="Run the variants of a sweep file.")
    parser.add_argument("--config", required=True, type=Path, help="sweep file (see experiments/optimizers_digits.yaml)")
    parser.add_argument("--out", type=Path, default=None, help="sweep directory (default: runs/<sweep>/version_<n>)")
    parser.add_argument(
        "--override", action="append", default=[], metavar="KEY=VALUE",
        help="applied to every variant, e.g. --override trainer.max_epochs=2 (repeatable)",
    )
    options = parser.parse_args(argv)
    overrides = {}
    for item in options.override:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"sweep: --override takes KEY=VALUE, got '{item}'")
        overrides[key] = value
    run_sweep(options.config, options.out, overrides)


def plot_command(argv: list[str]) -> None:
    """``illusioncraft plot activations --out FILE.png [NAME ...]``: each activation and its derivative."""
    from illusioncraft.plots import activation_plot

    parser = argparse.ArgumentParser(prog="illusioncraft plot", description="Draw reference plots.")
    parser.add_argument("what", choices=["activations"])
    parser.add_argument("names", nargs="*", help="activation names (default: every element-wise activation)")
    parser.add_argument("--out", required=True, type=Path, help="PNG file to write")
    options = parser.parse_args(argv)
    names = options.names or [
        name for name in registry.names("activation") if hasattr(registry.get("activation", name), "derivative")
    ]
    for name in names:
        registry.get("activation", name)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    activation_plot(names, options.out)
    print(f"wrote {options.out}")


def augment_command(argv: list[str]) -> None:
    """``illusioncraft augment --config X.yaml --out grid.png``: originals beside augmented versions."""
    from illusioncraft.augment.preview import datamodule_from_config, preview

    parser = argparse.ArgumentParser(prog="illusioncraft augment", description="Picture a config's augmentations.")
    parser.add_argument("--config", required=True, type=Path, help="experiment YAML whose data section to use")
    parser.add_argument("--out", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--n", type=int, default=8, help="number of training images (rows)")
    parser.add_argument("--views", type=int, default=5, help="augmented versions per image (columns after the original)")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    if options.n < 1 or options.views < 1:
        raise ConfigError("augment: --n and --views must be >= 1")
    picture = preview(datamodule_from_config(options.config), n=options.n, views=options.views, seed=options.seed)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(options.out)
    print(f"wrote {options.out}")


def generate_command(argv: list[str]) -> None:
    """``illusioncraft generate --ckpt X.ckpt --n 64 --out samples.png``: samples of a trained generator."""
    from illusioncraft.generate import generate_picture, load_generator

    parser = argparse.ArgumentParser(prog="illusioncraft generate", description="Draw samples from a GAN checkpoint.")
    parser.add_argument("--ckpt", required=True, type=Path, help="checkpoint of a GAN model")
    parser.add_argument("--out", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--n", type=int, default=64, help="number of samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", type=int, default=None, help="class to draw (class-conditional models)")
    options = parser.parse_args(argv)
    if options.n < 1:
        raise ConfigError(f"generate: --n must be >= 1, got {options.n}")
    picture = generate_picture(load_generator(options.ckpt), options.n, options.seed, options.label)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(options.out)
    print(f"wrote {options.out}")


EXTRA_COMMANDS = {
    "list": list_command, "sweep": sweep_command, "plot": plot_command, "augment": augment_command,
    "generate": generate_command,
}


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the ``illusioncraft`` console script (returns None so the exit status is 0 on success)."""
    from jsonargparse import ArgumentError

    args = sys.argv[1:] if argv is None else argv
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    try:
        if args and args[0] in EXTRA_COMMANDS:
            EXTRA_COMMANDS[args[0]](args[1:])
            return
        registry.load_plugins()
        _install_registry_class_names()
        _build_cli_class()(args=None if argv is None else argv)
    except ArgumentError as error:
        user_error = _user_error_in(error)
        message = str(user_error) if user_error else _explain_parse_error(error)
        print(f"illusioncraft: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as error:
        user_error = _user_error_in(error)
        if user_error is None:
            raise
        print(f"illusioncraft: error: {user_error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
