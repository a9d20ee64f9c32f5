"""DF-GAN: the deep fusion block, the matching-aware gradient penalty, its discriminator loss, training from the
YAMLs and ``generate --text``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import EXPERIMENTS, cli_error, read_metrics, run_cli
from test_stackgan import as_pixels, captioned_cells

from illusioncraft.cli import main
from illusioncraft.models.gan.dfgan import DFGAN
from illusioncraft.models.gan.loop import Generated
from illusioncraft.nn.networks.dfgan import (
    DeepFusion,
    FusionDiscriminator,
    FusionGenerator,
    SentenceAffine,
    channel_plan,
    matching_aware_penalty,
)
from illusioncraft.text import TextEncoder

SMALL = ["--data.init_args.n_images", "120", "--data.init_args.batch_size", "16", "--data.init_args.image_size", "16",
         "--model.init_args.width", "4", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
         "--trainer.limit_val_batches", "1", "--trainer.log_every_n_steps", "1",
         "--trainer.callbacks+=text_image_metrics", "--trainer.callbacks.n_samples=24"]


def set_mlp(mlp: torch.nn.Sequential, w1: float, b1: float, w2: float, b2: float) -> None:
    """A 1 -> 1 -> 1 MLP (Linear, ReLU, Linear) with the given weights: w2 * relu(w1 * s + b1) + b2."""
    with torch.no_grad():
        mlp[0].weight.fill_(w1), mlp[0].bias.fill_(b1), mlp[2].weight.fill_(w2), mlp[2].bias.fill_(b2)


def test_fusion_block_matches_a_hand_computation():
    block = DeepFusion(sentence_dim=1, channels=1)
    set_mlp(block.first.gamma, 2.0, 0.0, 0.5, 1.0)  # gamma(1) = 0.5 * relu(2) + 1 = 2, gamma(0) = 1
    set_mlp(block.first.beta, 1.0, 0.0, 1.0, -1.0)  # beta(1) = relu(1) - 1 = 0, beta(0) = -1
    set_mlp(block.second.gamma, 1.0, 0.0, -1.0, 1.0)  # gamma(1) = -relu(1) + 1 = 0, gamma(0) = 1
    set_mlp(block.second.beta, 1.0, 0.0, 0.0, 0.5)  # beta = 0.5
    x = torch.tensor([-1.0, 3.0]).view(1, 1, 1, 2)
    # s = 1: first affine 2x + 0 = [-2, 6]; LeakyReLU(0.2) -> [-0.4, 6]; second 0 * h + 0.5 = [0.5, 0.5]
    assert torch.allclose(block(x, torch.tensor([[1.0]])), torch.tensor([0.5, 0.5]).view(1, 1, 1, 2))
    # s = 0: gamma_1 = 0.5 * relu(0) + 1 = 1, beta_1 = -1 -> [-2, 2] -> [-0.4, 2];
    # gamma_2 = 1, beta_2 = 0.5 -> [0.1, 2.5]; LeakyReLU -> [0.1, 2.5]
    assert torch.allclose(block(x, torch.tensor([[0.0]])), torch.tensor([0.1, 2.5]).view(1, 1, 1, 2))


def test_sentence_affine_starts_as_the_identity():
    affine = SentenceAffine(sentence_dim=5, channels=3)
    x = torch.randn(2, 3, 4, 4)
    assert torch.equal(affine(x, torch.randn(2, 5)), x)


def test_networks_follow_dfgans_channel_plan_and_image_size():
    assert channel_plan(8, 64) == [64, 64, 32, 16, 8]  # width * [8, 8, 4, 2, 1]: 4 -> 8 -> 16 -> 32 -> 64 px
    generator = FusionGenerator(noise_dim=6, sentence_dim=5, image_size=32, width=2)
    images = generator(torch.randn(3, 6), torch.randn(3, 5))
    assert images.shape == (3, 3, 32, 32) and images.abs().max() <= 1
    discriminator = FusionDiscriminator(image_size=32, sentence_dim=5, width=2)
    assert discriminator.features(images).shape == (3, 16, 4, 4)
    assert discriminator.judge(discriminator.features(images), torch.randn(3, 5)).shape == (3,)
    with pytest.raises(Exception, match="4 times a power of two"):
        FusionGenerator(6, 5, image_size=48)


class QuadraticCritic(torch.nn.Module):
    """D(x, s) = 0.5 ||x||^2 + a . s per row: d D / d x = x and d D / d s = a, so the MA-GP is known in closed form."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = torch.nn.Parameter(a)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.pow(2).flatten(1).sum(1) + s @ self.a


