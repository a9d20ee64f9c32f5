"""``illusioncraft evaluate``: a GAN checkpoint, a folder, a text-to-image checkpoint; statistics files; two
processes score exactly like one; the Inception path end to end with random weights; one-line mistakes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import EXPERIMENTS, TINY, cli_error, run_cli
from PIL import Image
from standard_files import write_random_inception_weights

from illusioncraft.cli import main

QUIET = ["--no-progress"]


@pytest.fixture(scope="module")
def digits_gan(tmp_path_factory):
    """A DCGAN checkpoint after a few steps on the 16 px digits."""
    run_dir = run_cli(tmp_path_factory.mktemp("gan"), "fit", "--config", str(EXPERIMENTS / "dcgan_digits.yaml"), *TINY,
                      "--trainer.callbacks", "null", "--run.test_after_fit", "false")
    return run_dir / "checkpoints" / "last.ckpt"


def evaluate(tmp_path, *args: str) -> dict:
    out = tmp_path / f"result{len(list(tmp_path.glob('result*.json')))}.json"
    main(["evaluate", *args, "--out", str(out), *QUIET])
    return json.loads(out.read_text())


DIGITS = ["--data", "digits", "--data-args", "{image_size: 16, normalize: false}"]


def test_a_gan_checkpoint_gets_every_metric_with_its_provenance(tmp_path, digits_gan, capsys):
    result = evaluate(tmp_path, "--ckpt", str(digits_gan), *DIGITS, "--metrics", "fid,kid,is,prdc", "--n", "300",
                      "--kid-subset-size", "100")
    metrics, provenance = result["metrics"], result["provenance"]
    assert set(metrics) == {"fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall", "density",
                            "coverage"}
    assert metrics["fid"] > 0 and 1 <= metrics["is_mean"] <= 10  # 10 digit classes bound the score
    assert all(0 <= metrics[name] <= 1 for name in ("precision", "recall", "coverage"))
    assert (provenance["extractor"], provenance["n_fake"], provenance["n_real"]) == ("digits_classifier", 300, 1257)
    assert provenance["reference"] == "digits train split" and provenance["seed"] == 0
    assert len(provenance["extractor_weights_sha256"]) == 16 and provenance["processes"] == 1
    table = capsys.readouterr().out
    assert "is_mean" in table and "digits_classifier" in table  # the table shows the scores and the provenance


def test_two_processes_score_exactly_like_one_with_uneven_shares(tmp_path, digits_gan):
    # 190 samples in batches of 64: process 0 draws batches 0 and 2, process 1 batch 1 (uneven); real features too
    common = ["--ckpt", str(digits_gan), *DIGITS, "--metrics", "fid,kid,is,prdc", "--n", "190", "--n-real", "150",
              "--batch-size", "64", "--kid-subset-size", "50", "--no-cache", "--accelerator", "cpu"]
    one = evaluate(tmp_path, *common)
    two = evaluate(tmp_path, *common, "--devices", "2", "--strategy", "ddp_fork")
    assert two["provenance"]["processes"] == 2
    for name, value in one["metrics"].items():
        # features of one image do not depend on its batch up to float rounding; the rest is order and counting
        assert two["metrics"][name] == pytest.approx(value, rel=1e-4, abs=1e-9), name


def write_digit_folders(root, count: int = 24):
    """PNG digits in image_folder's pre-split layout (two classes); returns the training folder of class 'a'."""
    from illusioncraft.data.digits import digits_split

    images = digits_split()["train"][0][:count]
    for split in ("train", "val", "test"):
        for k, name in enumerate(("a", "b")):
            (root / split / name).mkdir(parents=True)
            for i, image in enumerate(images[k::2]):
                Image.fromarray((image * 255).round().astype(np.uint8)).resize((16, 16)).save(
                    root / split / name / f"{i:03d}.png")
    return root


def test_a_folder_scored_against_the_same_images_has_zero_distance_and_full_coverage(tmp_path):
    root = write_digit_folders(tmp_path / "digits")
    real = ["--data", "image_folder", "--data-args", f"{{root: {root}, image_size: 16, channels: 1}}"]
    result = evaluate(tmp_path, "--images", str(root / "train"), *real, "--metrics", "fid,prdc")
    metrics = result["metrics"]
    assert metrics["fid"] == pytest.approx(0.0, abs=1e-3)
    assert (metrics["precision"], metrics["recall"], metrics["coverage"]) == (1.0, 1.0, 1.0)
    assert result["provenance"]["n_fake"] == result["provenance"]["n_real"] == 24


def test_saved_statistics_score_like_the_data_and_are_pytorch_fid_files(tmp_path, digits_gan):
    stats = tmp_path / "digits_train.npz"
    from_data = evaluate(tmp_path, "--ckpt", str(digits_gan), *DIGITS, "--n", "200", "--save-stats", str(stats))
    with np.load(stats) as archive:
        assert archive["mu"].shape == (128,) and archive["sigma"].shape == (128, 128)
    from_file = evaluate(tmp_path, "--ckpt", str(digits_gan), "--stats", str(stats), "--n", "200")
    assert from_file["metrics"]["fid"] == pytest.approx(from_data["metrics"]["fid"], rel=1e-5)
    assert from_file["provenance"]["reference"] == str(stats)


