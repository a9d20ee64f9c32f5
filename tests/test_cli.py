"""The ``illusioncraft`` command: every experiment runs, a run writes its directory, user mistakes get one line."""

from __future__ import annotations

import pytest
import yaml
from conftest import EXPERIMENTS, TINY, cli_error, read_metrics, run_cli

from illusioncraft import registry
from illusioncraft.cli import main


def _is_classifier_experiment(path) -> bool:
    from illusioncraft.models.classifiers import Classifier

    document = yaml.safe_load(path.read_text())
    return "model" in document and issubclass(registry.get("model", document["model"]["class_path"]), Classifier)


CLASSIFIER_EXPERIMENTS = sorted(p.name for p in EXPERIMENTS.glob("*.yaml") if _is_classifier_experiment(p))


@pytest.mark.parametrize("experiment", CLASSIFIER_EXPERIMENTS)
def test_every_experiment_yaml_fits_through_the_cli(tmp_path, experiment):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / experiment), *TINY)
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    metrics = read_metrics(run_dir)
    assert {"train/loss", "val/acc", "test/acc"} <= metrics.keys()


def test_a_run_directory_holds_config_checkpoints_metrics_and_the_confusion_matrix(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "logreg_digits.yaml"), *TINY)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["class_path"] == "illusioncraft.models.classifiers.LogisticRegression"
    assert saved["trainer"]["max_epochs"] == 1  # the command-line override is what was saved
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints and any(name.startswith("best-") for name in checkpoints)
    assert (run_dir / "confusion_matrix.png").stat().st_size > 0


def test_runs_without_a_directory_get_the_next_version_under_root_and_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(EXPERIMENTS / "logreg_digits.yaml")
    parent = tmp_path / "runs" / "logreg_digits"
    for _ in range(2):
        main(["fit", "--config", config, *TINY, "--run.loggers", "[]", "--trainer.enable_progress_bar", "false"])
        newest = max(p.name for p in parent.glob("version_*"))
        assert (parent / "latest").resolve() == (parent / newest).resolve()  # `latest` follows the newest run
    assert sorted(p.name for p in parent.iterdir()) == ["latest", "version_0", "version_1"]


def test_test_subcommand_evaluates_a_checkpoint(tmp_path):
    config = str(EXPERIMENTS / "mlp_digits.yaml")
    fitted = run_cli(tmp_path, "fit", "--config", config, *TINY)  # then tests its best checkpoint on one test batch
    best = next((fitted / "checkpoints").glob("best-*.ckpt"))
    tested = run_cli(tmp_path, "test", "--config", config, "--ckpt_path", str(best), "--trainer.limit_test_batches", "1")
    assert read_metrics(tested)["test/acc"] == read_metrics(fitted)["test/acc"]  # the same weights on the same batch
    assert read_metrics(tested)["test/acc_class_0"] == read_metrics(fitted)["test/acc_class_0"]


