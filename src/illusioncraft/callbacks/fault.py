"""Fault tolerance: stop on a non-finite loss, save a checkpoint on SIGTERM/SIGINT, and resume with the same random state.

The CLI adds all three callbacks to every ``fit``:

- ``stop_on_nonfinite``: a NaN or Inf loss stops training at the next logged batch or epoch end, naming the first
  step it happened at, and before any checkpoint is written: no checkpoint holds an update made from it, so the
  last checkpoint on disk stays the last good one.
- ``save_on_signal``: Lightning notices SIGTERM and stops at the next batch boundary (all ranks together under
  DDP); this callback then writes ``last.ckpt``. A first Ctrl-C (SIGINT) is turned into the same graceful stop;
  a second one interrupts at once.
- ``random_state``: the torch, numpy and Python random states go into every checkpoint and come back on resume,
  so a resumed run draws the same noise, dropout masks and shuffles as an uninterrupted one.

Exactness: resuming from an end-of-epoch checkpoint (what ``ModelCheckpoint`` writes) gives the weights and
optimizer states of an uninterrupted run bit for bit on a CPU (the datamodules shuffle by (seed, epoch), see
``illusioncraft.data.sampling``). A checkpoint written mid-epoch (on a signal) resumes at the right step, but
Lightning restarts a plain DataLoader's epoch at its first batch, so the rest of that epoch sees other batches.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from illusioncraft.contracts import RunDefaults
from illusioncraft.errors import IllusionCraftError
from illusioncraft.registry import register
from illusioncraft.step_logs import logs_this_step


class NonFiniteLossError(IllusionCraftError):
    """Training stopped because a loss became NaN or infinite."""


def last_checkpoint_path(trainer: Trainer) -> Optional[Path]:
    """Where this run's ``last.ckpt`` goes (None when checkpointing is off)."""
    callback = trainer.checkpoint_callback
    dirpath = getattr(callback, "dirpath", None)
    if callback is None or not dirpath:
        return None
    return Path(dirpath) / f"{callback.CHECKPOINT_NAME_LAST or 'last'}{callback.FILE_EXTENSION}"


