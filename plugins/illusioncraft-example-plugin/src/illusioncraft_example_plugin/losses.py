"""Focal loss (Lin et al., 2017): cross-entropy down-weighted on examples the model already gets right."""

import torch.nn.functional as F
from torch import Tensor, nn

from illusioncraft.errors import ConfigError
from illusioncraft.registry import register


@register("focal", kind="loss")
class FocalLoss(nn.Module):
    """Focal loss -(1 - p_t)^gamma log p_t over softmax probabilities, for class-index targets."""

    def __init__(self, gamma: float = 2.0) -> None:
        super().__init__()
        if gamma < 0:
            raise ConfigError(f"loss 'focal': gamma must be >= 0, got {gamma}")
        self.gamma = gamma

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        log_p = F.log_softmax(logits, dim=1).gather(1, target.long().unsqueeze(1)).squeeze(1)  # (B,)
        return (-((1 - log_p.exp()) ** self.gamma) * log_p).mean()
