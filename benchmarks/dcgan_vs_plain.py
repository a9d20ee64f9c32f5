"""DCGAN on digits through IllusionCraft's adversarial loop (Lightning Trainer) vs a plain PyTorch loop.

Both sides use the same networks (the ``dcgan`` model's generator and discriminator, copied from one seeded
initialisation), the same digits training split at 16 px in [-1, 1], batch 64, Adam 2e-4 (0.5, 0.999) for
both networks and the non-saturating loss. Two measurements, repeated and alternated:

- speed: generator steps per second over the same number of steps, from the first step of the second epoch
  (the Trainer's one-off start-up is left out);
- quality at equal time: each side trains for ``--seconds`` and its generator (its moving average where it has
  one) is scored by FID with the ``digits_classifier`` features (1,000 real training images vs 1,000 samples).
  Beside the plain-equivalent configuration, IllusionCraft's recommended digits recipe (``--recipe``, an
  experiment YAML whose model arguments are used on the same data) trains for the same time.

``--clock wall`` counts wall-clock seconds; ``--clock cpu`` counts the process's CPU time (``time.process_time``)
with every path on one thread, so a machine shared with other jobs slows the clock with the work instead of
charging the other jobs' time to whichever path was running.

    python benchmarks/dcgan_vs_plain.py [--epochs 3] [--seconds 90] [--repeats 2] [--clock wall|cpu] [--recipe X.yaml]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import torch
import yaml
from lightning.pytorch import Callback, Trainer

from illusioncraft import registry
from illusioncraft.data.digits import DigitsDataModule
from illusioncraft.metrics.fid import FrechetDistance
from illusioncraft.models.gan.dcgan import DCGAN

BATCH, SIZE = 64, 16
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
RECIPE = Path(__file__).resolve().parents[1] / "experiments" / "dcgan_digits_recipe.yaml"


def make(seed: int, recipe: Optional[dict[str, Any]] = None) -> tuple[DCGAN, DigitsDataModule]:
    torch.manual_seed(seed)
    data = DigitsDataModule(batch_size=BATCH, image_size=SIZE, normalize=False, seed=seed)
    data.setup("fit")
    model = DCGAN(**{"latent_dim": 64, "width": 32, **(recipe or {})}, data_shape=data.image_shape)
    return model, data


def recipe_arguments(path: Path) -> dict[str, Any]:
    """The model arguments of an experiment YAML (a ``dcgan`` model)."""
    model = yaml.safe_load(path.read_text())["model"]
    if model.get("class_path") != "dcgan":
        raise SystemExit(f"{path}: the recipe must be a dcgan model, got {model.get('class_path')}")
    return dict(model.get("init_args") or {})


class Budget(Callback):
    """Stops training once ``seconds`` of ``clock`` have passed since the first batch (checked after each batch)."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds, self.clock, self.began = seconds, clock, None

    def on_train_start(self, trainer, pl_module) -> None:
        self.began = self.clock()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.clock() - self.began >= self.seconds:
            trainer.should_stop = True


