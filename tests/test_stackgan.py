"""StackGAN: conditioning augmentation, the matching-aware loss, Stage-II's frozen Stage-I, training from YAML,
``generate --text`` and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from conftest import EXPERIMENTS, cli_error, read_metrics, run_cli
from PIL import Image

from illusioncraft.cli import main
from illusioncraft.models.gan.loop import Generated
from illusioncraft.models.gan.stackgan import StackGANStage1, StackGANStage2, stage1_consistency
from illusioncraft.nn.networks.stackgan import (
    ConditioningAugmentation,
    MatchingDiscriminator,
    StageTwoGenerator,
    kl_to_standard_normal,
)
from illusioncraft.text import TextEncoder

SMALL_DATA = ["--data.init_args.n_images", "120", "--data.init_args.batch_size", "16"]
TINY_GAN = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "1",
            "--trainer.log_every_n_steps", "1", "--model.init_args.width", "8",
            "--trainer.callbacks+=text_image_metrics", "--trainer.callbacks.n_samples=24"]


def tiny_stage1(size: int = 16) -> StackGANStage1:
    text = TextEncoder(max_length=8).fit(["a red circle", "a blue square on black", "two green triangles"]).state()
    return StackGANStage1(text=text, width=8, text_dim=16, condition_dim=8, latent_dim=8, data_shape=(3, size, size))


def saved_stage1(stage1: StackGANStage1, directory) -> str:
    """``stage1`` written as a Stage-I checkpoint (weights + hyperparameters) that Stage-II can read."""
    path = directory / "stage1.ckpt"
    torch.save({"state_dict": stage1.state_dict(), "hyper_parameters": {
        **dict(stage1.hparams), "_class_path": "illusioncraft.models.gan.stackgan.StackGANStage1"}}, path)
    return str(path)


def test_conditioning_augmentation_kl_matches_the_closed_form():
    mu, log_var = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    posterior = torch.distributions.Normal(mu, (0.5 * log_var).exp())
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(posterior, prior).mean()  # per dimension, as StackGAN
    assert torch.allclose(kl_to_standard_normal(mu, log_var), expected)


def test_conditioning_augmentation_samples_around_mu_with_sigma():
    torch.manual_seed(0)
    augmentation = ConditioningAugmentation(text_dim=3, condition_dim=2)
    text = torch.randn(1, 3).expand(20_000, 3)
    condition, mu, log_var = augmentation(text)
    assert torch.allclose(condition.mean(dim=0), mu[0], atol=0.03)
    assert torch.allclose(condition.std(dim=0), (0.5 * log_var[0]).exp(), rtol=0.03)


def test_matching_loss_scores_real_images_with_wrong_captions_as_fake():
    torch.manual_seed(0)
    model = tiny_stage1()
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    right, wrong = torch.randint(2, 8, (4, 8)), torch.randint(2, 8, (4, 8))
    model.discriminator.eval()  # batch statistics aside, so the three calls below see the same network
    d = model.discriminator
    real_right, fake_right, real_wrong = d(real, right), d(fake, right), d(real, wrong)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = (bce(real_right, torch.ones(4)) + 0.5 * bce(fake_right, torch.zeros(4)) + 0.5 * bce(real_wrong, torch.zeros(4)))
    assert torch.allclose(model.matching_loss(real, fake, right, wrong), expected, atol=1e-6)


def test_stage2_keeps_stage1_frozen(tmp_path):
    stage1 = tiny_stage1()
    path = saved_stage1(stage1, tmp_path)
    model = StackGANStage2(stage1_checkpoint=path, width=8, text_dim=16, condition_dim=8, data_shape=(3, 32, 32))
    before = {name: value.clone() for name, value in model.stage1.state_dict().items()}
    assert all(torch.equal(before[name], value) for name, value in stage1.state_dict().items())  # the checkpoint's weights
    model.train()
    assert not model.stage1.training and not any(p.requires_grad for p in model.stage1.parameters())
    optimizer = torch.optim.Adam(model.generator.parameters())
    text = torch.randint(2, 8, (4, 8))
    fake = model.generate(torch.randn(4, 8), text)
    assert fake.samples.shape == (4, 3, 32, 32) and fake.stages["stage1"].shape == (4, 3, 16, 16)
    (fake.samples.mean() + kl_to_standard_normal(fake.terms["mu"], fake.terms["log_var"])).backward()
    optimizer.step()
    assert all(torch.equal(before[name], value) for name, value in model.stage1.state_dict().items())


@pytest.fixture(scope="module")
def trained_stages(tmp_path_factory):
    """Stage-I (16 px) then Stage-II (32 px) trained for a few steps from the shapes YAMLs."""
    root = tmp_path_factory.mktemp("stackgan")
    stage1 = run_cli(root, "fit", "--config", str(EXPERIMENTS / "stackgan_shapes_stage1.yaml"), *SMALL_DATA, *TINY_GAN,
                     "--data.init_args.image_size", "16")
    stage2 = run_cli(root, "fit", "--config", str(EXPERIMENTS / "stackgan_shapes_stage2.yaml"), *SMALL_DATA, *TINY_GAN,
                     "--data.init_args.image_size", "32",
                     "--model.init_args.stage1_checkpoint", str(stage1 / "checkpoints" / "last.ckpt"))
    return stage1, stage2


def captioned_cells(path, rows: int, per_row: int, size: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(images (rows * per_row, S, S, 3) uint8, caption column (rows, H, 300, 3)) read back from a picture of
    ``illusioncraft.imaging.captioned_rows``; its size must be exactly that of such a picture."""
    picture = np.asarray(Image.open(path).convert("RGB"))
    strip = (size + 4) * scale  # one row: the image grid's 2-pixel padding above and below, enlarged
    assert picture.shape == (rows * strip, 300 + (per_row * (size + 2) + 2) * scale, 3)
    cells = [picture[r * strip + 2 * scale: r * strip + (size + 2) * scale: scale,
                     300 + (2 + c * (size + 2)) * scale: 300 + (2 + c * (size + 2) + size) * scale: scale]
             for r in range(rows) for c in range(per_row)]
    return np.stack(cells), picture[:, :300].reshape(rows, strip, 300, 3)


