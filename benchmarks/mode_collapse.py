"""Mode collapse on PacGAN's 2-D mixtures and on stacked digits: modes captured, % high quality and reverse KL.

Protocol: ring of 8 Gaussians (std 0.01) and grid of 25 (std 0.05), 50,000 training points, batch 500;
each model trains its number of epochs (100 batches each; ``--epochs`` sets one for all) with MLP networks
(hidden 128, depth 3; WGAN-GP hidden 256), once per seed: the four baseline models from their registry
defaults for 20 epochs, and tuned GANs (2-d noise, linear learning-rate decay to 0, 100 epochs; then PacGAN's
packing of 4 samples per discriminator input, or 256 hidden units); the final generator draws 2,500 samples, scored
by ``illusioncraft.metrics.modes.mode_coverage`` (a sample is high quality within 3 std of its nearest mode; a
mode is captured when it is the nearest mode of a high-quality sample; reverse KL of the captured-mode
histogram against uniform). Mean +- std over seeds, printed beside PacGAN's Table 1 (Lin et al., 2018).

Stacked digits (``--data stacked_digits``): 50,000 training stacks of three digits (1,000 modes) at 16 px, batch 64,
DCGAN networks (width 32, latent 64) for each row's epochs; 26,000 samples of the final generator (its moving
average where it has one), each colour channel read by the cached ``digits_classifier``; modes captured and the
reverse KL of the mode histogram from uniform, beside PacGAN's Table 2 and 26,000 real stacks read the same way.

    python benchmarks/mode_collapse.py [--seeds 0 1 2 3 4] [--models ...] [--data ring8 grid25 stacked_digits] [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Trainer, seed_everything

from illusioncraft import registry
from illusioncraft.metrics.modes import mode_coverage, read_stacked_digits, stacked_mode_coverage

TUNED = {"latent_dim": 2, "lr_decay": "linear"}
MODELS: dict[str, tuple[str, dict[str, Any], int]] = {  # label: (registry name, settings, epochs)
    "gan (minimax)": ("gan", {"loss": "minimax"}, 20),
    "gan (non-saturating)": ("gan", {"loss": "non_saturating"}, 20),
    "wgan_gp": ("wgan_gp", {"architecture": "mlp", "hidden_size": 256}, 20),
    "unrolled_gan (k=5)": ("unrolled_gan", {"unroll_steps": 5}, 20),
    "gan (non-saturating), z 2-d, lr decay": ("gan", TUNED, 100),
    "gan (non-saturating), z 2-d, lr decay, pack 4": ("gan", {**TUNED, "pack": 4}, 100),
    "gan (non-saturating), z 2-d, lr decay, hidden 256": ("gan", {**TUNED, "hidden_size": 256}, 100),
    "gan (non-saturating), z 2-d, lr decay, hidden 256, ema 0.999": (
        "gan", {**TUNED, "hidden_size": 256, "ema_decay": 0.999}, 100),
    "gan (non-saturating), z 2-d, lr decay, hidden 256, r1 0.1": (
        "gan", {**TUNED, "hidden_size": 256, "regularizers": [{"name": "r1", "weight": 0.1}]}, 100),
}
STACKED_MODELS: dict[str, tuple[str, dict[str, Any], int]] = {
    "dcgan": ("dcgan", {}, 10),
    "dcgan, pack 2": ("dcgan", {"pack": 2}, 10),
    "dcgan, ema 0.999": ("dcgan", {"ema_decay": 0.999}, 10),
    "dcgan, pack 2, ema 0.999": ("dcgan", {"pack": 2, "ema_decay": 0.999}, 10),
}
# PacGAN (Lin et al., 2018), Table 1: modes captured / % high quality.
PACGAN = {
    "ring8": [("GAN", "6.3", "98.2")],
    "grid25": [("GAN", "17.3", "94.8"), ("PacGAN4", "24.8", "93.6")],
}
# PacGAN, Table 2 (stacked MNIST): modes captured / KL.
PACGAN_STACKED = [("DCGAN", "78.9", "4.50"), ("PacDCGAN2", "1000.0", "0.06")]
STACKED_SAMPLES = 26_000


def run(model_name: str, overrides: dict[str, Any], mixture: str, seed: int, epochs: int) -> dict[str, float]:
    seed_everything(seed, verbose=False)
    data = registry.build("datamodule", mixture, n_samples=50_000, batch_size=500, seed=seed)
    model = registry.build("model", model_name, **overrides)
    trainer = Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, callbacks=[])
    trainer.fit(model, data)
    torch.manual_seed(10_000 + seed)
    coverage = mode_coverage(model.sample(2500).cpu(), data.modes, data.std)
    return {"modes": coverage.modes_captured, "hq": 100 * coverage.high_quality, "kl": coverage.reverse_kl}  # kl may be inf


def stacked_run(model_name: str, overrides: dict[str, Any], seed: int, epochs: int) -> dict[str, float]:
    """One model trained on stacked digits; modes and KL of 26,000 samples read by the digits classifier."""
    seed_everything(seed, verbose=False)
    data = registry.build("datamodule", "stacked_digits", n_samples=50_000, batch_size=64, seed=seed)
    model = registry.build("model", model_name, **{"latent_dim": 64, "width": 32, **overrides})
    trainer = Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, callbacks=[])
    trainer.fit(model, data)
    torch.manual_seed(10_000 + seed)
    samples = torch.cat([model.sample(1000).cpu() for _ in range(STACKED_SAMPLES // 1000)])
    return stacked_scores(samples)


def stacked_scores(images: torch.Tensor) -> dict[str, float]:
    classifier = registry.build("feature_extractor", "digits_classifier").network
    coverage = stacked_mode_coverage(read_stacked_digits(images, classifier))
    return {"modes": coverage.modes_captured, "kl": coverage.reverse_kl}


def real_stacks(seed: int) -> dict[str, float]:
    """The measurement's floor: 26,000 real training stacks read the same way."""
    data = registry.build("datamodule", "stacked_digits", n_samples=STACKED_SAMPLES, seed=seed)
    data.setup("fit")
    return stacked_scores(data.train_dataset.batch(torch.arange(STACKED_SAMPLES))[0])


