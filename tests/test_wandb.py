"""Weights & Biases: what an offline run's files hold (what the dashboard shows after ``wandb sync``), the mode and
run options from the command line, checkpoints as artifacts, resumed runs continuing their W&B run, and the command
line a W&B sweep agent builds."""

from __future__ import annotations

import pytest
import torch
import yaml
from conftest import EXPERIMENTS, QUIET, TINY, cli_error, read_metrics
from wandb_records import offline_runs

from illusioncraft.cli import main

LOGREG = ["fit", "--config", str(EXPERIMENTS / "logreg_digits.yaml"), *TINY, *QUIET]
SWEEP = EXPERIMENTS / "sweeps" / "cnn_digits.yaml"


@pytest.fixture(autouse=True)
def offline_wandb(tmp_path, monkeypatch):
    """No login, no network, no W&B mode from the environment; W&B's staging files in the test's directory."""
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    yield
    import wandb

    wandb.finish()


def fit(run_dir, *args, base=LOGREG):
    import wandb

    main([*base, "--run.dir", str(run_dir), "--run.loggers", "[wandb]", *args])
    wandb.finish()  # the offline run's files are complete once the run is finished
    return run_dir


def test_a_classifier_run_shows_its_config_scalars_and_pictures(tmp_path):
    run_dir = fit(tmp_path / "run", "--run.loggers", "[csv, wandb]", "--trainer.callbacks+=classifier_samples",
                  "--trainer.callbacks.every_n_steps=1")
    (run,) = offline_runs(run_dir)
    assert run.config["config"] == yaml.safe_load((run_dir / "config.yaml").read_text())  # the resolved YAML
    logged = {key for row in run.history for key in row}
    assert {"train/loss", "val/acc", "val/loss", "test/acc", "trainer/global_step"} <= logged
    assert run.summary["test/acc"] == pytest.approx(read_metrics(run_dir)["test/acc"])  # the final value
    for key in ("samples/train_batch", "samples/predictions", "test/confusion_matrix"):
        assert any(path.startswith(f"media/images/{key}_") for path in run.files), key
    assert not run.artifacts  # checkpoints are logged only when asked


def test_predictions_are_captioned_with_the_predicted_and_true_class(tmp_path):
    run_dir = fit(tmp_path / "run", "--trainer.callbacks+=classifier_samples", "--trainer.callbacks.n=4")
    (run,) = offline_runs(run_dir)
    rows = [row for row in run.history if "samples/predictions/captions" in row]
    assert len(rows) == 1 and len(rows[0]["samples/predictions/captions"]) == 4
    assert all(caption.startswith("predicted ") and ", true " in caption for caption in rows[0]["samples/predictions/captions"])


def test_run_options_file_the_run_in_its_project_group_and_tags(tmp_path):
    run_dir = fit(tmp_path / "run", "--run.wandb.project", "digits", "--run.wandb.group", "baselines",
                  "--run.wandb.tags", "[logreg, tiny]", "--run.wandb.notes", "a first try", "--run.wandb.job_type", "train")
    (run,) = offline_runs(run_dir)
    assert (run.project, run.group, run.tags, run.notes, run.job_type) == (
        "digits", "baselines", ["logreg", "tiny"], "a first try", "train")


def test_a_gan_run_logs_samples_and_the_provenance_of_its_scores(tmp_path):
    dcgan = ["fit", "--config", str(EXPERIMENTS / "dcgan_digits.yaml"), *TINY, *QUIET, "--model.init_args.width", "8",
             "--trainer.callbacks.n_real=64", "--trainer.callbacks.n_fake=64", "--trainer.callbacks+=gan_samples",
             "--trainer.callbacks.every_n_steps=1"]
    run_dir = fit(tmp_path / "run", base=dcgan)
    (run,) = offline_runs(run_dir)
    assert any(path.startswith("media/images/samples/generated_") for path in run.files)
    provenance = run.summary["provenance/val/fid"]
    assert provenance["extractor"] == "digits_classifier" and provenance["n_real"] == 64 and provenance["n_fake"] == 64
    assert len(provenance["extractor_weights_sha256"]) == 16 and provenance["value"] == run.summary["val/fid"]


def test_log_model_logs_the_best_and_last_checkpoints_as_one_model_artifact(tmp_path):
    run_dir = fit(tmp_path / "run", "--run.wandb.log_model", "true")
    (run,) = offline_runs(run_dir)
    best, last = run.artifacts
    assert best["name"] == last["name"] == f"model-{run.run_id}" and best["type"] == "model"
    assert "best" in best["aliases"] and last["aliases"] == ["latest"]
    assert best["metadata"]["file"].startswith("best-") and last["metadata"]["file"] == "last.ckpt"
    saved = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    state = next(value for key, value in saved["callbacks"].items() if key.startswith("ModelCheckpoint"))
    assert best["metadata"]["monitor"] == "val/acc" and best["metadata"]["mode"] == "max"
    assert best["metadata"]["best_score"] == pytest.approx(float(state["best_model_score"]))


