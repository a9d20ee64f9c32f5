"""Two losses from plugins' point of view: focal loss (Lin et al., 2017) for classifiers, and the relativistic
average GAN loss, whose generator objective compares with the real logits."""

from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from illusioncraft.plugin_api import AdversarialLoss, ConfigError, PluginError, register


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


@register("relativistic", kind="loss")
class RelativisticAverage(AdversarialLoss):
    """Relativistic average GAN loss (Jolicoeur-Martineau, 2018): is a real sample more real than the average fake?

    With C the logits and sigma the sigmoid, D minimises -log sigma(C(x) - E C(G(z))) - log(1 - sigma(C(G(z)) - E C(x)))
    and G the same with real and fake swapped, so the generator's loss needs the real logits.
    """

    generator_needs_real = True

    def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        # -log sigma(a) = softplus(-a); -log(1 - sigma(a)) = softplus(a)
        return F.softplus(-(real_logits - fake_logits.mean())).mean() + F.softplus(fake_logits - real_logits.mean()).mean()

    def generator(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        if real_logits is None:
            raise PluginError("loss 'relativistic': the generator's loss needs the real logits (generator_needs_real)")
        return F.softplus(-(fake_logits - real_logits.mean())).mean() + F.softplus(real_logits - fake_logits.mean()).mean()
