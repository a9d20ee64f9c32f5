"""GAN (Goodfellow et al., 2014): MLP generator and discriminator, minimax or non-saturating loss."""

from __future__ import annotations

from typing import Optional

from torch import nn

from illusioncraft.augment.adaptive import ADASettings
from illusioncraft.losses.spec import LossSpec
from illusioncraft.models.gan.loop import AdversarialModule, LRDecay, optimizer_default
from illusioncraft.models.gan.regularizers.base import RegularizerSpec
from illusioncraft.nn.compile import Compile
from illusioncraft.nn.networks.family import build_networks
from illusioncraft.nn.optim import OptimizerSpec
from illusioncraft.registry import register

ADAM = {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]}


@register("gan")
class GAN(AdversarialModule):
    """GAN (Goodfellow et al., 2014) with MLP generator and discriminator; minimax or non-saturating loss."""

    def __init__(
        self,
        loss: LossSpec = "non_saturating",
        latent_dim: int = 64,
        hidden_size: int = 128,
        depth: int = 3,
        n_critic: int = 1,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        diffaugment: Optional[str] = None,
        pack: int = 1,
        lr_decay: LRDecay = "none",
        compile: Compile = False,
        data_shape: Optional[tuple[int, ...]] = None,
        regularizers: Optional[list[RegularizerSpec]] = None,
        ada: Optional[ADASettings] = None,
    ) -> None:
        self.hidden_size, self.depth = hidden_size, depth
        super().__init__(
            latent_dim=latent_dim, loss=loss, n_critic=n_critic, ema_decay=ema_decay,
            generator_optimizer=optimizer_default(generator_optimizer, ADAM),
            discriminator_optimizer=optimizer_default(discriminator_optimizer, ADAM),
            diffaugment=diffaugment, pack=pack, lr_decay=lr_decay, data_shape=data_shape, compile=compile,
            regularizers=regularizers, ada=ada,
        )

    def build_networks(self, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        return build_networks("mlp", self.latent_dim, data_shape, self.judged_shape(data_shape),
                              hidden_size=self.hidden_size, depth=self.depth)
