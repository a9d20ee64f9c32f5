"""The subcommands beside Lightning's: ``list``, ``sweep``, ``plot``, ``augment``, ``generate``, ``evaluate``
and ``new-plugin``.

Each takes its own arguments (argparse) and reports user mistakes as ``IllusionCraftError`` lines.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from illusioncraft import registry
from illusioncraft.errors import ConfigError


def check_picture_path(path: Path, command: str) -> None:
    """Refuse, before any work, an ``--out`` Pillow cannot write a picture to: a directory, or no known extension."""
    from PIL import Image

    if path.is_dir():
        raise ConfigError(f"{command}: --out '{path}' is a directory; name a picture file such as '{path / 'samples.png'}'")
    if Image.registered_extensions().get(path.suffix.lower()) not in Image.SAVE:
        raise ConfigError(f"{command}: --out '{path}' has no picture extension Pillow writes (.png, .jpg, ...)")


def list_command(argv: list[str]) -> None:
    """``illusioncraft list [KIND]``: every registered name with its kind, origin and summary."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    parser = argparse.ArgumentParser(prog="illusioncraft list", description="List registered names.")
    parser.add_argument("kind", nargs="?", choices=registry.KINDS, help="only this kind")
    options = parser.parse_args(argv)
    failed = registry.failed_plugins()
    table = Table(title="IllusionCraft registry")
    for column in ("name", "kind", "origin", "description"):
        table.add_column(column)
    for item in registry.entries(options.kind):
        origin = f"{item.origin} (failed to load)" if item.origin in failed else item.origin
        table.add_row(*(Text(cell) for cell in (item.name, item.kind, origin, item.summary)))  # Text: shown as written
    console = Console(width=160)
    console.print(table)
    for dist, error in failed.items():
        console.print(Text(f"plugin '{dist}' failed to load ({error}); the entries it registered first may not work"))
    if options.kind is None:
        empty = [kind for kind in registry.KINDS if not registry.names(kind)]
        if empty:
            console.print(f"kinds with no entries installed: {', '.join(empty)}")


def sweep_command(argv: list[str]) -> None:
    """``illusioncraft sweep --config SWEEP.yaml [--out DIR]``: fit each variant and compare them."""
    from illusioncraft.cli.app import IllusionCraftCLI
    from illusioncraft.sweep import run_sweep

    parser = argparse.ArgumentParser(prog="illusioncraft sweep", description="Run the variants of a sweep file.")
    parser.add_argument("--config", required=True, type=Path, help="sweep file (see experiments/optimizers_digits.yaml)")
    parser.add_argument("--out", type=Path, default=None, help="sweep directory (default: runs/<sweep>/version_<n>)")
    parser.add_argument(
        "--override", action="append", default=[], metavar="KEY=VALUE",
        help="applied to every variant, e.g. --override trainer.max_epochs=2 (repeatable)",
    )
    options = parser.parse_args(argv)
    overrides = {}
    for item in options.override:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"sweep: --override takes KEY=VALUE, got '{item}'")
        overrides[key] = value
    run_sweep(options.config, fit_in_process(IllusionCraftCLI), options.out, overrides)


def fit_in_process(cli_class: type) -> Callable[[list[str]], None]:
    """A function that runs ``illusioncraft <arguments>`` in this process with the given CLI class."""
    from illusioncraft.cli.class_paths import install_registry_class_names

    def fit(arguments: list[str]) -> None:
        install_registry_class_names()
        cli_class(args=arguments)

    return fit


def plot_command(argv: list[str]) -> None:
    """``illusioncraft plot activations --out FILE.png [NAME ...]``: each activation and its derivative."""
    from illusioncraft.plots import activation_plot

    parser = argparse.ArgumentParser(prog="illusioncraft plot", description="Draw reference plots.")
    parser.add_argument("what", choices=["activations"])
    parser.add_argument("names", nargs="*", help="activation names (default: every element-wise activation)")
    parser.add_argument("--out", required=True, type=Path, help="PNG file to write")
    options = parser.parse_args(argv)
    check_picture_path(options.out, "plot")
    names = options.names or [
        name for name in registry.names("activation") if hasattr(registry.get("activation", name), "derivative")
    ]
    for name in names:
        registry.get("activation", name)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    activation_plot(names, options.out)
    print(f"wrote {options.out}")


