"""Unrolled GAN (Metz et al., 2017): the generator's loss is taken against the discriminator after k more steps."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor
from torch.func import functional_call

from illusioncraft.errors import ConfigError
from illusioncraft.losses.spec import LossSpec
from illusioncraft.models.gan.gan import GAN
from illusioncraft.models.gan.loop import Condition, LRDecay
from illusioncraft.nn.optim import OptimizerSpec
from illusioncraft.registry import register


@register("unrolled_gan")
class UnrolledGAN(GAN):
    """Unrolled GAN (Metz et al., 2017): the generator's loss is taken against the discriminator after k more steps.

    The k look-ahead steps are plain gradient steps of size ``unroll_lr`` on a functional copy of the
    discriminator's parameters, kept in the autograd graph, so the generator's gradient includes how the
    discriminator would react; the real discriminator is untouched by them.
    """

    def __init__(
        self,
        unroll_steps: int = 5,
        unroll_lr: float = 1e-3,
        loss: LossSpec = "non_saturating",
        latent_dim: int = 64,
        hidden_size: int = 128,
        depth: int = 3,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        lr_decay: LRDecay = "none",
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        if unroll_steps < 0:
            raise ConfigError(f"model 'unrolled_gan': unroll_steps must be >= 0, got {unroll_steps}")
        if unroll_lr <= 0:
            raise ConfigError(f"model 'unrolled_gan': unroll_lr must be > 0, got {unroll_lr}")
        super().__init__(
            loss=loss, latent_dim=latent_dim, hidden_size=hidden_size, depth=depth,
            generator_optimizer=generator_optimizer, discriminator_optimizer=discriminator_optimizer,
            lr_decay=lr_decay, data_shape=data_shape,
        )
        self.unroll_steps, self.unroll_lr = unroll_steps, unroll_lr

    def generator_loss(self, real: Tensor, condition: Condition, batch: Any) -> tuple[Tensor, dict]:
        # A detached copy: the look-ahead must not train the real discriminator, only shape G's gradient.
        params = {name: p.detach().clone().requires_grad_(True) for name, p in self.discriminator.named_parameters()}
        batch_size = real.shape[0]
        for _ in range(self.unroll_steps):
            fake = self.generator(self.noise(batch_size))
            d_loss = self.loss_fn.discriminator(
                functional_call(self.discriminator, params, (real,)), functional_call(self.discriminator, params, (fake,))
            )
            grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=True)
            params = {name: p - self.unroll_lr * g for (name, p), g in zip(params.items(), grads, strict=True)}
        fake = self.generator(self.noise(batch_size))
        real_logits = functional_call(self.discriminator, params, (real,)) if self.loss_fn.generator_needs_real else None
        return self.loss_fn.generator(functional_call(self.discriminator, params, (fake,)), real_logits), {}
