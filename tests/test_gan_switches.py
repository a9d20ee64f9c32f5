"""Switches of the GAN loop and its networks: spectral norm, self-attention, SNGAN, R1/R2, LeCam, bCR/zCR, ADA,
truncation; each against its formula or a hand-made case."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import EXPERIMENTS, TINY, cli_error, read_metrics, run_cli
from torch import nn

from illusioncraft import registry
from illusioncraft.augment.adaptive import AdaptiveAugmentation
from illusioncraft.generate import draw, load_generator
from illusioncraft.models.gan.dcgan import DCGAN
from illusioncraft.models.gan.regularizers.base import JudgedBatch, Regularization
from illusioncraft.nn.networks.blocks import SelfAttention, largest_singular_value
from illusioncraft.nn.networks.family import build_networks

IMAGE = (1, 16, 16)


def tiny_dcgan(**switches) -> DCGAN:
    torch.manual_seed(0)
    return DCGAN(latent_dim=8, width=4, data_shape=IMAGE, **switches)


class Quadratic(nn.Module):
    """D(x) = sum(a * x^2) per sample: grad_x D = 2 a x, so every gradient norm is known in closed form."""

    def __init__(self, a: float) -> None:
        super().__init__()
        self.a = a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.a * x**2).flatten(1).sum(dim=1)


class StubModel:
    """The two hooks regularisers call, around a plain discriminator and generator."""

    def __init__(self, discriminator: nn.Module, generator: nn.Module | None = None, latent_dim: int = 4) -> None:
        self.discriminator, self.generator, self.latent_dim = discriminator, generator, latent_dim

    def discriminate(self, x, condition=None):
        return self.discriminator(x)

    def generate(self, noise, condition=None):
        from illusioncraft.models.gan.loop import Generated

        return Generated(self.generator(noise))

    def noise(self, n):
        return torch.randn(n, self.latent_dim)


# -- spectral normalisation, self-attention, SNGAN ---------------------------------------------------------------
@pytest.mark.parametrize("family", ["dcgan", "sngan"])
def test_spectral_norm_brings_every_discriminator_weight_to_singular_value_one(family):
    torch.manual_seed(0)
    _, discriminator = build_networks(family, 8, IMAGE, IMAGE, {"discriminator_norm": "spectral"}, width=8)
    layers = [m for m in discriminator.modules() if hasattr(m, "parametrizations")]
    assert len(layers) == sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in discriminator.modules())
    discriminator.train()
    for _ in range(50):  # one power iteration per training forward
        discriminator(torch.randn(4, *IMAGE))
    sigmas = [largest_singular_value(m.weight) for m in layers]
    assert sigmas == pytest.approx([1.0] * len(layers), abs=0.02)


def test_generator_spectral_norm_reaches_transposed_convolutions():
    torch.manual_seed(0)
    generator, _ = build_networks("dcgan", 8, IMAGE, IMAGE, {"generator_spectral_norm": True}, width=8)
    layers = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert all(hasattr(m, "parametrizations") for m in layers)
    for _ in range(50):
        generator(torch.randn(4, 8))
    assert [largest_singular_value(m.weight, transposed=True) for m in layers] == pytest.approx([1.0] * len(layers), abs=0.02)


def test_the_default_dcgan_has_no_spectral_norm_and_no_attention():
    model = tiny_dcgan()
    modules = [*model.generator.modules(), *model.discriminator.modules()]
    assert not any(hasattr(m, "parametrizations") or isinstance(m, SelfAttention) for m in modules)


def test_self_attention_starts_as_the_identity_and_mixes_positions_once_gamma_moves():
    torch.manual_seed(0)
    block, x = SelfAttention(16), torch.randn(2, 16, 8, 8)
    torch.testing.assert_close(block(x), x)  # gamma = 0
    block.gamma.data.fill_(1.0)
    changed = x.clone()
    changed[:, :, 0, 0] += 1.0  # one position changes: every other position's output moves with it
    assert (block(changed) - block(x))[:, :, 7, 7].abs().max() > 0


@pytest.mark.parametrize(("family", "attention"), [("dcgan", 8), ("sngan", 8)])
def test_attention_sits_at_the_asked_side_in_both_networks(family, attention):
    generator, discriminator = build_networks(family, 8, IMAGE, IMAGE, {"attention": attention}, width=8)
    seen = []
    for network, input_ in ((generator, torch.randn(2, 8)), (discriminator, torch.randn(2, *IMAGE))):
        blocks = [m for m in network.modules() if isinstance(m, SelfAttention)]
        assert len(blocks) == 1
        blocks[0].register_forward_hook(lambda module, args, out: seen.append(out.shape[-1]))
        network(input_)
    assert seen == [attention, attention]


def test_attention_at_a_side_the_networks_lack_is_one_line(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "dcgan_digits.yaml"), "--model.init_args.attention", "5",
                     "--trainer.fast_dev_run", "true", "--run.dir", str(tmp_path / "r"), "--run.loggers", "[]")
    assert "attention must be the side of an inner feature map, one of 8; got 5" in line


def test_a_switch_a_family_lacks_is_an_error_not_ignored():
    with pytest.raises(Exception, match="network family 'mlp' has no option 'attention'"):
        build_networks("mlp", 2, (2,), (2,), {"attention": 8})


@pytest.mark.parametrize("side", [16, 32, 64])
def test_sngan_networks_draw_and_judge_images_of_each_side(side):
    torch.manual_seed(0)
    generator, discriminator = build_networks("sngan", 16, (3, side, side), (3, side, side), width=8)
    images = generator(torch.randn(2, 16))
    assert images.shape == (2, 3, side, side) and images.abs().max() <= 1
    assert discriminator(images).shape == (2,)


# -- regularisers ----------------------------------------------------------------------------------------------
def judged(model, real, fake, noise=None, logits=None) -> JudgedBatch:
    return JudgedBatch(model, real, fake, torch.zeros(real.shape[0], 4) if noise is None else noise, None, logits)


@pytest.mark.parametrize(("name", "on_real"), [("r1", True), ("r2", False)])
def test_zero_centred_penalties_equal_their_formula(name, on_real):
    # D(x) = sum(a x^2): ||grad D||^2 = 4 a^2 sum(x^2); R = (gamma / 2) * E[4 a^2 sum(x^2)]
    real, fake, a, gamma = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4), 0.7, 10.0
    term = registry.build("regularizer", name, weight=gamma).discriminator_term(judged(StubModel(Quadratic(a)), real, fake))
    samples = real if on_real else fake
    expected = gamma / 2 * float((4 * a**2 * samples.pow(2).flatten(1).sum(dim=1)).mean())
    assert float(term) == pytest.approx(expected, rel=1e-5)


def test_lazy_regularization_runs_every_k_steps_with_k_times_the_weight():
    real = torch.randn(4, 2)
    regularization = Regularization([{"name": "r1", "weight": 2.0, "every": 4}])
    batch = judged(StubModel(Quadratic(1.0)), real, real)
    once = float(registry.build("regularizer", "r1", weight=2.0).discriminator_term(batch))
    totals = [regularization.discriminator(batch, step)[0] for step in range(6)]
    assert [t is None for t in totals] == [False, True, True, True, False, True]
    assert float(totals[0]) == pytest.approx(4 * once)
    assert float(totals[4]) == pytest.approx(4 * once)


def test_lecam_anchors_are_moving_averages_of_the_mean_logits():
    lecam = registry.build("regularizer", "lecam", weight=1.0, decay=0.9)
    sequence = [(torch.tensor([1.0, 3.0]), torch.tensor([-1.0, -3.0])), (torch.tensor([4.0]), torch.tensor([0.0])),
                (torch.tensor([-2.0, 0.0]), torch.tensor([2.0, 4.0]))]
    anchor_real = anchor_fake = None
    for real, fake in sequence:
        lecam.discriminator_term(judged(None, real, fake, logits=(real, fake)))
        # the first step sets each anchor; then anchor <- 0.9 anchor + 0.1 mean
        anchor_real = float(real.mean()) if anchor_real is None else 0.9 * anchor_real + 0.1 * float(real.mean())
        anchor_fake = float(fake.mean()) if anchor_fake is None else 0.9 * anchor_fake + 0.1 * float(fake.mean())
        assert float(lecam.anchor_real) == pytest.approx(anchor_real)
        assert float(lecam.anchor_fake) == pytest.approx(anchor_fake)


def test_lecam_term_is_the_one_sided_distance_to_the_other_sides_anchor():
    lecam = registry.build("regularizer", "lecam", weight=0.5)
    lecam.anchor_real.fill_(1.0), lecam.anchor_fake.fill_(-1.0), lecam.updates.fill_(1)
    lecam.decay = 0.999999  # anchors (almost) held where they are
    real, fake = torch.tensor([2.0, -3.0]), torch.tensor([0.5, -2.0])
    term = lecam.discriminator_term(judged(None, real, fake, logits=(real, fake)))
    # relu(D(x) - (-1))^2: 9, 0; relu(1 - D(G(z)))^2: 0.25, 9 -> 0.5 * (4.5 + 4.625)
    assert float(term) == pytest.approx(0.5 * ((9 + 0) / 2 + (0.25 + 9) / 2), rel=1e-4)


def test_bcr_is_zero_when_the_augmentation_is_the_identity_and_not_otherwise():
    model = tiny_dcgan()
    real, fake = torch.rand(8, *IMAGE) * 2 - 1, torch.rand(8, *IMAGE) * 2 - 1
    logits = (model.discriminate(real), model.discriminate(fake))
    identity = registry.build("regularizer", "bcr", policy="")
    assert float(identity.discriminator_term(judged(model, real, fake, logits=logits))) == 0.0
    shifted = registry.build("regularizer", "bcr", policy="translation")
    assert float(shifted.discriminator_term(judged(model, real, fake, logits=logits))) > 0.0


def test_zcr_terms_vanish_without_noise_and_follow_the_formula_with_it():
    torch.manual_seed(0)
    generator, discriminator = nn.Linear(4, 6), nn.Linear(6, 1)
    model = StubModel(lambda x: discriminator(x).flatten(), generator)
    noise = torch.randn(5, 4)
    fake = generator(noise).detach()
    logits = (discriminator(fake).flatten(), discriminator(fake).flatten())
    still = registry.build("regularizer", "zcr", sigma=0.0)
    assert float(still.discriminator_term(judged(model, fake, fake, noise, logits))) == 0.0
    assert float(still.generator_term(model, fake, None)) == 0.0
    zcr = registry.build("regularizer", "zcr", weight_generator=0.5, sigma=0.1)
    torch.manual_seed(1)
    term = zcr.generator_term(model, fake, None)
    torch.manual_seed(1)
    z = torch.randn(5, 4)
    shifted = z + 0.1 * torch.randn_like(z)
    assert float(term) == pytest.approx(-0.5 * float(((generator(shifted) - generator(z)) ** 2).mean()), rel=1e-5)


# -- adaptive augmentation -----------------------------------------------------------------------------------------
def test_ada_p_rises_while_the_discriminator_is_sure_of_every_real_image():
    ada = AdaptiveAugmentation("translation", target=0.6, interval=2, ramp_images=100)
    for _ in range(6):
        ada.observe(torch.full((10,), 5.0), images=10)  # r_t = 1 > 0.6
    assert float(ada.p) == pytest.approx(3 * 20 / 100)  # three adjustments of (2 steps x 10 images) / 100


def test_ada_p_falls_while_the_discriminator_cannot_tell():
    ada = AdaptiveAugmentation("translation", target=0.6, interval=1, ramp_images=100, initial_p=0.5)
    for _ in range(3):
        ada.observe(torch.tensor([3.0, -3.0, 1.0, -1.0]), images=10)  # r_t = 0 < 0.6
    assert float(ada.p) == pytest.approx(0.5 - 3 * 10 / 100)


class AlwaysSure(nn.Module):
    """A discriminator that calls every input real with logit 10 (one parameter, so it has an optimiser)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return 10.0 + 0 * self.bias + 0 * x.flatten(1).sum(dim=1)