def augment_command(argv: list[str]) -> None:
    """``illusioncraft augment --config X.yaml --out grid.png``: originals beside augmented versions."""
    from illusioncraft.augment.preview import datamodule_from_config, preview

    parser = argparse.ArgumentParser(prog="illusioncraft augment", description="Picture a config's augmentations.")
    parser.add_argument("--config", required=True, type=Path, help="experiment YAML whose data section to use")
    parser.add_argument("--out", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--n", type=int, default=8, help="number of training images (rows)")
    parser.add_argument("--views", type=int, default=5, help="augmented versions per image (columns after the original)")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    if options.n < 1 or options.views < 1:
        raise ConfigError("augment: --n and --views must be >= 1")
    check_picture_path(options.out, "augment")
    picture = preview(datamodule_from_config(options.config), n=options.n, views=options.views, seed=options.seed)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(options.out)
    print(f"wrote {options.out}")


def generate_command(argv: list[str]) -> None:
    """``illusioncraft generate --ckpt X.ckpt --n 64 --out samples.png``: samples of a trained generator."""
    from illusioncraft.generate import (
        check_sample_count,
        check_truncation,
        generate_from_text,
        generate_picture,
        load_generator,
    )

    parser = argparse.ArgumentParser(prog="illusioncraft generate", description="Draw samples from a GAN checkpoint.")
    parser.add_argument("--ckpt", required=True, type=Path, help="checkpoint of a GAN model")
    parser.add_argument("--out", required=True, type=Path, help="PNG file to write")
    parser.add_argument("--n", type=int, default=64, help="number of samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", type=int, default=None, help="class to draw (class-conditional models)")
    parser.add_argument("--text", action="append", default=None,
                        help="caption to draw (text-to-image models); repeat for several, one row of --n images each")
    parser.add_argument("--truncation", type=float, default=None,
                        help="truncation trick: psi in [0, 1], the noise moved toward the mean latent (1: none)")
    options = parser.parse_args(argv)
    check_picture_path(options.out, "generate")
    check_truncation(options.truncation, "generate")
    check_sample_count(options.n, len(options.text) if options.text else 1)
    model = load_generator(options.ckpt)
    if options.text:
        if options.label is not None:
            raise ConfigError("generate: give --text or --label, not both")
        picture = generate_from_text(model, options.text, options.n, options.seed, options.truncation)
    else:
        picture = generate_picture(model, options.n, options.seed, options.label, options.truncation)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(options.out)
    print(f"wrote {options.out}")


def evaluate_command(argv: list[str]) -> None:
    """``illusioncraft evaluate --ckpt X.ckpt --data cifar10 --metrics fid,kid,is,prdc``: scores and provenance."""
    from illusioncraft.evaluate import evaluate, parse_request

    evaluate(parse_request(argv))


def new_plugin_command(argv: list[str]) -> None:
    """``illusioncraft new-plugin NAME [--kind KIND]``: write a plugin package ready to test and publish."""
    from illusioncraft.cli.new_plugin import KINDS, write_plugin

    parser = argparse.ArgumentParser(prog="illusioncraft new-plugin",
                                     description="Write a plugin package: an entry of one kind, its test, README, tox.ini.")
    parser.add_argument("name", help="distribution name, e.g. illusioncraft-my-models")
    parser.add_argument("--kind", choices=KINDS, default="model", help="kind of the example entry (default: model)")
    parser.add_argument("--entry", default=None, help="registry name of the example entry (default: from the name)")
    parser.add_argument("--out", type=Path, default=None, help="directory to create (default: ./NAME)")
    options = parser.parse_args(argv)
    written = write_plugin(options.name, options.kind, options.out or Path(options.name), options.entry)
    print(f"wrote {written}: `pip install -e {written}` then `python -m pytest {written}`")


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "list": list_command, "sweep": sweep_command, "plot": plot_command, "augment": augment_command,
    "generate": generate_command, "evaluate": evaluate_command, "new-plugin": new_plugin_command,
}


def summaries(commands: dict[str, Callable[[list[str]], None]]) -> dict[str, str]:
    """Each command's one-line description (its docstring's text after the usage), for ``illusioncraft --help``."""
    found = {}
    for name, command in commands.items():
        first = (command.__doc__ or "").strip().splitlines()[0]
        found[name] = first.split("``:", 1)[1].strip() if "``:" in first else first
    return found
