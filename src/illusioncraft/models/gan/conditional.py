"""Class-conditional GAN (Mirza & Osindero, 2014): G(z, y) with a learned label embedding, D(x, y) with one-hot
label maps; any network family."""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from torch import Tensor, nn

from illusioncraft import registry
from illusioncraft.augment.adaptive import ADASettings
from illusioncraft.contracts import ClassLabelledData
from illusioncraft.errors import ConfigError
from illusioncraft.losses.spec import LossSpec
from illusioncraft.models.gan.loop import AdversarialModule, Condition, optimizer_default
from illusioncraft.models.gan.regularizers.base import RegularizerSpec
from illusioncraft.nn.compile import Compile
from illusioncraft.nn.networks.conditional import ConditionalDiscriminator, ConditionalGenerator
from illusioncraft.nn.networks.family import build_networks
from illusioncraft.nn.optim import OptimizerSpec
from illusioncraft.registry import register


@register("conditional_gan")
class ConditionalGAN(AdversarialModule):
    """Class-conditional GAN (Mirza & Osindero, 2014): G(z, y) and D(x, y); DCGAN or MLP networks."""

    def __init__(
        self,
        architecture: str = "dcgan",
        loss: LossSpec = "non_saturating",
        latent_dim: int = 64,
        embed_dim: int = 16,
        width: int = 32,
        hidden_size: int = 256,
        depth: int = 3,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        num_classes: Optional[int] = None,
        diffaugment: Optional[str] = None,
        compile: Compile = False,
        channels_last: bool = False,
        data_shape: Optional[tuple[int, ...]] = None,
        discriminator_norm: Optional[str] = None,
        generator_spectral_norm: bool = False,
        attention: Optional[int] = None,
        regularizers: Optional[list[RegularizerSpec]] = None,
        ada: Optional[ADASettings] = None,
    ) -> None:
        if embed_dim < 1:
            raise ConfigError(f"model 'conditional_gan': embed_dim must be >= 1, got {embed_dim}")
        if num_classes is not None and num_classes < 2:
            raise ConfigError(f"model 'conditional_gan': num_classes must be >= 2, got {num_classes}")
        registry.get("network", architecture)  # an unknown family fails here, with the closest names
        self.num_classes, self.embed_dim = num_classes or 0, embed_dim
        self.architecture, self.width, self.hidden_size, self.depth = architecture, width, hidden_size, depth
        self.network_switches = {"discriminator_norm": discriminator_norm, "generator_spectral_norm": generator_spectral_norm,
                                 "attention": attention}
        adam = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
        super().__init__(
            latent_dim=latent_dim, loss=loss, ema_decay=ema_decay,
            generator_optimizer=optimizer_default(generator_optimizer, adam),
            discriminator_optimizer=optimizer_default(discriminator_optimizer, adam),
            data_shape=data_shape if num_classes else None, diffaugment=diffaugment, compile=compile, channels_last=channels_last,
            regularizers=regularizers, ada=ada,
        )

    @property
    def grid_columns(self) -> int:
        return self.num_classes  # one class per column: default_condition cycles through the classes

    def setup(self, stage: str) -> None:
        if self.generator is None and not self.num_classes:
            data = self.trainer.datamodule
            if not isinstance(data, ClassLabelledData) or not data.num_classes:
                raise ConfigError("model 'conditional_gan': the datamodule has no classes to condition on")
            self.num_classes = self.hparams.num_classes = data.num_classes
        super().setup(stage)

    def build_networks(self, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        k = self.num_classes
        judged = (data_shape[0] + k, *data_shape[1:]) if len(data_shape) == 3 else (math.prod(data_shape) + k,)
        generator, discriminator = build_networks(
            self.architecture, self.latent_dim + self.embed_dim, data_shape, judged, self.network_switches,
            width=self.width, hidden_size=self.hidden_size, depth=self.depth,
        )
        return ConditionalGenerator(generator, k, self.embed_dim), ConditionalDiscriminator(discriminator, k)

    def condition_of(self, batch: Any) -> Condition:
        return batch[1]

    def default_condition(self, n: int) -> Tensor:
        return torch.arange(n, device=self.device) % self.num_classes  # every class in turn
