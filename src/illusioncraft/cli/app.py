"""The LightningCLI behind ``illusioncraft fit|validate|test|predict``: a run directory, loggers by name, the
default callbacks, atomic checkpoints and safe checkpoint loading around Lightning's own subcommands."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.strategies import DDPStrategy
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
    trusted_only,
)
from illusioncraft.cli.run_callbacks import default_callbacks
from illusioncraft.distributed import check_precision, needs_unused_parameter_search, strategy_for_model
from illusioncraft.loggers import ResumableCSVLogger
from illusioncraft.run_dir import RunOptions, resolve_run_dir, run_name
from illusioncraft.wandb_run import stored_run_id

SUBCOMMANDS = ("fit", "validate", "test", "predict")


class IllusionCraftCLI(LightningCLI):
    """LightningCLI that builds the run directory, loggers and default callbacks from ``--run.*``."""

    def __init__(self, args: Optional[list[str]] = None, run: bool = True,
                 other_commands: Optional[dict[str, str]] = None) -> None:
        self.other_commands = other_commands or {}  # name -> one line, listed in --help beside Lightning's
        parser_kwargs: dict[str, Any] = {"exit_on_error": False}
        parser_kwargs.update({sub: {"exit_on_error": False} for sub in SUBCOMMANDS})
        super().__init__(
            model_class=None,
            datamodule_class=None,
            save_config_callback=SaveAndLogConfig,
            save_config_kwargs={"overwrite": True},
            parser_kwargs=parser_kwargs,
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_class_arguments(RunOptions, "run")

    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs: Any) -> None:
        """Lightning's subcommands, and the other commands (dispatched before this parser runs) in the help."""
        super()._add_subcommands(parser, **kwargs)
        for name, summary in self.other_commands.items():
            command = LightningArgumentParser(description=summary)
            parser._subcommands_action.add_subcommand(name, command, help=summary)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse, then resolve ``--ckpt_path last`` and check the checkpoint before Lightning reads it."""
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
        self.run_dir = resolve_run_dir(options, run_name(options, self._get(self.config, "config") or [], type(self.model)))
        kwargs["default_root_dir"] = str(self.run_dir)
        if trainer_config.get("logger") is None:
            kwargs["logger"] = self._loggers(options) or False
        if self.subcommand != "fit" and self._checkpoint_in_run_dir():  # keep the training run's config.yaml
            self.save_config_kwargs = {**self.save_config_kwargs, "config_filename": f"config_{self.subcommand}.yaml"}
        self.trainer_defaults["callbacks"] = default_callbacks(self.model, trainer_config, self.run_dir)
        kwargs["plugins"] = self._plugins(trainer_config)
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

    @staticmethod
    def _plugins(trainer_config: dict[str, Any]) -> list[Any]:
        """The configured plugins, with atomic checkpoint writes unless a CheckpointIO is configured."""
        plugins = trainer_config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            plugins.append(AtomicCheckpointIO())
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
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None, weights_only=False)
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
