"""An attribute classifier for the procedural captioned sets: does a generated image show what its caption says?

``AttributeClassifier`` is a small CNN with one softmax head per attribute (shape, colour, size, background for
``captioned_shapes``; digit, colour, stroke for ``captioned_digits``). It is trained on the real training images
of the datamodule (seeded, seconds on a CPU) and cached in ``$ILLUSIONCRAFT_CACHE``. Two uses:

- ``attribute_accuracy``: the share of generated images whose predicted attributes match the caption's
  (``CaptionedDataModule.attributes_of_caption`` reads them from any caption);
- the ``attribute_classifier`` feature extractor: its 128-d penultimate layer, for FID on these sets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from illusioncraft import registry
from illusioncraft.cache import cache_dir
from illusioncraft.contracts import AttributeData
from illusioncraft.errors import ConfigError
from illusioncraft.metrics.features import FeatureExtractor, save_atomically
from illusioncraft.registry import register

NUM_FEATURES = 128
DEFAULT_EPOCHS = {"captioned_shapes": 5, "captioned_digits": 20}  # enough for >= 99% (shapes), ~96% digit (digits)


class AttributeClassifier(nn.Module):
    """Four 3x3 Conv-BN-ReLU blocks (w, 2w, 4w, 4w channels, max-pooled between) -> global max pool -> Linear(->128)
    features, then one Linear head per attribute. Inputs are resized to ``image_size``. Small on purpose: it trains
    in seconds on a CPU."""

    def __init__(self, attribute_values: dict[str, list[str]], image_size: int = 32, width: int = 16) -> None:
        super().__init__()
        if not attribute_values:
            raise ConfigError("AttributeClassifier needs at least one attribute (captioned_folder has none)")
        self.attribute_values = {name: list(values) for name, values in attribute_values.items()}
        self.image_size, self.width = image_size, width
        self.validation_accuracy: dict[str, float] = {}  # filled by load_attribute_classifier
        w = width
        self.convolutions = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),  # (B, w, S/2, S/2)
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),  # (B, 2w, S/4, S/4)
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(), nn.MaxPool2d(2),  # (B, 4w, S/8, S/8)
            nn.Conv2d(4 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),  # (B, 4w, S/8, S/8)
        )
        # Global max pooling finds a local cue (a corner, a curve) wherever the shape is.
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.project = nn.Sequential(nn.Linear(4 * w, NUM_FEATURES), nn.ReLU())
        self.heads = nn.ModuleDict({name: nn.Linear(NUM_FEATURES, len(values)) for name, values in attribute_values.items()})

    @property
    def attribute_names(self) -> list[str]:
        return list(self.attribute_values)

    def prepare(self, images: Tensor) -> Tensor:
        """Any (B, C, H, W) in [0, 1] (or uint8) -> RGB at ``image_size``, centred on 0."""
        if images.dtype == torch.uint8:
            images = images.float() / 255
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        if images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return images - 0.5

    def features(self, images: Tensor) -> Tensor:
        maps = self.convolutions(self.prepare(images))  # (B, 4w, S/4, S/4)
        return self.project(self.pool(maps).flatten(1))  # (B, 128)

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        features = self.features(images)
        return {name: head(features) for name, head in self.heads.items()}  # name -> (B, K_name) logits

    @torch.no_grad()
    def predict(self, images: Tensor, batch_size: int = 500) -> Tensor:
        """(N, A) predicted attribute indices, in ``attribute_names`` order."""
        was_training = self.training
        self.eval()
        rows = []
        for chunk in images.split(batch_size):
            logits = self(chunk)
            rows.append(torch.stack([logits[name].argmax(dim=1) for name in self.attribute_names], dim=1))
        self.train(was_training)
        return torch.cat(rows)


def attribute_accuracy(classifier: AttributeClassifier, images: Tensor, attributes: Tensor) -> dict[str, float]:
    """Share of images (N, 3, S, S) in [0, 1] whose predicted attribute equals ``attributes`` (N, A), per attribute
    and their ``mean``; ``all`` is the share with every attribute right."""
    device = next(classifier.parameters()).device
    correct = classifier.predict(images.to(device)).cpu() == attributes.cpu()  # (N, A)
    scores = {name: float(correct[:, i].float().mean()) for i, name in enumerate(classifier.attribute_names)}
    scores["mean"] = float(correct.float().mean())
    scores["all"] = float(correct.all(dim=1).float().mean())
    return scores


def train_attribute_classifier(datamodule: Any, epochs: int = 5, seed: int = 0) -> AttributeClassifier:
    """Train on the real training images of a procedural captioned datamodule (seeded; Adam with a cosine schedule, batch 32)."""
    if not isinstance(datamodule, AttributeData) or not datamodule.attribute_names:
        raise ConfigError(f"{type(datamodule).__name__} has no attributes to classify; use captioned_shapes or captioned_digits")
    threads = torch.get_num_threads()
    # One intra-op thread: these convolutions are too small to gain from more, and on a busy machine the threads
    # wait for each other (measured 10x slower with 2 threads than with 1 on a loaded 2-core machine).
    torch.set_num_threads(1)
    try:
        with torch.inference_mode(False), torch.enable_grad():  # may be called from inside a validation loop
            return _train(datamodule, epochs, seed)
    finally:
        torch.set_num_threads(threads)


def _train(datamodule: Any, epochs: int, seed: int) -> AttributeClassifier:
    split = datamodule.raw_split("train")
    images, attributes = split.images, split.attributes  # (N, 3, S, S), (N, A)
    torch.manual_seed(seed)
    net = AttributeClassifier(datamodule.attribute_values, datamodule.image_size)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * ((len(images) + 31) // 32))
    generator = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        for index in torch.randperm(len(images), generator=generator).split(32):
            logits = net(reduce_resolution(images[index], generator))
            loss = sum(F.cross_entropy(logits[name], attributes[index, i]) for i, name in enumerate(net.attribute_names))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return net.eval()


def reduce_resolution(images: Tensor, generator: torch.Generator) -> Tensor:
    """The second half of a batch (N, C, S, S) drawn at a random lower resolution (S/4 to S - 1 px, one per
    batch) and enlarged back to S, as an image drawn at a lower resolution and enlarged is. Trained on both, the
    classifier reads a shape from its outline, not from how sharp its edges are: a Stage-I image enlarged to
    Stage-II's size is then judged on what it draws."""
    if images.dtype == torch.uint8:
        images = images.float() / 255
    size = images.shape[-1]
    if size < 8 or len(images) < 2:
        return images
    low = int(torch.randint(size // 4, size, (1,), generator=generator))
    half = len(images) // 2
    reduced = F.interpolate(images[half:], size=(low, low), mode="bilinear", antialias=True, align_corners=False)
    enlarged = F.interpolate(reduced, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return torch.cat([images[:half], enlarged])


def _cache_path(data: str, image_size: int, seed: int, n_images: int, epochs: int) -> Path:
    # "multiscale": trained with reduce_resolution; classifiers cached before it are not read
    return cache_dir() / f"attribute_classifier_multiscale_{data}_{image_size}px_seed{seed}_n{n_images}_epochs{epochs}.pt"


def load_attribute_classifier(
    data: str = "captioned_shapes", image_size: int = 32, seed: int = 0, n_images: Optional[int] = None,
    epochs: Optional[int] = None, cache: bool = True,
) -> AttributeClassifier:
    """The classifier for datamodule ``data`` (registry name) built with ``image_size``, ``seed`` (and ``n_images``
    where it takes one): read from the cache, or trained once and cached. ``epochs`` defaults per datamodule.
    ``validation_accuracy`` on the result holds its accuracy on the datamodule's validation split."""
    epochs = epochs or DEFAULT_EPOCHS.get(data, 10)
    arguments: dict[str, Any] = {"image_size": image_size, "seed": seed}
    if n_images is not None:
        arguments["n_images"] = n_images
    datamodule = registry.build("datamodule", data, **arguments)
    count = getattr(datamodule, "n_images", None) or len(datamodule.raw_split("train"))
    path = _cache_path(data, image_size, seed, count, epochs)
    if cache and path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        net = AttributeClassifier(saved["attribute_values"], saved["image_size"], saved["width"])
        net.load_state_dict(saved["state_dict"])
        net.validation_accuracy = saved["validation_accuracy"]
        return net.eval()
    net = train_attribute_classifier(datamodule, epochs, seed)
    validation = datamodule.raw_split("val")
    net.validation_accuracy = attribute_accuracy(net, validation.images, validation.attributes)
    if cache:
        save_atomically({"state_dict": net.state_dict(), "attribute_values": net.attribute_values,
                         "image_size": net.image_size, "width": net.width,
                         "validation_accuracy": net.validation_accuracy}, path)
    return net


@register("attribute_classifier", kind="feature_extractor")
def attribute_classifier(
    data: str = "captioned_shapes", image_size: int = 32, seed: int = 0, n_images: Optional[int] = None,
    epochs: Optional[int] = None, cache: bool = True,
) -> FeatureExtractor:
    """128-d features of a multi-head attribute CNN trained (once, then cached) on a procedural captioned set."""
    net = load_attribute_classifier(data, image_size, seed, n_images, epochs, cache)
    return FeatureExtractor("attribute_classifier", net, NUM_FEATURES, image_size)
