"""Datamodules: the digits split and batch sizes, and users' image folders with their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from illusioncraft.data.digits import DigitsDataModule, digits_split
from illusioncraft.data.image_folder import ImageFolderDataModule
from illusioncraft.errors import ConfigError, DataError


def test_digits_split_is_deterministic_stratified_and_covers_all_1797_images():
    first, second = digits_split(seed=3), digits_split(seed=3)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(first[name][0], second[name][0])
    assert sum(len(first[name][1]) for name in first) == 1797
    assert len(first["test"][1]) == 360  # 20 % of 1,797, rounded up by scikit-learn
    test_share = np.bincount(first["test"][1]) / len(first["test"][1])
    assert test_share.min() > 0.08 and test_share.max() < 0.12  # every digit about 10 % of the test split
    assert not np.array_equal(first["test"][0], digits_split(seed=4)["test"][0])


def test_digits_classes_subset_is_relabelled_from_zero():
    split = digits_split(classes=[3, 8])
    assert set(np.unique(split["train"][1])) == {0, 1}


@pytest.mark.parametrize("size", [8, 16, 32])
def test_digits_upscaling_and_normalisation(size):
    data = DigitsDataModule(image_size=size)
    data.setup("fit")
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (64, 1, size, size) and labels.dtype == torch.long
    assert float(images.min()) >= 0 and float(images.max()) <= 1  # the loader yields [0, 1] images
    every_image = data.train_dataset.tensors[0]
    normalised, _ = data.on_after_batch_transfer((every_image, labels), 0)  # normalised on the device
    assert abs(float(normalised.mean())) < 1e-4 and abs(float(normalised.std()) - 1) < 1e-3


def test_full_batch_is_one_batch_per_epoch_and_size_one_is_sgd():
    full = DigitsDataModule(batch_size="full")
    full.setup("fit")
    loader = full.train_dataloader()
    assert len(loader) == 1 and next(iter(loader))[0].shape[0] == len(full.train_dataset)
    single = DigitsDataModule(batch_size=1)
    single.setup("fit")
    assert len(single.train_dataloader()) == len(single.train_dataset)


def test_digits_rejects_bad_values():
    with pytest.raises(ConfigError, match="image_size must be 8, 16 or 32"):
        DigitsDataModule(image_size=12)
    with pytest.raises(ConfigError, match="classes must be at least two distinct digits"):
        DigitsDataModule(classes=[3])


def _write_folder(root, classes=("cat", "dog"), per_class=10, size=12):
    rng = np.random.default_rng(0)
    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            noise = rng.integers(0, 20, (size, size, 3), dtype=np.uint8)
            pixels = np.full((size, size, 3), 60 + 120 * index, dtype=np.uint8) + noise
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_image_folder_reads_class_folders(tmp_path):
    _write_folder(tmp_path)
    data = ImageFolderDataModule(root=str(tmp_path), image_size=8, channels=3, batch_size=4, val_fraction=0.2, test_fraction=0.2)
    data.setup("fit")
    assert data.class_names == ["cat", "dog"]
    assert len(data.train_dataset) + len(data.val_dataset) + len(data.test_dataset) == 20
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (4, 3, 8, 8) and set(labels.tolist()) <= {0, 1}


def test_image_folder_names_an_unreadable_file(tmp_path):
    _write_folder(tmp_path)
    broken = tmp_path / "dog" / "broken.png"
    broken.write_bytes(b"not a png")
    data = ImageFolderDataModule(root=str(tmp_path))
    with pytest.raises(DataError, match=r"cannot read image '.*broken\.png'"):
        data.setup("fit")


def test_image_folder_missing_root_and_single_class(tmp_path):
    with pytest.raises(DataError, match="is not a directory"):
        ImageFolderDataModule(root=str(tmp_path / "nope"))
    _write_folder(tmp_path, classes=("only",))
    with pytest.raises(DataError, match="needs at least two class sub-folders"):
        ImageFolderDataModule(root=str(tmp_path))


def write_class_folders(root, per_class: int = 6) -> None:
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(root / name / f"{i}.png")


def batches(data) -> list[tuple[torch.Tensor, torch.Tensor]]:
    data.setup("fit")
    return [data.on_after_batch_transfer(batch, 0) for batch in data.train_dataloader()]


def test_a_decoded_cache_gives_the_batches_decoding_on_access_gives(tmp_path, monkeypatch):
    monkeypatch.setenv("ILLUSIONCRAFT_CACHE", str(tmp_path / "cache"))
    write_class_folders(tmp_path / "images")
    options = {"root": str(tmp_path / "images"), "image_size": 8, "batch_size": 4, "normalize": False}
    expected = batches(ImageFolderDataModule(**options))
    for cache in ("memory", "disk"):
        got = batches(ImageFolderDataModule(**options, cache=cache))
        assert len(got) == len(expected)
        for (images, labels), (want_images, want_labels) in zip(got, expected, strict=True):
            assert images.dtype == torch.float32 and torch.equal(images, want_images) and torch.equal(labels, want_labels)
    cached = sorted((tmp_path / "cache" / "images").glob("image_folder_*.npy"))
    assert len(cached) == 3  # train, val and test splits, each decoded once into its own file

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr("illusioncraft.data.image_cache.read_pixels", no_decoding)
    again = batches(ImageFolderDataModule(**options, cache="disk"))  # a later run reads the files, decodes nothing
    assert all(torch.equal(a[0], b[0]) for a, b in zip(again, expected, strict=True))
    Image.new("RGB", (10, 12), "red").save(tmp_path / "images" / "cats" / "0.png")  # the folder changed
    with pytest.raises(AssertionError, match="decoded again"):
        batches(ImageFolderDataModule(**options, cache="disk"))


def test_cache_must_be_none_memory_or_disk(tmp_path):
    write_class_folders(tmp_path / "images")
    with pytest.raises(ConfigError, match="cache must be one of none, memory, disk, got 'ram'"):
        ImageFolderDataModule(root=str(tmp_path / "images"), cache="ram")