class StepClock(Callback):
    """Generator steps and wall time from the first batch of the second epoch to the end of training."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.end, self.steps = 0.0, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 1 and batch_idx == 0 and self.start is None:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.start is not None:
            self.steps += 1
            self.end = time.perf_counter()


def lightning_run(seed: int, epochs: int | None = None, seconds: float | None = None, clock: str = "wall",
                  recipe: Optional[dict[str, Any]] = None) -> tuple[float, DCGAN]:
    model, data = make(seed, recipe)
    steps = StepClock()
    callbacks: list[Callback] = [steps] if epochs else [steps, Budget(seconds, CLOCKS[clock])]
    trainer = Trainer(max_epochs=epochs or -1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, callbacks=callbacks)
    trainer.fit(model, data)
    rate = steps.steps / (steps.end - steps.start) if steps.start is not None and steps.steps else float("nan")
    return rate, model


def plain_run(seed: int, epochs: int | None = None, seconds: float | None = None, clock: str = "wall") -> tuple[float, DCGAN]:
    """The same training as the adversarial loop, written as a bare loop over the same DataLoader."""
    model, data = make(seed)
    generator, discriminator = model.generator, model.discriminator
    loss = registry.build("loss", "non_saturating")
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    generator.train()
    discriminator.train()
    start, steps, now = None, 0, CLOCKS[clock]
    began = now()
    epoch = 0
    while True:
        for images, _ in data.train_dataloader():
            if epoch == 1 and start is None:
                start = time.perf_counter()
            real = images * 2 - 1
            with torch.no_grad():
                fake = generator(torch.randn(real.shape[0], 64))
            d_loss = loss.discriminator(discriminator(real), discriminator(fake))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            for p in discriminator.parameters():  # as toggled_optimizer does: D frozen during G's step
                p.requires_grad_(False)
            g_loss = loss.generator(discriminator(generator(torch.randn(real.shape[0], 64))))
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            for p in discriminator.parameters():
                p.requires_grad_(True)
            if start is not None:
                steps += 1
            if seconds is not None and now() - began >= seconds:
                return float("nan"), model
        epoch += 1
        if epochs is not None and epoch >= epochs:
            end = time.perf_counter()
            return steps / (end - start), model


def fid(model: DCGAN, real_features: torch.Tensor, extractor: torch.nn.Module) -> float:
    metric = FrechetDistance(extractor.num_features)
    metric.update(real_features, real=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        samples = copy.deepcopy(model).eval().sample(1000)
    metric.update(extractor(samples), real=False)
    return float(metric.compute())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the speed runs (the first is warm-up)")
    parser.add_argument("--seconds", type=float, default=90.0, help="time budget of the quality runs")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="wall: wall-clock seconds; cpu: the process's CPU seconds, one thread")
    parser.add_argument("--recipe", type=Path, default=RECIPE, help="experiment YAML of the recommended recipe")
    args = parser.parse_args()
    torch.set_num_threads(1 if args.clock == "cpu" else max(1, torch.get_num_threads()))
    recipe = recipe_arguments(args.recipe)
    rates: dict[str, list[float]] = {"illusioncraft": [], "plain": []}
    for repeat in range(args.repeats):
        rates["plain"].append(plain_run(repeat, epochs=args.epochs)[0])
        rates["illusioncraft"].append(lightning_run(repeat, epochs=args.epochs)[0])
    extractor = registry.build("feature_extractor", "digits_classifier")
    _, data = make(0)
    real = torch.stack([data.train_dataset[i][0] for i in range(1000)])
    real_features = extractor(real)
    scores: dict[str, list[float]] = {"illusioncraft": [], "plain": [], "recipe": []}
    steps: dict[str, list[int]] = {"illusioncraft": [], "plain": [], "recipe": []}
    for repeat in range(args.repeats):  # alternating: plain, IllusionCraft, recipe, plain, ...
        budget = {"seconds": args.seconds, "clock": args.clock}
        for key in ("plain", "illusioncraft", "recipe"):
            if key == "plain":
                model = plain_run(repeat, **budget)[1]
            else:
                model = lightning_run(repeat, **budget, recipe=recipe if key == "recipe" else None)[1]
            scores[key].append(fid(model, real_features, extractor))
            steps[key].append(model.generator_steps if key != "plain" else -1)
            print(f"  repeat {repeat} {key}: FID {scores[key][-1]:.1f}", flush=True)
    plain_rate, ours_rate = statistics.median(rates["plain"]), statistics.median(rates["illusioncraft"])
    switches = ", ".join(f"{k}: {v}" for k, v in recipe.items() if k not in ("latent_dim", "width"))
    print(f"DCGAN on digits {SIZE} px, batch {BATCH}, {torch.get_num_threads()} threads, {args.repeats} repeats (median), "
          f"{args.clock} clock")
    print(f"| path | G steps/s | FID after {args.seconds:.0f} {args.clock} s (digits_classifier) | G steps in that time |")
    print("|---|---|---|---|")
    names = {"plain": "plain PyTorch loop", "illusioncraft": "IllusionCraft (Trainer)",
             "recipe": f"IllusionCraft recommended recipe ({args.recipe.name}: {switches})"}
    for key, name in names.items():
        rate = {"plain": f"{plain_rate:.2f}", "illusioncraft": f"{ours_rate:.2f}", "recipe": ""}[key]
        values = ", ".join(f"{value:.1f}" for value in scores[key])
        counted = ", ".join(str(n) for n in steps[key]) if key != "plain" else ""
        print(f"| {name} | {rate} | {statistics.median(scores[key]):.1f} ({values}) | {counted} |")
    print(f"speed ratio IllusionCraft / plain: {ours_rate / plain_rate:.3f} (goal >= 0.95)")
    print(f"FID ratio recipe / plain: {statistics.median(scores['recipe']) / statistics.median(scores['plain']):.3f} "
          "(goal <= 0.7)")


if __name__ == "__main__":
    main()
