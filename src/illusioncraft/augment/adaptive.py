"""Adaptive discriminator augmentation (ADA, Karras et al., 2020) over DiffAugment's differentiable operations.

Each operation of the policy is applied to each sample independently with probability p. The discriminator's
overfitting is read from its real logits: r_t = E[sign(D(x))] over the last ``interval`` discriminator steps
(1 when D is sure of every real image, 0 when it cannot tell). After each interval p moves by
sign(r_t - target) * images / ``ramp_images`` (so p can cross [0, 1] in ``ramp_images`` real images), clamped to
[0, 1]. Every number stays a tensor on the training device (no host synchronisation), and p and the running sums
are buffers, so checkpoints keep them and a resumed run continues from the same p.
"""

from __future__ import annotations

from typing import Optional, TypedDict

import torch
from torch import Tensor, nn

from illusioncraft.augment.diffaugment import POLICIES
from illusioncraft.errors import ConfigError

DEFAULT_POLICY = "color,translation,cutout"


class ADASettings(TypedDict, total=False):
    """``ada:`` in a model's YAML: target r_t (0.6), discriminator steps per adjustment (4), real images for p to
    cross [0, 1] (500,000 in the paper), starting p (0)."""

    target: float
    interval: int
    ramp_images: int
    initial_p: float


def policy_operations(policy: str, owner: str) -> list[str]:
    """The DiffAugment operation names of a comma-separated policy; unknown names are one error line."""
    names = [part.strip() for part in policy.split(",") if part.strip()]
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise ConfigError(f"{owner}: unknown augmentation(s) {unknown} in policy {policy!r}; known: {', '.join(POLICIES)}")
    return names


class AdaptiveAugmentation(nn.Module):
    """DiffAugment's operations, each applied per sample with a probability p that follows D's overfitting."""

    def __init__(self, policy: Optional[str] = None, target: float = 0.6, interval: int = 4,
                 ramp_images: int = 500_000, initial_p: float = 0.0) -> None:
        super().__init__()
        self.operations = policy_operations(policy or DEFAULT_POLICY, "ada")
        if not self.operations:
            raise ConfigError("ada: the policy names no augmentation")
        if not 0.0 <= target <= 1.0 or not 0.0 <= initial_p <= 1.0:
            raise ConfigError(f"ada: target and initial_p must be in [0, 1], got {target} and {initial_p}")
        if interval < 1 or ramp_images < 1:
            raise ConfigError(f"ada: interval and ramp_images must be >= 1, got {interval} and {ramp_images}")
        self.target, self.interval, self.ramp_images = target, interval, ramp_images
        self.register_buffer("p", torch.tensor(float(initial_p)))
        self.register_buffer("sign_sum", torch.zeros(()))  # sum of sign(D(real)) since the last adjustment
        self.register_buffer("logit_count", torch.zeros(()))
        self.register_buffer("image_count", torch.zeros(()))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        """Each operation on each sample of x (B, C, H, W) with probability p."""
        for name in self.operations:
            applied = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < self.p  # (B, 1, 1, 1)
            x = torch.where(applied, POLICIES[name](x), x)
        return x

    @torch.no_grad()
    def observe(self, real_logits: Tensor, images: int) -> None:
        """Add one discriminator step's real logits (for ``images`` real images); adjust p every ``interval`` steps."""
        self.sign_sum += real_logits.detach().float().sign().sum()
        self.logit_count += real_logits.numel()
        self.image_count += images
        self.steps += 1
        due = (self.steps % self.interval == 0).float()  # 1 on the last step of an interval (kept on the device)
        overfitting = self.sign_sum / self.logit_count.clamp(min=1)  # r_t in [-1, 1]
        change = torch.sign(overfitting - self.target) * self.image_count / self.ramp_images
        self.p.add_(due * change).clamp_(0.0, 1.0)
        for total in (self.sign_sum, self.logit_count, self.image_count):
            total.mul_(1 - due)  # a new interval starts from zero
