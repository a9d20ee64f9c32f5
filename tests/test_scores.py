"""Inception Score, precision/recall, density/coverage and KID against their definitions computed by brute force
in numpy/scipy; rows gathered in stream order; statistics files in pytorch-fid's format."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.special import softmax
from scipy.stats import entropy

from illusioncraft.errors import ConfigError
from illusioncraft.metrics.collected import AllRows
from illusioncraft.metrics.fid import FrechetDistance, KernelDistance
from illusioncraft.metrics.inception_score import InceptionScore, inception_score
from illusioncraft.metrics.prdc import DensityCoverage, PrecisionRecall, density_coverage, precision_recall
from illusioncraft.metrics.statistics import load_statistics, save_statistics


def reference_inception_score(logits: np.ndarray, splits: int) -> tuple[float, float]:
    """exp(mean KL(p(y|x) || p(y))) per split, with scipy's entropy as the KL; mean and population std."""
    p = softmax(logits, axis=1)
    n, scores = len(p), []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        marginal = part.mean(axis=0)
        scores.append(np.exp(np.mean([entropy(row, marginal) for row in part])))
    return float(np.mean(scores)), float(np.std(scores))


def test_inception_score_matches_its_definition_on_random_logits():
    logits = np.random.default_rng(0).normal(scale=3.0, size=(103, 7))  # 103 does not divide into 10 splits
    metric = InceptionScore(splits=10)
    for part in np.array_split(logits, 4):
        metric.update(torch.from_numpy(part))
    mean, std = metric.compute()
    expected = reference_inception_score(logits, 10)
    assert (mean, std) == pytest.approx(expected, rel=1e-9)


def test_inception_score_is_the_class_count_for_confident_even_predictions_and_one_for_uniform():
    classes = 5
    confident = torch.full((100, classes), -1e4).scatter_(1, (torch.arange(100) % classes)[:, None], 0.0)
    assert inception_score(confident, splits=10) == pytest.approx((classes, 0.0), abs=1e-6)
    assert inception_score(torch.zeros(100, classes), splits=10) == pytest.approx((1.0, 0.0), abs=1e-9)


def brute_force_prdc(real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5) -> dict[str, float]:
    """Both papers' definitions on the full distance matrices (the k-th neighbour excludes the point itself)."""
    rr, ff, rf = cdist(real, real), cdist(fake, fake), cdist(real, fake)
    radius = lambda d, k: np.sort(d, axis=1)[:, k]  # noqa: E731 - column 0 is the point itself
    r3, f3, r5 = radius(rr, k_pr), radius(ff, k_pr), radius(rr, k_dc)
    return {
        "precision": float((rf <= r3[:, None]).any(axis=0).mean()),
        "recall": float((rf <= f3[None, :]).any(axis=1).mean()),
        "density": float((rf < r5[:, None]).sum(axis=0).mean() / k_dc),
        "coverage": float((rf.min(axis=1) < r5).mean()),
    }


def test_precision_recall_density_coverage_match_a_brute_force_computation():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(80, 6))
    fake = rng.normal(loc=0.4, scale=1.3, size=(70, 6))
    expected = brute_force_prdc(real, fake)
    pr, dc = PrecisionRecall(), DensityCoverage()
    for metric in (pr, dc):
        for part in np.array_split(real, 3):
            metric.update(torch.from_numpy(part), real=True)
        metric.update(torch.from_numpy(fake), real=False)
    assert pr.compute() == (expected["precision"], expected["recall"])
    assert dc.compute() == pytest.approx((expected["density"], expected["coverage"]), abs=1e-12)
    assert 0 < expected["precision"] < 1 and 0 < expected["coverage"] < 1  # the sets overlap in part


def test_blocks_of_distances_give_the_same_counts_as_one_block():
    rng = np.random.default_rng(2)
    real, fake = torch.from_numpy(rng.normal(size=(50, 4))), torch.from_numpy(rng.normal(size=(45, 4)))
    assert precision_recall(real, fake, block=7) == precision_recall(real, fake, block=1000)
    assert density_coverage(real, fake, block=7) == density_coverage(real, fake, block=1000)


