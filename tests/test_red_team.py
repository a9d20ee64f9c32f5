"""Hostile and careless use: every attempt ends in one line naming the culprit, loses nothing already saved and runs
no code from a file.

The attempts come in eight groups: bad input; corrupt and crafted checkpoints; signals; kill -9, full and
unwritable disks; NaN; concurrent runs; broken plugins; W&B without network. This file holds the attempts no other
test file covers; README.md ("What IllusionCraft guarantees") lists all of them with the test of each.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import EXPERIMENTS, QUIET, TINY, cli_error, fake_plugin_distribution, read_metrics, run_cli
from PIL import Image

from illusioncraft.cli import main

CNN = str(EXPERIMENTS / "cnn_digits.yaml")


# -- shared runs --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_run(tmp_path_factory) -> Path:
    """A CNN run fitted for one tiny epoch: ``checkpoints/last.ckpt`` and a best checkpoint. Tests copy it."""
    return run_cli(tmp_path_factory.mktemp("fitted"), "fit", "--config", CNN, *TINY, "--run.test_after_fit", "false")


def model_checkpoint_state(checkpoint: dict) -> dict:
    """The ModelCheckpoint callback's state inside a checkpoint (its paths: best, k-th best, last)."""
    (key,) = [key for key in checkpoint["callbacks"] if key.startswith("ModelCheckpoint")]
    return checkpoint["callbacks"][key]


