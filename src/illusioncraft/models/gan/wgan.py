"""Wasserstein GANs: WGAN (Arjovsky et al., 2017) with weight clipping, WGAN-GP (Gulrajani et al., 2017) with a
per-sample gradient penalty. Both train the critic ``n_critic`` times per generator step."""

from __future__ import annotations

from typing import Optional

from torch import nn

from illusioncraft import registry
from illusioncraft.augment.adaptive import ADASettings
from illusioncraft.models.gan.loop import AdversarialModule, LRDecay, optimizer_default
from illusioncraft.models.gan.regularizers.base import RegularizerSpec
from illusioncraft.nn.compile import Compile
from illusioncraft.nn.networks.family import build_networks
from illusioncraft.nn.optim import OptimizerSpec
from illusioncraft.registry import register


class WassersteinModule(AdversarialModule):
    """A Wasserstein GAN on a network family chosen by name (``architecture``: ``dcgan``, ``mlp``, or a plugin's)."""

    discriminator_norm = "batch"

    def __init__(self, architecture: str, hidden_size: int, depth: int, width: int,
                 network_switches: Optional[dict[str, object]] = None, **loop: object) -> None:
        registry.get("network", architecture)  # an unknown family fails here, with the closest names
        self.architecture, self.hidden_size, self.depth, self.width = architecture, hidden_size, depth, width
        self.network_switches = network_switches or {}
        super().__init__(**loop)

    def build_networks(self, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        return build_networks(self.architecture, self.latent_dim, data_shape, self.judged_shape(data_shape),
                              self.network_switches, hidden_size=self.hidden_size, depth=self.depth, width=self.width,
                              discriminator_norm=self.discriminator_norm)


@register("wgan")
class WGAN(WassersteinModule):
    """WGAN (Arjovsky et al., 2017): Wasserstein critic, weight clipping 0.01, RMSprop 5e-5, 5 critic steps."""

    def __init__(
        self,
        architecture: str = "dcgan",
        latent_dim: int = 64,
        weight_clip: float = 0.01,
        n_critic: int = 5,
        hidden_size: int = 128,
        depth: int = 3,
        width: int = 32,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        compile: Compile = False,
        channels_last: bool = False,
        data_shape: Optional[tuple[int, ...]] = None,
        regularizers: Optional[list[RegularizerSpec]] = None,
    ) -> None:
        rmsprop = {"name": "rmsprop", "lr": 5e-5}
        super().__init__(
            architecture, hidden_size, depth, width, latent_dim=latent_dim, loss="wasserstein", n_critic=n_critic,
            weight_clip=weight_clip, generator_optimizer=optimizer_default(generator_optimizer, rmsprop),
            discriminator_optimizer=optimizer_default(discriminator_optimizer, rmsprop), data_shape=data_shape,
            compile=compile, channels_last=channels_last, regularizers=regularizers,
        )


@register("wgan_gp")
class WGANGP(WassersteinModule):
    """WGAN-GP (Gulrajani et al., 2017): per-sample gradient penalty (lambda 10), Adam 1e-4 (0.5, 0.9), 5 critic steps."""

    discriminator_norm = "none"  # batch norm would couple the samples the penalty treats apart

    def __init__(
        self,
        architecture: str = "dcgan",
        latent_dim: int = 64,
        gradient_penalty: float = 10.0,
        n_critic: int = 5,
        hidden_size: int = 128,
        depth: int = 3,
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
        generator_spectral_norm: bool = False,
        attention: Optional[int] = None,
        regularizers: Optional[list[RegularizerSpec]] = None,
        ada: Optional[ADASettings] = None,
    ) -> None:
        adam = {"name": "adam", "lr": 1e-4, "betas": [0.5, 0.9]}
        super().__init__(
            architecture, hidden_size, depth, width,
            {"generator_spectral_norm": generator_spectral_norm, "attention": attention},
            latent_dim=latent_dim, loss="wasserstein_gp", n_critic=n_critic,
            gradient_penalty=gradient_penalty, ema_decay=ema_decay,
            generator_optimizer=optimizer_default(generator_optimizer, adam),
            discriminator_optimizer=optimizer_default(discriminator_optimizer, adam),
            diffaugment=diffaugment, pack=pack, lr_decay=lr_decay, data_shape=data_shape, compile=compile,
            channels_last=channels_last,
            regularizers=regularizers, ada=ada,
        )
