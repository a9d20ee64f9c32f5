"""SN-GAN (Miyato et al., 2018) as a GAN variant: the DCGAN networks with spectral normalisation in the critic.

A variant only says how its networks are built (``build_networks``); the shared adversarial loop does the rest.
"""

from typing import Optional

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from illusioncraft.plugin_api import AdversarialModule, ConfigError, LossSpec, OptimizerSpec, build_networks, register

ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}


def spectrally_normalised(network: nn.Module) -> nn.Module:
    """Every convolution and linear layer of ``network`` divided by its largest singular value (power iteration)."""
    for module in list(network.modules()):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            spectral_norm(module)
    return network


@register("spectral_gan")
class SpectralGAN(AdversarialModule):
    """SN-GAN: DCGAN generator, spectrally normalised DCGAN critic without batch norm, hinge loss, Adam 2e-4 (0.5)."""

    def __init__(
        self,
        loss: LossSpec = "hinge",
        latent_dim: int = 64,
        width: int = 32,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        if width < 1:
            raise ConfigError(f"model 'spectral_gan': width must be >= 1, got {width}")
        self.width = width  # set before the loop's __init__, which builds the networks when data_shape is given
        super().__init__(
            latent_dim=latent_dim, loss=loss, ema_decay=ema_decay,
            generator_optimizer=generator_optimizer or ADAM, discriminator_optimizer=discriminator_optimizer or ADAM,
            data_shape=data_shape,
        )

    def build_networks(self, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        generator, critic = build_networks("dcgan", self.latent_dim, data_shape, self.judged_shape(data_shape),
                                           width=self.width, discriminator_norm="none")
        return generator, spectrally_normalised(critic)
