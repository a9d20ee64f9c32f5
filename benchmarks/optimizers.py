"""Batch GD, SGD, mini-batch GD, momentum, RMSprop and Adam on digits, for the same number of examples seen.

Runs the sweep in experiments/optimizers_digits.yaml through the real command (``illusioncraft sweep``):
prints final training loss, test accuracy and wall time, and writes loss_curves.png and a W&B run.

    python benchmarks/optimizers.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from illusioncraft.cli import main

ROOT = Path(__file__).resolve().parents[1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/optimizers_digits_benchmark")
    args = parser.parse_args()
    main(["sweep", "--config", str(ROOT / "experiments" / "optimizers_digits.yaml"), "--out", args.out,
          "--override", "trainer.enable_progress_bar=false"])
