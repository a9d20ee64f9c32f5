"""Classifiers trained with hand-written backpropagation (``illusioncraft.nn.backprop``) instead of autograd.

Evaluation, metrics and logging are the shared classifier loop's; only the training step differs: it
computes the gradients from the equations, hands them to the optimizer and steps (manual optimisation).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from illusioncraft.errors import ConfigError
from illusioncraft.models.classifiers import Classifier, Output
from illusioncraft.nn.backprop import HandNetwork
from illusioncraft.nn.optim import OptimizerSpec
from illusioncraft.registry import register
from illusioncraft.step_logs import log_training_values


@register("scratch_mlp")
class ScratchMLP(Classifier):
    """MLP whose gradients are computed by hand from the backpropagation equations (no autograd)."""

    def __init__(
        self,
        hidden_sizes: list[int] = [64],  # noqa: B006 - jsonargparse shows list defaults; never mutated
        activation: str = "relu",
        output: Output = "softmax",
        optimizer: OptimizerSpec = "scratch_gd",
        input_shape: Optional[tuple[int, int, int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        if any(size < 1 for size in hidden_sizes):
            raise ConfigError(f"model 'scratch_mlp': hidden sizes must be positive, got {hidden_sizes}")
        self.hidden_sizes = list(hidden_sizes)
        self.activation_name = activation
        super().__init__(input_shape=input_shape, num_classes=num_classes, output=output, optimizer=optimizer)
        self.automatic_optimization = False

    def build_network(self, input_shape: tuple[int, int, int], num_outputs: int) -> nn.Module:
        sizes = [int(torch.tensor(input_shape).prod()), *self.hidden_sizes, num_outputs]
        return HandNetwork(sizes, activation=self.activation_name, output=self.output)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, targets = batch
        optimizer = self.optimizers()
        with torch.no_grad():
            x = images.flatten(1).T  # (n, m)
            if images.shape[0] != targets.shape[0]:
                raise ConfigError("model 'scratch_mlp' trains on one view per image; augmix with jsd: true needs loss 'jsd'")
            if targets.ndim == 2:  # soft targets from mixup/cutmix
                y = targets.T.to(x.dtype)  # (K, m)
            elif self.output == "sigmoid":
                y = targets.float()[None]  # (1, m)
            else:
                y = nn.functional.one_hot(targets, self.network.weights[-1].shape[0]).T.to(x.dtype)  # (K, m)
            zs, activations = self.network.propagate(x)
            cost = self.network.cost(activations, y)
            gradients = self.network.gradients(zs, activations, y)
            if self.trainer.world_size > 1:  # no autograd backward, so DDP cannot average them: do it here
                gradients = [self.trainer.strategy.reduce(g, reduce_op="mean") for g in gradients]
        optimizer.zero_grad()
        for parameter, gradient in zip(self.network.parameters(), gradients, strict=True):
            parameter.grad = gradient
        optimizer.step()
        labels = targets if targets.ndim == 1 else targets.argmax(dim=1)
        self.train_acc.update(self.predict_labels(self(images)), labels)
        log_training_values(self, {"train/loss": cost})
        return cost


@register("scratch_logistic_regression")
class ScratchLogisticRegression(ScratchMLP):
    """Logistic regression (sigmoid or softmax) with gradients dw = (1/m) X dZ^T, db = (1/m) sum(dZ) by hand."""

    def __init__(
        self,
        output: Output = "softmax",
        optimizer: OptimizerSpec = "scratch_gd",
        input_shape: Optional[tuple[int, int, int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        super().__init__(hidden_sizes=[], output=output, optimizer=optimizer, input_shape=input_shape,
                         num_classes=num_classes)