def copy_run(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` with the paths its last checkpoint records moved along, as if trained there."""
    shutil.copytree(source, target)
    last = target / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    state = model_checkpoint_state(checkpoint)
    for key in ("dirpath", "best_model_path", "kth_best_model_path", "last_model_path"):
        state[key] = state[key].replace(str(source), str(target))
    state["best_k_models"] = {path.replace(str(source), str(target)): score for path, score in state["best_k_models"].items()}
    torch.save(checkpoint, last)
    return target


@pytest.fixture
def run_copy(tmp_path, fitted_run) -> Path:
    return copy_run(fitted_run, tmp_path / "run")


def resume(run: Path, *extra: str) -> list[str]:
    """``fit --ckpt_path last`` of ``run`` for one more epoch, then the test of its best checkpoint."""
    return ["fit", "--config", CNN, *TINY, "--trainer.max_epochs", "2", "--run.dir", str(run), "--run.loggers", "[csv]",
            *QUIET, "--ckpt_path", "last", *extra]


@pytest.fixture(scope="module")
def generator_checkpoint(tmp_path_factory) -> Path:
    """An untrained 16 px DCGAN saved as a checkpoint ``generate`` reads."""
    from illusioncraft.models.gan.dcgan import DCGAN

    model = DCGAN(width=8, latent_dim=8, data_shape=(1, 16, 16))
    path = tmp_path_factory.mktemp("dcgan") / "dcgan.ckpt"
    torch.save({"state_dict": model.state_dict(),
                "hyper_parameters": {**model.hparams, "_class_path": "illusioncraft.models.gan.dcgan.DCGAN"}}, path)
    return path


# -- bad input ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty; a config is a mapping of sections (model:, data:, trainer:, ...)"),
        (b"- a\n- b\n", "holds a list; a config is a mapping of sections"),
        (b"hello\n", "holds a str; a config is a mapping of sections"),
        (b"model: [\n", "is not valid YAML (line 2"),
        (bytes(range(128, 256)), "is not UTF-8 text"),
    ],
    ids=["empty", "list", "scalar", "malformed", "binary"],
)
def test_a_config_file_that_is_not_a_yaml_mapping_is_one_line_naming_it(tmp_path, capsys, content, expected):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    line = cli_error(capsys, "fit", "--config", str(path))
    assert f"--config '{path}' {expected}" in line


def test_a_trainer_value_lightning_refuses_is_one_line(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", CNN, "--trainer.max_epochs", "-5", "--run.dir", str(tmp_path / "run"))
    assert "`max_epochs` must be a non-negative integer or -1. You passed in -5." in line


def write_image_folder(root: Path) -> None:
    """Three classes of twelve 10x10 grey images each, told apart by brightness."""
    rng = np.random.default_rng(0)
    for index, name in enumerate(["dark", "mid", "bright"]):
        (root / name).mkdir(parents=True)
        for i in range(12):
            pixels = np.full((10, 10), 40 + 80 * index, dtype=np.uint8) + rng.integers(0, 30, (10, 10), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_a_model_and_a_datamodule_with_one_argument_name_train_together(tmp_path):
    # cnn's channels are its convolution widths, image_folder's the image's colour channels
    write_image_folder(tmp_path / "images")
    run_dir = run_cli(tmp_path, "fit", "--model", "cnn", "--model.init_args.channels", "[4, 8]", "--data", "image_folder",
                      "--data.init_args.root", str(tmp_path / "images"), "--data.init_args.image_size", "8",
                      "--data.init_args.batch_size", "4", *TINY)
    assert "test/acc" in read_metrics(run_dir)


def test_testing_a_model_without_a_test_step_is_one_line(tmp_path, capsys):
    line = cli_error(capsys, "test", "--config", str(EXPERIMENTS / "stackgan_shapes_stage1.yaml"),
                     "--run.root", str(tmp_path / "runs"), "--run.loggers", "[]")
    assert "test: StackGANStage1 has no test step; `illusioncraft validate` scores it" in line


@pytest.mark.parametrize(("name", "expected"), [("samples", "has no picture extension"), (".", "is a directory")])
def test_generate_refuses_an_out_path_that_is_not_a_picture_file(tmp_path, capsys, generator_checkpoint, name, expected):
    out = tmp_path / name
    line = cli_error(capsys, "generate", "--ckpt", str(generator_checkpoint), "--out", str(out))
    assert f"generate: --out '{out}' {expected}" in line


def test_generate_refuses_more_samples_than_one_picture_holds(tmp_path, capsys, generator_checkpoint):
    line = cli_error(capsys, "generate", "--ckpt", str(generator_checkpoint), "--n", "100000", "--out",
                     str(tmp_path / "x.png"))
    assert "generate: 100000 samples in one picture; at most 4096" in line


def test_generate_draws_in_chunks_the_samples_of_one_batch(generator_checkpoint, monkeypatch):
    from illusioncraft import generate
    from illusioncraft.imaging import image_grid

    model = generate.load_generator(generator_checkpoint)
    torch.manual_seed(3)
    expected = image_grid(model.sample(10), value_range=(0.0, 1.0))
    monkeypatch.setattr(generate, "CHUNK", 4)  # 10 samples: chunks of 4, 4 and 2
    picture = generate.generate_picture(model, 10, seed=3)
    assert np.array_equal(np.asarray(picture), np.asarray(expected))


# -- corrupt and crafted checkpoints --------------------------------------------------------------------------------
def test_a_truncated_checkpoint_is_one_line(tmp_path, capsys, fitted_run):
    whole = (fitted_run / "checkpoints" / "last.ckpt").read_bytes()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(whole[: len(whole) // 2])
    line = cli_error(capsys, "fit", "--config", CNN, *TINY, "--ckpt_path", str(cut), "--run.dir", str(tmp_path / "run"))
    assert f"cannot read checkpoint '{cut}'" in line


class CreatesAFile:
    """Unpickling this calls ``open(path, "w")``: the file's existence proves that code from a checkpoint ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_a_best_checkpoint_path_crafted_into_a_checkpoint_runs_no_code(tmp_path, run_copy):
    marker = tmp_path / "code_ran"
    payload = tmp_path / "payload.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "payload": CreatesAFile(marker)}, payload)
    last = run_copy / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    # val/acc of 2 can never be beaten: without a guard the payload stays "the best checkpoint" that fit then tests
    model_checkpoint_state(checkpoint).update(
        best_model_path=str(payload), best_model_score=torch.tensor(2.0), kth_best_model_path=str(payload),
        kth_value=torch.tensor(2.0), best_k_models={str(payload): torch.tensor(2.0)},
    )
    torch.save(checkpoint, last)  # tensors, strings and dicts only: it passes torch.load(weights_only=True)
    with pytest.warns(UserWarning, match=f"state names '{payload}', outside .*: ignored"):
        main(resume(run_copy))
    assert not marker.exists()
    assert "test/acc" in read_metrics(run_copy)  # the run's own best checkpoint was tested instead


def test_checkpoint_paths_crafted_to_leave_the_run_are_never_deleted(tmp_path, run_copy):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    escape = str(run_copy / "checkpoints" / ".." / ".." / "victim.txt")  # lexically under checkpoints/
    last = run_copy / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    # a worse score than any real one: the next best checkpoint replaces, and deletes, the recorded one
    model_checkpoint_state(checkpoint).update(
        best_model_path=escape, best_model_score=torch.tensor(-1.0), kth_best_model_path=escape,
        kth_value=torch.tensor(-1.0), best_k_models={escape: torch.tensor(-1.0)}, last_model_path=escape,
    )
    torch.save(checkpoint, last)
    main(resume(run_copy))
    assert victim.read_text() == "keep me"


def test_resuming_a_cnn_with_other_channels_than_the_config_is_one_line(capsys, run_copy):
    line = cli_error(capsys, *resume(run_copy, "--model.init_args.channels", "[8, 16]"))
    assert "was trained with other model arguments than the config sets: channels=[32, 64] (config: [8, 16])" in line


def test_resuming_a_stage1_of_another_width_than_the_config_is_one_line(tmp_path, capsys):
    from test_stackgan import saved_stage1, tiny_stage1

    checkpoint = saved_stage1(tiny_stage1(), tmp_path)  # width 8, text_dim 16, condition_dim 8, latent_dim 8
    line = cli_error(capsys, "fit", "--model", "stackgan_stage1", "--data", "captioned_shapes", "--ckpt_path", checkpoint,
                     "--model.init_args.text_dim", "16", "--model.init_args.condition_dim", "8",
                     "--model.init_args.latent_dim", "8", "--model.init_args.width", "16", "--run.dir", str(tmp_path / "run"))
    assert "other model arguments than the config sets: width=8 (config: 16); use the config it was trained" in line


# -- kill -9, full and unwritable disks -----------------------------------------------------------------------------
HANG_MID_SAVE = """
import sys, time, torch
from illusioncraft.checkpoints import AtomicCheckpointIO

def half_written(obj, file, *args, **kwargs):
    file.write(b"x" * 4096)
    file.flush()
    print("writing", flush=True)
    time.sleep(600)

checkpoint = torch.load(sys.argv[1], weights_only=True)
torch.save = half_written
AtomicCheckpointIO().save_checkpoint({**checkpoint, "global_step": -1}, sys.argv[1])
"""


@pytest.fixture(scope="module")
def killed_mid_save(tmp_path_factory, fitted_run) -> Path:
    """A copy of ``fitted_run`` whose next ``last.ckpt`` save was killed with SIGKILL halfway through."""
    run = copy_run(fitted_run, tmp_path_factory.mktemp("killed") / "run")
    process = subprocess.Popen([sys.executable, "-c", HANG_MID_SAVE, str(run / "checkpoints" / "last.ckpt")],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    process.kill()
    process.wait(timeout=60)
    return run


def test_kill_9_during_a_save_leaves_the_previous_checkpoint_whole(killed_mid_save, fitted_run):
    (temporary,) = (killed_mid_save / "checkpoints").glob(".last.ckpt.*.tmp")  # the killed save's half file
    assert temporary.stat().st_size == 4096
    saved = torch.load(killed_mid_save / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == torch.load(fitted_run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]


def test_the_next_start_of_a_run_removes_the_temporary_file_of_a_killed_save(tmp_path, killed_mid_save):
    run = copy_run(killed_mid_save, tmp_path / "run")
    main(resume(run))
    assert not list((run / "checkpoints").glob(".*.tmp"))


def test_a_full_disk_during_a_save_is_one_line_and_keeps_the_saved_checkpoints(capsys, monkeypatch, run_copy):
    before = {path.name: path.read_bytes() for path in (run_copy / "checkpoints").iterdir()}

    def disk_full(obj, file, *args, **kwargs):
        file.write(b"x" * 1024)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_full)
    line = cli_error(capsys, *resume(run_copy))
    assert f"cannot write checkpoint '{run_copy / 'checkpoints'}" in line
    assert "No space left on device; the checkpoints already saved are unchanged" in line
    assert {path.name: path.read_bytes() for path in (run_copy / "checkpoints").iterdir()} == before


def test_an_unwritable_checkpoints_directory_is_one_line(capsys, monkeypatch, run_copy):
    # tests may run as root, for whom no permission bit refuses a write: the refusal is the file system's answer
    def refused(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), dir)

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    line = cli_error(capsys, *resume(run_copy))
    assert f"cannot write checkpoint '{run_copy / 'checkpoints'}" in line and "Permission denied" in line


def test_a_run_root_that_cannot_hold_directories_is_one_line(tmp_path, capsys):
    root = tmp_path / "runs"
    root.write_text("a file where the runs should go")
    line = cli_error(capsys, "fit", "--config", CNN, *TINY, "--run.root", str(root))
    assert f"--run.root: cannot create the run directory '{root / 'cnn_digits'}'" in line


def test_an_unwritable_run_root_is_one_line(tmp_path, capsys, monkeypatch):
    root = tmp_path / "runs"

    def refused(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(os, "mkdir", refused)
    line = cli_error(capsys, "fit", "--config", CNN, *TINY, "--run.root", str(root))
    assert "--run.root: cannot create the run directory" in line and "Permission denied" in line


# -- concurrent runs ------------------------------------------------------------------------------------------------
CLAIM_AT_ONCE = """
import sys, time
from illusioncraft.run_dir import RunOptions, resolve_run_dir

root, start, rounds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
for index in range(rounds):
    moment = start + index * 0.02
    time.sleep(max(0.0, moment - time.time() - 0.002))
    while time.time() < moment:
        pass
    print(resolve_run_dir(RunOptions(root=root), f"race{index}").name, flush=True)
"""


def test_two_runs_started_at_the_same_instant_get_their_own_directories(tmp_path):
    rounds = 50
    start = time.time() + 2.0  # both interpreters are up by then; each round both claim at the same instant
    processes = [
        subprocess.Popen([sys.executable, "-c", CLAIM_AT_ONCE, str(tmp_path), str(start), str(rounds)],
                         stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    claimed = [process.communicate(timeout=120)[0].split() for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    for index in range(rounds):
        assert sorted([claimed[0][index], claimed[1][index]]) == ["version_0", "version_1"], index


def fit_into(root: Path, *extra: str) -> list[str]:
    return ["fit", "--config", CNN, *TINY, "--run.root", str(root), "--run.loggers", "[]", *QUIET,
            "--run.test_after_fit", "false", *extra]


def test_latest_stays_on_the_last_run_that_wrote_a_checkpoint(tmp_path):
    runs = tmp_path / "runs" / "cnn_digits"
    main(fit_into(tmp_path / "runs"))
    main(["validate", "--config", CNN, *TINY, "--run.root", str(tmp_path / "runs"), "--run.loggers", "[csv]", *QUIET,
          "--ckpt_path", str(runs / "version_0" / "checkpoints" / "last.ckpt")])
    assert "val/acc" in read_metrics(runs / "version_1")  # the validation has its own directory
    assert (runs / "latest").resolve() == (runs / "version_0").resolve()
    assert (runs / "latest" / "checkpoints" / "last.ckpt").is_file()


def test_a_run_that_fails_at_start_leaves_no_directory_and_latest_in_place(tmp_path, capsys):
    runs = tmp_path / "runs" / "cnn_digits"
    main(fit_into(tmp_path / "runs"))
    cli_error(capsys, *fit_into(tmp_path / "runs", "--trainer.max_epochs", "-5"))
    assert sorted(path.name for path in runs.iterdir()) == ["latest", "version_0"]
    assert (runs / "latest").resolve() == (runs / "version_0").resolve()


# -- broken plugins -------------------------------------------------------------------------------------------------
def test_a_plugin_that_calls_sys_exit_is_a_warning_naming_its_distribution(isolated_registry, tmp_path, monkeypatch,
                                                                           capsys):
    fake_plugin_distribution(tmp_path, "exiting-plugin", "exiting_plugin_module", "import sys\nsys.exit('plugin says bye')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match=r"plugin 'exiting-plugin' \(exiting_plugin_module\) failed to load: SystemExit"):
        main(["list", "model"])
    assert "cnn" in capsys.readouterr().out  # the command ran on
