"""DF-GAN (Tao et al., 2022, "DF-GAN: A Simple and Effective Baseline for Text-to-Image Synthesis"): one generator
stage, text fused into every up-sampling block, on the one adversarial loop.

Three changes from StackGAN: a single generator whose deep fusion blocks (sentence-conditioned affine transforms,
``illusioncraft.nn.networks.dfgan``) replace stacking and conditioning augmentation; the hinge loss; and the
matching-aware gradient penalty (MA-GP), 2 * mean ||(grad_image D, grad_sentence D)||^6 on (real image, matching
caption) pairs, added inside this model's discriminator loss. The discriminator is matching-aware as StackGAN's
(real image with a wrong caption is fake); its one output judges the pair, with no separate image-only head.
"""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from illusioncraft.augment.adaptive import ADASettings
from illusioncraft.errors import ConfigError
from illusioncraft.losses.spec import LossSpec
from illusioncraft.models.gan.loop import Condition, Generated, LRDecay, optimizer_default
from illusioncraft.models.gan.regularizers.base import RegularizerSpec
from illusioncraft.models.gan.text_to_image import PRECOMPUTED, TextToImageGAN
from illusioncraft.nn.compile import Compile
from illusioncraft.nn.networks.dfgan import (
    FusionDiscriminator,
    FusionGenerator,
    SentenceDiscriminator,
    SentenceGenerator,
    matching_aware_penalty,
)
from illusioncraft.nn.optim import OptimizerSpec
from illusioncraft.registry import register
from illusioncraft.text import TextEncoderState

# DF-GAN's optimisers: Adam with beta1 = 0, the discriminator 4x faster than the generator (TTUR)
GENERATOR_ADAM = {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.9]}
DISCRIMINATOR_ADAM = {"name": "adam", "lr": 4e-4, "betas": [0.0, 0.9]}


@register("dfgan")
class DFGAN(TextToImageGAN):
    """DF-GAN: noise + caption -> image in one stage through deep text-image fusion blocks; hinge loss;
    matching-aware discriminator with MA-GP (``magp_weight`` k, ``magp_power`` p; 0 turns it off)."""

    def __init__(
        self,
        text_encoder: str = "embedding_bag",
        text_dim: int = 128,
        latent_dim: int = 64,
        width: int = 8,
        loss: LossSpec = "hinge",
        magp_weight: float = 2.0,
        magp_power: float = 6.0,
        ema_decay: Optional[float] = None,
        n_critic: int = 1,
        gradient_penalty: Optional[float] = None,
        weight_clip: Optional[float] = None,
        diffaugment: Optional[str] = None,
        lr_decay: LRDecay = "none",
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        text: Optional[TextEncoderState] = None,
        sample_captions: Optional[list[str]] = None,
        compile: Compile = False,
        data_shape: Optional[tuple[int, ...]] = None,
        regularizers: Optional[list[RegularizerSpec]] = None,
        ada: Optional[ADASettings] = None,
    ) -> None:
        if magp_weight < 0 or magp_power <= 0:
            raise ConfigError(f"model 'dfgan': magp_weight must be >= 0 and magp_power > 0, got {magp_weight}, {magp_power}")
        if compile and magp_weight:
            raise ConfigError("model 'dfgan': compile is not supported with MA-GP (magp_weight > 0): its double backward "
                              "cannot run through a compiled network")
        self.magp_weight, self.magp_power = magp_weight, magp_power
        super().__init__(
            text_encoder, text_dim, text_dim, 0.0, width, False, "concat", 0.0, text,
            latent_dim=latent_dim, loss=loss, ema_decay=ema_decay, n_critic=n_critic, gradient_penalty=gradient_penalty,
            weight_clip=weight_clip, diffaugment=diffaugment, lr_decay=lr_decay,
            generator_optimizer=optimizer_default(generator_optimizer, GENERATOR_ADAM),
            discriminator_optimizer=optimizer_default(discriminator_optimizer, DISCRIMINATOR_ADAM),
            data_shape=data_shape if (text is not None or text_encoder == PRECOMPUTED) else None, compile=compile,
            regularizers=regularizers, ada=ada,
        )

    def build_networks(self, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        size = data_shape[1]
        generator = SentenceGenerator(self.make_text_encoder(), FusionGenerator(self.latent_dim, self.text_dim, size, self.width))
        discriminator = SentenceDiscriminator(self.make_text_encoder(), FusionDiscriminator(size, self.text_dim, self.width))
        return generator, discriminator

    def generate(self, noise: Tensor, condition: Condition, generator: Optional[nn.Module] = None) -> Generated:
        return Generated((generator or self.generator)(noise, condition))

    def discriminator_loss(self, real: Tensor, fake: Generated, condition: Condition,
                           batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        """(real, right) is real; (fake, right) and (real, wrong) are fake, half each; plus MA-GP on (real, right)."""
        d = self.discriminator
        images = self.augment_for_discriminator(real).detach().requires_grad_(self.magp_weight > 0)  # (B, 3, S, S)
        right_text, wrong_text = d.text_encoder(condition), d.text_encoder(self.text_input(batch, wrong=True))
        if self.magp_weight and not right_text.requires_grad:  # pre-computed sentences: the penalty still reads them
            right_text = right_text.detach().requires_grad_(True)
        real_features = d.net.features(images)
        real_right = d.net.judge(real_features, right_text)
        fake_right = d.net.judge(d.net.features(self.augment_for_discriminator(fake.samples)), right_text)
        real_wrong = d.net.judge(real_features, wrong_text)
        loss = 0.5 * (self.loss_fn.discriminator(real_right, fake_right) + self.loss_fn.discriminator(real_right, real_wrong))
        if not self.magp_weight:
            return loss, {}
        penalty = matching_aware_penalty(real_right, images, right_text, self.magp_weight, self.magp_power)
        return loss + penalty, {"train/magp": penalty.detach()}

    def generator_loss(self, real: Tensor, condition: Condition, batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        """The adversarial loss of (fake, right caption) pairs."""
        d = self.discriminator
        fake = self.generate(self.noise(real.shape[0]), condition)
        right_text = d.text_encoder(condition)
        fake_logits = d.net.judge(d.net.features(self.augment_for_discriminator(fake.samples)), right_text)
        real_logits = None
        if self.loss_fn.generator_needs_real:
            real_logits = d.net.judge(d.net.features(self.augment_for_discriminator(real)), right_text)
        return self.loss_fn.generator(fake_logits, real_logits), {}