def test_ada_in_the_loop_raises_p_against_a_sure_discriminator_and_keeps_it_in_checkpoints(tmp_path):
    from lightning.pytorch import Trainer

    model = tiny_dcgan(ada={"target": 0.6, "interval": 1, "ramp_images": 640})
    model.discriminator = AlwaysSure()
    data = registry.build("datamodule", "digits", image_size=16, normalize=False, batch_size=64)
    trainer = Trainer(max_steps=8, logger=False, enable_progress_bar=False, enable_model_summary=False,
                      limit_val_batches=0, default_root_dir=tmp_path, callbacks=[])
    trainer.fit(model, data)
    assert float(model.adaptive_augment.p) == pytest.approx(4 * 64 / 640)  # 4 discriminator steps (8 optimizer steps)
    checkpoint = tmp_path / "ada.ckpt"
    trainer.save_checkpoint(checkpoint)
    assert float(torch.load(checkpoint, weights_only=True)["state_dict"]["adaptive_augment.p"]) == pytest.approx(0.4)


# -- the switches from YAML ------------------------------------------------------------------------------------------
def test_every_switch_trains_from_yaml_and_logs_its_terms(tmp_path):
    config = tmp_path / "switches.yaml"
    config.write_text("""
model:
  class_path: dcgan
  init_args:
    latent_dim: 8
    width: 4
    discriminator_norm: spectral
    generator_spectral_norm: true
    attention: 8
    ema_decay: 0.9
    diffaugment: translation,cutout
    ada: {target: 0.6, interval: 1, ramp_images: 1000}
    regularizers:
      - {name: r1, weight: 10, every: 2}
      - r2
      - lecam
      - bcr
      - zcr
data:
  class_path: digits
  init_args: {image_size: 16, normalize: false, batch_size: 16}
""")
    run_dir = run_cli(tmp_path, "fit", "--config", str(config), *TINY)
    logged = read_metrics(run_dir)
    assert {"train/d_r1", "train/d_r2", "train/d_lecam", "train/d_bcr", "train/d_zcr", "train/g_zcr",
            "train/ada_p"} <= logged.keys()
    assert 0.0 <= logged["train/ada_p"] <= 2 * 16 / 1000  # p moves at most 16 / 1000 per discriminator step


