"""Throughput of the batch-level augmentations vs a straightforward per-sample Python loop, and of the
classical per-sample albumentations pipeline on one core.

The loop baselines do the same work one image at a time (the way a Dataset __getitem__ would): the same
random draws per image, the same operations, with Python iterating over the batch.

    python benchmarks/augment.py [--batch 256] [--size 32] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from illusioncraft.augment.augmix import AugMix
from illusioncraft.augment.batch import CutMix, Cutout, Mixup
from illusioncraft.augment.diffaugment import DiffAugment, diff_augment
from illusioncraft.augment.pipeline import apply_sample, build_sample_pipeline
from illusioncraft.augment.preview import datamodule_from_config

ROOT = Path(__file__).resolve().parents[1]


def loop_cutout(x: torch.Tensor, y: torch.Tensor, size: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    out = x.clone()
    h, w = x.shape[-2:]
    side = round(size * h)
    for i in range(x.shape[0]):
        cy, cx = int(torch.randint(0, h, (1,))), int(torch.randint(0, w, (1,)))
        out[i, :, max(0, cy - side // 2) : cy + side // 2, max(0, cx - side // 2) : cx + side // 2] = 0
    return out, y


def loop_mixup(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    out, targets = torch.empty_like(x), torch.empty(x.shape[0], k)
    one_hot = torch.nn.functional.one_hot(y, k).float()
    beta = torch.distributions.Beta(torch.tensor(1.0), torch.tensor(1.0))
    for i in range(x.shape[0]):
        lam = float(beta.sample())
        j = x.shape[0] - 1 - i
        out[i] = lam * x[i] + (1 - lam) * x[j]
        targets[i] = lam * one_hot[i] + (1 - lam) * one_hot[j]
    return out, targets


def loop_cutmix(x: torch.Tensor, y: torch.Tensor, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    out, targets = x.clone(), torch.empty(x.shape[0], k)
    one_hot = torch.nn.functional.one_hot(y, k).float()
    beta = torch.distributions.Beta(torch.tensor(1.0), torch.tensor(1.0))
    h, w = x.shape[-2:]
    for i in range(x.shape[0]):
        lam = float(beta.sample())
        j = x.shape[0] - 1 - i
        cut_h, cut_w = int(h * (1 - lam) ** 0.5), int(w * (1 - lam) ** 0.5)
        cy, cx = int(torch.randint(0, h, (1,))), int(torch.randint(0, w, (1,)))
        top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
        left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
        out[i, :, top:bottom, left:right] = x[j, :, top:bottom, left:right]
        lam = 1 - (bottom - top) * (right - left) / (h * w)
        targets[i] = lam * one_hot[i] + (1 - lam) * one_hot[j]
    return out, targets


def loop_augmix(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    augmix = AugMix()
    views = [torch.cat([augmix.augment(x[i : i + 1]) for i in range(x.shape[0])]) for _ in range(2)]
    return torch.cat([x, *views]), y


def loop_diffaugment(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.cat([diff_augment(x[i : i + 1]) for i in range(x.shape[0])]), y


def images_per_second(fn: Callable, x: torch.Tensor, y: torch.Tensor, repeats: int) -> float:
    fn(x, y)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x, y)
        times.append(time.perf_counter() - start)
    return x.shape[0] / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, args.size, args.size)
    y = torch.randint(0, 10, (args.batch,))
    vectorised = {"cutout": Cutout(), "mixup": Mixup(), "cutmix": CutMix(), "augmix": AugMix(), "diffaugment": DiffAugment()}
    loops = {"cutout": loop_cutout, "mixup": loop_mixup, "cutmix": loop_cutmix, "augmix": loop_augmix,
             "diffaugment": loop_diffaugment}
    for augmentation in vectorised.values():
        augmentation.num_classes = 10
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch} x 3 x {args.size} x {args.size}, "
          f"median of {args.repeats}")
    print("| operation | per-sample loop images/s | vectorised images/s | speed-up |")
    print("|---|---|---|---|")
    for name, augmentation in vectorised.items():
        loop = images_per_second(loops[name], x, y, args.repeats)
        fast = images_per_second(augmentation, x, y, args.repeats)
        print(f"| {name} | {loop:,.0f} | {fast:,.0f} | {fast / loop:.1f}x |")

    torch.set_num_threads(1)
    data = datamodule_from_config(ROOT / "experiments" / "cnn_digits_classical.yaml")
    pipeline = data.sample_pipeline or build_sample_pipeline([], None)
    sample = torch.rand(args.batch, 1, 16, 16)
    start = time.perf_counter()
    for image in sample:
        apply_sample(pipeline, image)
    rate = args.batch / (time.perf_counter() - start)
    print(f"\nclassical per-sample pipeline of experiments/cnn_digits_classical.yaml (5 albumentations transforms, "
          f"16 x 16 grey): {rate:,.0f} images/s on one core")


if __name__ == "__main__":
    main()
