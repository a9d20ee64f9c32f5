"""AugMix (Hendrycks et al., 2020), vectorised over the batch on the device.

For each image: ``width`` chains, each of ``depth`` operations (1 to 3 at random when depth is -1) drawn from
``illusioncraft.augment.ops.AUGMIX_OPS`` with magnitudes up to ``severity``/10; the chains are combined with
Dirichlet(alpha) weights and the result mixed with the original by m ~ Beta(alpha, alpha). With ``jsd: true``
the batch becomes (clean, view 1, view 2) concatenated, (3B, C, H, W), for the Jensen-Shannon consistency loss.
"""

from __future__ import annotations

import torch
from torch import Tensor

from illusioncraft.augment.base import BatchAugmentation, check_positive, check_probability
from illusioncraft.augment.ops import AUGMIX_OPS
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register


@register("augmix", kind="augmentation")
class AugMix(BatchAugmentation):
    """AugMix: Dirichlet-weighted chains of operations mixed with the original; clean + 2 views for the JSD loss."""

    views_per_image = 3

    def __init__(
        self, severity: int = 3, width: int = 3, depth: int = -1, alpha: float = 1.0, jsd: bool = True, p: float = 1.0
    ) -> None:
        super().__init__()
        if not 1 <= severity <= 10:
            raise ConfigError(f"augmentation 'augmix': severity must be in 1..10, got {severity}")
        if width < 1:
            raise ConfigError(f"augmentation 'augmix': width must be >= 1, got {width}")
        if depth == 0 or depth < -1:
            raise ConfigError(f"augmentation 'augmix': depth must be -1 (random 1-3) or >= 1, got {depth}")
        check_positive("augmix", "alpha", alpha)
        check_probability("augmix", "p", p)
        self.severity, self.width, self.depth, self.alpha, self.jsd, self.p = severity, width, depth, alpha, jsd, p
        self.views_per_image = 3 if jsd else 1
        self._config = {"severity": severity, "width": width, "depth": depth, "alpha": alpha, "jsd": jsd, "p": p}

    def augment(self, images: Tensor) -> Tensor:
        """One AugMix view of every image (same shape and dtype, values in [0, 1])."""
        b, device = images.shape[0], images.device
        concentration = torch.full((self.width,), float(self.alpha), device=device)
        weights = torch.distributions.Dirichlet(concentration).sample((b,))  # (B, width)
        beta = torch.tensor([float(self.alpha)], device=device)
        m = torch.distributions.Beta(beta, beta).sample((b,)).view(b, 1, 1, 1)
        max_depth = self.depth if self.depth > 0 else 3
        mix = torch.zeros_like(images)
        for chain in range(self.width):
            depth = torch.full((b,), self.depth, device=device) if self.depth > 0 else torch.randint(1, 4, (b,), device=device)
            view = images
            for step in range(max_depth):
                # each image still in its chain gets one operation; images are grouped by the operation drawn
                op_index = torch.randint(0, len(AUGMIX_OPS), (b,), device=device)
                op_index = torch.where(step < depth, op_index, torch.full_like(op_index, -1))
                # magnitude ~ U(0.1, severity) / 10, as AugMix's sample_level
                magnitude = (torch.rand(b, device=device) * (self.severity - 0.1) + 0.1) / 10
                view = view.clone()
                for index, op in enumerate(AUGMIX_OPS):
                    chosen = (op_index == index).nonzero().squeeze(1)
                    if chosen.numel():
                        view[chosen] = op(view[chosen], magnitude[chosen])
            mix = mix + weights[:, chain].view(b, 1, 1, 1) * view
        mixed = ((1 - m) * images + m * mix).clamp(0, 1).to(images.dtype)
        applied = torch.rand(b, 1, 1, 1, device=device) < self.p  # each image is augmented with probability p
        return torch.where(applied, mixed, images)

    def forward(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        if not self.jsd:
            return self.augment(images), targets
        return torch.cat([images, self.augment(images), self.augment(images)]), targets  # (3B, C, H, W), (B, ...)
