"""Two CPU processes (DDP over gloo) score like one, write files once, and GANs get DDP's unused-parameter search.

The 2-process runs use ``ddp_fork``: ``ddp`` re-runs the command line for rank 1, which inside pytest would
re-run pytest itself, and ``ddp_spawn`` re-imports everything in each worker (several seconds more).
Validation and test splits of the digits (180 and 360 images) divide by 2, so DistributedSampler pads nothing
and the two ranks together see exactly the single process's data.
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import EXPERIMENTS, TINY, cli_error, read_metrics, run_cli
from lightning.pytorch import Callback, Trainer

from illusioncraft import registry

TWO_PROCESSES = ["--trainer.strategy", "ddp_fork", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]


def test_two_process_classifier_metrics_equal_one_process_on_the_same_checkpoint(tmp_path):
    config = ["--config", str(EXPERIMENTS / "cnn_digits.yaml"), "--trainer.limit_val_batches", "1.0",
              "--trainer.limit_test_batches", "1.0"]
    fitted = run_cli(tmp_path, "fit", *config, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                     *TWO_PROCESSES)
    ddp = read_metrics(fitted)
    single = read_metrics(run_cli(tmp_path, "validate", *config, "--ckpt_path", str(fitted / "checkpoints" / "last.ckpt")))
    assert ddp["val/acc"] == pytest.approx(single["val/acc"], abs=1e-6)  # torchmetrics sums the ranks' counts
    assert ddp["val/loss"] == pytest.approx(single["val/loss"], rel=1e-5)  # mean of the ranks' means, equal halves
    best = next((fitted / "checkpoints").glob("best-*.ckpt"))
    tested = read_metrics(run_cli(tmp_path, "test", *config, "--ckpt_path", str(best)))
    assert ddp["test/acc"] == pytest.approx(tested["test/acc"], abs=1e-6)
    assert ddp["test/acc_class_3"] == pytest.approx(tested["test/acc_class_3"], abs=1e-6)
    assert (fitted / "confusion_matrix.png").stat().st_size > 0  # drawn by rank 0 from the synchronised matrix


def test_two_process_gan_fid_and_kid_equal_one_process_on_the_same_checkpoint(tmp_path):
    # 300 fake samples in chunks of 128: rank 0 draws chunks 0 and 2, rank 1 chunk 1 (uneven, gathered in order)
    config = ["--config", str(EXPERIMENTS / "dcgan_digits.yaml"), "--trainer.callbacks.init_args.n_real", "200",
              "--trainer.callbacks.init_args.n_fake", "300", "--trainer.callbacks.init_args.batch_size", "128"]
    registry.build("feature_extractor", "digits_classifier")  # trained and cached once, not in each worker
    fitted = run_cli(tmp_path, "fit", *config, *TINY, *TWO_PROCESSES)
    single = read_metrics(run_cli(tmp_path, "validate", *config, "--trainer.limit_val_batches", "1",
                                  "--ckpt_path", str(fitted / "checkpoints" / "last.ckpt")))
    ddp = read_metrics(fitted)
    # 20 samples of 128-d features: a rank-deficient covariance whose square root magnifies float-order differences
    # between one and two processes' convolutions; scoring each rank's samples apart or summed would differ by far more
    assert ddp["val/fid"] == pytest.approx(single["val/fid"], rel=1e-3)
    assert ddp["val/kid"] == pytest.approx(single["val/kid"], rel=1e-5)
    records = json.loads((fitted / "metric_provenance.json").read_text())
    assert [r["metric"] for r in records] == ["val/fid", "val/kid"]  # written by rank 0 only
    assert (fitted / "samples" / "final.png").is_file()


class RanksAgree(Callback):
    """Asserts, inside every rank, that all ranks end training with the same weights."""

    def on_train_end(self, trainer: Trainer, pl_module: object) -> None:
        total = torch.stack([sum(p.detach().double().sum() for p in pl_module.parameters())])
        gathered = trainer.strategy.all_gather(total).flatten()
        assert torch.equal(gathered[0], gathered[1]), f"ranks diverged: {gathered.tolist()}"


def test_hand_computed_gradients_are_averaged_over_ranks():
    # scratch models set .grad themselves, bypassing DDP's autograd hooks: without their own all-reduce each rank
    # would train on its half of the data alone
    from illusioncraft.data.digits import DigitsDataModule
    from illusioncraft.models.scratch import ScratchMLP

    trainer = Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, strategy="ddp_fork", devices=2,
                      accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, callbacks=[RanksAgree()])
    trainer.fit(ScratchMLP(), datamodule=DigitsDataModule())


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("ddp", True), ("ddp_spawn", True), ("auto", True), ("ddp_find_unused_parameters_false", False)],
)
def test_gans_under_ddp_search_for_unused_parameters_unless_told_otherwise(tmp_path, strategy, expected):
    from illusioncraft.cli.app import IllusionCraftCLI
    from illusioncraft.cli.class_paths import install_registry_class_names

    install_registry_class_names()
    cli = IllusionCraftCLI(["--config", str(EXPERIMENTS / "gan_ring8.yaml"), "--trainer.accelerator", "cpu",
                            "--trainer.devices", "2", "--trainer.strategy", strategy, "--run.dir", str(tmp_path / "r"),
                            "--run.loggers", "[]"], run=False)
    assert cli.trainer.strategy._ddp_kwargs["find_unused_parameters"] is expected  # read when DDP wraps the model


@pytest.mark.parametrize("experiment", ["cnn_digits.yaml", "dcgan_digits.yaml"])
def test_bf16_mixed_precision_trains_on_cpu(tmp_path, experiment):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / experiment), *TINY, "--trainer.precision", "bf16-mixed",
                      "--trainer.callbacks", "null", "--run.test_after_fit", "false")
    metrics = read_metrics(run_dir)
    losses = [value for key, value in metrics.items() if key.startswith("train/") and key.endswith("loss")]
    assert losses and all(abs(value) < 100 for value in losses)


def test_mixed_precision_is_refused_for_a_gradient_penalty(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "wgan_gp_digits.yaml"), *TINY, "--trainer.precision",
                     "bf16-mixed", "--run.dir", str(tmp_path / "r"), "--run.loggers", "[]")
    assert "precision 'bf16-mixed' is not supported with a gradient penalty" in line and "32-true" in line


def test_two_process_stackgan_scores_like_one_process_and_writes_files_once(tmp_path):
    config = ["--config", str(EXPERIMENTS / "stackgan_shapes_stage1.yaml"), "--data.init_args.n_images", "200",
              "--data.init_args.batch_size", "16", "--data.init_args.image_size", "16", "--model.init_args.width", "4",
              "--trainer.callbacks+=text_image_metrics", "--trainer.callbacks.n_samples=20"]
    fitted = run_cli(tmp_path, "fit", *config, *TINY, *TWO_PROCESSES)
    single = read_metrics(run_cli(tmp_path, "validate", *config, "--trainer.limit_val_batches", "1",
                                  "--ckpt_path", str(fitted / "checkpoints" / "last.ckpt")))
    ddp = read_metrics(fitted)
    assert ddp["val/attribute_accuracy"] == pytest.approx(single["val/attribute_accuracy"], abs=1e-6)
    # 20 samples of 128-d features: a rank-deficient covariance whose square root magnifies float-order differences
    # between one and two processes' convolutions; scoring each rank's samples apart or summed would differ by far more
    assert ddp["val/fid"] == pytest.approx(single["val/fid"], rel=1e-3)
    records = json.loads((fitted / "metric_provenance.json").read_text())
    assert len(records) == len({(r["metric"], r["epoch"]) for r in records})  # one record per score: rank 0 only
