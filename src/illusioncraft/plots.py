"""Plots drawn with matplotlib's file-only backend: optimiser loss curves and activations with derivatives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from illusioncraft import registry  # noqa: E402
from illusioncraft.errors import ConfigError  # noqa: E402


def loss_curves(curves: Sequence[tuple[str, Sequence[int], Sequence[float]]], path: Path, title: str = "") -> None:
    """Mean training loss of each epoch against training examples seen, one line per (name, examples seen, losses)
    curve (log scale)."""
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, seen, losses in curves:
        axis.plot(seen, losses, marker="o", markersize=3, label=name)
    axis.set_xlabel("training examples seen")
    axis.set_ylabel("mean training loss of the epoch")
    axis.set_yscale("log")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def activation_plot(names: Sequence[str], path: Path, low: float = -4.0, high: float = 4.0) -> None:
    """Each registered activation g(z) and its derivative g'(z) (from ``derivative``, not autograd)."""
    z = torch.linspace(low, high, 401)
    figure, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), dpi=120, squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        activation = registry.build("activation", name)
        if not hasattr(activation, "derivative"):
            raise ConfigError(f"activation '{name}' is not element-wise: it has no derivative g'(z) to plot")
        axis.plot(z, activation(z), label="g(z)")
        axis.plot(z, activation.derivative(z), label="g'(z)", linestyle="--")
        axis.axhline(0, color="grey", linewidth=0.5)
        axis.axvline(0, color="grey", linewidth=0.5)
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
