"""``illusioncraft generate``: draw samples from a trained generator's checkpoint into one picture.

Checkpoints are read with ``torch.load(weights_only=True)``: no code from the file is executed. The model class
comes from the checkpoint's recorded class path and must be one of IllusionCraft's generators (or a plugin's).
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any, Optional

import torch
from PIL import Image

from illusioncraft import registry
from illusioncraft.checkpoints import read_checkpoint, state_dict_mismatch, version_note
from illusioncraft.contracts import ClassConditionedModel, GeneratorModel, TextConditionedModel
from illusioncraft.errors import ConfigError

MAX_SAMPLES = 4096  # samples in one picture: a 64 x 64 grid (16 MB of pixels at 32 px)
CHUNK = 256  # samples drawn at once: memory stays that of one chunk, whatever the picture holds


def load_generator(path: Path) -> Any:
    """The generator model saved in ``path``, in eval mode on the CPU; one-line errors for bad files."""
    from illusioncraft.models.gan.loop import AdversarialModule

    checkpoint = read_checkpoint(path, what="generate")  # weights_only=True; one line for missing or corrupt files
    hparams = checkpoint.get("hyper_parameters") or {}
    class_path = hparams.get("_class_path")
    if not class_path:
        raise ConfigError(f"generate: '{path}' is not an IllusionCraft model checkpoint (no class path or weights)")
    cls = registry.resolve_class_path("model", class_path)
    if not (isinstance(cls, type) and issubclass(cls, AdversarialModule)):
        raise ConfigError(f"generate: checkpoint '{path}' holds a {class_path.rpartition('.')[2]}, not a generator (GAN) model")
    accepted = inspect.signature(cls.__init__).parameters  # hparams may also hold values recorded during setup
    init = {key: value for key, value in hparams.items() if key in accepted and key != "self"}
    model = cls(**init)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        detail = state_dict_mismatch(error)
        if detail is None:
            raise
        raise ConfigError(f"generate: checkpoint '{path}'{version_note(checkpoint)} does not fit "
                          f"{class_path.rpartition('.')[2]}: {detail}") from None
    return model.eval()


def check_sample_count(n: int, rows: int = 1) -> None:
    """Refuse, before any work, a picture of more samples than ``MAX_SAMPLES`` (``n`` per row, ``rows`` rows)."""
    if n < 1:
        raise ConfigError(f"generate: --n must be >= 1, got {n}")
    if n * rows > MAX_SAMPLES:
        fewer = "lower --n or give fewer --text" if rows > 1 else "lower --n"
        raise ConfigError(f"generate: {n * rows} samples in one picture; at most {MAX_SAMPLES} ({fewer})")


def check_truncation(psi: Optional[float], what: str) -> None:
    """Refuse, before any work, a truncation psi outside [0, 1]."""
    if psi is not None and not 0.0 <= psi <= 1.0:
        raise ConfigError(f"{what}: --truncation must be in [0, 1] (1: no truncation, 0: the mean latent), got {psi}")


def draw(model: GeneratorModel, noise: torch.Tensor, condition: Optional[torch.Tensor] = None,
         truncation: Optional[float] = None) -> torch.Tensor:
    """Samples for ``noise`` (N, latent) and ``condition`` (the model's default when None), ``CHUNK`` at a time: the
    noise is drawn before, so chunks change the memory needed and nothing else. ``truncation``: psi of the
    truncation trick (the model's ``truncate``), applied to the noise."""
    noise = noise if truncation is None else model.truncate(noise, truncation)
    condition = model.default_condition(noise.shape[0]) if condition is None else condition
    chunks = [
        model.sample(noise=noise[start:start + CHUNK], condition=None if condition is None else condition[start:start + CHUNK])
        for start in range(0, noise.shape[0], CHUNK)
    ]
    return torch.cat(chunks)


def generate_picture(model: Any, n: int, seed: int = 0, label: Optional[int] = None,
                     truncation: Optional[float] = None) -> Image.Image:
    """``n`` samples as an image grid (images) or a scatter plot (2-D points)."""
    from illusioncraft.callbacks.samples import scatter_image
    from illusioncraft.imaging import image_grid

    labels = None
    if label is not None:
        if not isinstance(model, ClassConditionedModel):
            raise ConfigError(f"generate: {type(model).__name__} is not class-conditional; --label needs a conditional model")
        if not 0 <= label < model.num_classes:
            raise ConfigError(f"generate: label {label} is outside the model's classes 0..{model.num_classes - 1}")
        labels = torch.full((n,), label, dtype=torch.long)
    torch.manual_seed(seed)
    samples = draw(model, model.noise(n), labels, truncation)  # (n, C, H, W) or (n, 2)
    if model.is_image_model:
        return image_grid(samples, value_range=(0.0, 1.0))
    return scatter_image(samples, None, f"{type(model).__name__}: {n} samples")


def generate_from_text(model: Any, captions: list[str], n: int, seed: int = 0,
                       truncation: Optional[float] = None) -> Image.Image:
    """One row of ``n`` images per caption, the caption written beside it; every row uses the same ``n`` noise
    vectors, so rows differ only by what the captions say. Words the model's vocabulary lacks are reported."""
    from illusioncraft.imaging import captioned_rows

    if not isinstance(model, TextConditionedModel):
        raise ConfigError("generate: --text needs a text-to-image checkpoint (stackgan_stage1/2, dfgan), "
                          f"got {type(model).__name__}")
    captions = [caption.strip() for caption in captions]
    if not all(captions):
        raise ConfigError("generate: --text got an empty caption")
    tokens, unknown = model.encode_captions(captions)
    if unknown:
        print(f"illusioncraft: warning: words unknown to the model, read as <unk>: {', '.join(unknown)}", file=sys.stderr)
    torch.manual_seed(seed)
    noise = model.noise(n).repeat(len(captions), 1)  # (len(captions) * n, latent)
    images = draw(model, noise, tokens.repeat_interleave(n, dim=0), truncation)
    return captioned_rows(list(images.cpu().split(n)), captions)