def as_pixels(images: torch.Tensor) -> np.ndarray:
    """(N, 3, S, S) in [0, 1] -> (N, S, S, 3) uint8, as the pictures store them."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def test_both_stages_train_from_yaml_and_log_attribute_accuracy_and_fid(trained_stages):
    stage1, stage2 = trained_stages
    first, second = read_metrics(stage1), read_metrics(stage2)
    assert 0.0 <= first["val/attribute_accuracy"] <= 1.0 and first["val/fid"] > 0
    for key in ("val/attribute_accuracy", "val/fid", "val/stage1_attribute_accuracy", "val/stage1_fid", "train/kl",
                "train/consistency"):  # the Stage-II YAML sets consistency_weight
        assert key in second
    records = json.loads((stage2 / "metric_provenance.json").read_text())
    assert {record["extractor"] for record in records} == {"attribute_classifier"}


def test_final_pictures_show_each_fixed_caption_beside_the_samples_of_both_stages(trained_stages):
    from illusioncraft.generate import load_generator

    _, stage2 = trained_stages
    model = load_generator(stage2 / "checkpoints" / "last.ckpt")  # the weights the final pictures were drawn with
    torch.manual_seed(0)  # the pictures draw under a fixed seed: row r is caption r, column c the same noise c
    stages = model.sample_stages(noise=model.fixed_noise[:8].repeat(8, 1), condition=model.sample_text.repeat_interleave(8, 0))
    for name, stage, size, scale in (("final.png", "stage2", 32, 2), ("final_stage1.png", "stage1", 16, 4)):
        cells, captions = captioned_cells(stage2 / "samples" / name, rows=8, per_row=8, size=size, scale=scale)
        assert np.array_equal(cells, as_pixels(stages[stage]))
        assert all((row < 100).any() for row in captions)  # every row has its caption written beside it


def test_stage2_checkpoint_rebuilds_the_yamls_skip_and_consistency(trained_stages):
    from illusioncraft.generate import load_generator

    model = load_generator(trained_stages[1] / "checkpoints" / "last.ckpt")  # what generate reads
    assert isinstance(model, StackGANStage2)
    assert model.consistency_weight == 30.0 and model.stage1_skip
    assert model.generator.net.skip is not None


def test_generate_from_text_draws_one_row_per_caption_that_differ(trained_stages, tmp_path, capsys):
    _, stage2 = trained_stages
    out = tmp_path / "out.png"
    main(["generate", "--ckpt", str(stage2 / "checkpoints" / "last.ckpt"), "--n", "4", "--out", str(out),
          "--text", "a small red circle on a black background", "--text", "a large blue square on a white background",
          "--text", "a zorblax circle"])
    assert "zorblax" in capsys.readouterr().err  # unknown words are reported, not fatal
    cells, _ = captioned_cells(out, rows=3, per_row=4, size=32, scale=2)
    from illusioncraft.generate import load_generator

    model = load_generator(stage2 / "checkpoints" / "last.ckpt")
    tokens, _ = model.encode_captions(["a small red circle on a black background", "a large blue square on a white background",
                                       "a zorblax circle"])
    torch.manual_seed(0)  # generate's default seed: the same 4 noise vectors in every row
    noise = model.noise(4).repeat(3, 1)
    assert np.array_equal(cells, as_pixels(model.sample(noise=noise, condition=tokens.repeat_interleave(4, 0))))
    assert not np.array_equal(cells[:4], cells[4:8])  # same noise, different captions -> different images


def test_stage1_only_checkpoints_generate_from_text(trained_stages, tmp_path):
    stage1, _ = trained_stages
    out = tmp_path / "stage1.png"
    main(["generate", "--ckpt", str(stage1 / "checkpoints" / "last.ckpt"), "--n", "2", "--out", str(out),
          "--text", "a red circle"])
    assert out.is_file()


def test_stage2_without_a_usable_stage1_checkpoint_is_one_line(tmp_path, capsys, trained_stages):
    config = str(EXPERIMENTS / "stackgan_shapes_stage2.yaml")
    line = cli_error(capsys, "fit", "--config", config, "--model.init_args.stage1_checkpoint", str(tmp_path / "none.ckpt"))
    assert "none.ckpt" in line and "does not exist" in line
    stage1, stage2 = trained_stages
    wrong_model = str(stage2 / "checkpoints" / "last.ckpt")
    line = cli_error(capsys, "fit", "--config", config, "--model.init_args.stage1_checkpoint", wrong_model)
    assert "StackGANStage2" in line and "not a stackgan_stage1" in line


def test_stackgan_on_data_without_captions_is_one_line(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "stackgan_shapes_stage1.yaml"), "--data", "digits",
                     "--run.dir", str(tmp_path / "run"), "--run.loggers", "[]")
    assert "captioned datamodule" in line


def test_generate_text_with_a_classifier_or_gan_checkpoint_is_one_line(tmp_path, capsys):
    gan = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "gan_ring8.yaml"), "--trainer.max_epochs", "1",
                  "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1")
    line = cli_error(capsys, "generate", "--ckpt", str(gan / "checkpoints" / "last.ckpt"), "--out", str(tmp_path / "x.png"),
                     "--text", "a red circle")
    assert "--text needs a text-to-image checkpoint" in line


def test_digits_stage1_trains_from_yaml(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "stackgan_digits_stage1.yaml"), *TINY_GAN,
                      "--data.init_args.batch_size", "16", "--data.init_args.image_size", "16")
    metrics = read_metrics(run_dir)
    assert "val/attribute_accuracy_digit" in metrics and "train/g_loss" in metrics


def write_captioned_folder(root, per_class: int = 3) -> None:
    colours = {"red": (220, 30, 30), "blue": (30, 30, 220)}
    for name, colour in colours.items():
        (root / "images" / name).mkdir(parents=True)
        (root / "text" / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (20, 24), colour).save(root / "images" / name / f"{i}.png")
            (root / "text" / name / f"{i}.txt").write_text(f"a {name} bird number {i}\nthis bird is {name}\n")


def test_cub_yamls_train_on_stackgans_own_layout(tmp_path, capsys):
    from standard_files import write_stackgan_layout

    write_stackgan_layout(tmp_path / "birds", embedding_dim=16)
    small = ["--data.init_args.root", str(tmp_path / "birds"), "--data.init_args.batch_size", "2",
             "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
             "--model.init_args.width", "4", "--model.init_args.text_dim", "16", "--data.init_args.min_freq", "1"]
    stage1 = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "stackgan_cub_stage1.yaml"), *small,
                     "--data.init_args.image_size", "16")
    stage2 = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "stackgan_cub_stage2.yaml"), *small,
                     "--data.init_args.image_size", "32", "--model.init_args.stage1_checkpoint",
                     str(stage1 / "checkpoints" / "last.ckpt"))
    assert (stage2 / "samples" / "final.png").is_file() and (stage2 / "samples" / "final_stage1.png").is_file()
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "stackgan_cub_stage1.yaml"),
                     "--data.init_args.root", str(tmp_path / "missing"), "--run.dir", str(tmp_path / "bad"))
    assert "data.root" in line


@pytest.mark.parametrize("stage1_skip", [False, True])
def test_stage2_starts_from_the_enlarged_stage1_image(stage1_skip):
    generator = StageTwoGenerator(condition_dim=4, stage1_size=16, image_size=32, width=8, stage1_skip=stage1_skip)
    coarse = torch.rand(2, 3, 16, 16) * 1.8 - 0.9
    enlarged = torch.nn.functional.interpolate(coarse, size=32, mode="bilinear", align_corners=False)
    assert torch.allclose(generator(coarse, torch.randn(2, 4)), enlarged, atol=1e-5)


def test_stage1_skip_gives_the_last_layer_the_enlarged_stage1_image():
    generator = StageTwoGenerator(condition_dim=4, stage1_size=16, image_size=32, width=8, stage1_skip=True)
    seen = []
    generator.skip.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    coarse = torch.rand(2, 3, 16, 16) * 2 - 1
    generator(coarse, torch.randn(2, 4))
    enlarged = torch.nn.functional.interpolate(coarse, size=32, mode="bilinear", align_corners=False)
    assert seen[0].shape[-2:] == (32, 32) and torch.equal(seen[0][:, -3:], enlarged)
    assert StageTwoGenerator(condition_dim=4, stage1_size=16, image_size=32, width=8).skip is None


def test_wandb_gets_a_table_of_captions_beside_their_images(tmp_path):
    import wandb

    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "stackgan_shapes_stage1.yaml"), *SMALL_DATA,
                      "--data.init_args.image_size", "16", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                      "--trainer.limit_val_batches", "1", "--model.init_args.width", "4", loggers="[wandb]")
    wandb.finish()
    (table,) = list((run_dir / "wandb").glob("offline-run-*/files/media/table/samples/table_*.table.json"))[:1]
    content = json.loads(table.read_text())
    assert content["columns"] == ["caption", "stage1"]
    captions = [row[0] for row in content["data"]]
    assert len(captions) == 8 and all(isinstance(caption, str) and caption for caption in captions)


def test_a_configured_callback_replaces_the_models_default_of_the_same_type(trained_stages):
    stage1, _ = trained_stages
    records = json.loads((stage1 / "metric_provenance.json").read_text())
    assert [record["metric"] for record in records] == ["val/attribute_accuracy", "val/fid"]  # one callback, not two


def test_stage1_trains_on_precomputed_sentence_embeddings(tmp_path):
    write_captioned_folder(tmp_path / "cub")
    np.save(tmp_path / "embeddings.npy", np.random.default_rng(0).normal(size=(6, 2, 8)).astype(np.float32))
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "stackgan_cub_stage1.yaml"),
                      "--data.init_args.root", str(tmp_path / "cub"), "--data.init_args.layout", "folders",
                      "--data.init_args.embeddings", str(tmp_path / "embeddings.npy"),
                      "--data.init_args.batch_size", "2", "--data.init_args.image_size", "16", "--model.init_args.width", "4",
                      "--model.init_args.text_encoder", "precomputed", "--model.init_args.text_dim", "8",
                      "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
                      "--trainer.log_every_n_steps", "1")
    assert "train/g_loss" in read_metrics(run_dir) and (run_dir / "samples" / "final.png").is_file()


def test_a_text_step_given_as_the_text_encoder_is_one_line(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "stackgan_shapes_stage1.yaml"),
                     "--model.init_args.text_encoder", "lemmatize", "--run.dir", str(tmp_path / "run"))
    assert "'lemmatize' is a text step, not a sentence encoder" in line


def test_projection_head_adds_the_text_image_inner_product_to_an_image_score():
    torch.manual_seed(0)
    net = MatchingDiscriminator(16, text_dim=5, condition_dim=4, width=4, head="projection")
    features, text = torch.randn(3, net.image_score.in_features, 4, 4), torch.randn(3, 5)
    pooled = features.sum(dim=(2, 3))
    expected = net.image_score(pooled).squeeze(1) + ((text @ net.text_projection.weight.T) * pooled).sum(dim=1)
    assert torch.allclose(net.judge(features, text), expected, atol=1e-5)
    with pytest.raises(Exception, match="discriminator_head must be one of concat, projection"):
        MatchingDiscriminator(16, 5, 4, head="attention")


def test_contrastive_loss_is_cross_entropy_over_the_batchs_captions_both_ways():
    torch.manual_seed(0)
    net = MatchingDiscriminator(16, text_dim=5, condition_dim=4, width=4, contrastive=True)
    features, text = torch.randn(3, net.contrast_image.in_features, 4, 4), torch.randn(3, 5)
    image = net.contrast_image(features.sum(dim=(2, 3))).detach()
    words = net.contrast_text(text).detach()
    cosine = torch.tensor([[float(torch.cosine_similarity(image[i], words[j], dim=0)) for j in range(3)] for i in range(3)])
    logits = cosine / 0.1
    image_to_text = -torch.log_softmax(logits, dim=1).diagonal().mean()
    text_to_image = -torch.log_softmax(logits, dim=0).diagonal().mean()
    assert torch.allclose(net.contrastive_loss(features, text), 0.5 * (image_to_text + text_to_image), atol=1e-5)
    with pytest.raises(Exception, match="without the contrastive heads"):
        MatchingDiscriminator(16, 5, 4).contrastive_loss(features, text)


def test_contrastive_weight_adds_the_contrastive_term_to_both_losses():
    torch.manual_seed(0)
    text = TextEncoder(max_length=8).fit(["a red circle", "a blue square on black", "two green triangles"]).state()
    model = StackGANStage1(text=text, width=8, text_dim=16, condition_dim=8, latent_dim=8, data_shape=(3, 16, 16),
                           contrastive_weight=0.5, discriminator_head="projection")
    model.discriminator.eval()
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    right, wrong = torch.randint(2, 8, (4, 8)), torch.randint(2, 8, (4, 8))
    d = model.discriminator
    contrast = d.net.contrastive_loss(d.net.features(real), d.text_encoder(right))
    model.contrastive_weight = 0.0
    plain = model.matching_loss(real, fake, right, wrong)
    model.contrastive_weight = 0.5
    assert torch.allclose(model.matching_loss(real, fake, right, wrong), plain + 0.5 * contrast, atol=1e-5)
    generated = Generated(fake, terms={"mu": torch.zeros(4, 8), "log_var": torch.zeros(4, 8)})
    with_term = model.generator_objective(generated, right)[0]
    model.contrastive_weight = 0.0
    without = model.generator_objective(generated, right)[0]
    fake_contrast = d.net.contrastive_loss(d.net.features(fake), d.text_encoder(right))
    assert torch.allclose(with_term, without + 0.5 * fake_contrast, atol=1e-5)
    with pytest.raises(Exception, match="contrastive_weight must be >= 0"):
        StackGANStage1(text=text, contrastive_weight=-1.0)


def test_stage1_consistency_compares_the_averaged_stage2_image_with_stage1():
    coarse = torch.rand(2, 3, 8, 8) * 2 - 1
    enlarged = torch.nn.functional.interpolate(coarse, scale_factor=2, mode="nearest")  # same average per 2x2 block
    assert float(stage1_consistency(enlarged, coarse)) < 1e-6
    detail = enlarged + torch.tensor([[0.3, -0.3], [-0.3, 0.3]]).repeat(8, 8)  # detail that averages out
    assert float(stage1_consistency(detail, coarse)) < 1e-6
    assert torch.isclose(stage1_consistency(enlarged + 0.2, coarse), torch.tensor(0.2), atol=1e-6)


def test_consistency_weight_adds_the_stage1_consistency_to_stage2s_generator_loss(tmp_path):
    stage1 = tiny_stage1()
    path = saved_stage1(stage1, tmp_path)
    model = StackGANStage2(stage1_checkpoint=path, width=8, text_dim=16, condition_dim=8, data_shape=(3, 32, 32),
                           consistency_weight=4.0)
    noise, text = torch.randn(4, 8), torch.randint(2, 8, (4, 8))

    torch.manual_seed(1)
    fake = model.generate(noise, text)

    def loss_with(weight: float) -> tuple[torch.Tensor, dict]:
        model.consistency_weight = weight
        return model.generator_objective(fake, text)

    plain, plain_logged = loss_with(0.0)
    weighted, logged = loss_with(4.0)
    assert "train/consistency" not in plain_logged
    assert torch.allclose(logged["train/consistency"], stage1_consistency(fake.samples, fake.stages["stage1"]))
    assert float(logged["train/consistency"].detach()) > 0
    assert torch.allclose(weighted, plain + 4.0 * logged["train/consistency"], atol=1e-6)
    with pytest.raises(Exception, match="consistency_weight must be >= 0"):
        StackGANStage2(stage1_checkpoint=path, consistency_weight=-1.0)


def test_text_to_image_benchmark_reuses_only_runs_of_the_same_yaml_and_arguments(tmp_path, monkeypatch):
    import importlib.util

    script = EXPERIMENTS.parent / "benchmarks" / "text_to_image.py"
    spec = importlib.util.spec_from_file_location("text_to_image_benchmark", script)
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    trained = []
    monkeypatch.setattr(benchmark, "main", lambda argv: trained.append(argv))
    run_dir = tmp_path / "stage2_seed0"
    run_dir.mkdir()
    assert benchmark.fit("stackgan_shapes_stage2.yaml", run_dir, 0, 1, "--x", "1") == run_dir and len(trained) == 1
    assert benchmark.fit("stackgan_shapes_stage2.yaml", run_dir, 0, 1, "--x", "1") == run_dir and len(trained) == 1
    with pytest.raises(SystemExit, match="stage2_seed0 was trained from another version of stackgan_shapes_stage2.yaml"):
        benchmark.fit("stackgan_shapes_stage2.yaml", run_dir, 0, 1, "--x", "2")
    (run_dir / "finished").write_text("--x 1\n")  # a marker written before the YAML was recorded
    with pytest.raises(SystemExit, match="delete it or use another --work-dir"):
        benchmark.fit("stackgan_shapes_stage2.yaml", run_dir, 0, 1, "--x", "1")
    assert len(trained) == 1


def test_a_resumed_stage_keeps_every_word_of_its_vocabulary(tmp_path):
    # "on" is YAML 1.1's true: untyped, it came back from the config of a resumed run as a boolean
    base = ["--config", str(EXPERIMENTS / "stackgan_shapes_stage1.yaml"), *SMALL_DATA, "--data.init_args.image_size", "16",
            "--model.init_args.width", "4", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
            "--trainer.callbacks", "null"]
    run_dir = run_cli(tmp_path, "fit", *base, "--trainer.max_epochs", "1")
    main(["fit", *base, "--trainer.max_epochs", "2", "--ckpt_path", "last", "--run.dir", str(run_dir),
          "--run.loggers", "[]", "--trainer.enable_progress_bar", "false"])
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    vocabulary = checkpoint["hyper_parameters"]["text"]["vocabulary"]
    assert checkpoint["epoch"] == 1 and "on" in vocabulary and all(isinstance(token, str) for token in vocabulary)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())["model"]["init_args"]["text"]["vocabulary"]
    assert saved == vocabulary  # the resolved config can be run again as it is
