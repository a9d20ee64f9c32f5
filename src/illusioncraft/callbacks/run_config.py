"""The callback that records a CLI run's resolved config in the run directory and in every logger.

A module-level class that pickles without its parser, so ``ddp_spawn`` can send it to the worker processes: the
parser (which refers back to the CLI object) is replaced by the config already rendered as YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import yaml
from lightning.pytorch.cli import SaveConfigCallback


class SaveAndLogConfig(SaveConfigCallback):
    """Writes the resolved config to ``<run dir>/config.yaml`` and sends it to every logger (W&B shows it)."""

    _rendered: Optional[str] = None

    def _yaml(self) -> str:
        return self._rendered if self.parser is None else self.parser.dump(self.config, skip_none=False)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_rendered"] = self._yaml()
        state["parser"] = None
        return state

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self.parser is not None:
            super().setup(trainer, pl_module, stage)
            return
        if self.already_saved:  # in a spawned worker: write the YAML rendered before spawning
            return
        log_dir = Path(trainer.log_dir)  # a collective: every rank asks
        if trainer.is_global_zero:
            log_dir.mkdir(parents=True, exist_ok=True)
            (log_dir / self.config_filename).write_text(self._rendered)
            self.save_config(trainer, pl_module, stage)
        self.already_saved = True

    def save_config(self, trainer: Any, pl_module: Any, stage: str) -> None:
        config = yaml.safe_load(self._yaml())
        for logger in trainer.loggers:
            logger.log_hyperparams({"config": config})
