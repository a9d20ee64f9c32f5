"""DCGAN on digits through IllusionCraft's adversarial loop (Lightning Trainer) vs a plain PyTorch loop.

Both sides use the same networks (the ``dcgan`` model's generator and discriminator, copied from one seeded
initialisation), the same digits training split at 16 px in [-1, 1], batch 64, Adam 2e-4 (0.5, 0.999) for
both networks and the non-saturating loss. Two measurements, repeated and alternated:

- speed: generator steps per second over the same number of steps, from the first step of the second epoch
  (the Trainer's one-off start-up is left out);
- quality at equal wall-clock: each side trains for ``--seconds`` and its generator is scored by FID with the
  ``digits_classifier`` features (1,000 real training images vs 1,000 samples).

    python benchmarks/dcgan_vs_plain.py [--epochs 3] [--seconds 60] [--repeats 2]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from lightning.pytorch import Callback, Trainer

from illusioncraft import registry
from illusioncraft.data.digits import DigitsDataModule
from illusioncraft.metrics.fid import FrechetDistance
from illusioncraft.models.gan.dcgan import DCGAN

BATCH, SIZE = 64, 16


def make(seed: int) -> tuple[DCGAN, DigitsDataModule]:
    torch.manual_seed(seed)
    data = DigitsDataModule(batch_size=BATCH, image_size=SIZE, normalize=False, seed=seed)
    data.setup("fit")
    model = DCGAN(latent_dim=64, width=32, data_shape=data.image_shape)
    return model, data


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


def lightning_run(seed: int, epochs: int | None = None, seconds: float | None = None) -> tuple[float, DCGAN]:
    model, data = make(seed)
    clock = StepClock()
    limits = {"max_epochs": epochs} if epochs else {"max_time": {"seconds": seconds}, "max_epochs": -1}
    trainer = Trainer(**limits, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, callbacks=[clock])
    trainer.fit(model, data)
    rate = clock.steps / (clock.end - clock.start) if clock.start is not None and clock.steps else float("nan")
    return rate, model


def plain_run(seed: int, epochs: int | None = None, seconds: float | None = None) -> tuple[float, DCGAN]:
    """The same training as the adversarial loop, written as a bare loop over the same DataLoader."""
    model, data = make(seed)
    generator, discriminator = model.generator, model.discriminator
    loss = registry.build("loss", "non_saturating")
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    generator.train()
    discriminator.train()
    start, steps, began = None, 0, time.perf_counter()
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
            if seconds is not None and time.perf_counter() - began >= seconds:
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
    parser.add_argument("--seconds", type=float, default=60.0, help="wall-clock budget of the quality runs")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rates: dict[str, list[float]] = {"illusioncraft": [], "plain": []}
    for repeat in range(args.repeats):
        rates["plain"].append(plain_run(repeat, epochs=args.epochs)[0])
        rates["illusioncraft"].append(lightning_run(repeat, epochs=args.epochs)[0])
    extractor = registry.build("feature_extractor", "digits_classifier")
    _, data = make(0)
    real = torch.stack([data.train_dataset[i][0] for i in range(1000)])
    real_features = extractor(real)
    scores: dict[str, list[float]] = {"illusioncraft": [], "plain": []}
    for repeat in range(args.repeats):
        scores["plain"].append(fid(plain_run(repeat, seconds=args.seconds)[1], real_features, extractor))
        scores["illusioncraft"].append(fid(lightning_run(repeat, seconds=args.seconds)[1], real_features, extractor))
    plain_rate, ours_rate = statistics.median(rates["plain"]), statistics.median(rates["illusioncraft"])
    print(f"DCGAN on digits {SIZE} px, batch {BATCH}, {torch.get_num_threads()} threads, {args.repeats} repeats (median)")
    print(f"| path | G steps/s | FID after {args.seconds:.0f} s (digits_classifier) |")
    print("|---|---|---|")
    for name, rate in (("plain PyTorch loop", plain_rate), ("IllusionCraft (Trainer)", ours_rate)):
        key = "plain" if name.startswith("plain") else "illusioncraft"
        values = ", ".join(f"{value:.1f}" for value in scores[key])
        print(f"| {name} | {rate:.2f} | {statistics.median(scores[key]):.1f} ({values}) |")
    print(f"speed ratio IllusionCraft / plain: {ours_rate / plain_rate:.3f} (goal >= 0.95)")


if __name__ == "__main__":
    main()
