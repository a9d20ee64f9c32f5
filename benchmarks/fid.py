"""The project's Fréchet distance (symmetric eigh formulation) vs the scipy.linalg.sqrtm formula of pytorch-fid.

Both get the same feature statistics (means and covariances of two random feature sets); the table shows the
relative difference of the two values and the time of each on the same machine, in one run.

    python benchmarks/fid.py [--dims 64 512 2048] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from scipy import linalg

from illusioncraft.metrics.fid import frechet_distance


def scipy_reference(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    covmean = linalg.sqrtm(s1.dot(s2))
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def timed(fn, repeats: int) -> tuple[float, float]:
    times, value = [], 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return value, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 512, 2048])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeats}")
    print("| features | scipy sqrtm s | IllusionCraft eigh s | speed-up | relative difference |")
    print("|---|---|---|---|---|")
    for dim in args.dims:
        rng = np.random.default_rng(dim)
        a = rng.normal(size=(2 * dim + 500, dim))
        b = rng.normal(loc=0.1, size=(2 * dim + 500, dim)) @ (np.eye(dim) + 0.05 * rng.normal(size=(dim, dim)))
        stats = [a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)]
        tensors = [torch.from_numpy(x) for x in stats]
        reference, scipy_s = timed(lambda: scipy_reference(*stats), args.repeats)  # noqa: B023
        ours, ours_s = timed(lambda: float(frechet_distance(*tensors)), args.repeats)  # noqa: B023
        difference = abs(ours - reference) / abs(reference)
        print(f"| {dim} | {scipy_s:.4f} | {ours_s:.4f} | {scipy_s / ours_s:.1f}x | {difference:.2e} |")


if __name__ == "__main__":
    main()