def saved_checkpoint(trainer: Trainer) -> Optional[str]:
    """The most recent checkpoint this run has on disk, if any."""
    callback = trainer.checkpoint_callback
    for candidate in (getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", "")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    last = last_checkpoint_path(trainer)
    return str(last) if last is not None and last.is_file() else None


def _loss_name(trainer: Trainer, pl_module: LightningModule) -> str:
    """The logged name of the loss being backpropagated: by the optimizer toggled for it in manual optimisation."""
    if pl_module.automatic_optimization:
        return "train/loss"
    names = pl_module.loss_names if isinstance(pl_module, RunDefaults) else ()
    active = [
        index for index, optimizer in enumerate(trainer.optimizers)
        if all(p.requires_grad for group in optimizer.param_groups for p in group["params"])
    ]
    if len(active) == 1 and active[0] < len(names):
        return names[active[0]]
    return "loss"


@register("stop_on_nonfinite")
class StopOnNonFiniteLoss(Callback):
    """Stops training with one line when a loss is NaN or Inf, naming the loss and the first step it happened at,
    before any checkpoint holds an update made from it.

    Every loss is kept (on its device) until the next check: after each logged batch (every
    ``log_every_n_steps``) and the last batch of each epoch, and before any checkpoint is written. Checking on
    every step would turn a loss into a Python number each step, a host-device synchronisation on a GPU. Under
    DDP the ranks agree at the batch checks (any rank's bad loss stops all of them), so no rank waits forever in
    a collective; the check before a save looks at this process's losses only, as a save may come from one rank.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[int, str, torch.Tensor]] = []  # (step, loss name, loss) since the last check

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor) -> None:
        self.pending.append((trainer.global_step, _loss_name(trainer, pl_module), loss.detach()))

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if logs_this_step(trainer) or trainer.is_last_batch:
            self.check(trainer)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        self.check(trainer, across_ranks=False)  # raising here leaves the checkpoint unwritten

    def check(self, trainer: Trainer, across_ranks: bool = True) -> None:
        """Raise ``NonFiniteLossError`` for the first non-finite loss since the last check (one synchronisation)."""
        pending, self.pending = self.pending, []
        first = None
        if pending:
            finite = torch.isfinite(torch.stack([loss.float().sum() for _, _, loss in pending]))  # (n,)
            bad = (~finite).nonzero()
            first = int(bad[0, 0]) if len(bad) else None
        stop = first is not None
        if across_ranks and trainer.world_size > 1:
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if not stop:
            return
        checkpoint = saved_checkpoint(trainer)
        where = f"last good checkpoint: {checkpoint}" if checkpoint else "no checkpoint was saved before it"
        if first is None:
            raise NonFiniteLossError(f"non-finite loss on another process by step {trainer.global_step}; {where}")
        step, name, loss = pending[first]
        value = float(loss.float().sum()) if loss.numel() else float("nan")
        raise NonFiniteLossError(f"non-finite {name} ({value}) at step {step}; {where}")


@dataclass(frozen=True)
class StopReport:
    """What a graceful stop did: which signal, at which step, and the checkpoint written (if any)."""

    signal_name: str
    step: int
    checkpoint: Optional[str]
    stage: str = "fit"

    @property
    def exit_code(self) -> int:
        return 128 + int(getattr(signal, self.signal_name, signal.SIGTERM))

    def line(self) -> str:
        where = f"stopped by {self.signal_name} at step {self.step}"
        if self.checkpoint is not None:
            return f"{where}; saved {self.checkpoint} (resume with --ckpt_path last)"
        if self.stage != "fit":
            return f"{where}, during {self.stage}; nothing to save"
        return f"{where}; no checkpoint saved (checkpointing is off)"


_stop_report: list[StopReport] = []  # set in the process that stopped; read by the CLI's main()


def take_stop_report() -> Optional[StopReport]:
    """The report of the last graceful stop in this process, once."""
    return _stop_report.pop() if _stop_report else None


SIGNAL_NOTICES = "lightning.pytorch.trainer.connectors.signal_connector"  # the logger of Lightning's signal handlers


def _no_sigterm_notice(record: logging.LogRecord) -> bool:
    return "Received SIGTERM" not in record.getMessage()


@register("save_on_signal")
class SaveOnSignal(Callback):
    """On SIGTERM (or a first Ctrl-C), stop at the next batch boundary and write ``last.ckpt``; resume from it later."""

    def __init__(self) -> None:
        self.signal_name = "SIGTERM"
        self._interrupts = 0

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Lightning restores the handlers it found at fit start when it tears down, so this one is undone then too.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self._interrupts += 1
        if self._interrupts > 1:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without saving
        self.signal_name = "SIGINT"
        on_sigterm = signal.getsignal(signal.SIGTERM)
        if not callable(on_sigterm):
            os.kill(os.getpid(), signal.SIGTERM)
            return
        # Lightning's SIGTERM path (stop after this batch, ranks in step), without its "Received SIGTERM" notice
        notices = logging.getLogger(SIGNAL_NOTICES)
        notices.addFilter(_no_sigterm_notice)
        try:
            on_sigterm(signal.SIGTERM, frame)
        finally:
            notices.removeFilter(_no_sigterm_notice)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException):
            return
        fitting = trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking
        stage = "fit" if fitting else str(trainer.state.stage.value if trainer.state.stage else trainer.state.fn)
        path = last_checkpoint_path(trainer) if fitting else None
        if path is not None:
            # Rank 0 writes; no barrier, since a rank may be stopping at another point than the others.
            checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
            trainer.strategy.save_checkpoint(checkpoint, path)
        _stop_report.append(StopReport(self.signal_name, trainer.global_step, str(path) if path else None, stage))


def _numpy_state() -> dict[str, Any]:
    name, keys, position, has_gauss, cached = np.random.get_state()
    # as a tensor and plain numbers, so that the checkpoint still loads with torch.load(weights_only=True)
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(position),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def collect_random_states() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy and Python random states of this process."""
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": _numpy_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["torch.cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict[str, Any]) -> None:
    """Set the random states that ``collect_random_states`` returned."""
    torch.set_rng_state(states["torch"])
    state = states["numpy"]
    keys = state["keys"].numpy().astype(np.uint32)
    np.random.set_state((state["name"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"]))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    if "torch.cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch.cuda"])


@register("random_state")
class RandomStateCheckpoint(Callback):
    """Saves the random states with each checkpoint and restores them on resume (exact continuation of a run).

    Under DDP only rank 0 writes checkpoints, so every rank resumes with rank 0's states; the ranks share one
    seed (``seed_everything``), so they had the same states anyway.
    """

    def state_dict(self) -> dict[str, Any]:
        return collect_random_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict:
            restore_random_states(state_dict)
