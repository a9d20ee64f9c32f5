"""The example plugin: each entry through IllusionCraft's conformance checks, and what each adds, against references."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from illusioncraft import registry
from illusioncraft.testing.runs import read_metrics, run_command

EXPERIMENTS = Path(__file__).resolve().parents[3] / "experiments"
BARS = {"class_path": "bars", "init_args": {"n_images": 200, "image_size": 8}}


def test_residual_cnn_conforms(conformance):
    conformance.check_model("residual_cnn", arguments={"width": 8, "blocks": 1}, bad_arguments=[{"width": 0}])


def test_spectral_gan_conforms(conformance):
    conformance.check_model("spectral_gan", arguments={"width": 8, "latent_dim": 16}, data=BARS, bad_arguments=[{"width": 0}])


def test_bars_conforms(conformance):
    conformance.check_datamodule("bars", arguments={"n_images": 200}, bad_arguments=[{"noise": 2.0}, {"n_images": 10}])


def test_focal_conforms(conformance):
    conformance.check_loss("focal", arguments={"gamma": 2.0}, bad_arguments=[{"gamma": -1.0}])


def test_relativistic_conforms(conformance):
    conformance.check_loss("relativistic")


def test_salt_and_pepper_conforms(conformance):
    conformance.check_augmentation("salt_and_pepper", arguments={"amount": 0.05, "p": 1.0}, bad_arguments=[{"p": 2.0}])


def test_relativistic_losses_follow_the_papers_formulas():
    loss = registry.build("loss", "relativistic")
    real, fake = torch.randn(16, generator=torch.Generator().manual_seed(0)), torch.randn(16) - 1
    real_vs_fake, fake_vs_real = real - fake.mean(), fake - real.mean()
    expected_d = -(F.logsigmoid(real_vs_fake).mean() + torch.log1p(-torch.sigmoid(fake_vs_real)).mean())
    expected_g = -(F.logsigmoid(fake_vs_real).mean() + torch.log1p(-torch.sigmoid(real_vs_fake)).mean())
    assert torch.allclose(loss.discriminator(real, fake), expected_d, atol=1e-6)
    assert torch.allclose(loss.generator(fake, real), expected_g, atol=1e-6)


def test_the_gan_loop_hands_the_real_logits_to_a_relativistic_generator_loss():
    model = registry.build("model", "gan", loss={"name": "relativistic"}, hidden_size=8, data_shape=(2,))
    seen = {}
    original = model.loss_fn.generator

    def spy(fake_logits, real_logits=None):
        seen["real"] = real_logits
        return original(fake_logits, real_logits)

    model.loss_fn.generator = spy
    real = torch.randn(8, 2)
    model.generator_loss(real, None, (real,))
    assert seen["real"] is not None and torch.allclose(seen["real"], model.discriminate(real))


def test_the_spectral_gan_critic_has_spectral_norm_one():
    model = registry.build("model", "spectral_gan", width=4, latent_dim=8, data_shape=(1, 16, 16))
    model.discriminator.train()
    with torch.no_grad():
        for _ in range(50):  # each training-mode forward pass is one power-iteration step
            model.discriminator(torch.rand(4, 1, 16, 16))
    model.discriminator.eval()
    convolutions = [m for m in model.discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convolutions) == 3
    for convolution in convolutions:
        largest = torch.linalg.svdvals(convolution.weight.detach().flatten(1))[0]  # the normalised weight
        assert largest == pytest.approx(1.0, abs=0.02)


def test_bars_images_show_a_bar_of_their_label():
    data = registry.build("datamodule", "bars", n_images=100, image_size=8, noise=0.0)
    data.setup("fit")
    images, labels = data.train_dataset.tensors
    rows, columns = images[:, 0].amax(dim=2), images[:, 0].amax(dim=1)  # (N, S): brightest pixel per row, column
    horizontal = (rows == 1).sum(dim=1) == 1  # one lit row: a horizontal bar
    assert torch.equal(horizontal, labels == 0) and torch.equal((columns == 1).sum(dim=1) == 1, labels == 1)


def test_the_spectral_gan_experiment_trains_from_its_yaml(tmp_path):
    config = EXPERIMENTS / "plugin_spectral_gan_bars.yaml"
    assert yaml.safe_load(config.read_text())["model"]["init_args"]["loss"] == {"name": "relativistic"}
    run_dir = run_command(tmp_path, "fit", "--config", str(config), "--data.init_args.n_images", "200")
    metrics = read_metrics(run_dir)
    assert torch.isfinite(torch.tensor([metrics["train/d_loss"], metrics["train/g_loss"]])).all()
    assert (run_dir / "samples" / "final.png").is_file()
