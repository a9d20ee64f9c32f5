"""The LightningCLI behind ``illusioncraft fit|validate|test|predict``: a run directory, loggers by name, the
default callbacks, atomic checkpoints and safe checkpoint loading around Lightning's own subcommands."""

from __future__ import annotations

import sys
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, Optional

from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.strategies.launchers.multiprocessing import _MultiProcessingLauncher
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.model_helpers import is_overridden
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from illusioncraft import registry
from illusioncraft.callbacks.run_config import SaveAndLogConfig
from illusioncraft.checkpoints import (
    AtomicCheckpointIO,
    check_checkpoint_arguments,
    checkpoint_errors_as_config_errors,
    logged_steps,
    prepare_checkpoint_path,
    read_checkpoint,
    remove_stale_temporaries,
    trusted_only,
)
from illusioncraft.cli.config_files import check_config_files
from illusioncraft.cli.run_callbacks import default_callbacks
from illusioncraft.distributed import check_precision, needs_unused_parameter_search, strategy_for_model
from illusioncraft.errors import ConfigError
from illusioncraft.loggers import ResumableCSVLogger
from illusioncraft.run_dir import (
    RunOptions,
    inherited_run_dir,
    point_latest,
    remove_unused_run_dir,
    resolve_run_dir,
    run_name,
)
from illusioncraft.wandb_run import stored_run_id

SUBCOMMANDS = ("fit", "validate", "test", "predict")
EVALUATION_STEPS = {"validate": "validation_step", "test": "test_step"}


def check_evaluation_step(subcommand: str, model: Any) -> None:
    """One line, before a run directory is claimed, when ``validate``/``test`` asks a model for a step it lacks."""
    hook = EVALUATION_STEPS.get(subcommand)
    if hook is None or is_overridden(hook, model, LightningModule):
        return
    hint = "; `illusioncraft validate` scores it" if is_overridden("validation_step", model, LightningModule) else ""
    raise ConfigError(f"{subcommand}: {type(model).__name__} has no {hook.replace('_', ' ')}{hint}")


def ran_a_batch(trainer: Any) -> bool:
    """Whether any of the trainer's loops started a batch in this process (a spawning launcher runs them elsewhere)."""
    if trainer is None:
        return False
    if isinstance(trainer.strategy.launcher, _MultiProcessingLauncher):
        return True
    loops = (trainer.fit_loop.epoch_loop, trainer.fit_loop.epoch_loop.val_loop, trainer.validate_loop,
             trainer.test_loop, trainer.predict_loop)
    return any(loop.batch_progress.total.ready > 0 for loop in loops)


