"""Adversarial losses, the gradient penalty, the shared GAN loop, mixtures and mode metrics."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import EXPERIMENTS, TINY, cli_error, read_metrics, run_cli

from illusioncraft import registry
from illusioncraft.data.mixtures import Grid25, Ring8
from illusioncraft.metrics.modes import mode_coverage
from illusioncraft.models.gan.conditional import ConditionalGAN
from illusioncraft.models.gan.dcgan import DCGAN
from illusioncraft.models.gan.gan import GAN
from illusioncraft.models.gan.loop import Generated, gradient_penalty
from illusioncraft.models.gan.unrolled import UnrolledGAN
from illusioncraft.models.gan.wgan import WGAN, WGANGP

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-0.5, 1.5, 0.0])


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


@pytest.mark.parametrize(
    ("name", "d_expected", "g_expected"),
    [
        # D: -mean log D(x) - mean log(1 - D(G(z))); minimax G: mean log(1 - D(G(z)))
        ("minimax", -sum(map(log_sigmoid, REAL.tolist())) / 3 - sum(log_sigmoid(-f) for f in FAKE.tolist()) / 3,
         sum(log_sigmoid(-f) for f in FAKE.tolist()) / 3),
        ("non_saturating", None, -sum(map(log_sigmoid, FAKE.tolist())) / 3),
        ("wasserstein", float(FAKE.mean() - REAL.mean()), -float(FAKE.mean())),
        ("wasserstein_gp", float(FAKE.mean() - REAL.mean()), -float(FAKE.mean())),
        ("hinge", (max(0, 1 - 2.0) + max(0, 1 + 1.0) + max(0, 1 - 0.5)) / 3 + (max(0, 0.5) + max(0, 2.5) + 1) / 3,
         -float(FAKE.mean())),
        ("least_squares", 0.5 * ((1.0**2 + 2.0**2 + 0.5**2) / 3) + 0.5 * ((0.25 + 2.25 + 0) / 3),
         0.5 * ((1.5**2 + 0.5**2 + 1.0) / 3)),
    ],
)
def test_adversarial_losses_match_hand_computed_values(name, d_expected, g_expected):
    loss = registry.build("loss", name)
    if d_expected is not None:
        assert float(loss.discriminator(REAL, FAKE)) == pytest.approx(d_expected, rel=1e-6)
    assert float(loss.generator(FAKE)) == pytest.approx(g_expected, rel=1e-6)


def test_minimax_generator_gradient_vanishes_where_non_saturating_does_not():
    # D(G(z)) near 0 (logit -8): d/dlogit of log(1 - sigmoid) is -sigmoid ~ -3e-4; of -log sigmoid is -(1 - sigmoid) ~ -1
    low = torch.tensor(-8.0)
    for name, expected in (("minimax", -torch.sigmoid(low)), ("non_saturating", -(1 - torch.sigmoid(low)))):
        logit = torch.tensor([-8.0], requires_grad=True)
        registry.build("loss", name).generator(logit).backward()
        assert float(logit.grad) == pytest.approx(float(expected), rel=1e-5)


def test_gradient_penalty_is_per_sample():
    # D(x) = sum_i w_i * x_i with a different weight per sample row: each sample's gradient norm is its own.
    class RowScaled(torch.nn.Module):
        def forward(self, x):
            scale = torch.arange(1, x.shape[0] + 1, dtype=x.dtype).view(-1, 1)  # sample i has gradient (i + 1) * 1
            return (x * scale).sum(dim=1) / math.sqrt(x.shape[1])

    real, fake = torch.randn(4, 9), torch.randn(4, 9)
    norms = torch.arange(1, 5, dtype=torch.float32)  # per-sample gradient norms 1, 2, 3, 4
    expected = float(((norms - 1) ** 2).mean())  # 3.5; a whole-batch norm would give (sqrt(30) - 1)^2 = 20.04
    assert float(gradient_penalty(RowScaled(), real, fake)) == pytest.approx(expected, rel=1e-5)


def test_mode_metrics_on_hand_made_samples():
    modes, std = Ring8.modes, Ring8.std
    samples = torch.cat([modes[:3] + 0.5 * std, modes[:3] + 0.5 * std, torch.tensor([[5.0, 5.0]])])  # 6 good, 1 bad
    coverage = mode_coverage(samples, modes, std)
    assert coverage.modes_captured == 3
    assert coverage.high_quality == pytest.approx(6 / 7)
    assert coverage.reverse_kl == pytest.approx(math.log(8 / 3))  # uniform over 3 of 8 modes
    perfect = mode_coverage(Grid25.modes, Grid25.modes, Grid25.std)
    assert (perfect.modes_captured, perfect.high_quality, perfect.reverse_kl) == (25, 1.0, pytest.approx(0.0, abs=1e-12))


def test_mixture_samples_sit_on_their_modes():
    data = Ring8(n_samples=4000, batch_size=100)
    data.setup("fit")
    points, labels = data.train_dataset.tensors
    assert float((points - Ring8.modes[labels]).norm(dim=1).max()) < 6 * Ring8.std
    assert len(data.train_dataloader()) == 40 and next(iter(data.train_dataloader()))[0].shape == (100, 2)


def test_n_critic_discriminator_steps_per_generator_step(tmp_path):
    from lightning.pytorch import Trainer

    model = WGANGP(architecture="mlp", n_critic=5, hidden_size=16, depth=1)
    trainer = Trainer(max_steps=-1, max_epochs=1, limit_train_batches=10, limit_val_batches=0, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=tmp_path, callbacks=[])
    trainer.fit(model, datamodule=Ring8(n_samples=1000, batch_size=50))
    assert (model.discriminator_steps, model.generator_steps) == (10, 2)


def test_weight_clipping_keeps_the_critic_in_range(tmp_path):
    from lightning.pytorch import Trainer

    model = WGAN(architecture="mlp", weight_clip=0.01, hidden_size=16, depth=1)
    trainer = Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=Ring8(n_samples=1000, batch_size=50))
    assert max(float(p.abs().max()) for p in model.discriminator.parameters()) <= 0.01 + 1e-7


def test_short_training_on_ring8_moves_samples_toward_the_modes(tmp_path):
    before = GAN(data_shape=(2,))
    torch.manual_seed(0)
    start = mode_coverage(before.sample(2000), Ring8.modes, 0.1)  # a looser 3-std radius to see progress early
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "gan_ring8.yaml"), "--trainer.max_epochs", "3",
                      "--data.init_args.n_samples", "20000")
    trained = GAN.load_from_checkpoint(next((run_dir / "checkpoints").glob("*.ckpt")), weights_only=False)
    end = mode_coverage(trained.sample(2000), Ring8.modes, 0.1)
    assert end.high_quality > start.high_quality + 0.2
    assert {"val/modes", "val/high_quality", "val/reverse_kl"} <= read_metrics(run_dir).keys()
    assert (run_dir / "samples" / "final.png").is_file()


@pytest.mark.parametrize(
    "experiment",
    [
        "gan_ring8.yaml", "gan_grid25.yaml", "unrolled_ring8.yaml", "wgan_gp_grid25.yaml", "dcgan_digits.yaml",
        "wgan_gp_digits.yaml", "cgan_digits.yaml",
    ],
)
def test_gan_experiments_fit_and_write_sample_pictures(tmp_path, experiment):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / experiment), *TINY)
    assert (run_dir / "samples" / "final.png").is_file()
    assert "train/d_loss" in read_metrics(run_dir)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (["--model.init_args.n_critic", "0"], "n_critic must be >= 1, got 0"),
        (["--model.init_args.gradient_penalty", "-1"], "gradient_penalty (lambda) must be >= 0, got -1.0"),
        (["--model.init_args.pack", "0"], "pack must be >= 1, got 0"),
        (["--model.init_args.lr_decay", "cosine"], "lr_decay"),
    ],
)
def test_bad_gan_settings_are_one_line_errors(tmp_path, capsys, override, expected):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "wgan_gp_grid25.yaml"), *override,
                     "--trainer.fast_dev_run", "true", "--run.dir", str(tmp_path / "r"), "--run.loggers", "[]")
    assert expected in line


def test_a_classification_loss_is_not_an_adversarial_loss():
    with pytest.raises(Exception, match="'cross_entropy' is not an adversarial loss"):
        GAN(loss="cross_entropy")


def test_dcgan_networks_follow_the_guidelines():
    model = DCGAN(data_shape=(1, 16, 16))
    g_layers, d_layers = list(model.generator.net), list(model.discriminator.net)
    assert isinstance(g_layers[-1], torch.nn.Tanh) and not isinstance(g_layers[-2], torch.nn.BatchNorm2d)
    assert isinstance(d_layers[1], torch.nn.LeakyReLU) and d_layers[1].negative_slope == 0.2  # no norm on D's input
    assert model.generator(torch.randn(3, 64)).shape == (3, 1, 16, 16)
    assert model.discriminator(torch.randn(3, 1, 16, 16)).shape == (3,)
    weights = torch.cat([m.weight.flatten() for m in model.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert float(weights.std()) == pytest.approx(0.02, rel=0.15)
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in model.discriminator.modules())  # D returns logits


def test_unrolled_generator_loss_looks_ahead_without_training_the_discriminator():
    def generator_gradient(steps: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        torch.manual_seed(0)
        model = UnrolledGAN(unroll_steps=steps, unroll_lr=0.5, hidden_size=16, depth=1, data_shape=(2,))
        real = Ring8.modes[torch.randint(0, 8, (32,))]
        before = [p.detach().clone() for p in model.discriminator.parameters()]
        torch.manual_seed(1)
        model.generator_loss(real, None, None)[0].backward()
        assert all(torch.equal(a, b) for a, b in zip(before, model.discriminator.parameters(), strict=True))
        return torch.cat([p.grad.flatten() for p in model.generator.parameters()]), before

    plain, _ = generator_gradient(0)
    unrolled, _ = generator_gradient(3)
    assert not torch.allclose(plain, unrolled)


def test_unrolled_with_zero_steps_is_the_plain_generator_loss():
    torch.manual_seed(0)
    unrolled = UnrolledGAN(unroll_steps=0, hidden_size=16, depth=1, data_shape=(2,))
    plain = GAN(hidden_size=16, depth=1, data_shape=(2,))
    plain.load_state_dict(unrolled.state_dict())
    torch.manual_seed(5)
    a = unrolled.generator_loss(torch.zeros(8, 2), None, None)[0]
    torch.manual_seed(5)
    b = plain.generator_loss(torch.zeros(8, 2), None, None)[0]
    torch.testing.assert_close(a, b)


@pytest.fixture(scope="module")
def trained_ring_checkpoint(tmp_path_factory):
    run_dir = run_cli(tmp_path_factory.mktemp("ring"), "fit", "--config", str(EXPERIMENTS / "gan_ring8.yaml"), *TINY)
    return run_dir / "checkpoints" / "last.ckpt"


def test_generate_writes_a_png_from_a_gan_checkpoint(tmp_path, trained_ring_checkpoint):
    from PIL import Image

    from illusioncraft.cli import main

    out = tmp_path / "samples.png"
    main(["generate", "--ckpt", str(trained_ring_checkpoint), "--n", "200", "--out", str(out)])
    assert Image.open(out).size[0] > 100


def test_generate_refuses_other_checkpoints_and_bad_files(tmp_path, capsys):
    classifier_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "logreg_digits.yaml"), *TINY)
    out = str(tmp_path / "x.png")
    line = cli_error(capsys, "generate", "--ckpt", str(classifier_dir / "checkpoints" / "last.ckpt"), "--out", out)
    assert "holds a LogisticRegression, not a generator" in line
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    assert "cannot read checkpoint" in cli_error(capsys, "generate", "--ckpt", str(garbage), "--out", out)
    assert "does not exist" in cli_error(capsys, "generate", "--ckpt", str(tmp_path / "none.ckpt"), "--out", out)


def test_generate_label_needs_a_conditional_model(tmp_path, capsys, trained_ring_checkpoint):
    line = cli_error(capsys, "generate", "--ckpt", str(trained_ring_checkpoint), "--out", str(tmp_path / "x.png"),
                     "--label", "3")
    assert "is not class-conditional" in line


def test_conditional_gan_networks_take_the_label():
    for architecture, shape in (("dcgan", (1, 16, 16)), ("mlp", (1, 8, 8))):
        model = ConditionalGAN(architecture=architecture, num_classes=10, data_shape=shape).eval()
        z = torch.randn(4, 64)
        threes, sevens = model(z, torch.full((4,), 3)), model(z, torch.full((4,), 7))
        assert threes.shape == (4, *shape) and not torch.allclose(threes, sevens)
        assert model.discriminate(threes, torch.full((4,), 3)).shape == (4,)
        assert model.sample(20).shape == (20, *shape)  # labels 0..9 in turn by default


def test_generate_draws_the_asked_class_and_refuses_unknown_ones(tmp_path, capsys):
    from PIL import Image

    from illusioncraft.cli import main

    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "cgan_digits.yaml"), *TINY)
    checkpoint = str(run_dir / "checkpoints" / "last.ckpt")
    out = tmp_path / "sevens.png"
    main(["generate", "--ckpt", checkpoint, "--label", "7", "--n", "16", "--out", str(out)])
    assert Image.open(out).size[0] > 0
    assert "label 12 is outside the model's classes 0..9" in cli_error(
        capsys, "generate", "--ckpt", checkpoint, "--label", "12", "--out", str(out)
    )


def test_diffaugment_reaches_the_discriminator_for_real_and_fake(monkeypatch):
    model = DCGAN(diffaugment="translation", data_shape=(1, 16, 16)).train()
    seen = []
    monkeypatch.setattr(model.discriminator_augment, "forward", lambda x, y: (seen.append(x.shape) or x, y))
    model.discriminator_loss(torch.rand(4, 1, 16, 16) * 2 - 1, Generated(torch.rand(4, 1, 16, 16) * 2 - 1), None, None)
    model.generator_loss(torch.zeros(4, 1, 16, 16), None, None)
    assert len(seen) == 3  # real and fake in the discriminator step, fake in the generator step
    with pytest.raises(Exception, match="unknown policy part"):
        DCGAN(diffaugment="colour", data_shape=(1, 16, 16))


def test_diffaugment_gan_trains_from_its_yaml(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "dcgan_digits_diffaugment.yaml"), *TINY)
    assert "diffaugment: color,translation,cutout" in (run_dir / "config.yaml").read_text()
    assert "train/g_loss" in read_metrics(run_dir)


def test_pack_joins_consecutive_samples_for_the_discriminator():
    model = GAN(pack=4, hidden_size=8, depth=1, data_shape=(2,))
    assert model.discriminator.net[1].in_features == 8  # 4 points of 2 coordinates
    points = torch.arange(20.0).view(10, 2)  # 10 samples: 2 groups of 4, the remainder of 2 left out
    packed = model.packed(points)
    assert packed.shape == (2, 8)
    assert torch.equal(packed[1], torch.arange(8.0, 16.0))  # samples 4..7, in order
    assert model.discriminate(points).shape == (2,)
    images = torch.rand(6, 3, 8, 8)
    assert torch.equal(GAN(pack=2, data_shape=(2,)).packed(images)[2], torch.cat([images[4], images[5]]))
    with pytest.raises(Exception, match=r"a batch of 3 samples is smaller than pack \(4\)"):
        model.packed(points[:3])


def test_packed_gradient_penalty_takes_one_norm_per_discriminator_input(monkeypatch):
    model = WGANGP(architecture="mlp", pack=2, hidden_size=8, depth=1, data_shape=(2,))
    seen = []
    monkeypatch.setattr("illusioncraft.models.gan.loop.gradient_penalty",
                        lambda critic, real, fake: seen.append((real.shape, fake.shape)) or torch.zeros(()))
    model.penalty(torch.randn(6, 2), torch.randn(6, 2), None)
    assert seen == [((3, 4), (3, 4))]


def test_linear_lr_decay_reaches_zero_at_the_end_of_the_run(tmp_path):
    from lightning.pytorch import Callback, Trainer

    rates = []

    class Record(Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            rates.append([group["lr"] for opt in trainer.optimizers for group in opt.param_groups])

    model = GAN(lr_decay="linear", hidden_size=8, depth=1,
                generator_optimizer={"name": "adam", "lr": 0.01}, discriminator_optimizer={"name": "adam", "lr": 0.02})
    trainer = Trainer(max_epochs=2, limit_train_batches=5, limit_val_batches=0, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, callbacks=[Record()])
    trainer.fit(model, datamodule=Ring8(n_samples=1000, batch_size=50))
    assert len(rates) == 10
    assert rates[0] == pytest.approx([0.01, 0.02])  # batch 0 trains at the set rates
    assert rates[5] == pytest.approx([0.005, 0.01])  # half way
    assert rates[-1] == pytest.approx([0.001, 0.002])  # the last of 10 batches: 1/10 of the set rates



def test_ema_decay_keeps_a_moving_average_of_the_generator_that_sampling_uses(tmp_path):
    from lightning.pytorch import Callback, Trainer

    snapshots = []

    class Record(Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            snapshots.append(([p.detach().clone() for p in pl_module.generator.parameters()],
                              [p.detach().clone() for p in pl_module.generator_ema.parameters()]))

    torch.manual_seed(0)
    model = GAN(ema_decay=0.9, hidden_size=8, depth=1)
    trainer = Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, callbacks=[Record()])
    trainer.fit(model, datamodule=Ring8(n_samples=300, batch_size=50))
    average = [p.detach().clone() for p in snapshots[0][1]]  # after step 1: 0.9 * initial + 0.1 * trained
    for trained, kept in snapshots[1:]:
        average = [0.9 * a + 0.1 * t for a, t in zip(average, trained, strict=True)]  # the formula, step by step
        for expected, actual in zip(average, kept, strict=True):
            torch.testing.assert_close(actual, expected)
    assert not all(torch.equal(a, b) for a, b in zip(snapshots[-1][0], snapshots[-1][1], strict=True))
    assert model.sampling_generator is model.generator_ema and not any(p.requires_grad for p in model.generator_ema.parameters())
    z = torch.randn(5, 64)
    torch.testing.assert_close(model.sample(noise=z), model.generator_ema.eval()(z))


def test_gradient_penalty_of_a_conditional_gan_is_taken_through_its_label_aware_discriminator():
    class Critic(torch.nn.Module):  # D(x, y) = (y + 1) * sum(x): the gradient norm is (y + 1) * sqrt(d)
        def forward(self, x, labels):
            return (labels + 1).to(x.dtype) * x.flatten(1).sum(dim=1)

    model = ConditionalGAN(architecture="mlp", num_classes=3, hidden_size=8, depth=1, data_shape=(1, 2, 2))
    model.discriminator = Critic()
    labels = torch.tensor([0, 1, 2])
    penalty = model.penalty(torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2), labels)
    norms = (labels + 1).float() * 2.0  # sqrt(4 pixels) = 2
    assert float(penalty) == pytest.approx(float(((norms - 1) ** 2).mean()), rel=1e-6)


@pytest.mark.parametrize(("model", "norm_layers"), [(WGANGP(data_shape=(1, 16, 16)), 0), (WGAN(data_shape=(1, 16, 16)), 1),
                                                    (DCGAN(data_shape=(1, 16, 16)), 1)])
def test_discriminator_norm_is_batch_norm_except_under_a_gradient_penalty(model, norm_layers):
    found = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())
    assert found == norm_layers  # 16 px: one hidden convolution, normalised unless a per-sample penalty forbids it
    assert model.penalty_weight == (10.0 if isinstance(model, WGANGP) else 0.0)


def test_checkpoints_written_by_version_0_1_load_or_name_the_version(tmp_path, capsys, trained_ring_checkpoint):
    from illusioncraft.checkpoints import VERSION_KEY
    from illusioncraft.cli import main

    checkpoint = torch.load(trained_ring_checkpoint, weights_only=True)
    assert checkpoint[VERSION_KEY] == __import__("illusioncraft").__version__
    old = {key: value for key, value in checkpoint.items() if key != VERSION_KEY}  # 0.1 wrote no version
    old["hyper_parameters"] = {**old["hyper_parameters"], "_class_path": "illusioncraft.models.adversarial.GAN"}
    torch.save(old, tmp_path / "old.ckpt")
    main(["generate", "--ckpt", str(tmp_path / "old.ckpt"), "--n", "10", "--out", str(tmp_path / "old.png")])
    assert (tmp_path / "old.png").is_file()  # the class moved; the checkpoint still loads
    run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "gan_ring8.yaml"), *TINY, "--trainer.max_epochs", "2",
            "--ckpt_path", str(tmp_path / "old.ckpt"))  # and resumes
    old["state_dict"] = {**old["state_dict"], "generator.extra": torch.zeros(1)}
    torch.save(old, tmp_path / "changed.ckpt")
    line = cli_error(capsys, "generate", "--ckpt", str(tmp_path / "changed.ckpt"), "--out", str(tmp_path / "x.png"))
    assert "written by IllusionCraft 0.1 (before 0.2.0)" in line and "generator.extra" in line