def test_matching_aware_penalty_equals_its_formula_on_a_tiny_discriminator():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    s = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    a = torch.randn(5, dtype=torch.float64)
    logits = QuadraticCritic(a)(x, s)
    norms = (x.detach().pow(2).flatten(1).sum(1) + a.pow(2).sum()).sqrt()  # ||(x_i, a)|| per row
    assert torch.allclose(matching_aware_penalty(logits, x, s), 2.0 * norms.pow(6).mean())
    assert torch.allclose(matching_aware_penalty(logits, x, s, weight=0.5, power=2.0), 0.5 * norms.pow(2).mean())


def test_matching_aware_penalty_on_a_tiny_fusion_discriminator_equals_per_pair_autograd_gradients():
    torch.manual_seed(0)
    critic = FusionDiscriminator(image_size=8, sentence_dim=3, width=1).double()
    with torch.no_grad():
        for block in critic.blocks:
            block.gamma.fill_(0.7)  # the residual branch in play, not only the shortcut
    images = torch.randn(3, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    sentences = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    penalty = matching_aware_penalty(critic.judge(critic.features(images), sentences), images, sentences)
    def one_logit(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return critic.judge(critic.features(x[None]), s[None])[0]

    norms = []
    for x, s in zip(images.detach(), sentences.detach(), strict=True):  # one pair at a time: its own gradient
        grad_x, grad_s = torch.autograd.functional.jacobian(one_logit, (x, s))
        norms.append(torch.cat([grad_x.flatten(), grad_s.flatten()]).norm())
    assert torch.allclose(penalty, 2.0 * torch.stack(norms).pow(6).mean())


def test_matching_aware_penalty_trains_the_discriminator():
    a = torch.ones(5, dtype=torch.float64)
    critic = QuadraticCritic(a.clone())
    x, s = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True), torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    matching_aware_penalty(critic(x, s), x, s, weight=1.0, power=2.0).backward()  # ||a||^2: gradient 2a
    assert torch.allclose(critic.a.grad, 2 * a)


def tiny_dfgan(**kwargs) -> DFGAN:
    text = TextEncoder(max_length=8).fit(["a red circle", "a blue square on black", "two green triangles"]).state()
    return DFGAN(text=text, width=2, text_dim=6, latent_dim=4, data_shape=(3, 16, 16), **kwargs)


def test_discriminator_loss_is_the_matching_aware_hinge_plus_magp_on_real_and_right_captions():
    torch.manual_seed(0)
    model = tiny_dfgan()
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    right, wrong = torch.randint(2, 8, (4, 8)), torch.randint(2, 8, (4, 8))
    d = model.discriminator
    real_right, fake_right, real_wrong = d(real, right), d(fake, right), d(real, wrong)
    hinge = (torch.relu(1 - real_right).mean() + 0.5 * torch.relu(1 + fake_right).mean()
             + 0.5 * torch.relu(1 + real_wrong).mean())
    images, sentences = real.clone().requires_grad_(True), d.text_encoder(right)
    penalty = matching_aware_penalty(d.net.judge(d.net.features(images), sentences), images, sentences)
    loss, logged = model.discriminator_loss(real, Generated(fake), right, {"wrong_tokens": wrong})
    assert torch.allclose(loss, hinge + penalty, atol=1e-6)
    assert torch.allclose(logged["train/magp"], penalty.detach())
    model.magp_weight = 0.0
    assert torch.allclose(model.discriminator_loss(real, Generated(fake), right, {"wrong_tokens": wrong})[0], hinge, atol=1e-6)


def test_generator_loss_is_minus_the_mean_logit_of_its_images_with_the_right_caption():
    torch.manual_seed(0)
    model = tiny_dfgan()
    right = torch.randint(2, 8, (4, 8))
    torch.manual_seed(1)
    loss, _ = model.generator_loss(torch.zeros(4, 3, 16, 16), right, {})
    torch.manual_seed(1)
    fake = model.generate(model.noise(4), right).samples
    assert torch.allclose(loss, -model.discriminator(fake, right).mean(), atol=1e-6)


def test_bad_magp_settings_are_one_line_errors(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "dfgan_shapes.yaml"), "--model.init_args.magp_power", "0",
                     "--run.dir", str(tmp_path / "run"))
    assert "magp_power > 0" in line


