"""Test accuracy of IllusionCraft's classifiers on the digits split, beside scikit-learn's LogisticRegression.

Each model trains from its experiment YAML through the real CLI (same seed, same split as the datamodule).

    python benchmarks/classifiers.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

from illusioncraft.cli import main
from illusioncraft.data.digits import digits_split

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"logistic_regression": "logreg_digits.yaml", "mlp": "mlp_digits.yaml", "cnn": "cnn_digits.yaml"}
FLOORS = {"logistic_regression": 0.94, "mlp": 0.96, "cnn": 0.98}


def illusioncraft_accuracy(experiment: str, seed: int, workdir: Path) -> tuple[float, float]:
    run_dir = workdir / f"{experiment}-{seed}"
    start = time.perf_counter()
    main([
        "fit", "--config", str(ROOT / "experiments" / experiment), "--seed_everything", str(seed),
        "--data.init_args.seed", str(seed), "--run.dir", str(run_dir), "--run.loggers", "[csv]",
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
    ])
    seconds = time.perf_counter() - start
    with open(run_dir / "metrics.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("test/acc")]
    return float(rows[-1]["test/acc"]), seconds


def sklearn_accuracy(seed: int) -> float:
    split = digits_split(seed=seed)
    (train_x, train_y), (test_x, test_y) = split["train"], split["test"]
    model = SklearnLogisticRegression(max_iter=5000).fit(train_x.reshape(len(train_x), -1), train_y)
    return float(model.score(test_x.reshape(len(test_x), -1), test_y))


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name, experiment in MODELS.items():
            results = [illusioncraft_accuracy(experiment, seed, Path(workdir)) for seed in args.seeds]
            rows.append((f"illusioncraft {name}", [r[0] for r in results], statistics.mean(r[1] for r in results), FLOORS[name]))
    rows.append(("scikit-learn LogisticRegression", [sklearn_accuracy(seed) for seed in args.seeds], float("nan"), None))
    print(f"\ndigits test split (360 images), seeds {args.seeds}")
    print("| model | test accuracy (mean) | per seed | fit + test s (mean) | goal |")
    print("|---|---|---|---|---|")
    for name, accuracies, seconds, floor in rows:
        per_seed = " ".join(f"{a:.4f}" for a in accuracies)
        goal = f">= {floor:.2f}" if floor else "reference"
        timing = f"{seconds:.1f}" if seconds == seconds else "-"
        print(f"| {name} | {statistics.mean(accuracies):.4f} | {per_seed} | {timing} | {goal} |")


if __name__ == "__main__":
    main_benchmark()
