"""digits-c: deterministic corruptions whose strength grows with severity; only the test split is corrupted."""

from __future__ import annotations

import pytest
import torch

from illusioncraft.data.digits import DigitsDataModule
from illusioncraft.data.digits_c import CORRUPTIONS, DigitsCorruptedDataModule, corrupt
from illusioncraft.errors import ConfigError


@pytest.fixture(scope="module")
def clean() -> torch.Tensor:
    data = DigitsDataModule()
    data.setup("fit")
    return data.test_dataset.tensors[0][:64]


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_corruption_is_deterministic_in_range_and_grows_with_severity(clean, corruption):
    torch.testing.assert_close(corrupt(clean, corruption, 3, seed=1), corrupt(clean, corruption, 3, seed=1))
    distances = []
    for severity in range(1, 6):
        out = corrupt(clean, corruption, severity)
        assert out.shape == clean.shape and float(out.min()) >= 0 and float(out.max()) <= 1
        distances.append(float((out - clean).abs().mean()))
    assert distances[0] > 0
    assert distances[-1] > distances[0]


def test_only_the_test_split_is_corrupted():
    plain, corrupted = DigitsDataModule(), DigitsCorruptedDataModule(corruption="contrast", severity=5)
    plain.setup("fit")
    corrupted.setup("fit")
    torch.testing.assert_close(corrupted.train_dataset.tensors[0], plain.train_dataset.tensors[0])
    torch.testing.assert_close(corrupted.test_dataset.tensors[1], plain.test_dataset.tensors[1])
    assert not torch.equal(corrupted.test_dataset.tensors[0], plain.test_dataset.tensors[0])
    assert (corrupted.mean, corrupted.std) == (plain.mean, plain.std)


def test_bad_corruption_settings(clean):
    with pytest.raises(ConfigError, match="unknown corruption 'fog'"):
        corrupt(clean, "fog", 1)
    with pytest.raises(ConfigError, match="severity must be 1..5, got 6"):
        DigitsCorruptedDataModule(severity=6)


def test_a_checkpoint_is_tested_on_digits_c_from_the_command_line(tmp_path):
    from conftest import EXPERIMENTS, TINY, read_metrics, run_cli

    config = str(EXPERIMENTS / "cnn_digits.yaml")
    fitted = run_cli(tmp_path, "fit", "--config", config, *TINY)
    tested = run_cli(tmp_path, "test", "--config", config, "--data", "digits_c", "--data.init_args.corruption", "pixelate",
                     "--data.init_args.severity", "5", "--ckpt_path", str(fitted / "checkpoints" / "last.ckpt"))
    assert "pixelate" in (tested / "config.yaml").read_text()
    assert 0 <= read_metrics(tested)["test/acc"] <= 1
