"""SNGAN (Miyato et al., 2018): the ResNet generator and the spectrally normalised ResNet discriminator of the
``sngan`` network family, the hinge loss, five discriminator steps per generator step, Adam 2e-4 (0, 0.9)."""

from __future__ import annotations

from typing import Optional

from torch import nn

from illusioncraft.augment.adaptive import ADASettings
from illusioncraft.errors import ConfigError
from illusioncraft.losses.spec import LossSpec
from illusioncraft.models.gan.loop import AdversarialModule, LRDecay, optimizer_default
from illusioncraft.models.gan.regularizers.base import RegularizerSpec
from illusioncraft.nn.compile import Compile
from illusioncraft.nn.networks.family import build_networks
from illusioncraft.nn.networks.sngan import SNNorm
from illusioncraft.nn.optim import OptimizerSpec
from illusioncraft.registry import register

ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.0, 0.9]}


@register("sngan")
class SNGAN(AdversarialModule):
    """SNGAN (Miyato et al., 2018): ResNet G, spectrally normalised ResNet D, hinge loss, n_critic 5, Adam 2e-4 (0, 0.9)."""

    def __init__(
        self,
        loss: LossSpec = "hinge",
        latent_dim: int = 128,
        width: int = 128,
        n_critic: int = 5,
        discriminator_norm: SNNorm = "spectral",
        generator_spectral_norm: bool = False,
        attention: Optional[int] = None,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        diffaugment: Optional[str] = None,
        pack: int = 1,
        lr_decay: LRDecay = "none",
        regularizers: Optional[list[RegularizerSpec]] = None,
        ada: Optional[ADASettings] = None,
        compile: Compile = False,
        channels_last: bool = False,
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        if width < 1:
            raise ConfigError(f"model 'sngan': width must be >= 1, got {width}")
        self.width = width
        self.network_switches = {"discriminator_norm": discriminator_norm, "generator_spectral_norm": generator_spectral_norm,
                                 "attention": attention}
        super().__init__(
            latent_dim=latent_dim, loss=loss, n_critic=n_critic, ema_decay=ema_decay,
            generator_optimizer=optimizer_default(generator_optimizer, ADAM),
            discriminator_optimizer=optimizer_default(discriminator_optimizer, ADAM),
            diffaugment=diffaugment, pack=pack, lr_decay=lr_decay, regularizers=regularizers, ada=ada,
            compile=compile, channels_last=channels_last, data_shape=data_shape,
        )

    def build_networks(self, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        return build_networks("sngan", self.latent_dim, data_shape, self.judged_shape(data_shape), self.network_switches,
                              width=self.width)
