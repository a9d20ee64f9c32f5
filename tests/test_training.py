"""Short seeded trainings reach accuracy floors; the W&B offline run holds what was logged."""

from __future__ import annotations

import pytest
from conftest import EXPERIMENTS, read_metrics, run_cli
from wandb_records import offline_runs


@pytest.mark.parametrize(
    ("experiment", "epochs", "floor"),
    [
        ("logreg_digits.yaml", 8, 0.93),
        ("logreg_binary_digits.yaml", 60, 0.95),
        ("mlp_digits.yaml", 8, 0.95),
        ("cnn_digits.yaml", 6, 0.97),
        ("plugin_residual_cnn_digits.yaml", 4, 0.95),
    ],
)
def test_short_training_reaches_the_accuracy_floor(tmp_path, experiment, epochs, floor):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / experiment), "--trainer.max_epochs", str(epochs))
    assert read_metrics(run_dir)["test/acc"] >= floor


def test_wandb_offline_run_holds_config_scalars_and_the_confusion_matrix(tmp_path):
    import wandb

    run_dir = run_cli(
        tmp_path, "fit", "--config", str(EXPERIMENTS / "logreg_digits.yaml"), "--trainer.max_epochs", "1",
        "--trainer.log_every_n_steps", "1", loggers="[wandb]",
    )
    wandb.finish()
    (offline,) = (run_dir / "wandb").glob("offline-run-*")
    (run,) = offline_runs(run_dir)  # waits for W&B's writer to finish the record file
    logged = {key.split("/_")[0] for row in run.history for key in row}
    for key in ("train/loss", "val/acc", "test/acc"):
        assert key in logged, key
    assert any(key.startswith("test/confusion_matrix/") for row in run.history for key in row)
    assert run.config["config"]["model"]["class_path"].endswith("LogisticRegression")
    images = list((offline / "files" / "media" / "images").rglob("confusion_matrix*.png"))
    assert len(images) == 1 and images[0].stat().st_size > 0


@pytest.mark.parametrize(
    ("spec", "floor"), [("{name: scratch_adam, lr: 0.002}", 0.95), ("{name: scratch_momentum, lr: 0.5}", 0.9)]
)
def test_scratch_optimizers_train_a_model_from_the_command_line(tmp_path, spec, floor):
    run_dir = run_cli(
        tmp_path, "fit", "--config", str(EXPERIMENTS / "mlp_digits.yaml"), "--trainer.max_epochs", "8",
        "--model.init_args.optimizer", spec,
    )
    saved = (run_dir / "config.yaml").read_text()
    assert spec.split(",")[0].split(": ")[1] in saved
    assert read_metrics(run_dir)["test/acc"] >= floor
