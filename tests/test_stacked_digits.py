"""Stacked digits: each colour channel is a digit of the class its label names, the 1,000 modes are counted on a
hand-counted set, and a model's samples are scored per channel by a classifier."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from illusioncraft.data.digits import DigitsDataModule
from illusioncraft.data.stacked_digits import StackedDigitsDataModule
from illusioncraft.errors import ConfigError
from illusioncraft.metrics.modes import read_stacked_digits, stacked_mode_coverage


def test_mode_counting_matches_a_hand_counted_set():
    digits = torch.tensor([[1, 2, 3], [1, 2, 3], [0, 0, 0], [9, 9, 9]])  # modes 123 (twice), 000, 999
    coverage = stacked_mode_coverage(digits)
    assert coverage.modes_captured == 3 and coverage.samples == 4
    # KL(q || uniform over 1,000) = sum q log(1000 q), q = (1/2, 1/4, 1/4)
    expected = 0.5 * math.log(500) + 2 * 0.25 * math.log(250)
    assert coverage.reverse_kl == pytest.approx(expected, rel=1e-12)


def test_every_mode_once_is_all_modes_and_zero_kl():
    modes = torch.arange(1000)
    digits = torch.stack([modes // 100, modes // 10 % 10, modes % 10], dim=1)
    coverage = stacked_mode_coverage(digits)
    assert coverage.modes_captured == 1000 and coverage.reverse_kl == pytest.approx(0.0, abs=1e-12)


class BrightnessReader(nn.Module):
    """Reads a grey image as the class round(9 * mean pixel): a classifier whose answer is known in advance."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        classes = (images.flatten(1).mean(dim=1) * 9).round().long()  # (N,)
        return nn.functional.one_hot(classes, 10).float()


def test_each_channel_is_read_on_its_own_in_red_green_blue_order():
    images = torch.stack([torch.full((3, 4, 4), 0.0), torch.full((3, 4, 4), 1.0)])
    images[0, 0], images[0, 1], images[0, 2] = 2 / 9, 5 / 9, 7 / 9  # red 2, green 5, blue 7
    assert read_stacked_digits(images, BrightnessReader()).tolist() == [[2, 5, 7], [9, 9, 9]]


def test_each_channel_is_a_digit_of_the_class_the_label_names():
    data = StackedDigitsDataModule(n_samples=200, image_size=16, seed=3)
    data.setup("fit")
    digits = DigitsDataModule(image_size=16, normalize=False, seed=3)
    digits.setup("fit")
    pool, pool_labels = digits.train_dataset.tensors  # (M, 1, 16, 16), (M,)
    images, labels = data.train_dataset.batch(torch.arange(200))
    assert images.shape == (200, 3, 16, 16) and labels.max() < 1000
    for image, label in zip(images[:20], labels[:20].tolist(), strict=True):
        for channel, digit in enumerate((label // 100, label // 10 % 10, label % 10)):
            matches = (pool[:, 0] == image[channel]).flatten(1).all(dim=1)  # the training digit it was taken from
            assert matches.any() and set(pool_labels[matches].tolist()) == {digit}
    assert len(set(labels.tolist())) > 150  # 200 draws over 1,000 equally likely modes: about 181 distinct


def test_bad_arguments_are_one_line():
    with pytest.raises(ConfigError, match="image_size must be 16 or 32"):
        StackedDigitsDataModule(image_size=8)
    with pytest.raises(ConfigError, match="n_samples must be >= 10"):
        StackedDigitsDataModule(n_samples=5)
