"""``illusioncraft sweep`` and ``illusioncraft plot``: real runs, their outputs, and one-line errors."""

from __future__ import annotations

import csv

import pytest
from conftest import EXPERIMENTS, cli_error
from PIL import Image

from illusioncraft.cli import main

TINY_OVERRIDES = [
    "--override", "trainer.max_epochs=2", "--override", "trainer.limit_train_batches=2",
    "--override", "trainer.limit_val_batches=1", "--override", "trainer.limit_test_batches=1",
    "--override", "trainer.enable_progress_bar=false", "--override", "trainer.enable_model_summary=false",
]


def test_optimizer_sweep_runs_every_variant_and_writes_table_plot_and_wandb(tmp_path, capsys):
    import wandb

    out = tmp_path / "sweep"
    main(["sweep", "--config", str(EXPERIMENTS / "optimizers_digits.yaml"), "--out", str(out), *TINY_OVERRIDES])
    wandb.finish()
    with open(out / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["variant"] for row in rows] == ["batch_gd", "sgd", "minibatch_gd", "momentum", "rmsprop", "adam"]
    assert all(float(row["final_train_loss"]) > 0 and 0 <= float(row["test_acc"]) <= 1 for row in rows)
    sgd_config = (out / "sgd" / "config.yaml").read_text()
    assert "batch_size: 1" in sgd_config and "scratch_gd" in sgd_config
    assert Image.open(out / "loss_curves.png").size[0] > 400
    assert list((out / "wandb").glob("offline-run-*/files/media/images/loss_curves*.png"))
    assert "| momentum |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("model: {}\n", "needs a top-level 'sweep:' mapping"),
        ("sweep: {base: nope.yaml, variants: {a: {}}}\n", "base config"),
        ("sweep: {base: x.yaml, variants: {a: {}}, variant: {}}\n", "unknown key(s) ['variant']"),
        ("sweep: {base: x.yaml}\n", "needs 'base' (a config file) and at least one entry under 'variants'"),
    ],
)
def test_bad_sweep_files_are_one_line_errors(tmp_path, capsys, content, expected):
    (tmp_path / "x.yaml").write_text("seed_everything: 0\n")
    path = tmp_path / "sweep.yaml"
    path.write_text(content)
    assert expected in cli_error(capsys, "sweep", "--config", str(path))


def test_sweep_override_needs_key_equals_value(capsys):
    line = cli_error(capsys, "sweep", "--config", str(EXPERIMENTS / "optimizers_digits.yaml"), "--override", "epochs")
    assert "--override takes KEY=VALUE, got 'epochs'" in line


def test_plot_activations_writes_one_panel_per_activation(tmp_path):
    out = tmp_path / "activations.png"
    main(["plot", "activations", "sigmoid", "relu", "--out", str(out)])
    two = Image.open(out).size
    main(["plot", "activations", "sigmoid", "relu", "tanh", "--out", str(out)])
    assert Image.open(out).size[0] > two[0]


def test_plot_activations_errors(tmp_path, capsys):
    assert "unknown activation 'rellu'" in cli_error(capsys, "plot", "activations", "rellu", "--out", str(tmp_path / "a.png"))
    assert "softmax' is not element-wise" in cli_error(
        capsys, "plot", "activations", "softmax", "--out", str(tmp_path / "a.png")
    )
