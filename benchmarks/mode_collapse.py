"""Mode collapse on PacGAN's 2-D mixtures: modes captured, % high-quality samples and reverse KL.

Protocol: ring of 8 Gaussians (std 0.01) and grid of 25 (std 0.05), 50,000 training points, batch 500;
each model trains its number of epochs (100 batches each; ``--epochs`` sets one for all) with MLP networks
(hidden 128, depth 3; WGAN-GP hidden 256), once per seed: the four baseline models from their registry
defaults for 20 epochs, and tuned GANs (2-d noise, linear learning-rate decay to 0, 100 epochs; then PacGAN's
packing of 4 samples per discriminator input, or 256 hidden units); the final generator draws 2,500 samples, scored
by ``illusioncraft.metrics.modes.mode_coverage`` (a sample is high quality within 3 std of its nearest mode; a
mode is captured when it is the nearest mode of a high-quality sample; reverse KL of the captured-mode
histogram against uniform). Mean +- std over seeds, printed beside PacGAN's Table 1 (Lin et al., 2018).

    python benchmarks/mode_collapse.py [--seeds 0 1 2 3 4] [--models ...] [--mixtures ring8 grid25] [--epochs N]
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
from illusioncraft.metrics.modes import mode_coverage

TUNED = {"latent_dim": 2, "lr_decay": "linear"}
MODELS: dict[str, tuple[str, dict[str, Any], int]] = {  # label: (registry name, settings, epochs)
    "gan (minimax)": ("gan", {"loss": "minimax"}, 20),
    "gan (non-saturating)": ("gan", {"loss": "non_saturating"}, 20),
    "wgan_gp": ("wgan_gp", {"architecture": "mlp", "hidden_size": 256}, 20),
    "unrolled_gan (k=5)": ("unrolled_gan", {"unroll_steps": 5}, 20),
    "gan (non-saturating), z 2-d, lr decay": ("gan", TUNED, 100),
    "gan (non-saturating), z 2-d, lr decay, pack 4": ("gan", {**TUNED, "pack": 4}, 100),
    "gan (non-saturating), z 2-d, lr decay, hidden 256": ("gan", {**TUNED, "hidden_size": 256}, 100),
}
# PacGAN (Lin et al., 2018), Table 1: modes captured / % high quality.
PACGAN = {
    "ring8": [("GAN", "6.3", "98.2")],
    "grid25": [("GAN", "17.3", "94.8"), ("PacGAN4", "24.8", "93.6")],
}


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
    parser.add_argument("--mixtures", nargs="+", default=["ring8", "grid25"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--cache", type=Path, default=Path("mode_collapse_runs.jsonl"),
                        help="JSON lines of finished runs: an interrupted benchmark resumes where it stopped")
    args = parser.parse_args()
    for mixture in args.mixtures:
        rows = []
        for label in args.models:
            name, overrides, epochs = MODELS[label]
            epochs = args.epochs or epochs
            results, started = [], time.perf_counter()
            for seed in args.seeds:
                key = f"{mixture}|{label}|seed={seed}|epochs={epochs}"
                results.append(cached_run(args.cache, key, partial(run, name, overrides, mixture, seed, epochs)))
                print(f"  {mixture} {label} seed {seed}: {results[-1]}", flush=True)
            minutes = (time.perf_counter() - started) / 60
            scores = (summary([r[key] for r in results]) for key in ("modes", "hq", "kl"))
            rows.append((label, str(epochs), *scores, f"{minutes:.1f}"))
        print(f"\n{mixture}: {len(args.seeds)} seeds, 2,500 samples")
        print("| model | epochs | modes captured | % high quality | reverse KL | minutes |")
        print("|---|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        for label, modes, quality in PACGAN[mixture]:
            print(f"| PacGAN Table 1: {label} | | {modes} | {quality} | | |")


if __name__ == "__main__":
    main()
