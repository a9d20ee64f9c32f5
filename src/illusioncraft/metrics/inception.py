"""The ``inception`` feature extractor: the FID InceptionV3 with weights from a file you give, never downloaded.

The weights file is ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's name; torch-fidelity ships the same
file as ``weights-inception-2015-12-05-6726825d.pth``). Its SHA-256 is checked against the known file: a file
with other contents is a one-line error, unless ``allow_other_weights: true`` says you mean it (tests, other
ports); scores then record that file's hash and compare with no paper.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from illusioncraft.errors import ConfigError
from illusioncraft.metrics.features import FeatureExtractor
from illusioncraft.metrics.inception_net import FIDInceptionV3
from illusioncraft.metrics.resize import RESIZE_MODES, ResizeMode, to_inception_input
from illusioncraft.registry import register

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"  # 95,628,359 bytes


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_inception(path: Path, allow_other_weights: bool = False) -> tuple[FIDInceptionV3, str]:
    """The network with the file's weights (read with ``weights_only=True``) and the file's SHA-256."""
    where = f"feature extractor 'inception': weights file '{path}'"
    if not path.is_file():
        raise ConfigError(f"{where} does not exist")
    digest = file_sha256(path)
    if digest != WEIGHTS_SHA256 and not allow_other_weights:
        raise ConfigError(f"{where} has SHA-256 {digest[:16]}..., not the FID Inception file {WEIGHTS_FILE} "
                          f"({WEIGHTS_SHA256[:16]}...); give that file, or extractor_args {{allow_other_weights: true}} "
                          "to score with these weights (not comparable with published numbers)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt, or not a state dict of tensors
        raise ConfigError(f"cannot read {where}: {type(error).__name__}") from None
    network = FIDInceptionV3()
    try:
        network.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as error:
        lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()] or [type(error).__name__]
        raise ConfigError(f"{where} does not hold the FID Inception state dict: {lines[0][:200]}") from None
    return network.eval(), digest


class InceptionFeatures(nn.Module):
    """Images in [0, 1] (or uint8) -> quantised, resized by ``resize`` mode -> (2048-d features, 1,008 logits)."""

    def __init__(self, network: FIDInceptionV3, resize: ResizeMode) -> None:
        super().__init__()
        self.network, self.resize = network, resize

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return self.network(to_inception_input(images, self.resize))

    def features(self, images: Tensor) -> Tensor:
        return self.features_and_logits(images)[0]


@register("inception", kind="feature_extractor")
def inception(weights_path: Optional[str] = None, resize: ResizeMode = "legacy",
              allow_other_weights: bool = False) -> FeatureExtractor:
    """FID InceptionV3 (2048-d pool features, 1,008 logits) from your weights file; ``resize``: legacy or clean."""
    if not weights_path:
        raise ConfigError(
            f"feature extractor 'inception' needs weights_path: the FID InceptionV3 weights file ({WEIGHTS_FILE}); "
            "IllusionCraft never downloads it"
        )
    if resize not in RESIZE_MODES:
        raise ConfigError(f"feature extractor 'inception': resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
    network, digest = load_inception(Path(weights_path), allow_other_weights)
    return FeatureExtractor("inception", InceptionFeatures(network, resize), FIDInceptionV3.num_features,
                            FIDInceptionV3.input_size, weights_sha256=digest, resize=resize)
