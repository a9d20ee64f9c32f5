"""Adversarial losses, all computed on the discriminator's raw logits (stable, and safe under mixed precision).

Each loss has ``discriminator(real_logits, fake_logits)`` and ``generator(fake_logits, real_logits=None)``; both
return means. A loss whose generator objective compares with the real logits (a relativistic loss) sets
``generator_needs_real = True`` and the loop passes them.
With D(x) = sigmoid(logit):

- minimax:        D maximises log D(x) + log(1 - D(G(z)));  G minimises log(1 - D(G(z)))  (saturates)
- non_saturating: D as minimax;                              G minimises -log D(G(z))
- wasserstein:    critic minimises E[f(G(z))] - E[f(x)];     G minimises -E[f(G(z))]
- wasserstein_gp: wasserstein plus a per-sample gradient penalty (the adversarial loop adds it, lambda 10)
- hinge:          D minimises E[relu(1 - f(x))] + E[relu(1 + f(G(z)))];  G minimises -E[f(G(z))]
- least_squares:  D minimises (f(x) - 1)^2 / 2 + f(G(z))^2 / 2;           G minimises (f(G(z)) - 1)^2 / 2
"""

from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from illusioncraft.registry import register


class AdversarialLoss:
    """Base: the pair of objectives of one GAN formulation, on the discriminator's logits (no sigmoid inside D)."""

    gradient_penalty: float = 0.0  # the weight the adversarial loop uses unless the model overrides it
    generator_needs_real: bool = False  # whether ``generator`` needs the real logits (the loop computes them if so)

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The discriminator's loss for the logits of a real and a generated batch."""
        raise NotImplementedError

    def generator(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        """The generator's loss for the logits of its batch (and of the real batch, when it needs them)."""
        raise NotImplementedError


@register("minimax", kind="loss")
class Minimax(AdversarialLoss):
    """The original minimax game: G minimises log(1 - D(G(z))), which saturates when D rejects the fakes."""

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        # -log sigmoid(r) - log(1 - sigmoid(f)) = softplus(-r) + softplus(f)
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return -F.softplus(fake_logits).mean()  # log(1 - sigmoid(f)) = -softplus(f)


@register("non_saturating", kind="loss")
class NonSaturating(Minimax):
    """Non-saturating GAN loss: G minimises -log D(G(z)), strong gradients when D rejects the fakes."""

    def generator(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return F.softplus(-fake_logits).mean()


@register("wasserstein", kind="loss")
class Wasserstein(AdversarialLoss):
    """Wasserstein GAN: the critic estimates E[f(x)] - E[f(G(z))] (keep it Lipschitz: clipping or a penalty)."""

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return fake_logits.mean() - real_logits.mean()

    def generator(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return -fake_logits.mean()


@register("wasserstein_gp", kind="loss")
class WassersteinGP(Wasserstein):
    """WGAN-GP: the Wasserstein loss with a per-sample gradient penalty of weight 10 on interpolates."""

    gradient_penalty = 10.0


@register("hinge", kind="loss")
class Hinge(AdversarialLoss):
    """Hinge loss (SAGAN, BigGAN): margins of 1 for the discriminator, -E[f(G(z))] for the generator."""

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def generator(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return -fake_logits.mean()


@register("least_squares", kind="loss")
class LeastSquares(AdversarialLoss):
    """LSGAN: least-squares targets 1 for real and 0 for fake."""

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()

    def generator(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return 0.5 * ((fake_logits - 1) ** 2).mean()
