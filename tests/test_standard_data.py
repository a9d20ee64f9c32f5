"""MNIST, CIFAR-10/100 and CelebA read from tiny files written in their exact formats; each bad file is one line."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
import torch
from conftest import EXPERIMENTS, TINY, cli_error, read_metrics, run_cli
from standard_files import (
    write_celeba,
    write_cifar10_binary,
    write_cifar10_python,
    write_cifar100_binary,
    write_mnist,
)

from illusioncraft.data.celeba import CelebADataModule
from illusioncraft.data.cifar import CIFAR10DataModule, CIFAR100DataModule
from illusioncraft.data.mnist import MNISTDataModule
from illusioncraft.errors import DataError
from illusioncraft.safe_pickle import load_pickle


def all_images(dataset) -> torch.Tensor:
    return torch.stack([dataset[i][0] for i in range(len(dataset))])


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_the_idx_files_pixel_for_pixel(tmp_path, gz):
    arrays = write_mnist(tmp_path, gz=gz)
    data = MNISTDataModule(str(tmp_path), val_fraction=0.25, normalize=False)
    data.setup("fit")
    expected_test = torch.from_numpy(arrays["t10k_images"]).float().unsqueeze(1) / 255
    torch.testing.assert_close(all_images(data.test_dataset), expected_test)
    assert [data.test_dataset[i][1] for i in range(10)] == arrays["t10k_labels"].tolist()
    train_and_val = torch.cat([all_images(data.train_dataset), all_images(data.val_dataset)])
    assert (len(data.train_dataset), len(data.val_dataset)) == (15, 5)
    assert sorted(train_and_val.flatten(1).sum(1).tolist()) == pytest.approx(
        sorted((arrays["train_images"].reshape(20, -1).astype(np.float64) / 255).sum(1).tolist()))


def test_mnist_resizes_to_the_asked_size(tmp_path):
    write_mnist(tmp_path)
    data = MNISTDataModule(str(tmp_path), image_size=32)
    data.setup("fit")
    assert data.image_shape == (1, 32, 32) and data.train_dataset[0][0].shape == (1, 32, 32)


def test_mnist_names_a_missing_or_corrupt_file(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"mnist: missing file '.*t10k-labels-idx1-ubyte'"):
        MNISTDataModule(str(tmp_path)).setup("fit")
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    with pytest.raises(DataError, match=r"'.*train-images-idx3-ubyte' holds 15670 bytes of data, its header promises 15680"):
        MNISTDataModule(str(tmp_path)).setup("fit")
    path.write_bytes(b"\x00\x00\x08\x01" + path.read_bytes()[4:])  # a labels magic number on the images file
    with pytest.raises(DataError, match="is not an IDX file of images"):
        MNISTDataModule(str(tmp_path)).setup("fit")


def test_cifar10_binary_batches_are_read_pixel_for_pixel(tmp_path):
    written = write_cifar10_binary(tmp_path)
    data = CIFAR10DataModule(str(tmp_path), val_fraction=0.2, normalize=False)
    assert data.class_names[:3] == ["airplane", "automobile", "bird"] and data.num_classes == 10
    data.setup("fit")
    torch.testing.assert_close(all_images(data.test_dataset), torch.from_numpy(written["test_batch.bin"]).float() / 255)
    assert [data.test_dataset[i][1] for i in range(6)] == [0, 1, 2, 3, 4, 5]
    assert len(data.train_dataset) + len(data.val_dataset) == 20 and len(data.val_dataset) == 4


def test_cifar100_binary_reads_fine_or_coarse_labels(tmp_path):
    written = write_cifar100_binary(tmp_path)
    fine = CIFAR100DataModule(str(tmp_path), labels="fine")
    coarse = CIFAR100DataModule(str(tmp_path), labels="coarse")
    assert (fine.num_classes, coarse.num_classes) == (100, 20)
    for data, key in ((fine, "test.bin_fine"), (coarse, "test.bin_coarse")):
        data.setup("fit")
        assert [data.test_dataset[i][1] for i in range(6)] == written[key].tolist()
    torch.testing.assert_close(all_images(fine.test_dataset), torch.from_numpy(written["test.bin"]).float() / 255)


def test_cifar10_python_version_is_read_when_named(tmp_path):
    written = write_cifar10_python(tmp_path)
    with pytest.raises(DataError, match=r"missing file '.*batches.meta.txt' \(format: binary\)"):
        CIFAR10DataModule(str(tmp_path))  # the pickles are not touched unless the user names the format
    data = CIFAR10DataModule(str(tmp_path), format="python")
    data.setup("fit")
    torch.testing.assert_close(all_images(data.test_dataset), torch.from_numpy(written["test_batch"]).float() / 255)
    assert data.class_names[-1] == "truck"


def test_cifar_names_a_corrupt_batch(tmp_path):
    write_cifar10_binary(tmp_path)
    (tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin").write_bytes(b"\x01" * 3000)
    with pytest.raises(DataError, match=r"'.*data_batch_3.bin' is not a CIFAR binary batch: 3000 bytes"):
        CIFAR10DataModule(str(tmp_path)).setup("fit")


class RunsCode:
    """Unpickling an instance of this calls os.system: what a crafted data file would do."""

    def __reduce__(self):
        return (os.system, ("touch pickle_ran_code",))


def test_a_crafted_pickle_cannot_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_cifar10_python(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({b"data": RunsCode()}, protocol=2))
    refused = r"cannot read cifar10 batch '.*test_batch': UnpicklingError: refused global 'posix.system'"
    with pytest.raises(DataError, match=refused):
        CIFAR10DataModule(str(tmp_path), format="python").setup("fit")
    assert not (tmp_path / "pickle_ran_code").exists()


def test_dataset_pickles_load_arrays_and_containers_of_every_protocol(tmp_path):
    value = {b"data": np.arange(6, dtype=np.uint8).reshape(2, 3), b"labels": [1, 2], "scale": np.float32(0.5)}
    for protocol in (2, 4, 5):
        path = tmp_path / f"p{protocol}.pickle"
        path.write_bytes(pickle.dumps(value, protocol=protocol))
        loaded = load_pickle(path, "test", encoding="bytes")
        np.testing.assert_array_equal(loaded[b"data"], value[b"data"])
        assert loaded[b"labels"] == [1, 2] and loaded["scale"] == np.float32(0.5)
    buffer = io.BytesIO(pickle.dumps(value)[:-5])
    (tmp_path / "cut.pickle").write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match=r"cannot read test '.*cut.pickle'"):
        load_pickle(tmp_path / "cut.pickle", "test")


def test_celeba_uses_the_official_partition_and_the_centred_crop(tmp_path):
    names = write_celeba(tmp_path)
    data = CelebADataModule(str(tmp_path), image_size=16)
    data.setup("fit")
    assert [len(d) for d in (data.train_dataset, data.val_dataset, data.test_dataset)] == [3, 3, 3]
    image, label = data.val_dataset[1]  # the fifth image (index 4): partition 4 % 3 = 1
    assert image.shape == (3, 16, 16) and label == 0 and data.val_dataset.names[1] == names[4]
    torch.testing.assert_close(image[0], torch.full((16, 16), 100 / 255))  # the centred square only: red
    assert float(image[1].max()) == 0.0  # the green bands above and below are cropped away


def test_celeba_labels_by_an_attribute_and_names_missing_files(tmp_path):
    write_celeba(tmp_path)
    data = CelebADataModule(str(tmp_path), image_size=8, label_attribute="Male")
    data.setup("fit")
    assert data.class_names == ["not_Male", "Male"] and [data.train_dataset[i][1] for i in range(3)] == [0, 1, 0]
    (tmp_path / "list_eval_partition.txt").unlink()
    with pytest.raises(DataError, match=r"celeba: missing file '.*list_eval_partition.txt'"):
        CelebADataModule(str(tmp_path)).setup("fit")


def test_a_classifier_on_unlabelled_celeba_is_one_line_naming_the_fix(tmp_path, capsys):
    write_celeba(tmp_path / "data")
    line = cli_error(capsys, "fit", "--model", "mlp", "--data", "celeba", "--data.root", str(tmp_path / "data"),
                     "--data.image_size", "8", "--trainer.max_epochs", "1", "--trainer.logger", "false",
                     "--trainer.default_root_dir", str(tmp_path / "runs"))
    assert "needs at least 2 classes, the data has 1" in line and "label_attribute" in line, line


def test_celeba_corrupt_image_is_one_line_naming_it(tmp_path):
    names = write_celeba(tmp_path)
    (tmp_path / "img_align_celeba" / names[0]).write_bytes(b"not an image")
    data = CelebADataModule(str(tmp_path), image_size=8)
    data.setup("fit")
    with pytest.raises(DataError, match=rf"celeba: cannot read image '.*{names[0]}'"):
        data.train_dataset[0]


@pytest.mark.parametrize(("experiment", "write"), [
    ("dcgan_cifar10.yaml", write_cifar10_binary), ("wgan_gp_cifar10.yaml", write_cifar10_binary),
    ("dcgan_mnist.yaml", write_mnist), ("dcgan_celeba.yaml", write_celeba),
])
def test_standard_data_experiments_train_from_their_yaml(tmp_path, experiment, write):
    write(tmp_path / "data")
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / experiment), *TINY, "--data.init_args.root",
                      str(tmp_path / "data"), "--data.init_args.batch_size", "2", "--model.init_args.width", "4",
                      "--data.init_args.num_workers", "0")
    assert "train/d_loss" in read_metrics(run_dir)  # the critic trains first (wgan_gp: 5 steps per generator step)
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


def test_a_missing_data_root_is_one_line(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "dcgan_cifar10.yaml"), "--data.init_args.root",
                     str(tmp_path / "nowhere"), "--run.dir", str(tmp_path / "run"))
    assert "cifar10: data.root" in line and "is not a directory" in line
