"""Feature extractors for FID, chosen by name; none downloads anything.

- ``digits_classifier``: a small CNN that IllusionCraft trains on the digits training split (seeded, about ten
  seconds on a CPU) and caches in ``$ILLUSIONCRAFT_CACHE`` (default ``~/.cache/illusioncraft``); its 128-d
  penultimate layer is the feature. Images of any size and channel count are converted to its input.
- ``inception`` (``illusioncraft.metrics.inception``): the FID InceptionV3, written here in plain torch, with
  weights read from a file the user gives.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from illusioncraft.cache import cache_dir
from illusioncraft.errors import ConfigError
from illusioncraft.metrics.resize import RESIZE_MODES, ResizeMode, bicubic_like_clean_fid
from illusioncraft.registry import register


def weights_hash(module: nn.Module) -> str:
    """SHA-256 (first 16 hex digits) of a module's state dict: which weights produced a score."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()[:16]


class DigitsFeatureNet(nn.Module):
    """Conv(1->32) -> pool -> Conv(32->64) -> pool -> Linear(->128) features -> Linear(->10) logits, at 16 px."""

    size = 16

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 8, 8)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, 4, 4)
            nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(),
        )
        self.head = nn.Linear(128, 10)
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("std", torch.ones(()))

    resize = "legacy"  # how other sizes reach 16 px: "legacy" (bilinear) or "clean" (8-bit, Pillow bicubic)

    def prepare(self, images: Tensor) -> Tensor:
        """Any (B, C, H, W) in [0, 1] (or uint8) -> grey 16x16, normalised like the training data."""
        if images.dtype == torch.uint8:
            images = images.float() / 255
        if images.shape[1] != 1:
            images = images.mean(dim=1, keepdim=True)
        if images.shape[-1] != self.size or images.shape[-2] != self.size:
            if self.resize == "clean":  # clean-fid's way: quantise, then Pillow's bicubic, which low-pass filters
                pixels = (images.clamp(0, 1) * 255).round().to(torch.uint8)
                images = bicubic_like_clean_fid(pixels, self.size) / 255
            else:
                images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return (images - self.mean) / self.std

    def features(self, images: Tensor) -> Tensor:
        return self.body(self.prepare(images))  # (B, 128)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images))  # (B, 10) logits


def train_digits_classifier(seed: int = 0, epochs: int = 15) -> DigitsFeatureNet:
    """Train the feature network on the digits training split (the split every digits datamodule uses)."""
    with torch.inference_mode(False), torch.enable_grad():  # may be called from inside a validation loop
        return _train_digits_classifier(seed, epochs)


def _train_digits_classifier(seed: int, epochs: int) -> DigitsFeatureNet:
    from illusioncraft.data.digits import DigitsDataModule

    data = DigitsDataModule(image_size=16, normalize=False, seed=0)
    data.setup("fit")
    images, labels = data.train_dataset.tensors
    torch.manual_seed(seed)
    net = DigitsFeatureNet()
    net.mean.fill_(float(images.mean()))
    net.std.fill_(float(images.std()))
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for index in torch.randperm(len(images), generator=generator).split(64):
            optimizer.zero_grad()
            F.cross_entropy(net(images[index]), labels[index]).backward()
            optimizer.step()
    return net.eval()


class FeatureExtractor(nn.Module):
    """A frozen network's features with the provenance a score needs (name, weights hash, input size, how
    images are brought to that size). ``features_and_logits`` adds class logits where the network classifies
    (the Inception Score's input); ``None`` where it does not."""

    def __init__(self, name: str, network: nn.Module, num_features: int, input_size: int,
                 weights_sha256: Optional[str] = None, resize: str = "bilinear") -> None:
        super().__init__()
        self.name, self.network, self.num_features, self.input_size = name, network.eval(), num_features, input_size
        self.network.requires_grad_(False)
        self.weights_hash = weights_sha256 or weights_hash(network)
        self.resize = resize
        head = getattr(network, "head", None)
        inner = getattr(network, "network", None)  # a wrapper's network (inception)
        self.num_classes: Optional[int] = (head.out_features if isinstance(head, nn.Linear)
                                           else getattr(inner, "num_classes", None))  # width of the class logits

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        return self.network.features(images) if hasattr(self.network, "features") else self.network(images)

    @torch.no_grad()
    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Optional[Tensor]]:
        """(features (B, num_features), class logits (B, K) or None)."""
        if hasattr(self.network, "features_and_logits"):
            return self.network.features_and_logits(images)
        features = self(images)
        head = getattr(self.network, "head", None)
        return features, (head(features) if isinstance(head, nn.Linear) else None)


def save_atomically(value: Any, path: Path) -> None:
    """``torch.save`` to a file of this process, then an atomic rename: a concurrent reader never sees half a
    file, and processes that train the same network at once (the ranks of a multi-process run) each write their
    own file instead of one file under another's rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(value, temporary)
    temporary.replace(path)


@register("digits_classifier", kind="feature_extractor")
def digits_classifier(seed: int = 0, cache: bool = True, resize: ResizeMode = "legacy") -> FeatureExtractor:
    """128-d features of a CNN trained (once, then cached) on the digits training split; default for digits.
    ``resize``: how images of another size reach 16 px, ``legacy`` (bilinear) or ``clean`` (Pillow bicubic)."""
    if resize not in RESIZE_MODES:
        raise ConfigError(f"feature extractor 'digits_classifier': resize must be one of {', '.join(RESIZE_MODES)}, "
                          f"got {resize!r}")
    path = cache_dir() / f"digits_classifier_16px_seed{seed}.pt"
    net = DigitsFeatureNet()
    if cache and path.is_file():
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    else:
        net = train_digits_classifier(seed)
        if cache:
            save_atomically(net.state_dict(), path)
    net.resize = resize
    return FeatureExtractor("digits_classifier", net.eval(), 128, DigitsFeatureNet.size, resize=resize)
