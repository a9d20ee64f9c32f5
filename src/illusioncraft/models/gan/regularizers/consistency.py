"""Consistency regularisation (Zhao et al., 2021): the discriminator should judge an image and its augmented
version alike (bCR), and the generator should react to small changes of its noise (zCR).

- bCR: weight_real * MSE(D(T(x)), D(x)) + weight_fake * MSE(D(T(G(z))), D(G(z))) in the discriminator's loss, T a
  DiffAugment policy (translation by default; the paper uses flips and translations of natural images).
- zCR: weight_discriminator * MSE(D(G(z + dz)), D(G(z))) in the discriminator's loss and
  -weight_generator * MSE(G(z + dz), G(z)) in the generator's, dz ~ N(0, sigma^2) (sigma 0.03).

MSE is the mean over elements, as StudioGAN computes these terms. D(x) and D(G(z)) are the logits the adversarial
loss used in the same step (augmented and packed as it judged them).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from illusioncraft.augment.adaptive import policy_operations
from illusioncraft.augment.diffaugment import diff_augment
from illusioncraft.errors import ConfigError
from illusioncraft.models.gan.regularizers.base import JudgedBatch, Regularizer
from illusioncraft.registry import register


def check_weights(name: str, **weights: float) -> None:
    for key, value in weights.items():
        if value < 0:
            raise ConfigError(f"regularizer '{name}': {key} must be >= 0, got {value}")


@register("bcr", kind="regularizer")
class BalancedConsistency(Regularizer):
    """bCR (Zhao et al., 2021): D's logits of augmented real and generated images match its logits of the originals."""

    def __init__(self, weight_real: float = 10.0, weight_fake: float = 10.0, policy: str = "translation",
                 every: int = 1) -> None:
        super().__init__(every)
        check_weights("bcr", weight_real=weight_real, weight_fake=weight_fake)
        policy_operations(policy, "regularizer 'bcr'")  # unknown operations fail here; an empty policy is the identity
        self.weight_real, self.weight_fake, self.policy = weight_real, weight_fake, policy

    def discriminator_term(self, batch: JudgedBatch) -> Tensor:
        real_logits, fake_logits = batch.judged()
        model, condition = batch.model, batch.condition
        augmented_real = model.discriminate(diff_augment(batch.real, self.policy), condition)
        augmented_fake = model.discriminate(diff_augment(batch.fake, self.policy), condition)
        return (self.weight_real * F.mse_loss(augmented_real, real_logits)
                + self.weight_fake * F.mse_loss(augmented_fake, fake_logits))


@register("zcr", kind="regularizer")
class LatentConsistency(Regularizer):
    """zCR (Zhao et al., 2021): D judges G(z) and G(z + dz) alike; G's images for z and z + dz differ."""

    def __init__(self, weight_discriminator: float = 5.0, weight_generator: float = 0.5, sigma: float = 0.03,
                 every: int = 1) -> None:
        super().__init__(every)
        check_weights("zcr", weight_discriminator=weight_discriminator, weight_generator=weight_generator, sigma=sigma)
        self.weight_discriminator, self.weight_generator, self.sigma = weight_discriminator, weight_generator, sigma

    def discriminator_term(self, batch: JudgedBatch) -> Tensor:
        _, fake_logits = batch.judged()
        with torch.no_grad():  # the generator does not train in the discriminator's step
            nearby = batch.model.generate(batch.noise + self.sigma * torch.randn_like(batch.noise), batch.condition)
        return self.weight_discriminator * F.mse_loss(batch.model.discriminate(nearby.samples, batch.condition), fake_logits)

    def generator_term(self, model: Any, real: Tensor, condition: Optional[Tensor]) -> Tensor:
        noise = model.noise(real.shape[0])
        images = model.generate(noise, condition).samples
        nearby = model.generate(noise + self.sigma * torch.randn_like(noise), condition).samples
        return -self.weight_generator * F.mse_loss(nearby, images)
