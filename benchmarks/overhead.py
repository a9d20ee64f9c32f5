"""Per-step time of the CNN trained through IllusionCraft's Trainer path vs a plain PyTorch loop.

Same network (built by the ``cnn`` model), same digits training split, batch size and Adam settings; both
run the same number of epochs in one process, alternating, and the median of the repeats is compared.
Steady-state steps only: the clock runs from the start of the first step of epoch 2 to the end of the last
step, so the Trainer's one-off start-up cost is left out.

    python benchmarks/overhead.py [--image-size 8 32] [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from lightning.pytorch import Callback, Trainer

from illusioncraft.data.digits import DigitsDataModule
from illusioncraft.models.classifiers import CNN

BATCH = 64


def make(image_size: int, seed: int) -> tuple[CNN, DigitsDataModule]:
    torch.manual_seed(seed)
    data = DigitsDataModule(batch_size=BATCH, image_size=image_size, seed=seed)
    data.setup("fit")
    model = CNN(optimizer={"name": "adam", "lr": 0.002}, input_shape=data.image_shape, num_classes=data.num_classes)
    return model, data


class StepClock(Callback):
    """Wall time from the first step of the second epoch to the end of the last step."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.end = 0.0
        self.steps = 0

    def on_train_batch_start(self, trainer: Trainer, *args: object) -> None:
        if trainer.current_epoch >= 1 and self.start is None:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: Trainer, *args: object) -> None:
        if self.start is not None:
            self.end = time.perf_counter()
            self.steps += 1


def time_trainer(image_size: int, epochs: int) -> tuple[float, int]:
    """(steady-state seconds, steps timed)."""
    model, data = make(image_size, 0)
    clock = StepClock()
    trainer = Trainer(
        max_epochs=epochs, limit_val_batches=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu", devices=1, callbacks=[clock],
    )
    trainer.fit(model, train_dataloaders=data.train_dataloader())
    return clock.end - clock.start, clock.steps


def time_plain(image_size: int, epochs: int) -> tuple[float, int]:
    model, data = make(image_size, 0)
    network, loss_fn = model.network, torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(network.parameters(), lr=0.002)
    network.train()
    steps, start = 0, 0.0
    for epoch in range(epochs):
        if epoch == 1:
            start = time.perf_counter()
        for images, labels in data.train_dataloader():
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(network(images), labels)
            loss.backward()
            optimizer.step()
            steps += epoch >= 1
    return time.perf_counter() - start, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, {args.epochs} epochs, "
          f"median of {args.repeats}")
    print("| image size | plain loop ms/step | IllusionCraft ms/step | ratio |")
    print("|------------|--------------------|-----------------------|-------|")
    for size in args.image_size:
        time_plain(size, 1)  # warm-up: thread pools, allocator
        plain, trainer = [], []
        for _ in range(args.repeats):
            seconds, steps = time_plain(size, args.epochs)
            plain.append(1000 * seconds / steps)
            seconds, steps = time_trainer(size, args.epochs)
            trainer.append(1000 * seconds / steps)
        p, t = statistics.median(plain), statistics.median(trainer)
        print(f"| {size:>10} | {p:18.2f} | {t:21.2f} | {t / p:5.3f} |")


if __name__ == "__main__":
    main()
