"""Optimisers written from their update rules follow torch.optim or the closed-form rule for 200 steps."""

from __future__ import annotations

import pytest
import torch

from illusioncraft.errors import ConfigError
from illusioncraft.nn.optim import build_optimizer
from illusioncraft.nn.scratch_optim import ScratchAdam, ScratchGD, ScratchMomentum, ScratchRMSprop

STEPS = 200


def quadratic_problem():
    """f(w) = 0.5 w^T A w - b^T w with A symmetric positive definite (float64)."""
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(5, 5, generator=generator, dtype=torch.float64)
    a = q @ q.T + 5 * torch.eye(5, dtype=torch.float64)
    b = torch.randn(5, generator=generator, dtype=torch.float64)
    start = [torch.randn(5, generator=generator, dtype=torch.float64)]
    return start, lambda params: 0.5 * params[0] @ a @ params[0] - b @ params[0]


def network_problem():
    """Cross-entropy of a 6-8-3 tanh network on fixed random data (float64)."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(32, 6, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 3, (32,), generator=generator)
    start = [torch.randn(*shape, generator=generator, dtype=torch.float64) * 0.5 for shape in [(8, 6), (8,), (3, 8), (3,)]]

    def loss(params):
        w1, b1, w2, b2 = params
        return torch.nn.functional.cross_entropy(torch.tanh(x @ w1.T + b1) @ w2.T + b2, y)

    return start, loss


def trajectory(make_optimizer, problem):
    start, loss_fn = problem()
    params = [p.clone().requires_grad_() for p in start]
    optimizer = make_optimizer(params)
    path = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss_fn(params).backward()
        optimizer.step()
        path.append(torch.cat([p.detach().flatten() for p in params]))
    return torch.stack(path)  # (STEPS, n_params)


def rule_trajectory(rule, problem):
    """Apply an update rule written out here, step by step, with autograd only for the gradient."""
    start, loss_fn = problem()
    params = [p.clone() for p in start]
    state = [dict() for _ in params]
    path = []
    for t in range(1, STEPS + 1):
        leaves = [p.clone().requires_grad_() for p in params]
        grads = torch.autograd.grad(loss_fn(leaves), leaves)
        params = [rule(p, g, s, t) for p, g, s in zip(params, grads, state, strict=True)]
        path.append(torch.cat([p.flatten() for p in params]))
    return torch.stack(path)


PROBLEMS = [quadratic_problem, network_problem]


@pytest.mark.parametrize("problem", PROBLEMS)
def test_scratch_gd_equals_torch_sgd(problem):
    torch.testing.assert_close(
        trajectory(lambda p: ScratchGD(p, lr=0.05), problem), trajectory(lambda p: torch.optim.SGD(p, lr=0.05), problem)
    )


@pytest.mark.parametrize("problem", PROBLEMS)
def test_scratch_momentum_follows_its_formula(problem):
    lr, beta = 0.05, 0.9

    def rule(w, g, s, t):
        s["v"] = beta * s.get("v", torch.zeros_like(w)) + (1 - beta) * g
        return w - lr * s["v"]

    ours = trajectory(lambda p: ScratchMomentum(p, lr=lr, beta=beta), problem)
    torch.testing.assert_close(ours, rule_trajectory(rule, problem))


@pytest.mark.parametrize("problem", PROBLEMS)
def test_scratch_momentum_is_torch_sgd_momentum_with_lr_scaled_by_one_minus_beta(problem):
    lr, beta = 0.05, 0.9
    torch.testing.assert_close(
        trajectory(lambda p: ScratchMomentum(p, lr=lr, beta=beta), problem),
        trajectory(lambda p: torch.optim.SGD(p, lr=lr * (1 - beta), momentum=beta), problem),
    )


@pytest.mark.parametrize("problem", PROBLEMS)
def test_scratch_rmsprop_equals_torch_rmsprop(problem):
    torch.testing.assert_close(
        trajectory(lambda p: ScratchRMSprop(p, lr=0.01, beta2=0.9, eps=1e-8), problem),
        trajectory(lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8), problem),
    )


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_scratch_adam_equals_torch_adam(problem, weight_decay):
    torch.testing.assert_close(
        trajectory(lambda p: ScratchAdam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=weight_decay), problem),
        trajectory(lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=weight_decay), problem),
    )


def test_scratch_adam_defaults_match_torch_adam():
    params = [torch.nn.Parameter(torch.zeros(1))]
    ours, theirs = ScratchAdam(params).defaults, torch.optim.Adam(params).defaults
    assert {key: ours[key] for key in ("lr", "betas", "eps", "weight_decay")} == {
        key: theirs[key] for key in ("lr", "betas", "eps", "weight_decay")
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "scratch_gd", "lr": 0}, "optimizer 'scratch_gd': lr must be > 0, got 0"),
        ({"name": "scratch_momentum", "beta": 1.0}, "optimizer 'scratch_momentum': betas must be in [0, 1), got 1.0"),
        ({"name": "scratch_rmsprop", "beta2": -0.1}, "betas must be in [0, 1), got -0.1"),
        ({"name": "scratch_adam", "eps": 0.0}, "optimizer 'scratch_adam': eps must be > 0, got 0.0"),
        ({"name": "scratch_adam", "betas": [0.9, 1.5]}, "betas must be in [0, 1), got 1.5"),
    ],
)
def test_bad_hyper_parameters_are_one_line_errors(spec, message):
    with pytest.raises(ConfigError) as error:
        build_optimizer(spec, [torch.nn.Parameter(torch.zeros(1))])
    assert message in str(error.value) and "\n" not in str(error.value)
