"""DCGAN (Radford et al., 2016): strided convolutions, batch norm, ReLU/tanh generator, LeakyReLU discriminator;
with the switches of later papers (spectral norm, self-attention, regularisers, ADA) as options."""

from __future__ import annotations

from typing import Optional

from torch import nn

from illusioncraft.augment.adaptive import ADASettings
from illusioncraft.losses.spec import LossSpec
from illusioncraft.models.gan.loop import AdversarialModule, LRDecay, optimizer_default
from illusioncraft.models.gan.regularizers.base import RegularizerSpec
from illusioncraft.nn.compile import Compile
from illusioncraft.nn.networks.dcgan import Norm
from illusioncraft.nn.networks.family import build_networks
from illusioncraft.nn.optim import OptimizerSpec
from illusioncraft.registry import register

ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}


@register("dcgan")
class DCGAN(AdversarialModule):
    """DCGAN (Radford et al., 2016): strided convolutions, batch norm, ReLU/tanh G, LeakyReLU D, Adam 2e-4 (0.5)."""

    def __init__(
        self,
        loss: LossSpec = "non_saturating",
        latent_dim: int = 64,
        width: int = 32,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        diffaugment: Optional[str] = None,
        pack: int = 1,
        lr_decay: LRDecay = "none",
        compile: Compile = False,
        channels_last: bool = False,
        data_shape: Optional[tuple[int, ...]] = None,
        discriminator_norm: Norm = "batch",
        generator_spectral_norm: bool = False,
        attention: Optional[int] = None,
        regularizers: Optional[list[RegularizerSpec]] = None,
        ada: Optional[ADASettings] = None,
    ) -> None:
        self.width, self.discriminator_norm = width, discriminator_norm
        self.network_switches = {"generator_spectral_norm": generator_spectral_norm, "attention": attention}
        super().__init__(
            latent_dim=latent_dim, loss=loss, ema_decay=ema_decay,
            generator_optimizer=optimizer_default(generator_optimizer, ADAM),
            discriminator_optimizer=optimizer_default(discriminator_optimizer, ADAM),
            diffaugment=diffaugment, pack=pack, lr_decay=lr_decay, data_shape=data_shape, compile=compile,
            channels_last=channels_last,
            regularizers=regularizers, ada=ada,
        )

    def build_networks(self, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        return build_networks("dcgan", self.latent_dim, data_shape, self.judged_shape(data_shape), self.network_switches,
                              width=self.width, discriminator_norm=self.discriminator_norm)