def test_models_and_data_are_chosen_by_registry_name_on_the_command_line(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--model", "mlp", "--model.init_args.activation", "tanh", "--data", "digits", *TINY)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["class_path"].endswith(".MLP")
    assert saved["model"]["init_args"]["activation"] == "tanh"


def test_list_shows_every_registered_entry_with_origin(capsys):
    main(["list"])
    out = capsys.readouterr().out
    for item in registry.entries():
        assert item.name in out
    assert "illusioncraft-example-plugin" in out and "built-in" in out


def test_list_of_one_kind(capsys):
    main(["list", "optimizer"])
    out = capsys.readouterr().out
    assert "momentum" in out and "cnn" not in out


CONFIG = ["fit", "--config", str(EXPERIMENTS / "cnn_digits.yaml"), "--trainer.fast_dev_run", "true"]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (["--model", "cnnn"], "unknown model 'cnnn'; did you mean 'cnn'?"),
        (["--data", "digitz"], "unknown datamodule 'digitz'; did you mean 'digits'"),
        (["--model.init_args.dropout", "2"], "model 'cnn': dropout must be in [0, 1), got 2.0"),
        (["--model.init_args.activation", "rellu"], "unknown activation 'rellu'; did you mean 'relu'"),
        (["--model.init_args.kernel_sizee", "3"],
         "model (CNN): Option 'kernel_sizee' is not accepted; did you mean 'kernel_size'?"),
        (["--model.init_args.stride", "x"], 'model (CNN): key "stride": Expected a <class \'int\'>. Got value: x'),
        (["--data.init_args.image_size", "12"], 'data (DigitsDataModule): key "image_size"'),
        (["--data.init_args.batch_size", "0"], "data: batch_size must be a positive integer or 'full', got 0"),
        (["--model.init_args.optimizer", "{name: adamm}"], "unknown optimizer 'adamm'; did you mean 'adam'"),
        (["--model.init_args.optimizer", "{name: adam, lrr: 1}"], "optimizer 'adam' has no argument 'lrr'; did you mean 'lr'?"),
        (["--model.init_args.optimizer", "{name: sgd, lr: -1}"], "optimizer 'sgd': Invalid learning rate: -1"),
        (["--run.loggers", "[csvv]"], "unknown logger 'csvv'; did you mean 'csv'?"),
        (
            ["--model.init_args.channels", "[32,64,64,64,64]", "--model.init_args.padding", "0"],
            "shrinks to nothing at conv block 3",
        ),
    ],
)
def test_user_mistakes_are_one_line_naming_the_culprit(tmp_path, capsys, override, expected):
    line = cli_error(capsys, *CONFIG, "--run.dir", str(tmp_path / "run"), *override)
    assert expected in line


def test_a_missing_config_file_is_one_line(capsys):
    assert "/no/such.yaml" in cli_error(capsys, "fit", "--config", "/no/such.yaml")


def test_a_sigmoid_output_on_ten_classes_is_refused(tmp_path, capsys):
    line = cli_error(
        capsys, "fit", "--model", "logistic_regression", "--model.init_args.output", "sigmoid", "--data", "digits",
        "--run.dir", str(tmp_path / "run"), "--trainer.fast_dev_run", "true", "--run.loggers", "[]",
    )
    assert "output 'sigmoid' is binary and needs 2 classes, the data has 10" in line


def test_predict_writes_labels_and_probabilities(tmp_path):
    import csv

    config = str(EXPERIMENTS / "logreg_digits.yaml")
    fitted = run_cli(tmp_path, "fit", "--config", config, *TINY)
    predicted = run_cli(tmp_path, "predict", "--config", config, "--ckpt_path", str(fitted / "checkpoints" / "last.ckpt"))
    with open(predicted / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 360  # the whole test split
    assert all(0 <= int(row["label"]) <= 9 for row in rows)
    assert abs(sum(float(rows[0][f"p_{k}"]) for k in range(10)) - 1) < 1e-4


def test_tensorboard_logger_writes_event_files(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "logreg_digits.yaml"), *TINY, loggers="[tensorboard]")
    assert list(run_dir.glob("events.out.tfevents.*"))


def test_image_folder_data_trains_and_validates_from_the_command_line(tmp_path):
    import numpy as np
    from PIL import Image

    root = tmp_path / "images"
    rng = np.random.default_rng(0)
    for index, name in enumerate(["circle", "square", "triangle"]):
        (root / name).mkdir(parents=True)
        for i in range(12):
            pixels = np.full((10, 10), 40 + 80 * index, dtype=np.uint8) + rng.integers(0, 30, (10, 10), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    data = ["--data", "image_folder", "--data.init_args.root", str(root), "--data.init_args.image_size", "8",
            "--data.init_args.channels", "1", "--data.init_args.batch_size", "4"]
    fitted = run_cli(tmp_path, "fit", "--model", "mlp", *data, "--trainer.max_epochs", "2", "--trainer.log_every_n_steps", "1")
    assert "test/acc" in read_metrics(fitted) and (fitted / "confusion_matrix.png").is_file()
    validated = run_cli(tmp_path, "validate", "--model", "mlp", *data, "--ckpt_path", str(fitted / "checkpoints" / "last.ckpt"))
    assert "val/acc" in read_metrics(validated)
