"""The arguments of ``illusioncraft evaluate``, parsed and checked before any image is read."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from illusioncraft import registry
from illusioncraft.errors import ConfigError

METRICS = ("fid", "kid", "is", "prdc")
NEEDS_REAL = {"fid", "kid", "prdc"}
NEEDS_REAL_FEATURES = {"kid", "prdc"}


@dataclass
class EvaluationRequest:
    """What to score (a checkpoint or a folder), against what (a datamodule's split or a statistics file), how."""

    ckpt: Optional[Path] = None
    images: Optional[Path] = None
    image_size: Optional[int] = None
    data: Optional[str] = None
    data_args: dict[str, Any] = field(default_factory=dict)
    split: Optional[str] = None
    stats: Optional[Path] = None
    save_stats: Optional[Path] = None
    metrics: tuple[str, ...] = ("fid",)
    n: int = 50_000
    n_real: Optional[int] = None
    extractor: str = "digits_classifier"
    extractor_args: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 100
    seed: int = 0
    truncation: Optional[float] = None
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    cache: bool = True
    out: Optional[Path] = None
    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"
    num_nodes: int = 1
    progress: bool = True


def mapping(text: Optional[str], flag: str) -> dict[str, Any]:
    """A YAML/JSON mapping given on the command line (``"{weights_path: w.pth, resize: clean}"``)."""
    if not text:
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"evaluate: {flag} is not a YAML mapping: {str(error).splitlines()[0]}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"evaluate: {flag} must be a mapping such as \"{{key: value}}\", got {text!r}")
    return value


def devices(text: str) -> Any:
    """Lightning's devices from the command line: ``2`` -> 2, ``0,1`` -> [0, 1], ``auto`` stays."""
    if text.isdigit():
        return int(text)
    if "," in text:
        return [int(part) for part in text.split(",") if part.strip()]
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="illusioncraft evaluate",
                                description="Score a generator checkpoint or a folder of images against real data.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--ckpt", type=Path, help="checkpoint of a GAN (any IllusionCraft generator)")
    source.add_argument("--images", type=Path, help="folder of generated images (PNG, JPEG, ...)")
    p.add_argument("--image-size", type=int, default=None, help="--images are read at this size (default: the first's)")
    p.add_argument("--data", help="real data: a datamodule name (see `illusioncraft list datamodule`) or an experiment YAML")
    p.add_argument("--data-args", default=None, help="datamodule arguments as a mapping, e.g. \"{root: data/cifar10}\"")
    p.add_argument("--split", default=None,
                   help="split of --data, or splits joined by + (train+val: every training file of CIFAR or MNIST); "
                        "default: val for text-to-image checkpoints, else train")
    p.add_argument("--stats", type=Path, help="reference statistics .npz (mu, sigma) instead of --data")
    p.add_argument("--save-stats", type=Path, help="write the real set's statistics to this .npz (pytorch-fid format)")
    p.add_argument("--metrics", default="fid", help=f"comma-separated, any of {','.join(METRICS)} (default: fid)")
    p.add_argument("--n", type=int, default=50_000, help="generated samples (default 50,000; a folder: all its images)")
    p.add_argument("--n-real", type=int, default=None, help="real images (default: the whole split)")
    p.add_argument("--extractor", default="digits_classifier", help="feature extractor name (e.g. inception)")
    p.add_argument("--extractor-args", default=None, help="e.g. \"{weights_path: pt_inception-2015-12-05-6726825d.pth}\"")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="noise of the generated samples")
    p.add_argument("--truncation", type=float, default=None,
                   help="truncation trick for a checkpoint's samples: psi in [0, 1] (1: none, 0: the mean latent)")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--kid-subset-size", type=int, default=1000)
    p.add_argument("--no-cache", action="store_true", help="neither read nor write cached reference statistics")
    p.add_argument("--out", type=Path, default=None, help="JSON file for the results and their provenance")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--devices", default="1", help="Lightning's devices: a count, a list, or auto")
    p.add_argument("--strategy", default="auto", help="Lightning's strategy, e.g. ddp")
    p.add_argument("--num-nodes", type=int, default=1)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def parse_request(argv: list[str]) -> EvaluationRequest:
    """Parse and check the command line; every mistake is one ``ConfigError`` line."""
    options = parser().parse_args(argv)
    metrics = tuple(dict.fromkeys(name.strip().lower() for name in options.metrics.split(",") if name.strip()))
    unknown = [name for name in metrics if name not in METRICS]
    if unknown or not metrics:
        raise ConfigError(f"evaluate: unknown metric {', '.join(repr(m) for m in unknown) or '(none)'}; "
                          f"choose from {', '.join(METRICS)}")
    for flag, value, low in (("--n", options.n, 2), ("--batch-size", options.batch_size, 1),
                             ("--kid-subsets", options.kid_subsets, 1), ("--kid-subset-size", options.kid_subset_size, 2)):
        if value < low:
            raise ConfigError(f"evaluate: {flag} must be >= {low}, got {value}")
    if options.n_real is not None and options.n_real < 2:
        raise ConfigError(f"evaluate: --n-real must be >= 2, got {options.n_real}")
    if options.truncation is not None and not 0.0 <= options.truncation <= 1.0:
        raise ConfigError(f"evaluate: --truncation must be in [0, 1] (1: no truncation, 0: the mean latent), "
                          f"got {options.truncation}")
    if options.truncation is not None and options.images is not None:
        raise ConfigError("evaluate: --truncation changes a generator's noise; it has no meaning for --images")
    if options.data and options.stats:
        raise ConfigError("evaluate: give --data or --stats, not both")
    if NEEDS_REAL & set(metrics) and not (options.data or options.stats):
        raise ConfigError(f"evaluate: {', '.join(sorted(NEEDS_REAL & set(metrics)))} need real images: give --data "
                          "(a datamodule name or YAML) or --stats (a statistics .npz)")
    if options.save_stats and not options.data:
        raise ConfigError("evaluate: --save-stats needs --data (the real images to take statistics of)")
    extractor_args = mapping(options.extractor_args, "--extractor-args")
    registry.check_arguments("feature_extractor", options.extractor, extractor_args)
    return EvaluationRequest(
        ckpt=options.ckpt, images=options.images, image_size=options.image_size, data=options.data,
        data_args=mapping(options.data_args, "--data-args"), split=options.split, stats=options.stats,
        save_stats=options.save_stats, metrics=metrics, n=options.n, n_real=options.n_real,
        extractor=options.extractor, extractor_args=extractor_args, batch_size=options.batch_size, seed=options.seed,
        truncation=options.truncation,
        kid_subsets=options.kid_subsets, kid_subset_size=options.kid_subset_size, cache=not options.no_cache,
        out=options.out, accelerator=options.accelerator, devices=devices(options.devices), strategy=options.strategy,
        num_nodes=options.num_nodes, progress=not options.no_progress,
    )
