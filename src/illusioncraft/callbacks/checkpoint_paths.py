"""Paths read from a checkpoint are not trusted: a resumed ModelCheckpoint keeps them only when they name files in
its own directory.

ModelCheckpoint records the paths of its best, k-th best and last checkpoints in every checkpoint and takes them
back on resume; Lightning then deletes the recorded files it replaces, and after fitting the CLI tests "the best
checkpoint". A checkpoint holding only strings and tensors passes ``torch.load(weights_only=True)`` yet can record
any path there, and Lightning's test that a file lies in the checkpoint directory is lexical
(``checkpoints/../../file`` passes it). This callback removes such a state before ModelCheckpoint reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.rank_zero import rank_zero_warn

from illusioncraft.registry import register

PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")


def recorded_paths(state: dict[str, Any]) -> list[str]:
    """Every file path a ModelCheckpoint state names (best, k-th best, last, and the top-k)."""
    paths = [state.get(key) for key in PATH_KEYS] + list(state.get("best_k_models") or {})
    return [str(path) for path in paths if path]


def lies_in(path: str, directory: Any) -> bool:
    """Whether ``path`` resolves (links and ``..`` followed) to a file directly inside ``directory``."""
    return Path(path).resolve().parent == Path(directory).resolve()


@register("checkpoint_path_guard")
class CheckpointPathGuard(Callback):
    """Drops a resumed ModelCheckpoint state naming a file outside that callback's directory, with a warning: best
    and last checkpoints are then tracked afresh, and no recorded file is loaded or deleted."""

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get("callbacks") or {}
        for callback in trainer.checkpoint_callbacks:
            directory = getattr(callback, "dirpath", None)
            state = states.get(callback.state_key)
            if not state or not directory:
                continue
            foreign = [path for path in recorded_paths(state) if not lies_in(path, directory)]
            if not foreign:
                continue
            del states[callback.state_key]  # Lightning restores only the states a checkpoint holds
            if trainer.state.fn == TrainerFn.FITTING:  # evaluating tracks no checkpoints: nothing to tell
                rank_zero_warn(f"the checkpoint's {type(callback).__name__} state names '{foreign[0]}', outside "
                               f"{directory}: ignored; best and last checkpoints are tracked afresh")