def summary(values: list[float]) -> str:
    """Mean +- std of the finite values; runs with no high-quality sample (reverse KL inf) are counted apart."""
    finite = [value for value in values if math.isfinite(value)]
    dropped = f" ({len(values) - len(finite)} of {len(values)} inf)" if len(finite) < len(values) else ""
    if not finite:
        return f"inf{dropped}"
    if len(finite) == 1:
        return f"{finite[0]:.2f}{dropped}"
    return f"{statistics.mean(finite):.2f} +- {statistics.stdev(finite):.2f}{dropped}"


def cached_run(cache: Path, key: str, compute: Callable[[], dict[str, float]]) -> dict[str, float]:
    """One run's scores, read from the JSON-lines ``cache`` when it holds ``key``, else computed and appended."""
    if cache.is_file():
        for line in cache.read_text().splitlines():
            record = json.loads(line)
            if record["key"] == key:
                return record["scores"]
    scores = compute()
    with cache.open("a") as handle:
        handle.write(json.dumps({"key": key, "scores": scores}) + "\n")
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=None, help="one number of epochs for every model")
    parser.add_argument("--data", "--mixtures", dest="data", nargs="+", default=["ring8", "grid25"],
                        choices=["ring8", "grid25", "stacked_digits"])
    parser.add_argument("--models", nargs="+", default=None, choices=[*MODELS, *STACKED_MODELS],
                        help="rows to run (default: every row of each data set)")
    parser.add_argument("--cache", type=Path, default=Path("mode_collapse_runs.jsonl"),
                        help="JSON lines of finished runs: an interrupted benchmark resumes where it stopped")
    args = parser.parse_args()
    for data in args.data:
        stacked = data == "stacked_digits"
        table = STACKED_MODELS if stacked else MODELS
        rows = []
        for label in [m for m in (args.models or table) if m in table]:
            name, overrides, epochs = table[label]
            epochs = args.epochs or epochs
            results, started = [], time.perf_counter()
            for seed in args.seeds:
                key = f"{data}|{label}|seed={seed}|epochs={epochs}"
                compute = (partial(stacked_run, name, overrides, seed, epochs) if stacked
                           else partial(run, name, overrides, data, seed, epochs))
                results.append(cached_run(args.cache, key, compute))
                print(f"  {data} {label} seed {seed}: {results[-1]}", flush=True)
            minutes = (time.perf_counter() - started) / 60
            scores = [summary([r[key] for r in results]) for key in (("modes", "kl") if stacked else ("modes", "hq", "kl"))]
            worst = f"{min(r['modes'] for r in results):.0f}"
            rows.append((label, str(epochs), *scores, worst, f"{minutes:.1f}"))
        if stacked:
            real = [cached_run(args.cache, f"stacked_digits|real|seed={seed}", partial(real_stacks, seed)) for seed in args.seeds]
            print(f"\nstacked_digits: {len(args.seeds)} seeds, {STACKED_SAMPLES:,} samples, digits_classifier on each channel")
            print("| model | epochs | modes captured (of 1,000) | reverse KL | fewest modes | minutes |")
            print("|---|---|---|---|---|---|")
            for row in rows:
                print("| " + " | ".join(row) + " |")
            print(f"| real stacks | | {summary([r['modes'] for r in real])} | {summary([r['kl'] for r in real])} | | |")
            for label, modes, kl in PACGAN_STACKED:
                print(f"| PacGAN Table 2: {label} | | {modes} | {kl} | | |")
            continue
        print(f"\n{data}: {len(args.seeds)} seeds, 2,500 samples")
        print("| model | epochs | modes captured | % high quality | reverse KL | fewest modes | minutes |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        for label, modes, quality in PACGAN[data]:
            print(f"| PacGAN Table 1: {label} | | {modes} | {quality} | | | |")


if __name__ == "__main__":
    main()
