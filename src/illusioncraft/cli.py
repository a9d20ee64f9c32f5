"""The ``illusioncraft`` command: LightningCLI (fit/validate/test/predict) plus ``list``, ``sweep``, ``plot``, ``augment``
and ``generate``.

Models and datamodules are chosen by their registry names (``model: {class_path: cnn, init_args: ...}``,
or ``--model cnn`` on the command line); full import paths work too.
"""

from __future__ import annotations

import argparse
import os
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
    from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
    from lightning.pytorch.plugins.io import CheckpointIO
    from lightning.pytorch.utilities.model_helpers import is_overridden
    from lightning.pytorch.utilities.rank_zero import rank_zero_info

    from illusioncraft.callbacks.run_config import SaveAndLogConfig
    from illusioncraft.checkpoints import (
        AtomicCheckpointIO,
        checkpoint_errors_as_config_errors,
        logged_steps,
        prepare_checkpoint_path,
        trusted_only,
    )
    from illusioncraft.distributed import configure_trainer_for_model
    from illusioncraft.run_dir import RunOptions, resolve_run_dir, run_name

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

        def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
            """Parse, then resolve ``--ckpt_path last`` and check the checkpoint before Lightning reads it."""
            super().parse_arguments(parser, args)
            subcommand = self.config.get("subcommand")
            self.checkpoint: Optional[dict[str, Any]] = None
            if subcommand:
                config = self.config[subcommand]
                self.checkpoint = prepare_checkpoint_path(config, config.get("config") or [], subcommand)

        def _run_name(self) -> str:
            return run_name(self._get(self.config_init, "run"), self._get(self.config, "config") or [], type(self.model))

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
                keep = None  # a fresh run: start metrics.csv afresh
                if self._checkpoint_in_run_dir():  # resuming keeps the rows before the checkpoint; evaluating keeps all
                    keep = logged_steps(self.checkpoint) if self.subcommand == "fit" else sys.maxsize
                for logger in loggers:  # here, before any worker process starts
                    if hasattr(logger, "open_metrics"):
                        logger.open_metrics(keep_rows_before=keep)
            if self.subcommand != "fit" and self._checkpoint_in_run_dir():  # keep the training run's config.yaml
                self.save_config_kwargs = {**self.save_config_kwargs, "config_filename": f"config_{self.subcommand}.yaml"}
            configured = list(trainer_config.get("callbacks") or [])
            defaults = list(self.model.default_callbacks()) if hasattr(self.model, "default_callbacks") else []
            # a callback the user configured replaces the model's default of the same type (its settings win)
            defaults = [d for d in defaults if not any(isinstance(c, type(d)) for c in configured)]
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
            for name in ("stop_on_nonfinite", "save_on_signal", "random_state"):  # see illusioncraft.callbacks.fault
                kind = registry.get("callback", name)
                if not any(isinstance(c, kind) for c in configured):
                    defaults.append(kind())
            self.trainer_defaults["callbacks"] = defaults
            plugins = trainer_config.get("plugins") or []
            plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
            if not any(isinstance(p, CheckpointIO) for p in plugins):
                kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
            trainer = super().instantiate_trainer(**kwargs)
            configure_trainer_for_model(trainer, self.model)
            return trainer

        def _checkpoint_in_run_dir(self) -> bool:
            """Whether ``--ckpt_path`` lies in this run's own directory (``--ckpt_path last`` of a run, resumed in place)."""
            path = self._get(self.config_init, "ckpt_path")
            return self.checkpoint is not None and Path(path).resolve().is_relative_to(self.run_dir.resolve())

        def fit(self, model: Any, **kwargs: Any) -> None:
            with checkpoint_errors_as_config_errors(kwargs.get("ckpt_path")):
                self.trainer.fit(model, **trusted_only(kwargs))

        def validate(self, model: Any, **kwargs: Any) -> None:
            with checkpoint_errors_as_config_errors(kwargs.get("ckpt_path")):
                self.trainer.validate(model, **trusted_only(kwargs))

        def test(self, model: Any, **kwargs: Any) -> None:
            with checkpoint_errors_as_config_errors(kwargs.get("ckpt_path")):
                self.trainer.test(model, **trusted_only(kwargs))

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
            with checkpoint_errors_as_config_errors(ckpt_path):
                batches = self.trainer.predict(
                    model, datamodule=datamodule, ckpt_path=ckpt_path, return_predictions=True,
                    weights_only=trusted_only(kwargs).get("weights_only"),
                )
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


def _say(line: str) -> None:
    """Print a one-line outcome on stderr, from the first process only (the others of a DDP launch stay quiet)."""
    if os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0":
        print(line, file=sys.stderr)


def _stop_report(stop: SystemExit) -> Any:
    """The graceful-stop report behind Lightning's SIGTERMException, if that is what ``stop`` is."""
    fault = sys.modules.get("illusioncraft.callbacks.fault")
    if fault is None or type(stop).__name__ != "SIGTERMException":
        return None
    return fault.take_stop_report() or fault.StopReport("SIGTERM", -1, None)


def _worker_user_error(error: BaseException) -> Optional[str]:
    """One line for a user error raised inside a ``ddp_spawn`` worker, which reaches us as a traceback in text."""
    if type(error).__name__ != "ProcessRaisedException":
        return None
    from illusioncraft.checkpoints import state_dict_mismatch

    text = str(error)
    mismatch = state_dict_mismatch(text[text.find("Error(s) in loading state_dict"):]) if "state_dict" in text else None
    if mismatch:
        return f"--ckpt_path does not fit the model: {mismatch}"
    for line in reversed(text.strip().splitlines()):
        found = re.match(r"^(illusioncraft(?:\.\w+)+): (.+)$", line.strip())
        if found:
            module_name, _, class_name = found.group(1).rpartition(".")
            module = sys.modules.get(module_name)
            kind = getattr(module, class_name, None)
            if isinstance(kind, type) and issubclass(kind, IllusionCraftError):
                return found.group(2)
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
    from illusioncraft.generate import generate_from_text, generate_picture, load_generator

    parser = argparse.ArgumentParser(prog="illusioncraft generate", description="Draw samples from a GAN checkpoint.")
    parser.add_argument("--ckpt", required=True, type=Path, help="checkpoint of a GAN model")
    parser.add_argument("--out", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--n", type=int, default=64, help="number of samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", type=int, default=None, help="class to draw (class-conditional models)")
    parser.add_argument("--text", action="append", default=None,
                        help="caption to draw (text-to-image models); repeat for several, one row of --n images each")
    options = parser.parse_args(argv)
    if options.n < 1:
        raise ConfigError(f"generate: --n must be >= 1, got {options.n}")
    model = load_generator(options.ckpt)
    if options.text:
        if options.label is not None:
            raise ConfigError("generate: give --text or --label, not both")
        picture = generate_from_text(model, options.text, options.n, options.seed)
    else:
        picture = generate_picture(model, options.n, options.seed, options.label)
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
        _say(f"illusioncraft: error: {message}")
        raise SystemExit(2) from None
    except SystemExit as stop:
        report = _stop_report(stop)
        if report is None:
            raise
        _say(f"illusioncraft: {report.line()}")
        raise SystemExit(report.exit_code) from None
    except Exception as error:
        user_error = _user_error_in(error)
        message = str(user_error) if user_error else _worker_user_error(error)
        if message is None:
            raise
        _say(f"illusioncraft: error: {message}")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
