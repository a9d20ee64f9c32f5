"""Hand-written backpropagation equals autograd (float64, 1e-8) and finite differences."""

from __future__ import annotations

import pytest
import torch
from conftest import EXPERIMENTS, read_metrics, run_cli

from illusioncraft.nn.backprop import HandNetwork, binary_cross_entropy_cost, categorical_cross_entropy_cost

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "gelu"]


def make_case(hidden: list[int], activation: str, output: str, seed: int = 0):
    torch.manual_seed(seed)
    n, m, k = 6, 9, (1 if output == "sigmoid" else 4)
    network = HandNetwork([n, *hidden, k], activation=activation, output=output).double()
    x = torch.randn(n, m, dtype=torch.float64)
    if output == "sigmoid":
        y = torch.randint(0, 2, (1, m)).double()
    else:
        y = torch.nn.functional.one_hot(torch.randint(0, k, (m,)), k).T.double()
    return network, x, y


def autograd_gradients(network: HandNetwork, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    _, activations = network.propagate(x)
    return list(torch.autograd.grad(network.cost(activations, y), list(network.weights) + list(network.biases)))


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("hidden", [[], [5], [5, 4], [5, 4, 3]], ids=["logistic", "1-hidden", "2-hidden", "3-hidden"])
def test_hand_gradients_equal_autograd(hidden, activation, output):
    network, x, y = make_case(hidden, activation, output)
    expected = autograd_gradients(network, x, y)
    with torch.no_grad():
        zs, activations = network.propagate(x)
        ours = network.gradients(zs, activations, y)
    for mine, reference in zip(ours, expected, strict=True):
        torch.testing.assert_close(mine, reference, rtol=0, atol=1e-8)


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_hand_gradients_match_central_finite_differences(output):
    network, x, y = make_case([5, 4], "tanh", output, seed=1)
    with torch.no_grad():
        zs, activations = network.propagate(x)
        ours = network.gradients(zs, activations, y)
        parameters = list(network.weights) + list(network.biases)
        eps = 1e-6
        for parameter, gradient in zip(parameters, ours, strict=True):
            for index in [(0, 0), (parameter.shape[0] - 1, parameter.shape[1] - 1)]:
                original = parameter[index].item()
                parameter[index] = original + eps
                plus = network.cost(network.propagate(x)[1], y)
                parameter[index] = original - eps
                minus = network.cost(network.propagate(x)[1], y)
                parameter[index] = original
                assert abs((plus - minus).item() / (2 * eps) - gradient[index].item()) < 1e-7


def test_costs_match_torch_losses():
    a = torch.tensor([[0.9, 0.2, 0.6]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(binary_cross_entropy_cost(a, y), torch.nn.functional.binary_cross_entropy(a, y))
    logits = torch.randn(4, 5, dtype=torch.float64)
    labels = torch.tensor([0, 3, 1, 1, 2])
    one_hot = torch.nn.functional.one_hot(labels, 4).T.double()
    torch.testing.assert_close(
        categorical_cross_entropy_cost(torch.softmax(logits, dim=0), one_hot),
        torch.nn.functional.cross_entropy(logits.T, labels),
    )


def test_scratch_mlp_on_digits_reaches_095(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "scratch_mlp_digits.yaml"), "--trainer.max_epochs", "15")
    assert read_metrics(run_dir)["test/acc"] >= 0.95


def test_scratch_training_never_calls_autograd(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("autograd was used")

    monkeypatch.setattr(torch.Tensor, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "backward", forbidden)
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "scratch_logreg_digits.yaml"), "--trainer.max_epochs", "2")
    assert read_metrics(run_dir)["test/acc"] > 0.8