def test_reference_statistics_are_cached_by_dataset_extractor_and_count(tmp_path, digits_gan):
    first = evaluate(tmp_path, "--ckpt", str(digits_gan), *DIGITS, "--n", "100", "--n-real", "321")
    second = evaluate(tmp_path, "--ckpt", str(digits_gan), *DIGITS, "--n", "100", "--n-real", "321")
    assert "reference_statistics" not in first["provenance"]
    assert second["provenance"]["reference_statistics"].startswith("cached: ")
    assert second["metrics"]["fid"] == pytest.approx(first["metrics"]["fid"], rel=1e-6)


def test_a_text_to_image_checkpoint_draws_from_validation_captions_and_scores_attributes(tmp_path):
    data = ["--data.init_args.n_images", "200", "--data.init_args.batch_size", "16", "--data.init_args.image_size",
            "16", "--model.init_args.width", "4"]
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "stackgan_shapes_stage1.yaml"), *data, *TINY,
                      "--trainer.callbacks", "null", "--run.test_after_fit", "false")
    result = evaluate(tmp_path, "--ckpt", str(run_dir / "checkpoints" / "last.ckpt"), "--data", "captioned_shapes",
                      "--data-args", "{n_images: 200, image_size: 16}", "--metrics", "fid", "--n", "40",
                      "--extractor", "attribute_classifier",
                      "--extractor-args", "{data: captioned_shapes, image_size: 16, n_images: 200}")
    metrics = result["metrics"]
    assert {"fid", "attribute_accuracy", "attribute_all", "attribute_accuracy_shape"} <= set(metrics)
    assert 0 <= metrics["attribute_all"] <= metrics["attribute_accuracy"] <= 1
    assert result["provenance"]["captions"] == "captioned_shapes val split"
    assert result["provenance"]["reference"] == "captioned_shapes val split"


def test_the_inception_path_runs_end_to_end_with_random_weights_in_both_resize_modes(tmp_path):
    root = write_digit_folders(tmp_path / "digits", count=10)  # 10 generated images: one per Inception Score split
    weights = write_random_inception_weights(tmp_path / "random.pth")
    real = ["--data", "image_folder", "--data-args", f"{{root: {root}, image_size: 16, channels: 1}}", "--split", "val",
            "--n-real", "6"]
    scores = {}
    for mode in ("legacy", "clean"):
        result = evaluate(tmp_path, "--images", str(root / "train"), *real, "--metrics", "fid,kid,is,prdc",
                          "--extractor", "inception", "--kid-subset-size", "6", "--no-cache",
                          "--extractor-args", f"{{weights_path: {weights}, resize: {mode}, allow_other_weights: true}}")
        assert result["provenance"]["resize"] == mode and result["provenance"]["extractor_input_size"] == 299
        assert len(result["provenance"]["extractor_weights_sha256"]) == 64
        assert np.isfinite(list(result["metrics"].values())).all() and result["metrics"]["is_mean"] >= 1
        scores[mode] = result["metrics"]["fid"]
    assert scores["legacy"] != scores["clean"]  # the resize mode is part of the score


def test_train_plus_val_is_every_training_file_of_cifar(tmp_path):
    from standard_files import write_cifar10_binary

    from illusioncraft.data.cifar import CIFAR10DataModule
    from illusioncraft.errors import ConfigError
    from illusioncraft.evaluate.sources import RealImages

    written = write_cifar10_binary(tmp_path)
    real = RealImages(CIFAR10DataModule(str(tmp_path), normalize=False), "train+val", None)
    files = np.concatenate([written[f"data_batch_{b}.bin"] for b in range(1, 6)])  # (20, 3, 32, 32)
    read = (real.batch(0, real.count) * 255).round().byte().numpy()
    assert real.count == 20 and sorted(map(bytes, read)) == sorted(map(bytes, files))
    with pytest.raises(ConfigError, match="--split must be train, val, test or a join"):
        RealImages(CIFAR10DataModule(str(tmp_path)), "train+train", None)


@pytest.mark.parametrize(("arguments", "expected"), [
    (["--images", "x", "--metrics", "fid"], "fid need real images: give --data"),
    (["--images", "x", "--metrics", "fid,iss", "--data", "digits"], "unknown metric 'iss'"),
    (["--images", "x", "--data", "digits", "--extractor", "incepton"], "unknown feature_extractor 'incepton'"),
    (["--images", "x", "--data", "digits", "--extractor-args", "{weight_path: w}", "--extractor", "inception"],
     "has no argument 'weight_path'; did you mean 'weights_path'?"),
    (["--images", "x", "--stats", "nowhere.npz", "--metrics", "fid"], "evaluate: --images 'x' is not a directory"),
])
def test_mistakes_are_one_line(capsys, arguments, expected):
    assert expected in cli_error(capsys, "evaluate", *arguments)


def test_kid_against_a_published_statistics_file_is_refused_in_one_line(tmp_path, capsys, digits_gan):
    np.savez(tmp_path / "published.npz", mu=np.zeros(128), sigma=np.eye(128))
    line = cli_error(capsys, "evaluate", "--ckpt", str(digits_gan), "--stats", str(tmp_path / "published.npz"),
                     "--metrics", "fid,kid")
    assert "kid and prdc need real features" in line and "published.npz" in line


def test_a_classifier_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "logreg_digits.yaml"), *TINY)
    line = cli_error(capsys, "evaluate", "--ckpt", str(run_dir / "checkpoints" / "last.ckpt"), *DIGITS)
    assert "not a generator (GAN) model" in line
