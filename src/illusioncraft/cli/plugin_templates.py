"""The example entry ``illusioncraft new-plugin`` writes for each kind: its module, its conformance test and a config.

Placeholders: ``{entry}`` (registry name), ``{cls}`` (class name), ``{package}`` (import name), ``{api}`` (the plugin
API version). Each example is small but real: it trains, and it passes IllusionCraft's conformance checks.
"""

from __future__ import annotations

MODEL = '''"""{entry}: a classifier on IllusionCraft's shared classifier loop; only the network is new."""

from typing import Optional

from torch import nn

from illusioncraft.plugin_api import Classifier, ConfigError, LossSpec, OptimizerSpec, register


@register("{entry}")
class {cls}(Classifier):
    """A two-layer perceptron: flatten, a hidden ReLU layer of hidden_size units, one logit per class."""

    def __init__(
        self,
        hidden_size: int = 64,
        optimizer: OptimizerSpec = "adam",
        loss: Optional[LossSpec] = None,
        input_shape: Optional[tuple[int, int, int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        if hidden_size < 1:
            raise ConfigError(f"model '{entry}': hidden_size must be >= 1, got {{hidden_size}}")
        # input_shape and num_classes come from the datamodule at setup and are saved in checkpoints
        super().__init__(input_shape=input_shape, num_classes=num_classes, loss=loss, optimizer=optimizer)

    def build_network(self, input_shape: tuple[int, int, int], num_outputs: int) -> nn.Module:
        channels, height, width = input_shape
        return nn.Sequential(  # (B, C, H, W) -> (B, num_outputs)
            nn.Flatten(),
            nn.Linear(channels * height * width, self.hparams.hidden_size),
            nn.ReLU(),
            nn.Linear(self.hparams.hidden_size, num_outputs),
        )
'''

DATAMODULE = '''"""{entry}: procedural images of horizontal and vertical bars, two classes (your data goes in load_splits)."""

from typing import Any, Optional

import torch
from torch.utils.data import TensorDataset

from illusioncraft.plugin_api import ConfigError, ImageClassificationDataModule, register


@register("{entry}")
class {cls}(ImageClassificationDataModule):
    """Images with one bright horizontal or vertical bar on a noisy background; labels horizontal, vertical."""

    def __init__(
        self,
        n_images: int = 600,
        image_size: int = 8,
        noise: float = 0.1,
        batch_size: int = 32,
        seed: int = 0,
        num_workers: int = 0,
        augmentations: Optional[list[dict[str, Any]]] = None,
        batch_augmentations: Optional[list[dict[str, Any]]] = None,
        augmentation_seed: Optional[int] = None,
    ) -> None:
        if n_images < 30 or image_size < 4:
            raise ConfigError(f"data '{entry}': n_images must be >= 30 and image_size >= 4, got {{n_images}}, {{image_size}}")
        if not 0.0 <= noise <= 0.5:
            raise ConfigError(f"data '{entry}': noise must be in [0, 0.5], got {{noise}}")
        self.n_images, self.image_size, self.noise = n_images, image_size, noise
        # Known before any pixel is read, and set before the base class's __init__: models build from them.
        self.image_shape = (1, image_size, image_size)
        self.class_names = ["horizontal", "vertical"]
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed, augmentations=augmentations,
                         batch_augmentations=batch_augmentations, augmentation_seed=augmentation_seed)

    def load_splits(self) -> None:
        """80 / 10 / 10 % train / val / test splits of images in [0, 1], drawn from the seed."""
        n, size = self.n_images, self.image_size
        generator = torch.Generator().manual_seed(self.seed)
        labels = torch.randint(0, 2, (n,), generator=generator)  # 0 horizontal, 1 vertical
        position = torch.randint(0, size, (n, 1, 1), generator=generator)
        rows = (torch.arange(size).view(1, size, 1) == position).float().expand(n, size, size)  # (N, S, S)
        images = torch.where(labels.view(n, 1, 1) == 0, rows, rows.transpose(1, 2)).unsqueeze(1)  # (N, 1, S, S)
        images = (images + self.noise * torch.rand(images.shape, generator=generator)).clamp(0, 1)
        cut = [int(n * 0.8), int(n * 0.9)]
        parts = [TensorDataset(x, y) for x, y in zip(images.tensor_split(cut), labels.tensor_split(cut), strict=True)]
        self.train_dataset, self.val_dataset, self.test_dataset = parts
'''

