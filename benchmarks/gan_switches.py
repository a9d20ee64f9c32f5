"""What each GAN switch buys on the DCGAN digits baseline: FID and KID at the same number of steps.

Protocol: ``experiments/dcgan_digits.yaml``'s model and data (DCGAN, latent 64, width 32; digits at 16 px, batch 64,
non-saturating loss, Adam 2e-4 (0.5, 0.999)) for ``--epochs`` (30: 600 generator steps); each row adds one
switch. The final generator (its moving average where it has one) draws 1,000 samples under a fixed seed, scored
against 1,000 training images in the ``digits_classifier`` features: FID and KID (10 subsets of 500).
One thread per run; mean +- std over seeds. Runs are cached in a JSON-lines file, so an interrupted benchmark
resumes.

    python benchmarks/gan_switches.py [--seeds 0 1 2] [--rows baseline r1 ...] [--epochs 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Trainer, seed_everything
from mode_collapse import cached_run  # the benchmarks' shared JSON-lines run cache

from illusioncraft import registry
from illusioncraft.metrics.fid import FrechetDistance, kernel_distance

# row: (what it adds, model arguments beyond the baseline)
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline": ("DCGAN digits baseline", {}),
    "spectral_norm": ("discriminator_norm: spectral", {"discriminator_norm": "spectral"}),
    "spectral_norm_g": ("discriminator_norm: spectral, generator_spectral_norm: true",
                        {"discriminator_norm": "spectral", "generator_spectral_norm": True}),
    "r1": ("regularizers: [{name: r1, weight: 1, every: 16}]", {"regularizers": [{"name": "r1", "weight": 1.0, "every": 16}]}),
    "r1_10": ("regularizers: [{name: r1, weight: 10, every: 16}]",
              {"regularizers": [{"name": "r1", "weight": 10.0, "every": 16}]}),
    "lecam": ("regularizers: [{name: lecam, weight: 0.3}]", {"regularizers": [{"name": "lecam", "weight": 0.3}]}),
    "bcr": ("regularizers: [bcr] (translation, 10 / 10)", {"regularizers": ["bcr"]}),
    "zcr": ("regularizers: [zcr] (sigma 0.03, 5 / 0.5)", {"regularizers": ["zcr"]}),
    "ada": ("ada: {target: 0.6, ramp_images: 20000}", {"ada": {"target": 0.6, "ramp_images": 20_000}}),
    "attention": ("attention: 8", {"attention": 8}),
    "ema": ("ema_decay: 0.99", {"ema_decay": 0.99}),
    "diffaugment": ("diffaugment: color,translation,cutout", {"diffaugment": "color,translation,cutout"}),
}
BASELINE = {"latent_dim": 64, "width": 32}


def train_and_score(arguments: dict[str, Any], seed: int, epochs: int, real_features: torch.Tensor,
                    extractor: torch.nn.Module) -> dict[str, float]:
    """Train the DCGAN with ``arguments`` on digits for ``epochs``; FID and KID of 1,000 samples."""
    seed_everything(seed, verbose=False)
    data = registry.build("datamodule", "digits", image_size=16, normalize=False, batch_size=64, seed=0)
    model = registry.build("model", "dcgan", **{**BASELINE, **arguments})
    trainer = Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, callbacks=[])
    started = time.process_time()
    trainer.fit(model, data)
    cpu_seconds = time.process_time() - started
    torch.manual_seed(10_000 + seed)
    fake_features = extractor(model.sample(1000))
    metric = FrechetDistance(extractor.num_features)
    metric.update(real_features, real=True)
    metric.update(fake_features, real=False)
    kid, _ = kernel_distance(real_features, fake_features, subsets=10, subset_size=500, seed=0)
    return {"fid": float(metric.compute()), "kid": kid, "cpu_s": cpu_seconds, "steps": model.generator_steps}


def spread(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} +- {statistics.stdev(values):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--cache", type=Path, default=Path("gan_switches_runs.jsonl"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    extractor = registry.build("feature_extractor", "digits_classifier")
    data = registry.build("datamodule", "digits", image_size=16, normalize=False, batch_size=64, seed=0)
    data.setup("fit")
    real_features = extractor(torch.stack([data.train_dataset[i][0] for i in range(1000)]))
    table = []
    for row in args.rows:
        label, arguments = ROWS[row]
        results = []
        for seed in args.seeds:
            key = f"{row}|seed={seed}|epochs={args.epochs}"
            results.append(cached_run(args.cache, key, partial(train_and_score, arguments, seed, args.epochs, real_features,
                                                           extractor)))
            print(f"  {row} seed {seed}: {results[-1]}", flush=True)
        table.append((row, label, spread([r["fid"] for r in results], 1), spread([r["kid"] for r in results], 0),
                      f"{statistics.mean(r['cpu_s'] for r in results):.0f}"))
    print(f"\nDCGAN digits 16 px, {args.epochs} epochs ({table and int(results[0]['steps'])} generator steps), "
          f"seeds {' '.join(map(str, args.seeds))}; 1,000 samples vs 1,000 training images, digits_classifier features")
    print("| switch | YAML | FID | KID | CPU s per run |")
    print("|---|---|---|---|---|")
    for row in table:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