def test_an_image_size_that_is_not_four_times_a_power_of_two_is_a_one_line_error(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "dfgan_shapes.yaml"), *SMALL,
                     "--data.init_args.image_size", "24", "--run.dir", str(tmp_path / "run"), "--run.loggers", "[csv]")
    assert "4 times a power of two" in line and "24" in line


@pytest.fixture(scope="module")
def trained_dfgan(tmp_path_factory):
    """DF-GAN trained for a few steps at 16 px from the shapes YAML."""
    return run_cli(tmp_path_factory.mktemp("dfgan"), "fit", "--config", str(EXPERIMENTS / "dfgan_shapes.yaml"), *SMALL)


def test_shapes_yaml_trains_and_logs_magp_attribute_accuracy_and_fid(trained_dfgan):
    metrics = read_metrics(trained_dfgan)
    assert metrics["train/magp"] > 0 and 0 <= metrics["val/attribute_accuracy"] <= 1 and metrics["val/fid"] > 0
    assert (trained_dfgan / "samples" / "final.png").is_file()


def test_generate_from_text_with_a_dfgan_checkpoint_draws_each_caption_in_its_row(trained_dfgan, tmp_path):
    from illusioncraft.generate import load_generator

    checkpoint = trained_dfgan / "checkpoints" / "last.ckpt"
    captions = ["a small red circle on a black background", "a large blue square on a white background"]
    out = tmp_path / "out.png"
    main(["generate", "--ckpt", str(checkpoint), "--n", "3", "--out", str(out), *[a for c in captions for a in ("--text", c)]])
    cells, _ = captioned_cells(out, rows=2, per_row=3, size=16, scale=2)
    model = load_generator(checkpoint)
    assert isinstance(model, DFGAN)
    tokens, _ = model.encode_captions(captions)
    torch.manual_seed(0)  # generate's default seed: the same noise in every row
    noise = model.noise(3).repeat(2, 1)
    assert np.array_equal(cells, as_pixels(model.sample(noise=noise, condition=tokens.repeat_interleave(3, 0))))
    assert not np.array_equal(cells[:3], cells[3:])


def test_cub_yaml_trains_on_stackgans_own_layout(tmp_path):
    from standard_files import write_stackgan_layout

    write_stackgan_layout(tmp_path / "birds", embedding_dim=16)
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "dfgan_cub.yaml"),
                      "--data.init_args.root", str(tmp_path / "birds"), "--data.init_args.batch_size", "2",
                      "--data.init_args.image_size", "16", "--data.init_args.min_freq", "1", "--model.init_args.width", "2",
                      "--model.init_args.text_dim", "16", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                      "--trainer.limit_val_batches", "1", "--trainer.log_every_n_steps", "1")
    assert read_metrics(run_dir)["train/magp"] > 0 and (run_dir / "samples" / "final.png").is_file()


def test_dfgan_takes_the_loops_regularisers_and_ada(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "dfgan_shapes.yaml"), *SMALL,
                      "--model.init_args.regularizers", "[{name: r1, weight: 1}, lecam]",
                      "--model.init_args.diffaugment", "translation", "--model.init_args.ada", "{target: 0.6, interval: 1}")
    assert {"train/d_r1", "train/d_lecam", "train/ada_p", "train/magp"} <= read_metrics(run_dir).keys()