LOSS = '''"""{entry}: the Poly-1 loss (Leng et al., 2022), cross-entropy plus epsilon * (1 - p_t)."""

import torch.nn.functional as F
from torch import Tensor, nn

from illusioncraft.plugin_api import ConfigError, register


@register("{entry}", kind="loss")
class {cls}(nn.Module):
    """Poly-1: cross-entropy + epsilon * (1 - p_t), for class indices or soft (mixup) targets."""

    def __init__(self, epsilon: float = 1.0) -> None:
        super().__init__()
        if epsilon < -1:
            raise ConfigError(f"loss '{entry}': epsilon must be >= -1, got {{epsilon}}")
        self.epsilon = epsilon

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        # logits (B, K); target (B,) class indices or (B, K) probabilities
        soft = target if target.ndim == 2 else F.one_hot(target, logits.shape[1]).to(logits.dtype)
        log_p = F.log_softmax(logits, dim=1)
        cross_entropy = -(soft * log_p).sum(dim=1)  # (B,)
        p_t = (soft * log_p.exp()).sum(dim=1)  # (B,)
        return (cross_entropy + self.epsilon * (1 - p_t)).mean()
'''

AUGMENTATION = '''"""{entry}: brightness jitter as a batch-level augmentation, vectorised on the device."""

import torch
from torch import Tensor

from illusioncraft.plugin_api import BatchAugmentation, ConfigError, register


@register("{entry}", kind="augmentation")
class {cls}(BatchAugmentation):
    """Scale an image's brightness by a factor from [1 - strength, 1 + strength] with probability p, kept in [0, 1]."""

    def __init__(self, strength: float = 0.3, p: float = 0.5) -> None:
        super().__init__()
        for key, value in (("strength", strength), ("p", p)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"augmentation '{entry}': {{key}} must be in [0, 1], got {{value}}")
        self.strength, self.p = strength, p  # config() reads each __init__ argument back from these

    def forward(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        b = images.shape[0]  # images (B, C, H, W) in [0, 1]
        factor = 1 + self.strength * (2 * torch.rand(b, 1, 1, 1, device=images.device) - 1)
        applied = torch.rand(b, 1, 1, 1, device=images.device) < self.p
        return torch.where(applied, (images * factor).clamp(0, 1), images), targets
'''

# kind -> (module name, source, conformance call in the test, a config that uses the entry)
EXAMPLES = {
    "model": ("models", MODEL,
              'conformance.check_model("{entry}", arguments={{"hidden_size": 16}}, bad_arguments=[{{"hidden_size": 0}}])',
              "model: {{class_path: {entry}, init_args: {{hidden_size: 64}}}}\ndata: digits\n"),
    "datamodule": ("data", DATAMODULE,
                   'conformance.check_datamodule("{entry}", arguments={{"n_images": 120}}, bad_arguments=[{{"noise": 2.0}}])',
                   "model: mlp\ndata: {{class_path: {entry}, init_args: {{n_images: 600}}}}\n"),
    "loss": ("losses", LOSS,
             'conformance.check_loss("{entry}", arguments={{"epsilon": 1.0}}, bad_arguments=[{{"epsilon": -2.0}}])',
             "model: {{class_path: mlp, init_args: {{loss: {{name: {entry}, epsilon: 1.0}}}}}}\ndata: digits\n"),
    "augmentation": ("augmentations", AUGMENTATION,
                     'conformance.check_augmentation("{entry}", arguments={{"strength": 0.5}}, bad_arguments=[{{"p": 2.0}}])',
                     "model: mlp\ndata:\n  class_path: digits\n  init_args:\n    batch_augmentations:\n"
                     "      - {{name: {entry}, params: {{strength: 0.5}}}}\n"),
}