def test_identical_sets_have_full_precision_recall_coverage_and_density_near_one():
    features = torch.from_numpy(np.random.default_rng(3).normal(size=(60, 5)))
    assert precision_recall(features, features.clone()) == (1.0, 1.0)
    density, coverage = density_coverage(features, features.clone())
    assert coverage == 1.0
    # each real ball holds its own copy and the k - 1 points nearer than its k-th neighbour: density k/k = 1, give
    # or take rounding on the ball's edge (the k-th neighbour sits exactly on it), the known limit of density
    assert density == pytest.approx(1.0, abs=1 / 5)


def test_far_apart_sets_score_zero():
    rng = np.random.default_rng(4)
    real, fake = torch.from_numpy(rng.normal(size=(30, 3))), torch.from_numpy(rng.normal(size=(30, 3)) + 100)
    assert precision_recall(real, fake) == (0.0, 0.0) and density_coverage(real, fake) == (0.0, 0.0)


def reference_kid(real: np.ndarray, fake: np.ndarray, subsets: int, size: int, seed: int) -> tuple[float, float]:
    """Unbiased polynomial MMD^2 ((x.y / d + 1)^3) over subsets drawn as torch-fidelity draws them."""
    rng, d, values = np.random.RandomState(seed), real.shape[1], []
    for _ in range(subsets):
        f = fake[rng.choice(len(fake), size, replace=False)]
        r = real[rng.choice(len(real), size, replace=False)]
        k_rr, k_ff, k_rf = ((r @ r.T) / d + 1) ** 3, ((f @ f.T) / d + 1) ** 3, ((r @ f.T) / d + 1) ** 3
        off = lambda k: (k.sum() - np.trace(k)) / (size * (size - 1))  # noqa: E731
        values.append(off(k_rr) + off(k_ff) - 2 * k_rf.mean())
    return float(np.mean(values)), float(np.std(values))


def test_kernel_distance_metric_matches_the_reference_subsets():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(90, 8)), rng.normal(loc=0.3, size=(70, 8))
    metric = KernelDistance(subsets=6, subset_size=40, seed=3)
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    assert metric.compute() == pytest.approx(reference_kid(real, fake, 6, 40, 3), rel=1e-9)


def test_rows_come_back_in_stream_order_whatever_order_they_arrived_in():
    metric = AllRows("fake")
    rows = torch.arange(12.0).view(6, 2)
    for start in (4, 0, 2):  # as three processes' batches might arrive after a gather
        metric.update(rows[start:start + 2], positions=torch.arange(start, start + 2))
    torch.testing.assert_close(metric.compute(), rows)


def test_fid_against_given_statistics_equals_fid_against_the_features():
    rng = np.random.default_rng(6)
    real, fake = torch.from_numpy(rng.normal(size=(200, 6))), torch.from_numpy(rng.normal(loc=0.5, size=(150, 6)))
    from_features = FrechetDistance(6)
    from_features.update(real, real=True)
    from_features.update(fake, real=False)
    from_statistics = FrechetDistance(6, reference=(real.mean(0), torch.cov(real.T)))
    from_statistics.update(fake, real=False)
    assert float(from_statistics.compute()) == pytest.approx(float(from_features.compute()), rel=1e-6)


def test_statistics_files_round_trip_in_pytorch_fid_format(tmp_path):
    rng = np.random.default_rng(7)
    features = torch.from_numpy(rng.normal(size=(30, 4)).astype(np.float32))
    mu, sigma = features.double().mean(0), torch.cov(features.double().T)
    save_statistics(tmp_path / "stats.npz", mu, sigma, features)
    with np.load(tmp_path / "stats.npz") as archive:  # what pytorch-fid reads: mu and sigma
        np.testing.assert_array_equal(archive["mu"], mu.numpy())
        np.testing.assert_array_equal(archive["sigma"], sigma.numpy())
    loaded = load_statistics(tmp_path / "stats.npz")
    assert torch.equal(loaded[0], mu) and torch.equal(loaded[1], sigma) and torch.equal(loaded[2], features)
    np.savez(tmp_path / "published.npz", mu=mu.numpy(), sigma=sigma.numpy())  # a file from elsewhere: no features
    assert load_statistics(tmp_path / "published.npz")[2] is None
    np.savez(tmp_path / "wrong.npz", mean=mu.numpy())
    with pytest.raises(ConfigError, match=r"statistics file '.*wrong.npz' has no mu and sigma"):
        load_statistics(tmp_path / "wrong.npz")
