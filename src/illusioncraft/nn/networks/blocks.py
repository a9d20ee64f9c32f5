"""Blocks that GAN network families share: spectral normalisation of a network's layers (Miyato et al., 2018)
and the self-attention block of SAGAN (Zhang et al., 2019).

Spectral normalisation divides each weight by its largest singular value, estimated by one power iteration per
training forward pass (the left singular vector ``u`` is kept between passes), so every layer is 1-Lipschitz in
the weight's matrix view (out, in * kh * kw) and the discriminator cannot sharpen its decision without bound.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

NORMALIZED_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


def spectral_normalized(network: nn.Module) -> nn.Module:
    """``network`` with spectral normalisation on the weight of every convolution, linear and embedding layer."""
    for module in list(network.modules()):
        if isinstance(module, NORMALIZED_LAYERS) and not hasattr(module, "parametrizations"):
            spectral_norm(module)
    return network


def largest_singular_value(weight: Tensor, transposed: bool = False) -> float:
    """The largest singular value of a weight in spectral normalisation's matrix view: (out, rest)."""
    matrix = weight.transpose(0, 1) if transposed else weight
    return float(torch.linalg.matrix_norm(matrix.reshape(matrix.shape[0], -1).detach(), ord=2))


class SelfAttention(nn.Module):
    """SAGAN's self-attention over a feature map: every position attends to every other one.

    Queries and keys are 1x1 projections to C/8 channels, values to C/2; the attended values are projected back to
    C and added to the input scaled by ``gamma``, which starts at 0, so the block starts as the identity and the
    network learns how much long-range structure to use.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(1, channels // 8)
        self.query = nn.Conv2d(channels, inner, 1, bias=False)
        self.key = nn.Conv2d(channels, inner, 1, bias=False)
        self.value = nn.Conv2d(channels, max(1, channels // 2), 1, bias=False)
        self.out = nn.Conv2d(max(1, channels // 2), channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        query = self.query(x).flatten(2).transpose(1, 2)  # (B, HW, C/8)
        key = self.key(x).flatten(2)  # (B, C/8, HW)
        attention = torch.softmax(query @ key, dim=-1)  # (B, HW, HW): row i is where position i looks
        value = self.value(x).flatten(2)  # (B, C/2, HW)
        attended = (value @ attention.transpose(1, 2)).view(b, -1, h, w)  # (B, C/2, H, W)
        return x + self.gamma * self.out(attended)
