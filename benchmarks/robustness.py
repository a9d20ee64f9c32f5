"""Robustness to corruptions (digits-c) of the CNN trained with standard, Cutout, Mixup, CutMix and AugMix+JSD.

Every method trains from its experiment YAML through the real CLI with the same budget (epochs, batch size,
network, optimiser) on the same split; only the training seed changes across repeats. The best checkpoint (by
val/acc) is scored on the clean test split and on the 25 digits-c sets (5 corruptions x 5 severities).

    python benchmarks/robustness.py [--seeds 0 1 2] [--epochs 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch

from illusioncraft.cli import main
from illusioncraft.data.digits import DigitsDataModule
from illusioncraft.data.digits_c import CORRUPTIONS, corrupt
from illusioncraft.models.classifiers import CNN

ROOT = Path(__file__).resolve().parents[1]
METHODS = {
    "standard": "cnn_digits.yaml",
    "cutout": "cnn_digits_cutout.yaml",
    "mixup": "cnn_digits_mixup.yaml",
    "cutmix": "cnn_digits_cutmix.yaml",
    "augmix+jsd": "cnn_digits_augmix.yaml",
}


@torch.no_grad()
def accuracy(model: CNN, data: DigitsDataModule, images: torch.Tensor, labels: torch.Tensor) -> float:
    logits = model(data.normalize(images))
    return float((logits.argmax(dim=1) == labels).float().mean())


def train(experiment: str, seed: int, epochs: int, run_dir: Path) -> CNN:
    main([
        "fit", "--config", str(ROOT / "experiments" / experiment), "--seed_everything", str(seed),
        "--trainer.max_epochs", str(epochs), "--run.dir", str(run_dir), "--run.loggers", "[]",
        "--run.test_after_fit", "false", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
    ])
    (best,) = (run_dir / "checkpoints").glob("best-*.ckpt")
    return CNN.load_from_checkpoint(best, weights_only=False).eval()


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    data = DigitsDataModule(seed=0)
    data.setup("fit")
    images, labels = data.test_dataset.tensors
    corrupted = {(c, s): corrupt(images, c, s, seed=0) for c in CORRUPTIONS for s in range(1, 6)}
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for method, experiment in METHODS.items():
            scores: dict[str, list[float]] = {"clean": [], "mean_c": [], **{c: [] for c in CORRUPTIONS}}
            for seed in args.seeds:
                model = train(experiment, seed, args.epochs, Path(workdir) / f"{method}-{seed}")
                scores["clean"].append(accuracy(model, data, images, labels))
                per = {key: accuracy(model, data, x, labels) for key, x in corrupted.items()}
                for c in CORRUPTIONS:
                    scores[c].append(statistics.mean(per[(c, s)] for s in range(1, 6)))
                scores["mean_c"].append(statistics.mean(per.values()))
            results[method] = scores

    def cell(values: list[float]) -> str:
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{100 * statistics.mean(values):.1f} +- {100 * spread:.1f}"

    print(f"\ndigits-c robustness: CNN, {args.epochs} epochs, seeds {args.seeds}; accuracy % (mean +- std over seeds)")
    print("| method | clean | mean corruption | " + " | ".join(CORRUPTIONS) + " |")
    print("|---" * (3 + len(CORRUPTIONS)) + "|")
    for method, scores in results.items():
        row = [cell(scores["clean"]), cell(scores["mean_c"]), *[cell(scores[c]) for c in CORRUPTIONS]]
        print(f"| {method} | " + " | ".join(row) + " |")
    base = results["standard"]
    for method in METHODS:
        gain = 100 * (statistics.mean(results[method]["mean_c"]) - statistics.mean(base["mean_c"]))
        clean = 100 * (statistics.mean(results[method]["clean"]) - statistics.mean(base["clean"]))
        print(f"{method}: mean corruption accuracy {gain:+.1f} points vs standard, clean {clean:+.1f} points")


if __name__ == "__main__":
    main_benchmark()
