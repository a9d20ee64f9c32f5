"""Where ``evaluate``'s images come from: a generator checkpoint or a folder (generated), a datamodule (real).

Every source hands out images by stream position: ``batch(start, count)`` returns images ``start`` to
``start + count - 1`` in [0, 1], (B, C, H, W). A generator's batch at ``start`` is drawn from its own seed, so
the samples are the same however the positions are shared among processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
import yaml
from torch import Tensor

from illusioncraft import registry
from illusioncraft.contracts import CaptionedData, ClassConditionedModel, TextConditionedModel
from illusioncraft.data.images import image_dimensions, image_files, read_image
from illusioncraft.errors import ConfigError, DataError


def load_datamodule(data: str, arguments: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    """(datamodule, its registry name, its arguments) from a registry name or an experiment YAML's ``data:``."""
    if data.endswith((".yaml", ".yml")):
        path = Path(data)
        if not path.is_file():
            raise ConfigError(f"evaluate: --data file '{path}' does not exist")
        document = yaml.safe_load(path.read_text()) or {}
        section = document.get("data") if isinstance(document, dict) else None
        if not isinstance(section, dict) or "class_path" not in section:
            raise ConfigError(f"evaluate: '{path}' has no 'data:' section with a class_path")
        class_path, arguments = str(section["class_path"]), {**(section.get("init_args") or {}), **arguments}
    else:
        class_path = data
    cls = registry.resolve_class_path("datamodule", class_path)
    name = registry.name_of(cls, default=class_path)
    if "." not in class_path:
        registry.check_arguments("datamodule", name, arguments)
    try:
        return cls(**arguments), name, arguments
    except TypeError as error:
        raise ConfigError(f"evaluate: data '{class_path}': {error}") from None


class Joined:
    """Several sequences read as one (``train+val``: every training file of a set whose validation split was cut
    from its training files, as CIFAR's and MNIST's are here)."""

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    def __getitem__(self, index: int) -> Any:
        for part in self.parts:
            if index < len(part):
                return part[index]
            index -= len(part)
        raise IndexError(index)


class RealImages:
    """The images of one split of a datamodule (labelled or captioned), or of splits joined by ``+``
    (``train+val``), first ``n`` of them or all."""

    def __init__(self, datamodule: Any, split: str, n: Optional[int]) -> None:
        names = split.split("+")
        if not all(name in ("train", "val", "test") for name in names) or len(set(names)) != len(names):
            raise ConfigError(f"evaluate: --split must be train, val, test or a join such as train+val, got {split!r}")
        self.split = split
        self.captioned = isinstance(datamodule, CaptionedData)
        if self.captioned:
            parts = [datamodule.raw_split(name).images for name in names]
        else:
            datamodule.setup("fit")
            datasets = [getattr(datamodule, f"{name}_dataset") for name in names]
            parts = [getattr(dataset, "dataset", dataset) for dataset in datasets]  # beneath an augmentation wrapper
        self.items = parts[0] if len(parts) == 1 else Joined(parts)
        available = len(self.items)
        if n is not None and n > available:
            raise ConfigError(f"evaluate: --n-real {n} is more than the {available} images of the {split} split")
        self.count = n or available

    def batch(self, start: int, count: int) -> Tensor:
        items = [self.items[i] for i in range(start, start + count)]
        return torch.stack([item if self.captioned else item[0] for item in items])  # (B, C, H, W)


class FolderImages:
    """Generated images saved as files (sorted by path), read at ``size`` x ``size`` (default: the first's size)."""

    def __init__(self, folder: Path, size: Optional[int], n: Optional[int]) -> None:
        if not folder.is_dir():
            raise ConfigError(f"evaluate: --images '{folder}' is not a directory")
        self.files = image_files(folder)
        if len(self.files) < 2:
            raise DataError(f"evaluate: --images '{folder}' holds {len(self.files)} image files; at least 2 are needed")
        if size is None:
            width, height = image_dimensions(self.files[0], "evaluate")
            size = min(width, height)
        self.size = size
        self.count = min(n, len(self.files)) if n is not None else len(self.files)

    def batch(self, start: int, count: int) -> Tensor:
        return torch.stack([read_image(path, self.size, what="evaluate") for path in self.files[start:start + count]])


class GeneratedImages:
    """Samples of a generator: unconditional, every class in turn, or one caption per sample of a captioned split."""

    def __init__(self, model: Any, count: int, seed: int, captions: Optional[CaptionedPrompts] = None,
                 truncation: Optional[float] = None) -> None:
        if not model.is_image_model:
            raise ConfigError(f"evaluate: {type(model).__name__} draws points, not images; nothing to score")
        if isinstance(model, TextConditionedModel) and captions is None:
            raise ConfigError("evaluate: a text-to-image checkpoint draws from captions: give --data with its "
                              "captioned datamodule")
        self.model, self.count, self.seed, self.captions, self.truncation = model, count, seed, captions, truncation

    def condition(self, start: int, count: int) -> Optional[Tensor]:
        positions = torch.arange(start, start + count)
        if self.captions is not None:
            return self.captions.condition(positions)
        if isinstance(self.model, ClassConditionedModel):
            return positions % self.model.num_classes  # every class in turn
        return None

    @torch.no_grad()
    def batch(self, start: int, count: int) -> Tensor:
        device = self.model.device
        generator = torch.Generator(device=device).manual_seed(self.seed * 1_000_003 + start)
        noise = torch.randn(count, self.model.latent_dim, generator=generator, device=device)
        noise = noise if self.truncation is None else self.model.truncate(noise, self.truncation)
        condition = self.condition(start, count)
        return self.model.sample(noise=noise, condition=None if condition is None else condition.to(device))


class CaptionedPrompts:
    """Sample p is drawn for image p mod N of a captioned split, with that image's caption number p mod its count
    (or the matching pre-computed embedding); ``attributes`` are what those captions ask for."""

    def __init__(self, datamodule: CaptionedData, split: str, model: TextConditionedModel) -> None:
        raw = datamodule.raw_split(split)
        captions = [raw.captions[i][i % len(raw.captions[i])] for i in range(len(raw))]
        if model.uses_tokens:
            self.text = model.encode_captions(captions)[0]  # (N, L); unknown words read as <unk>
        else:
            if raw.embeddings is None:
                raise ConfigError("evaluate: the checkpoint reads pre-computed embeddings, but --data has none")
            self.text = torch.stack([raw.embeddings[i, i % raw.embeddings.shape[1]] for i in range(len(raw))])
        self.attributes = raw.attributes  # (N, A); A = 0 without attributes

    def condition(self, positions: Tensor) -> Tensor:
        return self.text[positions % self.text.shape[0]]

    def asked(self, start: int, count: int) -> Tensor:
        return self.attributes[torch.arange(start, start + count) % self.attributes.shape[0]]
