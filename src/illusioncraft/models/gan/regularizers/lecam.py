"""LeCam regularisation (Tseng et al., 2021): keep the discriminator's logits near moving anchors.

R_LC = E[relu(D(x) - alpha_F)^2] + E[relu(alpha_R - D(G(z)))^2], with alpha_R and alpha_F exponential moving averages
of the mean real and fake logits (decay 0.99; the first step sets them). It bounds how far D can separate real
from fake logits, which keeps it from over-fitting a small training set; the one-sided (relu) form is the
authors' code. The anchors are buffers: checkpoints keep them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from illusioncraft.errors import ConfigError
from illusioncraft.models.gan.regularizers.base import JudgedBatch, Regularizer
from illusioncraft.registry import register


@register("lecam", kind="regularizer")
class LeCam(Regularizer):
    """LeCam (Tseng et al., 2021): weight * (E[relu(D(x) - anchor_fake)^2] + E[relu(anchor_real - D(G(z)))^2])."""

    def __init__(self, weight: float = 0.3, decay: float = 0.99, every: int = 1) -> None:
        super().__init__(every)
        if weight < 0 or not 0.0 <= decay < 1.0:
            raise ConfigError(f"regularizer 'lecam': weight must be >= 0 and decay in [0, 1), got {weight} and {decay}")
        self.weight, self.decay = weight, decay
        self.register_buffer("anchor_real", torch.zeros(()))
        self.register_buffer("anchor_fake", torch.zeros(()))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update_anchors(self, real_logits: Tensor, fake_logits: Tensor) -> None:
        """anchor <- decay * anchor + (1 - decay) * mean logit; the first update sets the anchor (on the device)."""
        keep = self.decay * (self.updates > 0).float()
        self.anchor_real.mul_(keep).add_((1 - keep) * real_logits.detach().float().mean())
        self.anchor_fake.mul_(keep).add_((1 - keep) * fake_logits.detach().float().mean())
        self.updates += 1

    def discriminator_term(self, batch: JudgedBatch) -> Tensor:
        real_logits, fake_logits = batch.judged()
        self.update_anchors(real_logits, fake_logits)
        return self.weight * (F.relu(real_logits - self.anchor_fake).pow(2).mean()
                              + F.relu(self.anchor_real - fake_logits).pow(2).mean())
