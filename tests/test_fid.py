"""FID from feature statistics: equal to the scipy.linalg.sqrtm formula, ~0 for a set against itself; extractors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import EXPERIMENTS, TINY, read_metrics, run_cli
from scipy import linalg

from illusioncraft import registry
from illusioncraft.metrics.fid import FrechetDistance, frechet_distance


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The pytorch-fid formula: ||mu1 - mu2||^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1.dot(s2))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


@pytest.mark.parametrize("dim", [8, 64])
def test_fid_matches_the_scipy_sqrtm_reference(dim):
    rng = np.random.default_rng(dim)
    a = rng.normal(size=(500, dim))
    b = rng.normal(loc=0.3, scale=1.5, size=(400, dim)) @ rng.normal(size=(dim, dim)) * 0.3
    metric = FrechetDistance(dim)
    for chunk in np.array_split(a, 3):  # accumulating in chunks gives the same statistics
        metric.update(torch.from_numpy(chunk), real=True)
    metric.update(torch.from_numpy(b), real=False)
    assert float(metric.compute()) == pytest.approx(scipy_fid(a, b), rel=1e-4)


def test_fid_of_a_set_against_itself_is_zero():
    features = torch.randn(300, 16, dtype=torch.float64)
    mu, sigma = features.mean(0), torch.cov(features.T)
    assert float(frechet_distance(mu, sigma, mu, sigma)) == pytest.approx(0.0, abs=1e-6)


def test_digits_classifier_is_accurate_and_cached():
    from illusioncraft.data.digits import DigitsDataModule

    first = registry.build("feature_extractor", "digits_classifier")
    second = registry.build("feature_extractor", "digits_classifier")
    assert first.weights_hash == second.weights_hash and first.num_features == 128
    data = DigitsDataModule(image_size=32, normalize=False)  # any size: the extractor resizes to its own
    data.setup("fit")
    images, labels = data.test_dataset.tensors
    accuracy = float((first.network(images).argmax(1) == labels).float().mean())
    assert accuracy >= 0.95
    assert first(images[:5]).shape == (5, 128)


def test_fid_callback_logs_the_score_with_its_provenance(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "dcgan_digits.yaml"), *TINY)
    assert read_metrics(run_dir)["val/fid"] > 0
    fid_record, kid_record = json.loads((run_dir / "metric_provenance.json").read_text())
    assert (fid_record["metric"], kid_record["metric"]) == ("val/fid", "val/kid")
    assert "val/kid" in read_metrics(run_dir)
    record = fid_record
    assert record["extractor"] == "digits_classifier" and len(record["extractor_weights_sha256"]) == 16
    assert (record["n_real"], record["n_fake"], record["image_shape"]) == (1000, 1000, [1, 16, 16])


def test_class_accuracy_callback_scores_each_asked_class(tmp_path):
    metrics = read_metrics(run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "cgan_digits.yaml"), *TINY))
    assert 0 <= metrics["val/class_accuracy"] <= 1
    assert all(f"val/class_accuracy_{c}" in metrics for c in range(10))


def test_scoring_callbacks_do_not_change_training(tmp_path):
    import torch

    config = str(EXPERIMENTS / "dcgan_digits.yaml")
    scored = run_cli(tmp_path, "fit", "--config", config, *TINY, "--trainer.max_epochs", "2")
    plain = run_cli(tmp_path, "fit", "--config", config, *TINY, "--trainer.max_epochs", "2", "--trainer.callbacks", "null")
    a = torch.load(scored / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(plain / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert "val/fid" in read_metrics(scored) and "val/fid" not in read_metrics(plain)
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_kid_matches_torchmetrics_polynomial_mmd_and_is_zero_in_expectation_for_one_distribution():
    from torchmetrics.image.kid import poly_mmd

    from illusioncraft.metrics.fid import kernel_distance, polynomial_mmd

    generator = torch.Generator().manual_seed(0)
    real = torch.randn(200, 16, generator=generator, dtype=torch.float64)
    fake = torch.randn(200, 16, generator=generator, dtype=torch.float64) + 0.5
    torch.testing.assert_close(polynomial_mmd(real, fake), poly_mmd(real, fake))
    same, _ = kernel_distance(real, torch.randn(200, 16, generator=generator, dtype=torch.float64), subsets=20, subset_size=100)
    shifted, _ = kernel_distance(real, fake, subsets=20, subset_size=100)
    assert abs(same) < 0.05 < shifted


def test_cached_networks_are_saved_through_a_file_of_this_process(tmp_path, monkeypatch):
    import os

    from illusioncraft.metrics.features import save_atomically

    path = tmp_path / "cache" / "net.pt"
    written = []
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda value, target: (written.append(target), real_save(value, target)))
    save_atomically({"w": torch.ones(2)}, path)
    save_atomically({"w": torch.zeros(2)}, path)  # a second writer replaces the first whole
    assert all(str(os.getpid()) in target.name and target != path for target in written)  # never the final name
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.zeros(2))
    assert [p.name for p in path.parent.iterdir()] == ["net.pt"]  # no temporary file left behind
