"""What the training loop costs beyond the maths: IllusionCraft's command-line path vs a plain PyTorch loop.

For each workload both paths train the same networks (the model's own modules) on the same batches (the
datamodule's own loader: the same permutation, the same tensors) with the same optimiser settings and the same
number of threads:

- IllusionCraft: the experiment's YAML through the ``illusioncraft fit`` machinery (``IllusionCraftCLI`` with
  ``run=False``, then ``trainer.fit``): the LightningModule, its default callbacks (checkpointing, the
  non-finite-loss check, signal handling, the model's sample pictures), the CSV logger; validation and the
  progress bar off, so both paths do only training steps;
- plain: the loop a user writes by hand: ``zero_grad``, forward, loss, ``backward``, ``step``.

The clock runs over whole epochs after the first (the Trainer's start-up and the first epoch's warm-up are left
out): from the start of an epoch, before its first batch is fetched, to the end of its last optimiser step, in
both paths. Repeats alternate the two paths (plain first on even repeats); the table gives the median ms per
step of each, the ratio of the medians, and the range of the per-repeat ratios.

    python benchmarks/overhead.py [--workloads cnn8 cnn32 dcgan stackgan tiny_cnn tiny_gan] [--repeats 5]
        [--epochs 3] [--threads 1] [--clock wall|cpu]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import Callback

from illusioncraft import registry
from illusioncraft.cli.app import IllusionCraftCLI
from illusioncraft.cli.class_paths import install_registry_class_names
from illusioncraft.nn.networks.stackgan import kl_to_standard_normal

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@dataclass
class Workload:
    """An experiment YAML with overrides, and the plain loop that trains the same maths."""

    label: str
    config: str
    overrides: list[str]
    plain_step: Callable[[Any, Any, dict[str, Any]], None]  # (model copy, batch, state) -> one training step


def classifier_step(model: Any, batch: Any, state: dict[str, Any]) -> None:
    if "optimizer" not in state:
        state["optimizer"] = torch.optim.Adam(model.network.parameters(), lr=0.002)
    images, labels = batch
    images = (images - state["mean"]) / state["std"]  # the datamodule's normalisation, as on_after_batch_transfer does
    state["optimizer"].zero_grad(set_to_none=True)
    loss = F.cross_entropy(model.network(images), labels)
    loss.backward()
    state["optimizer"].step()


def dcgan_step(model: Any, batch: Any, state: dict[str, Any]) -> None:
    g, d = model.generator, model.discriminator
    if "opt_g" not in state:
        state["opt_g"] = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        state["opt_d"] = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = batch[0] * 2 - 1
    with torch.no_grad():
        fake = g(torch.randn(real.shape[0], model.latent_dim))
    state["opt_d"].zero_grad(set_to_none=True)
    d_loss = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
    d_loss.backward()
    state["opt_d"].step()
    state["opt_g"].zero_grad(set_to_none=True)
    g_loss = F.softplus(-d(g(torch.randn(real.shape[0], model.latent_dim)))).mean()
    g_loss.backward()
    state["opt_g"].step()


def stackgan_step(model: Any, batch: Any, state: dict[str, Any]) -> None:
    """StackGAN Stage-I as written by hand: matching-aware D (projection + image-only head + contrastive), then G."""
    g, d = model.generator, model.discriminator
    if "opt_g" not in state:
        state["opt_g"] = torch.optim.Adam(g.parameters(), lr=6e-4, betas=(0.5, 0.999))
        state["opt_d"] = torch.optim.Adam(d.parameters(), lr=6e-4, betas=(0.5, 0.999))
    real, right, wrong = batch["image"] * 2 - 1, batch["tokens"], batch["wrong_tokens"]
    with torch.no_grad():
        fake = g(torch.randn(real.shape[0], model.latent_dim), right)[0]
    state["opt_d"].zero_grad(set_to_none=True)
    real_features, fake_features = d.net.features(real), d.net.features(fake)
    right_text, wrong_text = d.text_encoder(right), d.text_encoder(wrong)
    real_right = d.net.judge(real_features, right_text)
    d_loss = (F.softplus(-real_right).mean() + 0.5 * F.softplus(d.net.judge(fake_features, right_text)).mean()
              + 0.5 * F.softplus(d.net.judge(real_features, wrong_text)).mean()
              + F.softplus(-d.net.judge_image(real_features)).mean() + F.softplus(d.net.judge_image(fake_features)).mean()
              + d.net.contrastive_loss(real_features, right_text))
    d_loss.backward()
    state["opt_d"].step()
    state["opt_g"].zero_grad(set_to_none=True)
    fake, mu, log_var = g(torch.randn(real.shape[0], model.latent_dim), right)
    features, right_text = d.net.features(fake), d.text_encoder(right)
    g_loss = (F.softplus(-d.net.judge(features, right_text)).mean() + F.softplus(-d.net.judge_image(features)).mean()
              + d.net.contrastive_loss(features, right_text) + 2.0 * kl_to_standard_normal(mu, log_var))
    g_loss.backward()
    state["opt_g"].step()


TINY_CNN = ["--model.init_args.channels", "[1]", "--model.init_args.hidden_size", "1", "--model.init_args.batch_norm",
            "false", "--model.init_args.dropout", "0.0"]
WORKLOADS = {
    "cnn8": Workload("CNN, 8 px digits (cnn_digits.yaml)", "cnn_digits.yaml", [], classifier_step),
    "cnn32": Workload("CNN, 32 px digits", "cnn_digits.yaml", ["--data.init_args.image_size", "32"], classifier_step),
    "dcgan": Workload("DCGAN, 16 px digits (dcgan_digits.yaml)", "dcgan_digits.yaml", ["--trainer.callbacks", "null"],
                      dcgan_step),
    "stackgan": Workload("StackGAN Stage-I, 32 px shapes (stackgan_shapes_stage1.yaml)", "stackgan_shapes_stage1.yaml",
                         ["--data.init_args.n_images", "1000", "--trainer.callbacks", "null"], stackgan_step),
    "tiny_cnn": Workload("fixed cost: CNN of 1 channel, 1 hidden unit, 8 px", "cnn_digits.yaml", TINY_CNN, classifier_step),
    "tiny_gan": Workload("fixed cost: DCGAN of width 1, 8 px", "dcgan_digits.yaml",
                         ["--data.init_args.image_size", "8", "--model.init_args.width", "1", "--model.init_args.latent_dim",
                          "1", "--trainer.callbacks", "null"], dcgan_step),
}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}  # process time: this process's CPU seconds only
clock = CLOCKS["wall"]


class EpochClock(Callback):
    """Time of the training steps of every epoch after the first: epoch start to the last batch's end."""

    def __init__(self) -> None:
        self.seconds, self.steps, self.start = 0.0, 0, 0.0

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.start = clock()

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        if trainer.current_epoch >= 1:
            self.steps += 1
            if trainer.is_last_batch:
                self.seconds += clock() - self.start


