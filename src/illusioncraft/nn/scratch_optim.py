"""Optimisers written from their update rules, as ``torch.optim.Optimizer`` subclasses.

They sit in the registry beside the torch.optim ones (``scratch_gd``, ``scratch_momentum``,
``scratch_rmsprop``, ``scratch_adam``) and work with any model. Notation: g the gradient, w a parameter.

- gradient descent: w -= lr * g  (batch, stochastic or mini-batch: only the batch size differs)
- momentum:         v = beta * v + (1 - beta) * g;  w -= lr * v
- RMSprop:          s = beta2 * s + (1 - beta2) * g^2;  w -= lr * g / (sqrt(s) + eps)
- Adam:             m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2;
                    w -= lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Optional

import torch
from torch.optim import Optimizer

from illusioncraft.registry import register


def _check(lr: float, betas: Iterable[float] = (), eps: Optional[float] = None, weight_decay: float = 0.0) -> None:
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    for beta in betas:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"betas must be in [0, 1), got {beta}")
    if eps is not None and not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")


class ScratchOptimizer(Optimizer):
    """Shared ``step``: evaluate the closure, then apply ``update`` to every parameter that has a gradient."""

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                if group.get("weight_decay", 0.0):
                    grad = grad.add(param, alpha=group["weight_decay"])  # L2 penalty, as torch.optim adds it
                self.update(param, grad, self.state[param], group)
        return loss


@register("scratch_gd", kind="optimizer")
class ScratchGD(ScratchOptimizer):
    """Gradient descent from its rule w -= lr * g (batch, stochastic or mini-batch by the batch size)."""

    def __init__(self, params: Iterable[Any], lr: float = 0.01, weight_decay: float = 0.0) -> None:
        _check(lr, weight_decay=weight_decay)
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        param.add_(grad, alpha=-group["lr"])


@register("scratch_momentum", kind="optimizer")
class ScratchMomentum(ScratchOptimizer):
    """Momentum as an exponential average v = beta v + (1 - beta) g; w -= lr v.

    torch.optim.SGD(momentum=beta) keeps v = beta v + g instead (no (1 - beta) factor), so its velocity is
    this one divided by (1 - beta): the same trajectory needs lr * (1 - beta) there.
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.01, beta: float = 0.9, weight_decay: float = 0.0) -> None:
        _check(lr, betas=(beta,), weight_decay=weight_decay)
        super().__init__(params, {"lr": lr, "beta": beta, "weight_decay": weight_decay})

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        velocity = state.setdefault("velocity", torch.zeros_like(param))
        velocity.mul_(group["beta"]).add_(grad, alpha=1 - group["beta"])
        param.add_(velocity, alpha=-group["lr"])


@register("scratch_rmsprop", kind="optimizer")
class ScratchRMSprop(ScratchOptimizer):
    """RMSprop from its rule s = beta2 s + (1 - beta2) g^2; w -= lr g / (sqrt(s) + eps) (torch's alpha is beta2)."""

    def __init__(
        self, params: Iterable[Any], lr: float = 0.01, beta2: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0
    ) -> None:
        _check(lr, betas=(beta2,), eps=eps, weight_decay=weight_decay)
        super().__init__(params, {"lr": lr, "beta2": beta2, "eps": eps, "weight_decay": weight_decay})

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        square_avg = state.setdefault("square_avg", torch.zeros_like(param))
        square_avg.mul_(group["beta2"]).addcmul_(grad, grad, value=1 - group["beta2"])
        param.addcdiv_(grad, square_avg.sqrt().add_(group["eps"]), value=-group["lr"])


@register("scratch_adam", kind="optimizer")
class ScratchAdam(ScratchOptimizer):
    """Adam from its rule: bias-corrected first and second moments (same arguments and defaults as torch.optim.Adam)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        betas = tuple(betas)
        _check(lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def update(self, param: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        state["step"] = state.get("step", 0) + 1
        m = state.setdefault("m", torch.zeros_like(param))
        v = state.setdefault("v", torch.zeros_like(param))
        m.mul_(beta1).add_(grad, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        m_hat = m / (1 - beta1 ** state["step"])
        v_hat = v / (1 - beta2 ** state["step"])
        param.addcdiv_(m_hat, v_hat.sqrt().add_(group["eps"]), value=-group["lr"])
