"""Gradient penalties: WGAN-GP's on interpolates (the loop's ``gradient_penalty``), and the zero-centred ones
(Mescheder et al., 2018), R1 on real samples and R2 on generated ones, as registered regularisers.

R1 = (gamma / 2) * E_x[||grad_x D(x)||^2] keeps the discriminator flat on the data, so near equilibrium it stops
pushing the generator past the data; R2 is the same on generated samples. The gradient is taken with respect to
the samples before ``discriminate``'s augmentation and packing, as StyleGAN2-ADA takes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import torch
from torch import Tensor

from illusioncraft.errors import ConfigError
from illusioncraft.models.gan.regularizers.base import JudgedBatch, Regularizer
from illusioncraft.registry import register


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] with one interpolate per input row and one gradient norm per critic output
    (Gulrajani et al.): per sample, or per packed group when the critic judges several samples at once."""
    alpha = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)  # (B, 1, ...)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    logits = critic(interpolates)
    (gradients,) = torch.autograd.grad(logits.sum(), interpolates, create_graph=True)
    per_output = gradients.shape[0] // logits.shape[0]  # samples behind each logit (the packing factor)
    norms = gradients[: logits.shape[0] * per_output].reshape(logits.shape[0], -1).norm(2, dim=1)  # (outputs,)
    return ((norms - 1) ** 2).mean()


def squared_gradient_norm(model: Any, samples: Tensor, condition: Optional[Tensor]) -> Tensor:
    """E over samples of ||grad_x sum D(x)||^2, kept in the graph (its backward is a double backward)."""
    x = samples.detach().requires_grad_(True)
    logits = model.discriminate(x, condition)
    (gradients,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return gradients.pow(2).flatten(1).sum(dim=1).mean()  # (B, ...) -> per-sample squared norm -> mean


class ZeroCentredPenalty(Regularizer):
    """(weight / 2) * E[||grad D||^2] on the step's real (R1) or generated (R2) samples."""

    double_backward = True
    on_real = True

    def __init__(self, weight: float = 10.0, every: int = 1) -> None:
        super().__init__(every)
        if weight < 0:
            raise ConfigError(f"regularizer: weight (gamma) must be >= 0, got {weight}")
        self.weight = weight

    def discriminator_term(self, batch: JudgedBatch) -> Tensor:
        samples = batch.real if self.on_real else batch.fake
        return 0.5 * self.weight * squared_gradient_norm(batch.model, samples, batch.condition)


@register("r1", kind="regularizer")
class R1(ZeroCentredPenalty):
    """R1 (Mescheder et al., 2018): (gamma / 2) E[||grad D(x)||^2] on real samples; gamma = weight (10)."""


@register("r2", kind="regularizer")
class R2(ZeroCentredPenalty):
    """R2 (Mescheder et al., 2018): (gamma / 2) E[||grad D(G(z))||^2] on generated samples; gamma = weight (10)."""

    on_real = False