class IllusionCraftCLI(LightningCLI):
    """LightningCLI that builds the run directory, loggers and default callbacks from ``--run.*``."""

    def __init__(self, args: Optional[list[str]] = None, run: bool = True,
                 other_commands: Optional[dict[str, str]] = None) -> None:
        self.other_commands = other_commands or {}  # name -> one line, listed in --help beside Lightning's
        parser_kwargs: dict[str, Any] = {"exit_on_error": False}
        parser_kwargs.update({sub: {"exit_on_error": False} for sub in SUBCOMMANDS})
        self.claimed_run_dir: Optional[Path] = None  # a version directory this process created
        try:
            super().__init__(
                model_class=None,
                datamodule_class=None,
                save_config_callback=SaveAndLogConfig,
                save_config_kwargs={"overwrite": True},
                parser_kwargs=parser_kwargs,
                args=args,
                run=run,
            )
        except Exception as error:
            # a failed start leaves no empty version behind; a graceful stop or a run that got going keeps its own
            started = ran_a_batch(getattr(self, "trainer", None))
            if self.claimed_run_dir is not None and not started and not isinstance(error, SIGTERMException):
                remove_unused_run_dir(self.claimed_run_dir)
            raise

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_class_arguments(RunOptions, "run")

    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs: Any) -> None:
        """Lightning's subcommands, and the other commands (dispatched before this parser runs) in the help."""
        super()._add_subcommands(parser, **kwargs)
        for name, summary in self.other_commands.items():
            command = LightningArgumentParser(description=summary)
            parser._subcommands_action.add_subcommand(name, command, help=summary)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Check the config files, parse, then resolve ``--ckpt_path last`` and check the checkpoint before Lightning
        reads it."""
        command_line = sys.argv[1:] if args is None else args
        if isinstance(command_line, (list, tuple)):
            check_config_files(command_line)
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        self.checkpoint: Optional[dict[str, Any]] = None
        if subcommand:
            config = self.config[subcommand]
            self.checkpoint = prepare_checkpoint_path(config, config.get("config") or [], subcommand)

    def _parse_ckpt_path(self) -> None:
        """Lightning's step that takes the model's arguments from ``--ckpt_path``'s hyper-parameters, on the
        checkpoint already read and checked (legacy class paths mapped), refusing arguments the config sets
        otherwise instead of replacing them silently."""
        subcommand = self.config.get("subcommand")
        if self.checkpoint is None or not subcommand:
            return
        hparams = dict(self.checkpoint.get("hyper_parameters") or {})
        hparams.pop("_instantiator", None)
        if not hparams:
            return
        model = self.config[subcommand].get("model")
        configured = model.get("init_args") if model is not None and hasattr(model, "get") else None
        check_checkpoint_arguments(hparams, configured, self.config[subcommand]["ckpt_path"])
        class_path = hparams.pop("_class_path", None)
        merged = {"class_path": class_path, "dict_kwargs": hparams} if class_path else hparams
        self.config = self.parser.parse_object({subcommand: {"model": merged}}, self.config)

    # -- the trainer ---------------------------------------------------------------------------------------------
    def instantiate_trainer(self, **kwargs: Any) -> Any:
        options: RunOptions = self._get(self.config_init, "run")
        trainer_config = self._get(self.config_init, "trainer")
        check_evaluation_step(self.subcommand, self.model)
        if self.datamodule is not None:
            # SaveAndLogConfig sends every logger the whole config; Lightning's merge of the model's and the data's
            # hyper-parameters would add only a refusal of names both use (cnn's and image_folder's `channels`)
            self.datamodule._log_hyperparams = False
        launching = inherited_run_dir() is None
        self.run_dir = resolve_run_dir(options, run_name(options, self._get(self.config, "config") or [], type(self.model)))
        if launching and not options.dir:
            self.claimed_run_dir = self.run_dir
        if launching and (self.run_dir / "checkpoints").is_dir():
            for path in remove_stale_temporaries(self.run_dir / "checkpoints"):
                rank_zero_info(f"removed {path.name}, the temporary file of a save that never finished")
        kwargs["default_root_dir"] = str(self.run_dir)
        if trainer_config.get("logger") is None:
            kwargs["logger"] = self._loggers(options) or False
        if self.subcommand != "fit" and self._checkpoint_in_run_dir():  # keep the training run's config.yaml
            self.save_config_kwargs = {**self.save_config_kwargs, "config_filename": f"config_{self.subcommand}.yaml"}
        self.trainer_defaults["callbacks"] = default_callbacks(self.model, trainer_config, self.run_dir)
        kwargs["plugins"] = self._plugins(trainer_config, options)
        strategy = trainer_config.get("strategy", "auto")
        kwargs["strategy"] = strategy_for_model(strategy, self.model)
        trainer = super().instantiate_trainer(**kwargs)
        if strategy == "auto" and isinstance(trainer.strategy, DDPStrategy) and needs_unused_parameter_search(self.model):
            # Lightning chose DDP for several devices: ask for it by name with the unused-parameter search
            trainer = super().instantiate_trainer(**{**kwargs, "strategy": strategy_for_model("ddp", self.model)})
        check_precision(trainer.precision, self.model)
        return trainer

    def _loggers(self, options: RunOptions) -> list[Any]:
        """The loggers named by ``--run.loggers``; ``metrics.csv`` is opened here, before any worker starts."""
        for name in options.loggers:
            registry.get("logger", name)  # unknown names fail before anything is created
        resuming = self.subcommand == "fit" and self._checkpoint_in_run_dir()
        loggers = [registry.build("logger", name, self.run_dir, self.run_dir.parent.name,
                                  **self._logger_options(name, options, resuming)) for name in options.loggers]
        keep = None  # a fresh run: start metrics.csv afresh
        if self._checkpoint_in_run_dir():  # resuming keeps the rows before the checkpoint; evaluating keeps all
            keep = logged_steps(self.checkpoint) if resuming else sys.maxsize
        for logger in loggers:
            if isinstance(logger, ResumableCSVLogger):
                logger.open_metrics(keep_rows_before=keep)
        return loggers

    def _logger_options(self, name: str, options: RunOptions, resuming: bool) -> dict[str, Any]:
        """``--run.wandb.*`` for the wandb logger, with the W&B run to continue when ``fit`` resumes in place."""
        if name != "wandb":
            return {}
        return {**asdict(options.wandb), "resume_id": stored_run_id(self.run_dir) if resuming else None}

    def _plugins(self, trainer_config: dict[str, Any], options: RunOptions) -> list[Any]:
        """The configured plugins, with atomic checkpoint writes unless a CheckpointIO is configured; each save of a
        versioned run points ``latest`` at it."""
        plugins = trainer_config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            plugins.append(AtomicCheckpointIO(after_save=None if options.dir else partial(point_latest, self.run_dir)))
        return plugins

    def _checkpoint_in_run_dir(self) -> bool:
        """Whether ``--ckpt_path`` lies in this run's own directory (``--ckpt_path last`` of a run, resumed in place)."""
        path = self._get(self.config_init, "ckpt_path")
        return self.checkpoint is not None and Path(path).resolve().is_relative_to(self.run_dir.resolve())

    # -- subcommands ---------------------------------------------------------------------------------------------
    def fit(self, model: Any, **kwargs: Any) -> None:
        with checkpoint_errors_as_config_errors(kwargs.get("ckpt_path"), self.checkpoint):
            self.trainer.fit(model, **trusted_only(kwargs))

    def validate(self, model: Any, **kwargs: Any) -> None:
        with checkpoint_errors_as_config_errors(kwargs.get("ckpt_path"), self.checkpoint):
            self.trainer.validate(model, **trusted_only(kwargs))

    def test(self, model: Any, **kwargs: Any) -> None:
        with checkpoint_errors_as_config_errors(kwargs.get("ckpt_path"), self.checkpoint):
            self.trainer.test(model, **trusted_only(kwargs))

    def after_fit(self) -> None:
        options: RunOptions = self._get(self.config_init, "run")
        model_tests = is_overridden("test_step", self.model, LightningModule)
        data_tests = self.datamodule is not None and is_overridden("test_dataloader", self.datamodule)
        if options.test_after_fit and model_tests and data_tests and not self.trainer.interrupted:
            checkpoint = self.trainer.checkpoint_callback
            best = checkpoint.best_model_path if checkpoint is not None else ""
            if best:  # in the run's checkpoint directory (checkpoint_path_guard); read as weights and plain values only
                read_checkpoint(Path(best), what="the best checkpoint")
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None, weights_only=True)
        self._announce()

    def predict(self, model: Any, datamodule: Any = None, ckpt_path: Optional[str] = None, **kwargs: Any) -> None:
        """Predict, then write ``predictions.csv`` (index, label, one probability column per class)."""
        kwargs.pop("return_predictions", None)
        with checkpoint_errors_as_config_errors(ckpt_path, self.checkpoint):
            batches = self.trainer.predict(
                model, datamodule=datamodule, ckpt_path=ckpt_path, return_predictions=True,
                weights_only=trusted_only(kwargs).get("weights_only"),
            )
        if self.trainer.is_global_zero and batches and isinstance(batches[0], dict) and "labels" in batches[0]:
            write_predictions(self.run_dir / "predictions.csv", batches)

    def _announce(self) -> None:
        rank_zero_info(f"run directory: {self.run_dir}")

    after_validate = after_test = after_predict = _announce


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
