"""Jensen-Shannon consistency loss for AugMix: cross-entropy on the clean view plus weight * JS(p_clean, p_1, p_2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from illusioncraft.errors import ConfigError
from illusioncraft.registry import register


def jensen_shannon(probabilities: list[Tensor]) -> Tensor:
    """JS(p_1..p_n) = (1/n) sum_i KL(p_i || M), M = mean of the p_i clamped to [1e-7, 1]; batch mean."""
    log_mixture = torch.clamp(torch.stack(probabilities).mean(dim=0), 1e-7, 1).log()
    return sum(F.kl_div(log_mixture, p, reduction="batchmean") for p in probabilities) / len(probabilities)


@register("jsd", kind="loss")
class JensenShannonConsistency(nn.Module):
    """AugMix's loss: CE on the clean third of the logits + weight * Jensen-Shannon divergence of the three views."""

    accepts_views = True

    def __init__(self, weight: float = 12.0, num_splits: int = 3, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if weight < 0:
            raise ConfigError(f"loss 'jsd': weight must be >= 0, got {weight}")
        if num_splits < 2:
            raise ConfigError(f"loss 'jsd': num_splits must be >= 2, got {num_splits}")
        self.weight, self.num_splits, self.label_smoothing = weight, num_splits, label_smoothing

    def clean_loss(self, logits: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy alone, for evaluation batches that hold one (clean) view per image."""
        return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        # logits (n_splits * B, K) ordered clean, view 1, view 2; target (B,) or (B, K) for the clean view
        if logits.shape[0] != self.num_splits * target.shape[0]:
            raise ConfigError(
                f"loss 'jsd' expects {self.num_splits} views per image (batch augmentation 'augmix' with jsd: true); "
                f"got {logits.shape[0]} logits for {target.shape[0]} targets"
            )
        splits = torch.chunk(logits, self.num_splits)
        loss = F.cross_entropy(splits[0], target, label_smoothing=self.label_smoothing)
        return loss + self.weight * jensen_shannon([F.softmax(s, dim=1) for s in splits])
