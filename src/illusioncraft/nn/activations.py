"""Activation functions with the derivatives that hand-written backpropagation needs.

Each activation is an ``nn.Module`` usable in any network, plus ``backward(z, grad_output)``: the gradient
of the loss with respect to the pre-activation ``z`` given the gradient with respect to the output.
For element-wise activations that is ``grad_output * derivative(z)``; softmax couples its inputs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from illusioncraft.registry import register


class ElementwiseActivation(nn.Module):
    """An activation g applied element by element, with its derivative g'."""

    def derivative(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def backward(self, z: Tensor, grad_output: Tensor) -> Tensor:  # noqa: D102 - see module docstring
        return grad_output * self.derivative(z)


@register("sigmoid", kind="activation")
class Sigmoid(ElementwiseActivation):
    """Logistic sigmoid 1 / (1 + e^-z): range (0, 1); saturates, so gradients vanish for large |z|."""

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(z)

    def derivative(self, z: Tensor) -> Tensor:
        s = torch.sigmoid(z)
        return s * (1 - s)


@register("tanh", kind="activation")
class Tanh(ElementwiseActivation):
    """Hyperbolic tangent: range (-1, 1), zero-centred; saturates like the sigmoid."""

    def forward(self, z: Tensor) -> Tensor:
        return torch.tanh(z)

    def derivative(self, z: Tensor) -> Tensor:
        return 1 - torch.tanh(z) ** 2


@register("relu", kind="activation")
class ReLU(ElementwiseActivation):
    """Rectified linear unit max(0, z): cheap and sparse; units can die (derivative 0 for z <= 0)."""

    def forward(self, z: Tensor) -> Tensor:
        return torch.relu(z)

    def derivative(self, z: Tensor) -> Tensor:
        return (z > 0).to(z.dtype)


@register("leaky_relu", kind="activation")
class LeakyReLU(ElementwiseActivation):
    """Leaky ReLU: z for z > 0, negative_slope * z otherwise, so no unit dies completely."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, z: Tensor) -> Tensor:
        return nn.functional.leaky_relu(z, self.negative_slope)

    def derivative(self, z: Tensor) -> Tensor:
        return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, self.negative_slope))


@register("gelu", kind="activation")
class GELU(ElementwiseActivation):
    """Gaussian error linear unit z * Phi(z) (exact form, Phi the standard normal CDF)."""

    def forward(self, z: Tensor) -> Tensor:
        return nn.functional.gelu(z)

    def derivative(self, z: Tensor) -> Tensor:
        cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
        pdf = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
        return cdf + z * pdf


@register("softmax", kind="activation")
class Softmax(nn.Module):
    """Softmax over ``dim``: turns logits into class probabilities that sum to 1."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, z: Tensor) -> Tensor:
        return torch.softmax(z, dim=self.dim)

    def backward(self, z: Tensor, grad_output: Tensor) -> Tensor:
        """Jacobian-vector product: s * (g - sum(g * s)), with s = softmax(z)."""
        s = torch.softmax(z, dim=self.dim)
        return s * (grad_output - (grad_output * s).sum(dim=self.dim, keepdim=True))