def test_resuming_with_ckpt_path_last_continues_the_same_wandb_run(tmp_path):
    run_dir = fit(tmp_path / "run")
    fit(run_dir, "--ckpt_path", "last", "--trainer.max_epochs", "2")
    first, second = offline_runs(run_dir)
    assert second.run_id == first.run_id and second.resumed  # `wandb sync` appends the second to the first
    steps = [[row["trainer/global_step"] for row in run.history if "train/loss" in row] for run in (first, second)]
    assert min(steps[1]) > max(steps[0])  # one curve: the resumed steps follow the first run's


def test_wandb_mode_in_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    run_dir = fit(tmp_path / "run", "--run.wandb.mode", "offline")
    assert not list(run_dir.glob("wandb/offline-run-*"))


def test_online_without_a_login_is_one_line_asking_for_wandb_login(tmp_path, capsys):
    line = cli_error(capsys, *LOGREG, "--run.dir", str(tmp_path / "run"), "--run.loggers", "[wandb]",
                     "--run.wandb.mode", "online")
    assert "W&B mode online needs a login: run `wandb login`" in line


def test_a_run_that_fails_after_starting_wandb_is_finished_and_the_next_run_is_its_own(tmp_path, capsys):
    import wandb

    line = cli_error(capsys, *LOGREG, "--run.dir", str(tmp_path / "failed"), "--run.loggers", "[wandb]",
                     "--model.init_args.optimizer", "{name: adam, lr: -1}")
    assert "Invalid learning rate" in line  # raised when the optimiser is built, after W&B's run has started
    assert wandb.run is None  # the failed run's W&B run is closed, not left for the next run to write into
    fit(tmp_path / "next")
    assert len(offline_runs(tmp_path / "next")) == 1


def agent_command_line(sweep: dict, values: dict) -> list[str]:
    """The command a W&B agent runs for one set of parameter values (wandb's own functions, as in wandb_agent)."""
    from wandb.sdk.launch.sweeps import utils as sweep_utils

    command = sweep_utils.create_sweep_command(list(sweep["command"]))
    macros = sweep_utils.create_sweep_command_args({"args": {name: {"value": value} for name, value in values.items()}})
    macros.update(env=["/usr/bin/env"], interpreter=["python"], program=[sweep["program"]])
    line: list[str] = []
    for chunk in map(str, command):
        line += (macros.get(chunk[2:-1]) or []) if chunk.startswith("${") and chunk.endswith("}") else [chunk]
    return line


def first_values(sweep: dict) -> dict:
    return {name: spec["value"] if "value" in spec else spec["values"][0] if "values" in spec else spec["min"]
            for name, spec in sweep["parameters"].items()}


def test_a_sweep_agents_command_line_fits_with_the_chosen_values(tmp_path, monkeypatch):
    monkeypatch.chdir(EXPERIMENTS.parent)  # the agent runs from the repository root
    monkeypatch.setenv("WANDB_MODE", "offline")  # the sweep asks for online; the environment wins
    sweep = yaml.safe_load(SWEEP.read_text())
    line = agent_command_line(sweep, first_values(sweep))
    assert line[:4] == ["/usr/bin/env", "illusioncraft", "fit", "--config"]
    assert "--model.init_args.dropout=0.0" in line and "--model.init_args.optimizer={name: adam, lr: 0.002}" in line
    limits = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
              "--trainer.limit_test_batches=1"]
    run_dir = fit(tmp_path / "run", *limits, base=line[2:] + QUIET)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["init_args"]["channels"] == [32, 64] and saved["data"]["init_args"]["batch_size"] == 32
    assert saved["model"]["init_args"]["optimizer"] == {"name": "adam", "lr": 0.002}
    assert saved["run"]["wandb"]["group"] == "cnn_digits_sweep"
    assert len(offline_runs(run_dir)) == 1


def test_every_value_of_the_sweep_parses_on_the_command_line(capsys, monkeypatch):
    monkeypatch.chdir(EXPERIMENTS.parent)
    sweep = yaml.safe_load(SWEEP.read_text())
    for name, spec in sweep["parameters"].items():
        for value in spec.get("values", [spec.get("value", spec.get("max"))]):
            line = agent_command_line(sweep, {**first_values(sweep), name: value})
            with pytest.raises(SystemExit) as stop:
                main(line[2:] + ["--print_config"])
            assert stop.value.code in (0, None), (name, value, capsys.readouterr().err)
            printed = yaml.safe_load(capsys.readouterr().out)
            section, *path = name.split(".")
            found = printed[section]
            for key in path:
                found = found[key]
            assert found == (yaml.safe_load(value) if isinstance(value, str) else value), name
