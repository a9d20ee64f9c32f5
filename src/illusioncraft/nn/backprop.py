"""Forward and backward propagation written from the equations, with no autograd.

Column convention, as in the equations: X is (n_features, m) with one example per column, W[l] is
(n_out, n_in), b[l] is (n_out, 1), Y is (K, m) one-hot for softmax or (1, m) of 0/1 for sigmoid.

    Z[l] = W[l] A[l-1] + b[l]          A[0] = X
    A[l] = g(Z[l]) (hidden layers)      A[L] = sigmoid(Z[L]) or softmax(Z[L])
    dZ[L] = A[L] - Y                    (sigmoid + BCE, or softmax + categorical CE)
    dW[l] = (1/m) dZ[l] A[l-1]^T        db[l] = (1/m) sum(dZ[l], axis=1)
    dZ[l-1] = W[l]^T dZ[l] * g'(Z[l-1])
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from illusioncraft import registry

Output = Literal["sigmoid", "softmax"]


def binary_cross_entropy_cost(a: Tensor, y: Tensor) -> Tensor:
    """J = -(1/m) sum(Y log A + (1 - Y) log(1 - A)) for A, Y of shape (1, m)."""
    m = y.shape[1]
    a = a.clamp(1e-12, 1 - 1e-12)
    return -(y * torch.log(a) + (1 - y) * torch.log(1 - a)).sum() / m


def categorical_cross_entropy_cost(a: Tensor, y: Tensor) -> Tensor:
    """J = -(1/m) sum_j sum_k Y_kj log A_kj for A, Y of shape (K, m)."""
    m = y.shape[1]
    return -(y * torch.log(a.clamp_min(1e-12))).sum() / m


class HandNetwork(nn.Module):
    """A fully connected network whose gradients come from ``backward`` (the equations above), not autograd.

    Zero hidden layers is logistic regression. ``forward`` takes images (B, C, H, W) and returns logits Z[L]^T
    (B, K), so the network also serves evaluation and prediction like any other.
    """

    def __init__(self, sizes: list[int], activation: str = "relu", output: Output = "softmax") -> None:
        super().__init__()
        self.activation = registry.build("activation", activation)
        if not hasattr(self.activation, "backward"):
            raise ValueError(f"activation '{activation}' has no backward(z, grad) for hand-written backpropagation")
        self.output = output
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            self.weights.append(nn.Parameter(torch.randn(n_out, n_in) / math.sqrt(n_in)))  # (n_out, n_in)
            self.biases.append(nn.Parameter(torch.zeros(n_out, 1)))  # (n_out, 1)

    def propagate(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """Forward pass on X (n, m): the lists Z[1..L] and A[0..L]."""
        zs, activations = [], [x]
        for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True), start=1):
            z = w @ activations[-1] + b  # (n_l, m)
            zs.append(z)
            if layer < len(self.weights):
                activations.append(self.activation(z))
            elif self.output == "sigmoid":
                activations.append(torch.sigmoid(z))
            else:
                activations.append(torch.softmax(z, dim=0))
        return zs, activations

    def gradients(self, zs: list[Tensor], activations: list[Tensor], y: Tensor) -> list[Tensor]:
        """Backward pass: [dW[1], ..., dW[L]] followed by [db[1], ..., db[L]], each shaped like its parameter."""
        m = y.shape[1]
        dz = activations[-1] - y  # (K, m): the output layer's error for both output/cost pairs
        d_weights, d_biases = [], []
        for layer in range(len(self.weights) - 1, -1, -1):
            d_weights.append(dz @ activations[layer].T / m)  # (n_l, n_{l-1})
            d_biases.append(dz.sum(dim=1, keepdim=True) / m)  # (n_l, 1)
            if layer > 0:
                dz = self.activation.backward(zs[layer - 1], self.weights[layer].T @ dz)  # W^T dZ * g'(Z)
        return d_weights[::-1] + d_biases[::-1]

    def cost(self, activations: list[Tensor], y: Tensor) -> Tensor:
        if self.output == "sigmoid":
            return binary_cross_entropy_cost(activations[-1], y)
        return categorical_cross_entropy_cost(activations[-1], y)

    def forward(self, images: Tensor) -> Tensor:
        zs, _ = self.propagate(images.flatten(1).T)  # X: (n, B)
        return zs[-1].T  # (B, K)
