"""The swish activation (Ramachandran et al., 2017), usable wherever IllusionCraft takes an activation name."""

import torch
from torch import Tensor

from illusioncraft.plugin_api import ElementwiseActivation, register


@register("swish", kind="activation")
class Swish(ElementwiseActivation):
    """Swish z * sigmoid(z): smooth, non-monotonic, close to ReLU for large z."""

    def forward(self, z: Tensor) -> Tensor:
        return z * torch.sigmoid(z)

    def derivative(self, z: Tensor) -> Tensor:
        s = torch.sigmoid(z)
        return s + z * s * (1 - s)