def build(workload: Workload, epochs: int, directory: Path) -> IllusionCraftCLI:
    """The CLI's model, datamodule and trainer for the workload (nothing trained yet)."""
    arguments = ["--config", str(EXPERIMENTS / workload.config), *workload.overrides, "--seed_everything", "0",
                 "--trainer.max_epochs", str(epochs), "--trainer.limit_val_batches", "0",
                 "--trainer.num_sanity_val_steps", "0", "--trainer.enable_progress_bar", "false",
                 "--trainer.enable_model_summary", "false", "--run.dir", str(directory), "--run.loggers", "[csv]",
                 "--run.test_after_fit", "false"]
    return IllusionCraftCLI(arguments, run=False)


def time_illusioncraft(cli: IllusionCraftCLI) -> tuple[float, int]:
    clock = EpochClock()
    cli.trainer.callbacks.append(clock)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return clock.seconds, clock.steps


def time_plain(workload: Workload, model: Any, data: Any, epochs: int) -> tuple[float, int]:
    state: dict[str, Any] = {"mean": getattr(data, "mean", 0.0), "std": getattr(data, "std", 1.0)}
    model.train()
    loader = data.train_dataloader()
    seconds, steps = 0.0, 0
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        start = clock()
        count = 0
        for batch in loader:
            workload.plain_step(model, batch, state)
            count += 1
        if epoch >= 1:
            seconds += clock() - start
            steps += count
    return seconds, steps


def measure(name: str, workload: Workload, repeats: int, epochs: int, directory: Path) -> list[tuple[float, float]]:
    """(plain ms/step, IllusionCraft ms/step) for each repeat, after an untimed warm-up of both paths. The plain
    loop trains a copy of the networks the warm-up run built (the same architecture, one set of weights for every
    plain repeat); each IllusionCraft run builds its own from the seed, as a user's run does."""
    results, networks = [], None
    for repeat in range(-1, repeats):
        cli = build(workload, epochs, directory / f"{name}_{repeat}")
        timings = {}
        for path in (("trainer", "plain") if repeat % 2 else ("plain", "trainer")):
            if path == "plain" and networks is None:
                continue  # the warm-up builds the networks first
            torch.manual_seed(repeat)
            if path == "plain":
                cli.datamodule.setup("fit")
                seconds, steps = time_plain(workload, copy.deepcopy(networks), cli.datamodule, epochs)
            else:
                seconds, steps = time_illusioncraft(cli)
                networks = networks or detached_copy(cli.model)
            timings[path] = 1000 * seconds / steps
        if repeat < 0:
            time_plain(workload, copy.deepcopy(networks), cli.datamodule, epochs)  # warm-up of the plain path
        else:
            results.append((timings["plain"], timings["trainer"]))
    return results


def detached_copy(model: Any) -> Any:
    """A copy of a model after ``fit``, without its trainer."""
    trainer, model.trainer = model.trainer, None
    try:
        return copy.deepcopy(model)
    finally:
        model.trainer = trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run; the first is not timed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="wall: elapsed time; cpu: this process's CPU time (steadier when other jobs share the machine)")
    parser.add_argument("--work-dir", type=Path, default=Path("runs/overhead_benchmark"))
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    registry.load_plugins()
    install_registry_class_names()
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.clock} clock, {args.epochs} epochs per run "
          f"(first untimed), {args.repeats} alternating repeats")
    print("| workload | plain loop ms/step | IllusionCraft ms/step | ratio of medians | per-repeat ratios |")
    print("|---|---|---|---|---|")
    for name in args.workloads:
        results = measure(name, WORKLOADS[name], args.repeats, args.epochs, args.work_dir)
        plain, trainer = statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)
        ratios = [t / p for p, t in results]
        print(f"| {WORKLOADS[name].label} | {plain:.3f} | {trainer:.3f} | {trainer / plain:.3f} | "
              f"{min(ratios):.3f}-{max(ratios):.3f} |", flush=True)


if __name__ == "__main__":
    main()
