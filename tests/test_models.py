"""Classifier networks: shapes, output types, checkpoints, activations and optimisers by name."""

from __future__ import annotations

import pytest
import torch
from conftest import EXPERIMENTS, TINY, cli_error, run_cli
from lightning.pytorch import Trainer

from illusioncraft import registry
from illusioncraft.data.digits import DigitsDataModule
from illusioncraft.errors import ConfigError
from illusioncraft.models.classifiers import CNN, MLP, LogisticRegression
from illusioncraft.nn.optim import build_optimizer


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "gelu"])
def test_elementwise_activation_derivative_equals_autograd(name):
    activation = registry.build("activation", name)
    z = torch.linspace(-4, 4, 101, dtype=torch.float64).requires_grad_()
    (grad,) = torch.autograd.grad(activation(z).sum(), z)
    nonzero = z.detach() != 0  # ReLU-type kinks: the derivative at exactly 0 is a convention
    torch.testing.assert_close(activation.derivative(z.detach())[nonzero], grad[nonzero], rtol=1e-10, atol=1e-12)


def test_softmax_backward_is_the_jacobian_vector_product():
    softmax = registry.build("activation", "softmax")
    z = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(4, 5, dtype=torch.float64)
    (expected,) = torch.autograd.grad((softmax(z) * upstream).sum(), z)
    torch.testing.assert_close(softmax.backward(z.detach(), upstream), expected)


def test_cnn_output_size_follows_the_convolution_formula():
    # 16x16, kernel 5, stride 2, padding 1: floor((16 + 2 - 5) / 2) + 1 = 7; pooling 2 -> 3
    model = CNN(channels=[4], kernel_size=5, stride=2, padding=1, pooling="avg", input_shape=(1, 16, 16), num_classes=10)
    features = model.network[0]
    assert features(torch.zeros(3, 1, 16, 16)).shape == (3, 4, 3, 3)
    assert any(isinstance(layer, torch.nn.AvgPool2d) for layer in features)
    assert model(torch.zeros(3, 1, 16, 16)).shape == (3, 10)


def test_cnn_same_padding_needs_stride_one():
    with pytest.raises(ConfigError, match="padding 'same' needs stride 1"):
        CNN(stride=2, padding="same")


def test_mlp_uses_the_named_activation():
    model = MLP(hidden_sizes=[7, 5], activation="tanh", input_shape=(1, 8, 8), num_classes=3)
    kinds = [type(layer).__name__ for layer in model.network]
    assert kinds == ["Flatten", "Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 3)


def test_binary_logistic_regression_has_one_logit_and_bce():
    model = LogisticRegression(output="sigmoid", input_shape=(1, 8, 8), num_classes=2)
    logits = model(torch.zeros(5, 1, 8, 8))
    assert logits.shape == (5,)
    assert type(model.loss_fn).__name__ == "BinaryCrossEntropy"
    probabilities = model.predict_step(torch.zeros(5, 1, 8, 8), 0)["probabilities"]
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(5))


def test_optimizers_by_name_match_torch_optim():
    params = [torch.nn.Parameter(torch.zeros(2))]
    momentum = build_optimizer({"name": "momentum", "lr": 0.1, "momentum": 0.8}, params)
    assert isinstance(momentum, torch.optim.SGD) and momentum.defaults["momentum"] == 0.8
    adam = build_optimizer({"name": "adam", "lr": 0.01, "betas": [0.5, 0.9]}, params)
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["betas"] == (0.5, 0.9)
    assert isinstance(build_optimizer("rmsprop", params), torch.optim.RMSprop)


def test_an_optimizer_spec_without_a_name_is_refused():
    with pytest.raises(ConfigError, match="mapping with a 'name' key"):
        build_optimizer({"lr": 0.1}, [torch.nn.Parameter(torch.zeros(1))])


def test_checkpoint_rebuilds_the_same_network(tmp_path):
    data = DigitsDataModule(batch_size=64)
    model = CNN(channels=[8], hidden_size=16)
    trainer = Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=data)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    restored = CNN.load_from_checkpoint(path, weights_only=True)
    images = data.test_dataset.tensors[0][:16]
    model.eval()
    restored.eval()
    torch.testing.assert_close(restored(images), model(images))


@pytest.mark.parametrize("experiment", ["cnn_digits.yaml", "dcgan_digits.yaml"])
def test_compile_compiles_the_networks_and_keeps_their_checkpoints(tmp_path, experiment):
    from torch._dynamo.utils import counters

    graphs = counters["stats"]["unique_graphs"]
    compiled = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / experiment), *TINY, "--model.init_args.compile",
                       "aot_eager", "--trainer.callbacks", "null", "--run.test_after_fit", "false")
    assert counters["stats"]["unique_graphs"] > graphs  # TorchDynamo traced the networks' forwards
    plain = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / experiment), *TINY, "--trainer.callbacks", "null",
                    "--run.test_after_fit", "false")
    keys = [torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"].keys() for run in (compiled, plain)]
    assert keys[0] == keys[1]  # compiled in place: the same state dict, so checkpoints go either way


def test_compile_that_cannot_work_here_is_one_line(tmp_path, capsys, monkeypatch):
    config = ["fit", "--config", str(EXPERIMENTS / "cnn_digits.yaml"), "--run.dir", str(tmp_path / "r"), "--run.loggers", "[]"]
    assert "compile backend 'inductr' is unknown; did you mean 'inductor'?" in cli_error(
        capsys, *config, "--model.init_args.compile", "inductr")
    monkeypatch.setattr("shutil.which", lambda name: None)  # a machine without a C++ compiler
    line = cli_error(capsys, *config, "--model.init_args.compile", "true", "--trainer.fast_dev_run", "true")
    assert "compile with inductor on a CPU needs a C++ compiler" in line


def test_compile_with_a_gradient_penalty_is_one_line(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "wgan_gp_digits.yaml"), "--model.init_args.compile",
                     "aot_eager", "--run.dir", str(tmp_path / "r"), "--run.loggers", "[]")
    assert "compile is not supported with a gradient penalty (lambda 10.0)" in line
