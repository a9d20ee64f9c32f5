"""No host-device synchronisation inside a training step, except on the batches whose values are logged.

On a GPU, turning a tensor into a Python value (``.item()``, ``bool(t)``, ``float(t)``, ``t.tolist()``, ``t.cpu()``)
waits for every queued kernel. These tests count such calls on a CPU, batch by batch, through the command line's
full set of callbacks (progress bar, checkpoints, the non-finite-loss check): between two batches that are not
logged, the count must be zero. The optimisers' own step counters are left out: torch keeps them on the host
(``state["step"]`` is a CPU tensor unless an optimiser is made ``capturable``), so reading them never waits.
"""

from __future__ import annotations

import sys

import pytest
import torch
from conftest import EXPERIMENTS, run_cli
from lightning.pytorch import Callback

from illusioncraft.step_logs import logs_this_step

SYNCHRONISING = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")
RECORDS: list[tuple[bool, int]] = []  # (batch logged or last of its epoch, synchronising calls until the next batch)


class CountSynchronisations(Callback):
    """Counts the synchronising tensor calls from the start of each training batch to the start of the next."""

    def __init__(self) -> None:
        self.calls = 0
        self.saved: dict[str, object] = {}
        self.current: bool | None = None

    def _patch(self) -> None:
        for name in SYNCHRONISING:
            original = getattr(torch.Tensor, name)
            self.saved[name] = original

            def counted(tensor, *args, _original=original, **kwargs):
                if "/torch/optim/" not in sys._getframe(1).f_code.co_filename:  # host-side step counters
                    self.calls += 1
                return _original(tensor, *args, **kwargs)

            setattr(torch.Tensor, name, counted)

    def _close_batch(self) -> None:
        if self.current is not None:
            RECORDS.append((self.current, self.calls))
        self.calls, self.current = 0, None

    def on_train_start(self, trainer, pl_module) -> None:
        RECORDS.clear()
        self._patch()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._close_batch()
        self.calls = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.current = logs_this_step(trainer) or trainer.is_last_batch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._close_batch()

    def on_train_end(self, trainer, pl_module) -> None:
        for name, original in self.saved.items():
            setattr(torch.Tensor, name, original)


COUNTER = "--trainer.callbacks+=test_synchronisation.CountSynchronisations"
TRAIN = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "9", "--trainer.limit_val_batches", "1",
         "--trainer.log_every_n_steps", "4", "--trainer.enable_progress_bar", "true", COUNTER]


@pytest.mark.parametrize(
    ("experiment", "extra"),
    [
        ("cnn_digits.yaml", []),
        ("dcgan_digits_diffaugment.yaml", ["--trainer.callbacks", "null", COUNTER]),
        ("wgan_gp_grid25.yaml", []),
        ("dcgan_digits_recipe.yaml", ["--trainer.callbacks", "null", COUNTER, "--model.init_args.regularizers",
                                      "[{name: r1, weight: 1, every: 2}, lecam, bcr]", "--model.init_args.diffaugment",
                                      "color,translation", "--model.init_args.ada", "{target: 0.6, interval: 2}"]),
        ("stackgan_shapes_stage1.yaml", ["--data.init_args.n_images", "400", "--data.init_args.image_size", "16",
                                         "--model.init_args.width", "4"]),
    ],
)
def test_a_training_step_does_not_synchronise_unless_its_values_are_logged(tmp_path, experiment, extra):
    run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / experiment), *TRAIN, *extra, "--run.test_after_fit", "false")
    quiet = [calls for logged, calls in RECORDS if not logged]
    loud = [calls for logged, calls in RECORDS if logged]
    assert len(quiet) >= 10 and len(loud) >= 4  # the runs had both kinds of batches
    assert quiet == [0] * len(quiet)
    assert sum(loud) > 0  # the counter sees the synchronisations of logging: it would see any other


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_on_a_gpu_cuda_reports_no_synchronisation_in_unlogged_steps(tmp_path):
    class SyncDebug(Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            torch.cuda.set_sync_debug_mode("error" if not logs_this_step(trainer) and not trainer.is_last_batch else 0)

        def on_train_batch_end(self, *args) -> None:
            torch.cuda.set_sync_debug_mode(0)

    import test_synchronisation

    test_synchronisation.SyncDebug = SyncDebug
    run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "dcgan_digits.yaml"), "--trainer.accelerator", "gpu",
            "--trainer.devices", "1", "--trainer.max_epochs", "1", "--trainer.log_every_n_steps", "5",
            "--trainer.callbacks", "null", "--trainer.callbacks+=test_synchronisation.SyncDebug")


def test_every_run_logs_its_training_throughput_on_the_logged_batches(tmp_path):
    import csv

    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "cnn_digits.yaml"), "--trainer.max_epochs", "1",
                      "--trainer.limit_train_batches", "8", "--trainer.limit_val_batches", "1", "--trainer.log_every_n_steps",
                      "2", "--run.test_after_fit", "false")
    with open(run_dir / "metrics.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("throughput/samples")]
    assert [int(row["step"]) for row in rows] == [1, 3, 5, 7]  # one per logged batch, at the step of its losses
    assert [float(row["throughput/samples"]) for row in rows] == [128, 256, 384, 512]  # batch 64, counted every batch
    rates = [row for row in rows if row.get("throughput/device/samples_per_sec")]
    assert len(rates) == 3  # a rate once two measurements bound an interval
    for previous, row in zip(rows, rows[1:], strict=False):
        seconds = float(row["throughput/time"]) - float(previous["throughput/time"])
        assert float(row["throughput/device/samples_per_sec"]) == pytest.approx(128 / seconds, rel=1e-6)
        assert float(row["throughput/device/batches_per_sec"]) == pytest.approx(2 / seconds, rel=1e-6)
