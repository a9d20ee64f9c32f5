"""Batch-level augmentations on the device, vectorised over the batch: Cutout, Mixup and CutMix.

Mixup and CutMix follow timm's ``Mixup`` semantics: lambda ~ Beta(alpha, alpha); ``prob`` of mixing a batch
(or a sample, in ``elem`` mode); ``switch_prob`` of CutMix instead of Mixup when both alphas are set; the
partner of sample i is sample B-1-i (the flipped batch); CutMix's lambda is corrected to the pasted box's area
after clipping; targets become label-smoothed one-hot vectors mixed with the same lambda.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import albumentations as A
import torch
import torch.nn.functional as F
from torch import Tensor

from illusioncraft.augment.base import BatchAugmentation, check_probability
from illusioncraft.augment.sample import build_albumentation
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register


def _coordinates(height: int, width: int, device: torch.device) -> tuple[Tensor, Tensor]:
    rows = torch.arange(height, device=device).view(1, height, 1)  # (1, H, 1)
    cols = torch.arange(width, device=device).view(1, 1, width)  # (1, 1, W)
    return rows, cols


def box_mask(top: Tensor, bottom: Tensor, left: Tensor, right: Tensor, height: int, width: int) -> Tensor:
    """(B, 1, H, W) boolean mask of the boxes [top, bottom) x [left, right), one per sample."""
    rows, cols = _coordinates(height, width, top.device)
    inside = (rows >= top.view(-1, 1, 1)) & (rows < bottom.view(-1, 1, 1))
    inside = inside & (cols >= left.view(-1, 1, 1)) & (cols < right.view(-1, 1, 1))
    return inside.unsqueeze(1)


def random_boxes(size_h: Tensor, size_w: Tensor, height: int, width: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Boxes of the given sizes (B,) centred uniformly in the image and clipped to it (timm's rand_bbox)."""
    centre_y = torch.randint(0, height, size_h.shape, device=size_h.device)
    centre_x = torch.randint(0, width, size_w.shape, device=size_w.device)
    top = (centre_y - size_h // 2).clamp(0, height)
    bottom = (centre_y + size_h // 2).clamp(0, height)
    left = (centre_x - size_w // 2).clamp(0, width)
    right = (centre_x + size_w // 2).clamp(0, width)
    return top, bottom, left, right


@register("cutout", kind="augmentation")
class Cutout(BatchAugmentation):
    """Cutout (DeVries & Taylor, 2017): zero a square of side ``size`` (fraction of the side) at a random centre.

    Under ``batch_augmentations`` it runs on the device for the whole batch; under ``augmentations`` it becomes
    albumentations' per-sample CoarseDropout with one hole of the same size.
    """

    def __init__(self, size: float = 0.5, p: float = 1.0, fill: float = 0.0) -> None:
        super().__init__()
        if not 0.0 < size <= 1.0:
            raise ConfigError(f"augmentation 'cutout': size must be in (0, 1] (a fraction of the side), got {size}")
        check_probability("cutout", "p", p)
        self.size, self.p, self.fill = size, p, fill
        self._config = {"size": size, "p": p, "fill": fill}

    def sample_transform(self) -> A.BasicTransform:
        return build_albumentation(
            "cutout", "CoarseDropout",
            {"num_holes_range": (1, 1), "hole_height_range": (self.size, self.size),
             "hole_width_range": (self.size, self.size), "fill": self.fill, "p": self.p},
        )

    def forward(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        b, _, h, w = images.shape
        side_h = torch.full((b,), round(self.size * h), device=images.device)
        side_w = torch.full((b,), round(self.size * w), device=images.device)
        mask = box_mask(*random_boxes(side_h, side_w, h, w), h, w)  # (B, 1, H, W)
        mask = (mask & (torch.rand(b, 1, 1, 1, device=images.device) < self.p)).to(images.dtype)
        # a broadcast multiply is several times faster than masked_fill with a (B, 1, H, W) mask on CPU
        if self.fill == 0:
            return images * (1 - mask), targets
        return torch.lerp(images, torch.full_like(images, self.fill), mask), targets


def smooth_one_hot(targets: Tensor, num_classes: int, smoothing: float) -> Tensor:
    """(B, K) targets: 1 - smoothing + smoothing/K on the class, smoothing/K elsewhere; soft targets pass through."""
    if targets.ndim == 2:
        return targets.float()
    off = smoothing / num_classes
    return F.one_hot(targets, num_classes).float() * (1 - smoothing) + off


@register("mixup", kind="augmentation")
class Mixup(BatchAugmentation):
    """Mixup (Zhang et al., 2018) and, with cutmix_alpha > 0, CutMix: timm's Mixup semantics, vectorised."""

    def __init__(
        self,
        mixup_alpha: float = 1.0,
        cutmix_alpha: float = 0.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        mode: Literal["batch", "elem"] = "batch",
        correct_lam: bool = True,
        label_smoothing: float = 0.1,
        name: Optional[str] = None,
    ) -> None:
        super().__init__()
        label = name or "mixup"
        for key, alpha in (("mixup_alpha", mixup_alpha), ("cutmix_alpha", cutmix_alpha)):
            if alpha < 0:
                raise ConfigError(f"augmentation '{label}': {key} must be >= 0 (0 turns it off), got {alpha}")
        if mixup_alpha == 0 and cutmix_alpha == 0:
            raise ConfigError(f"augmentation '{label}': mixup_alpha and cutmix_alpha are both 0; one must be > 0")
        check_probability(label, "prob", prob)
        check_probability(label, "switch_prob", switch_prob)
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"augmentation '{label}': label_smoothing must be in [0, 1), got {label_smoothing}")
        if mode not in ("batch", "elem"):
            raise ConfigError(f"augmentation '{label}': mode must be 'batch' or 'elem', got {mode!r}")
        self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha
        self.prob, self.switch_prob, self.mode = prob, switch_prob, mode
        self.correct_lam, self.label_smoothing = correct_lam, label_smoothing
        self._config = {"mixup_alpha": mixup_alpha, "cutmix_alpha": cutmix_alpha, "prob": prob, "switch_prob": switch_prob,
                        "mode": mode, "correct_lam": correct_lam, "label_smoothing": label_smoothing}

    def sample_lambdas(self, n: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """(lambda (n,), use_cutmix (n,) bool); lambda is 1 where no mixing happens."""
        use_cutmix = torch.zeros(n, dtype=torch.bool, device=device)
        if self.mixup_alpha > 0 and self.cutmix_alpha > 0:
            use_cutmix = torch.rand(n, device=device) < self.switch_prob
        elif self.cutmix_alpha > 0:
            use_cutmix = torch.ones(n, dtype=torch.bool, device=device)
        lam_mix = _beta(self.mixup_alpha, n, device)
        lam_cut = _beta(self.cutmix_alpha, n, device)
        lam = torch.where(use_cutmix, lam_cut, lam_mix)
        apply = torch.rand(n, device=device) < self.prob
        return torch.where(apply, lam, torch.ones_like(lam)), use_cutmix & apply

    def forward(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        b, _, h, w = images.shape
        if self.num_classes < 1:
            raise ConfigError("augmentation 'mixup'/'cutmix' needs the number of classes from the datamodule")
        n = 1 if self.mode == "batch" else b
        lam, use_cutmix = self.sample_lambdas(n, images.device)
        lam, use_cutmix = lam.expand(b).clone(), use_cutmix.expand(b)
        partner = images.flip(0)
        soft = smooth_one_hot(targets, self.num_classes, self.label_smoothing)  # (B, K)
        if not bool(use_cutmix.any()):  # Mixup only: one blend, no boxes
            mixed = torch.lerp(partner, images, lam.view(b, 1, 1, 1).to(images.dtype))  # lam * x + (1 - lam) * partner
            return mixed, lam.view(b, 1) * soft + (1 - lam.view(b, 1)) * soft.flip(0)
        # CutMix: a box of area (1 - lam) * H * W comes from the partner; lam is then the kept area.
        cut_ratio = (1 - lam).sqrt()
        size_h, size_w = (cut_ratio * h).long(), (cut_ratio * w).long()
        if self.mode == "batch":  # one box for the whole batch, as in timm
            top, bottom, left, right = (t[:1].expand(b) for t in random_boxes(size_h[:1], size_w[:1], h, w))
        else:
            top, bottom, left, right = random_boxes(size_h, size_w, h, w)
        box = box_mask(top, bottom, left, right, h, w) & use_cutmix.view(b, 1, 1, 1)  # (B, 1, H, W)
        if self.correct_lam:
            area = ((bottom - top) * (right - left)).float() / (h * w)
            lam = torch.where(use_cutmix, 1 - area, lam)
        else:
            lam = torch.where(use_cutmix, 1 - size_h * size_w / (h * w), lam)
        mixed = torch.lerp(images, partner, box.to(images.dtype))  # the box's pixels from the partner
        if not bool(use_cutmix.all()):  # per-sample choice between CutMix and Mixup
            blended = torch.lerp(partner, images, lam.view(b, 1, 1, 1).to(images.dtype))
            mixed = torch.where(use_cutmix.view(b, 1, 1, 1), mixed, blended)
        mixed_targets = lam.view(b, 1) * soft + (1 - lam.view(b, 1)) * soft.flip(0)
        return mixed, mixed_targets


def _beta(alpha: float, n: int, device: torch.device) -> Tensor:
    if alpha <= 0:
        return torch.ones(n, device=device)
    concentration = torch.tensor([alpha], device=device)
    return torch.distributions.Beta(concentration, concentration).sample((n,)).view(n)


@register("cutmix", kind="augmentation")
class CutMix(Mixup):
    """CutMix (Yun et al., 2019): paste a box from the partner image, targets mixed by the box's area."""

    def __init__(
        self,
        cutmix_alpha: float = 1.0,
        mixup_alpha: float = 0.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        mode: Literal["batch", "elem"] = "batch",
        correct_lam: bool = True,
        label_smoothing: float = 0.1,
    ) -> None:
        super().__init__(mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha, prob=prob, switch_prob=switch_prob,
                         mode=mode, correct_lam=correct_lam, label_smoothing=label_smoothing, name="cutmix")


def build_batch_augmentation(name: str, params: dict[str, Any]) -> BatchAugmentation:
    """A registered batch-level augmentation, or a one-line error saying where a per-sample one belongs."""
    from illusioncraft import registry

    entry = registry.get("augmentation", name)
    if getattr(entry, "sample_only", False):
        raise ConfigError(f"augmentation '{name}' is per-sample only; list it under 'augmentations', not 'batch_augmentations'")
    return registry.build("augmentation", name, **params)


def build_sample_transform(name: str, params: dict[str, Any]) -> A.BasicTransform:
    """A registered per-sample augmentation as an albumentations transform, or a one-line error."""
    from illusioncraft import registry

    entry = registry.get("augmentation", name)
    if getattr(entry, "sample_only", False):
        return registry.build("augmentation", name, **params)
    built = registry.build("augmentation", name, **params)
    if hasattr(built, "sample_transform"):
        return built.sample_transform()
    raise ConfigError(f"augmentation '{name}' is batch-level only; list it under 'batch_augmentations', not 'augmentations'")
