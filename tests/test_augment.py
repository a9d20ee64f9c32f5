"""Augmentations: identities at probability 0, timm's Mixup/CutMix semantics, AugMix, JSD, serialisation, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from illusioncraft import registry
from illusioncraft.augment import pipeline
from illusioncraft.augment.augmix import AugMix
from illusioncraft.augment.batch import CutMix, Cutout, Mixup
from illusioncraft.augment.diffaugment import diff_augment
from illusioncraft.augment.sample import ALBUMENTATIONS
from illusioncraft.data.digits import DigitsDataModule
from illusioncraft.errors import IllusionCraftError
from illusioncraft.losses.consistency import JensenShannonConsistency, jensen_shannon

SAMPLE_PARAMS = {"random_resized_crop": {"size": (16, 16)}, "resize": {"height": 16, "width": 16}}


def images(b: int = 6, c: int = 3, size: int = 16) -> torch.Tensor:
    return torch.rand(b, c, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", sorted(ALBUMENTATIONS) + ["cutout"])
def test_per_sample_augmentation_with_probability_zero_is_the_identity(name):
    compose = pipeline.build_sample_pipeline([{"name": name, "params": {**SAMPLE_PARAMS.get(name, {}), "p": 0.0}}], seed=0)
    image = images(1)[0]
    torch.testing.assert_close(pipeline.apply_sample(compose, image), image)


@pytest.mark.parametrize(
    "augmentation",
    [Cutout(p=0.0), AugMix(p=0.0, jsd=False), registry.build("augmentation", "diffaugment", p=0.0),
     Mixup(prob=0.0, label_smoothing=0.0), CutMix(prob=0.0, label_smoothing=0.0)],
    ids=["cutout", "augmix", "diffaugment", "mixup", "cutmix"],
)
def test_batch_augmentation_with_probability_zero_is_the_identity(augmentation):
    augmentation.num_classes = 10
    x, y = images(), torch.arange(6)
    out_x, out_y = augmentation(x, y)
    torch.testing.assert_close(out_x, x)
    if out_y.ndim == 2:  # mixers turn labels into (unmixed, unsmoothed) one-hot vectors
        torch.testing.assert_close(out_y, torch.nn.functional.one_hot(y, 10).float())


@pytest.mark.parametrize("mode", ["batch", "elem"])
@pytest.mark.parametrize("kind", [Mixup, CutMix])
def test_mixed_targets_are_distributions(kind, mode):
    augmentation = kind(mode=mode)
    augmentation.num_classes = 10
    _, targets = augmentation(images(8), torch.randint(0, 10, (8,)))
    assert targets.shape == (8, 10)
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(8))
    assert float(targets.min()) >= 0


@pytest.mark.parametrize("mode", ["batch", "elem"])
def test_cutmix_lambda_equals_the_pasted_area(mode):
    torch.manual_seed(3)
    augmentation = CutMix(mode=mode, label_smoothing=0.0)
    augmentation.num_classes = 10
    x = torch.zeros(8, 1, 20, 20)
    x[:4] = 1.0  # images 0-3 white, 4-7 black: partner of i is 7 - i, of the other colour
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    mixed, targets = augmentation(x, labels)
    pasted_area = (mixed != x).float().mean(dim=(1, 2, 3))  # share of pixels that came from the partner
    own_weight = targets[torch.arange(8), labels]  # lambda: the weight of the image's own label
    torch.testing.assert_close(own_weight, 1 - pasted_area)


def test_mixup_blends_images_and_labels_with_one_lambda():
    torch.manual_seed(0)
    augmentation = Mixup(label_smoothing=0.0)
    augmentation.num_classes = 2
    x = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
    mixed, targets = augmentation(x, torch.tensor([0, 1]))
    lam = targets[0, 0]
    torch.testing.assert_close(mixed[0], torch.full((1, 4, 4), float(1 - lam)))  # lam * 0 + (1 - lam) * 1


def test_cutout_zeroes_a_square_of_the_asked_size():
    out, _ = Cutout(size=0.25, p=1.0)(torch.ones(5, 1, 16, 16), torch.zeros(5))
    zeroed = (out == 0).float().sum(dim=(1, 2, 3))
    assert bool((zeroed <= 16).all()) and bool((zeroed > 0).all())  # a 4x4 square, clipped at the border


def test_augmix_keeps_shape_dtype_and_range_and_returns_three_views():
    x = images(4)
    out, targets = AugMix()(x, torch.arange(4))
    assert out.shape == (12, 3, 16, 16) and out.dtype == x.dtype
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    torch.testing.assert_close(out[:4], x)  # the clean view comes first
    assert not torch.equal(out[4:8], out[8:])  # two independent views
    assert torch.equal(targets, torch.arange(4))


def test_diffaugment_is_differentiable():
    x = images(4).requires_grad_()
    diff_augment(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def _numpy_js(ps: list[np.ndarray]) -> float:
    mixture = np.clip(np.mean(ps, axis=0), 1e-7, 1)
    return float(np.mean([np.sum(p * (np.log(p) - np.log(mixture))) / p.shape[0] for p in ps]))


def test_jensen_shannon_matches_numpy_is_zero_for_identical_and_symmetric():
    generator = torch.Generator().manual_seed(0)
    p, q, r = (torch.softmax(torch.randn(5, 4, generator=generator, dtype=torch.float64), dim=1) for _ in range(3))
    assert float(jensen_shannon([p, q, r])) == pytest.approx(_numpy_js([p.numpy(), q.numpy(), r.numpy()]), rel=1e-10)
    assert float(jensen_shannon([p, p, p])) == pytest.approx(0.0, abs=1e-12)
    assert float(jensen_shannon([p, q])) == pytest.approx(float(jensen_shannon([q, p])), rel=1e-12)


def test_jsd_loss_is_cross_entropy_on_the_clean_view_plus_weighted_divergence():
    logits = torch.randn(9, 4, dtype=torch.float64)
    target = torch.tensor([0, 3, 1])
    loss = JensenShannonConsistency(weight=12.0)(logits, target)
    expected = torch.nn.functional.cross_entropy(logits[:3], target) + 12 * jensen_shannon(
        [torch.softmax(chunk, dim=1) for chunk in logits.chunk(3)]
    )
    torch.testing.assert_close(loss, expected)


def test_serialised_pipeline_reloads_into_an_identical_one(tmp_path):
    specs = [{"name": "rotate", "params": {"limit": 30, "p": 0.7}}, {"name": "gaussian_noise", "params": {"p": 0.5}},
             {"name": "cutout", "params": {"size": 0.3}}]
    data = DigitsDataModule(augmentations=specs, batch_augmentations=[{"name": "mixup"}], augmentation_seed=7)
    path = tmp_path / "augmentation.json"
    pipeline.save(path, data.augmentation_description())
    fresh = pipeline.build_sample_pipeline(specs, seed=7)
    reloaded = pipeline.load_sample_pipeline(path)
    for image in images(5, c=1, size=8):
        torch.testing.assert_close(pipeline.apply_sample(reloaded, image), pipeline.apply_sample(fresh, image))
    assert "mixup" in path.read_text()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Mixup(mixup_alpha=-1), "mixup_alpha must be >= 0"),
        (lambda: Mixup(mixup_alpha=0, cutmix_alpha=0), "both 0"),
        (lambda: CutMix(prob=1.5), "augmentation 'cutmix': prob must be in [0, 1], got 1.5"),
        (lambda: Cutout(p=-0.1), "augmentation 'cutout': p must be in [0, 1]"),
        (lambda: AugMix(alpha=0), "augmentation 'augmix': alpha must be > 0"),
        (lambda: AugMix(severity=11), "severity must be in 1..10"),
        (lambda: pipeline.build_sample_pipeline([{"name": "cutout_old", "params": {}}], 0), "unknown augmentation 'cutout_old'"),
        (
            lambda: pipeline.build_sample_pipeline([{"name": "rotate", "params": {"max_holes": 3}}], 0),
            "augmentation 'rotate': albumentations Rotate has no argument 'max_holes'",
        ),
        (
            lambda: pipeline.build_sample_pipeline([{"name": "gaussian_noise", "params": {"var_limit": [10, 50]}}], 0),
            "augmentation 'gaussian_noise': albumentations GaussNoise has no argument 'var_limit'",
        ),
        (lambda: pipeline.build_sample_pipeline([{"name": "rotate", "params": {"p": 2}}], 0), "augmentation 'rotate': invalid"),
        (lambda: pipeline.build_sample_pipeline([{"name": "mixup"}], 0), "'mixup' is batch-level only"),
        (lambda: pipeline.build_batch_pipeline([{"name": "rotate"}], 10), "'rotate' is per-sample only"),
        (lambda: pipeline.build_batch_pipeline([{"nam": "mixup"}], 10), "each entry is {name: ..., params: {...}}"),
    ],
)
def test_bad_augmentation_settings_are_one_line_errors(build, message):
    with pytest.raises(IllusionCraftError) as error:
        build()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_plugin_augmentation_is_used_from_a_yaml(tmp_path):
    import json

    from conftest import EXPERIMENTS, TINY, run_cli

    assert registry.entry("augmentation", "salt_and_pepper").origin == "illusioncraft-example-plugin"
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "plugin_residual_cnn_digits.yaml"), *TINY)
    saved = json.loads((run_dir / "augmentation.json").read_text())
    assert saved["batch"] == [{"name": "salt_and_pepper", "params": {"amount": 0.02, "p": 0.5}}]


def test_augmix_run_records_its_pipeline_and_trains_with_jsd(tmp_path):
    import json

    from conftest import EXPERIMENTS, TINY, read_metrics, run_cli

    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "cnn_digits_augmix.yaml"), *TINY)
    assert json.loads((run_dir / "augmentation.json").read_text())["batch"][0]["name"] == "augmix"
    assert read_metrics(run_dir)["train/loss"] > 0


def test_augmix_without_jsd_loss_is_a_one_line_error(tmp_path, capsys):
    from conftest import EXPERIMENTS, cli_error

    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "cnn_digits_augmix.yaml"), "--model.init_args.loss",
                     "cross_entropy", "--trainer.fast_dev_run", "true", "--run.dir", str(tmp_path / "r"), "--run.loggers", "[]")
    assert "3 views per image" in line and "'jsd'" in line


@pytest.mark.parametrize("experiment", ["cnn_digits_classical.yaml", "cnn_digits_augmix.yaml", "cnn_digits_cutmix.yaml"])
def test_augment_command_draws_originals_beside_views(tmp_path, experiment):
    from conftest import EXPERIMENTS
    from PIL import Image

    from illusioncraft.cli import main

    out = tmp_path / "grid.png"
    main(["augment", "--config", str(EXPERIMENTS / experiment), "--out", str(out), "--n", "3", "--views", "4"])
    picture = Image.open(out)
    assert picture.width > picture.height  # 5 columns (original + 4 views), 3 rows
    assert picture.width / picture.height == pytest.approx(5 / 3, rel=0.05)


def test_augment_command_errors(tmp_path, capsys):
    from conftest import cli_error

    assert "does not exist" in cli_error(capsys, "augment", "--config", str(tmp_path / "no.yaml"), "--out", "x.png")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {class_path: digits, init_args: {batch_augmentations: [{name: mixup, params: {prob: 3}}]}}\n")
    assert "prob must be in [0, 1], got 3" in cli_error(capsys, "augment", "--config", str(bad), "--out", "x.png")