def test_unknown_regularizer_is_one_line_with_the_closest_name(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "dcgan_digits.yaml"), "--model.init_args.regularizers",
                     "[{name: lecamm}]", "--trainer.fast_dev_run", "true", "--run.dir", str(tmp_path / "r"),
                     "--run.loggers", "[]")
    assert "lecam" in line


# -- truncation --------------------------------------------------------------------------------------------------
def test_truncation_zero_gives_every_sample_the_mean_latents_image():
    model = tiny_dcgan().eval()
    noise = torch.randn(6, 8)
    mean_image = model.sample(noise=torch.zeros(1, 8))  # the mean of N(0, I) is the zero vector
    torch.testing.assert_close(draw(model, noise, truncation=0.0), mean_image.expand(6, *IMAGE))
    torch.testing.assert_close(draw(model, noise, truncation=1.0), model.sample(noise=noise))
    torch.testing.assert_close(draw(model, noise, truncation=0.5), model.sample(noise=0.5 * noise))


def test_generate_and_evaluate_take_truncation(tmp_path, capsys):
    from illusioncraft.cli import main
    from illusioncraft.evaluate.sources import GeneratedImages

    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "dcgan_digits.yaml"), *TINY,
                      "--trainer.callbacks", "[]")
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    main(["generate", "--ckpt", str(checkpoint), "--n", "4", "--out", str(tmp_path / "t.png"), "--truncation", "0.5"])
    assert (tmp_path / "t.png").is_file()
    images = GeneratedImages(load_generator(checkpoint), 4, seed=0, truncation=0.0).batch(0, 4)
    assert torch.equal(images, images[:1].expand_as(images))  # psi = 0: one image, the mean latent's
    assert "--truncation must be in [0, 1]" in cli_error(capsys, "generate", "--ckpt", str(checkpoint), "--out",
                                                          str(tmp_path / "x.png"), "--truncation", "1.5")
    assert "--truncation must be in [0, 1]" in cli_error(capsys, "evaluate", "--ckpt", str(checkpoint), "--data", "digits",
                                                          "--truncation", "-0.1")


def test_sngan_trains_from_its_yaml(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "sngan_stacked_digits.yaml"), *TINY,
                      "--model.init_args.width", "8", "--data.init_args.n_samples", "200")
    assert (run_dir / "samples" / "final.png").is_file()
    assert math.isfinite(read_metrics(run_dir)["train/d_loss"])


def test_caption_gans_take_the_regularisers_and_ada(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "stackgan_shapes_stage1.yaml"), *TINY,
                      "--model.init_args.regularizers", "[{name: r1, weight: 1}, lecam]",
                      "--model.init_args.ada", "{target: 0.6, interval: 1}")
    assert {"train/d_r1", "train/d_lecam", "train/ada_p"} <= read_metrics(run_dir).keys()
