"""``illusioncraft generate``: draw samples from a trained generator's checkpoint into one picture.

Checkpoints are read with ``torch.load(weights_only=True)``: no code from the file is executed. The model class
comes from the checkpoint's recorded class path and must be one of IllusionCraft's generators (or a plugin's).
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any, Optional

import torch
from PIL import Image

from illusioncraft import registry
from illusioncraft.errors import ConfigError


def load_generator(path: Path) -> Any:
    """The generator model saved in ``path``, in eval mode on the CPU; one-line errors for bad files."""
    from illusioncraft.models.adversarial import AdversarialModule

    if not path.is_file():
        raise ConfigError(f"generate: checkpoint '{path}' does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
        raise ConfigError(
            f"generate: cannot read checkpoint '{path}': corrupt, not a PyTorch checkpoint, or holding objects other "
            f"than tensors and plain values ({type(error).__name__})"
        ) from None
    hparams = checkpoint.get("hyper_parameters", {}) if isinstance(checkpoint, dict) else {}
    class_path = hparams.get("_class_path")
    if not class_path or "state_dict" not in checkpoint:
        raise ConfigError(f"generate: '{path}' is not an IllusionCraft model checkpoint (no class path or weights)")
    cls = registry.resolve_class_path("model", class_path)
    if not (isinstance(cls, type) and issubclass(cls, AdversarialModule)):
        raise ConfigError(f"generate: checkpoint '{path}' holds a {class_path.rpartition('.')[2]}, not a generator (GAN) model")
    init = {key: value for key, value in hparams.items() if not key.startswith("_")}
    model = cls(**init)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def generate_picture(model: Any, n: int, seed: int = 0, label: Optional[int] = None) -> Image.Image:
    """``n`` samples as an image grid (images) or a scatter plot (2-D points)."""
    from illusioncraft.callbacks.samples import scatter_image
    from illusioncraft.imaging import image_grid

    labels = None
    if label is not None:
        if not model.conditional:
            raise ConfigError(f"generate: {type(model).__name__} is not class-conditional; --label needs a conditional model")
        if not 0 <= label < model.num_classes:
            raise ConfigError(f"generate: label {label} is outside the model's classes 0..{model.num_classes - 1}")
        labels = torch.full((n,), label, dtype=torch.long)
    torch.manual_seed(seed)
    samples = model.sample(n, labels=labels)
    if model.is_image_model:
        return image_grid(samples, value_range=(0.0, 1.0))
    return scatter_image(samples, None, f"{type(model).__name__}: {n} samples")
