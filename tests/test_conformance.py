"""The conformance kit: every built-in entry passes its check, and each check fails on an entry that breaks what
it checks (with a line naming the entry, the check and the fix)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest
import torch
from lightning.pytorch import Callback
from standard_files import write_celeba, write_cifar10_binary, write_cifar100_binary, write_mnist
from torch import Tensor

from illusioncraft import registry
from illusioncraft.augment.base import BatchAugmentation
from illusioncraft.losses.adversarial import AdversarialLoss, NonSaturating
from illusioncraft.models.classifiers import MLP
from illusioncraft.testing import CHECKS, ConformanceError

GAN_POINTS = {"class_path": "ring8", "init_args": {"n_samples": 400, "batch_size": 100}}
GAN_IMAGES = {"class_path": "digits", "init_args": {"normalize": False, "image_size": 16, "batch_size": 32}}
SHAPES = {"class_path": "captioned_shapes", "init_args": {"n_images": 80, "image_size": 16, "batch_size": 16}}
STAGE1 = {"width": 4, "text_dim": 16, "condition_dim": 8, "latent_dim": 8}
SMALL_TEXT_METRICS = ["--trainer.callbacks+=text_image_metrics", "--trainer.callbacks.n_samples=16"]

# What each built-in needs beyond its defaults to be checked quickly (arguments, data, a model to run it with).
RECIPES: dict[tuple[str, str], dict[str, Any]] = {
    ("model", "wgan"): {"arguments": {"n_critic": 1, "architecture": "mlp", "hidden_size": 16}, "data": GAN_POINTS},
    ("model", "wgan_gp"): {"arguments": {"n_critic": 1, "architecture": "mlp", "hidden_size": 16}, "data": GAN_POINTS},
    ("model", "gan"): {"arguments": {"hidden_size": 16}, "data": GAN_POINTS},
    ("model", "unrolled_gan"): {"arguments": {"unroll_steps": 1, "hidden_size": 16}, "data": GAN_POINTS},
    ("model", "dcgan"): {"arguments": {"width": 8}, "data": GAN_IMAGES},
    ("model", "sngan"): {"arguments": {"width": 8, "n_critic": 1}, "data": GAN_IMAGES, "bad_arguments": [{"width": 0}]},
    ("model", "conditional_gan"): {"arguments": {"width": 8}, "data": GAN_IMAGES},
    ("model", "stackgan_stage1"): {"arguments": STAGE1, "data": SHAPES, "options": SMALL_TEXT_METRICS},
    ("model", "stackgan_stage2"): {"arguments": {"width": 4}, "data": {**SHAPES, "init_args": {**SHAPES["init_args"],
                                                                                               "image_size": 32}},
                                   "options": SMALL_TEXT_METRICS},
    ("model", "dfgan"): {"arguments": {"width": 2, "text_dim": 16, "latent_dim": 8}, "data": SHAPES,
                         "options": SMALL_TEXT_METRICS, "bad_arguments": [{"magp_power": 0}]},
    ("model", "cnn"): {"arguments": {"channels": [8], "hidden_size": 16}, "bad_arguments": [{"dropout": 1.5}]},
    ("model", "mlp"): {"arguments": {"hidden_sizes": [16]}, "bad_arguments": [{"dropout": -0.1}]},
    ("datamodule", "digits"): {"bad_arguments": [{"image_size": 12}, {"val_fraction": 1.5}]},
    ("datamodule", "captioned_shapes"): {"arguments": SHAPES["init_args"],
                                         "model": {"class_path": "stackgan_stage1", "init_args": STAGE1}},
    ("datamodule", "captioned_digits"): {"arguments": {"image_size": 16, "batch_size": 16},
                                         "model": {"class_path": "stackgan_stage1", "init_args": STAGE1}},
    ("datamodule", "ring8"): {"arguments": {"n_samples": 400, "batch_size": 100}, "bad_arguments": [{"batch_size": 0}]},
    ("datamodule", "grid25"): {"arguments": {"n_samples": 400, "batch_size": 100}},
    ("datamodule", "stacked_digits"): {"arguments": {"n_samples": 200, "batch_size": 16},
                                       "bad_arguments": [{"image_size": 8}, {"n_samples": 5}]},
    ("augmentation", "resize"): {"arguments": {"height": 8, "width": 8}},
    ("augmentation", "random_resized_crop"): {"arguments": {"size": [8, 8]}},
    ("augmentation", "cutout"): {"bad_arguments": [{"size": 2.0}]},
    ("augmentation", "mixup"): {"bad_arguments": [{"prob": 1.5}]},
    ("augmentation", "augmix"): {"arguments": {"jsd": True}},
    ("callback", "gan_samples"): {"arguments": {"every_n_steps": 1}, "model": "gan", "data": GAN_POINTS},
    ("callback", "mode_coverage"): {"arguments": {"n_samples": 100}, "model": "gan", "data": GAN_POINTS},
    ("callback", "fid"): {"arguments": {"n_real": 64, "n_fake": 64}, "model": {"class_path": "dcgan", "init_args": {"width": 8}},
                          "data": GAN_IMAGES, "bad_arguments": [{"n_real": 1}]},
    ("callback", "class_accuracy"): {"arguments": {"n_per_class": 4},
                                     "model": {"class_path": "conditional_gan", "init_args": {"width": 8}}, "data": GAN_IMAGES},
    ("callback", "text_image_samples"): {"model": {"class_path": "stackgan_stage1", "init_args": STAGE1}, "data": SHAPES},
    ("callback", "text_image_metrics"): {"arguments": {"n_samples": 16},
                                         "model": {"class_path": "stackgan_stage1", "init_args": STAGE1}, "data": SHAPES},
    ("callback", "classifier_samples"): {"arguments": {"every_n_steps": 1}, "bad_arguments": [{"n": 0}]},
}
NEEDS_FOLDER = {"image_folder", "captioned_folder", "mnist", "cifar10", "cifar100", "celeba"}  # written by the test
STANDARD_FILES = {"mnist": write_mnist, "cifar10": write_cifar10_binary, "cifar100": write_cifar100_binary,
                  "celeba": write_celeba}


def built_ins() -> list[tuple[str, str]]:
    return [(kind, name) for kind in CHECKS for name in registry.names(kind)
            if registry.entry(kind, name).origin == registry.BUILT_IN]


@pytest.fixture(scope="module")
def stage1_checkpoint(tmp_path_factory) -> str:
    report = CHECKS["model"]("stackgan_stage1", **RECIPES[("model", "stackgan_stage1")],
                             work_dir=tmp_path_factory.mktemp("stage1"))
    return str(report.run_dir / "checkpoints" / "last.ckpt")


def folder_recipe(name: str, root: Path) -> dict[str, Any]:
    from PIL import Image

    if name in STANDARD_FILES:  # the dataset's own file format, a handful of images
        STANDARD_FILES[name](root)
        labels = {"label_attribute": "Male"} if name == "celeba" else {}  # unlabelled faces train no classifier
        return {"arguments": {"root": str(root), "image_size": 8, "batch_size": 4, **labels}}
    if name == "image_folder":
        for index, label in enumerate(["dark", "light"]):
            (root / label).mkdir(parents=True)
            for i in range(12):
                Image.new("L", (10, 10), 40 + 150 * index + i).save(root / label / f"{i}.png")
        return {"arguments": {"root": str(root), "image_size": 8, "channels": 1, "batch_size": 4}}
    for label in ("red", "blue"):
        (root / "images" / label).mkdir(parents=True)
        (root / "text" / label).mkdir(parents=True)
        colour = (200, 30, 30) if label == "red" else (30, 30, 200)
        for i in range(6):
            Image.new("RGB", (20, 24), colour).save(root / "images" / label / f"{i}.png")
            (root / "text" / label / f"{i}.txt").write_text(f"a {label} bird number {i}\nthis bird is {label}\n")
    return {"arguments": {"root": str(root), "image_size": 16, "batch_size": 4, "min_freq": 1},
            "model": {"class_path": "stackgan_stage1", "init_args": {**STAGE1, "text_encoder": "embedding_bag"}}}


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "name"), built_ins(), ids=lambda value: value)
def test_every_built_in_entry_passes_its_conformance_check(kind, name, tmp_path, request):
    recipe = dict(RECIPES.get((kind, name), {}))
    if name in NEEDS_FOLDER:
        recipe = folder_recipe(name, tmp_path / "data")
    if (kind, name) == ("model", "stackgan_stage2"):
        recipe["arguments"] = {**recipe["arguments"], "stage1_checkpoint": request.getfixturevalue("stage1_checkpoint")}
    report = CHECKS[kind](name, **recipe, work_dir=tmp_path / "check")
    assert report.passed[:2] == ["registration", "arguments"] and "fit" in report.passed
    assert not report.skipped, report.skipped


# -- each check catches the breakage it names ---------------------------------------------------------------------

@pytest.fixture
def scratch_registry(monkeypatch):
    """The registry as it is, plus whatever a test registers, which vanishes afterwards."""
    registry.load_plugins()
    monkeypatch.setattr(registry, "_entries", {kind: dict(names) for kind, names in registry._entries.items()})
    monkeypatch.setattr(registry, "_by_object", dict(registry._by_object))
    monkeypatch.setattr(registry, "_by_import_path", dict(registry._by_import_path))
    return registry


def fails(kind: str, name: str, check: str, **options: Any) -> str:
    with pytest.raises(ConformanceError) as error:
        CHECKS[kind](name, **options)
    message = str(error.value)
    assert message.startswith(f"{kind} '{name}' fails '{check}': "), message
    return message


class RankLocalMLP(MLP):
    """Logs the mean of its validation inputs without sync_dist: each process would log its own."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        super().validation_step(batch, batch_idx)
        self.log("val/mean_input", batch[0].mean())


def test_a_model_logging_its_own_share_of_the_data_without_sync_dist_fails(scratch_registry, tmp_path):
    scratch_registry.register("rank_local_mlp")(RankLocalMLP)  # at module level: the command line imports it
    message = fails("model", "rank_local_mlp", "split validation", arguments={"hidden_sizes": [8]}, work_dir=tmp_path)
    assert "'val/mean_input' is logged without sync_dist=True" in message


def test_a_model_taking_kwargs_accepts_typos_and_fails(scratch_registry):
    class Loose(MLP):
        """Swallows any argument."""

        def __init__(self, hidden_sizes: list[int] = [8], **kwargs: Any) -> None:  # noqa: B006
            super().__init__(hidden_sizes=hidden_sizes)

    scratch_registry.register("loose_mlp")(Loose)
    assert "was accepted without a word" in fails("model", "loose_mlp", "arguments")


def test_a_bad_argument_that_is_accepted_fails():
    assert "{'dropout': 0.5} was accepted" in fails("model", "mlp", "arguments", bad_arguments=[{"dropout": 0.5}])


def test_a_generator_loss_reading_real_logits_without_saying_so_fails(scratch_registry):
    class Sneaky(NonSaturating):
        """Reads the real logits but leaves generator_needs_real False."""

        def generator(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
            return super().generator(fake_logits) + (0.0 if real_logits is None else real_logits.mean())

    scratch_registry.register("sneaky", kind="loss")(Sneaky)
    assert "set generator_needs_real = True" in fails("loss", "sneaky", "generator")


def test_a_discriminator_loss_pushing_the_wrong_way_fails(scratch_registry):
    class Backwards(AdversarialLoss):
        """Rewards the discriminator for calling fakes real."""

        def discriminator(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
            return real_logits.mean() - fake_logits.mean()

        def generator(self, fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
            return -fake_logits.mean()

    scratch_registry.register("backwards", kind="loss")(Backwards)
    fails("loss", "backwards", "discriminator")


class Brighten(BatchAugmentation):
    """Adds ``amount`` to every pixel, without clamping."""

    def __init__(self, amount: float = 0.5) -> None:
        super().__init__()
        self.amount = amount

    def forward(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        return images + self.amount, targets


def test_an_augmentation_leaving_the_unit_range_fails(scratch_registry):
    scratch_registry.register("brighten", kind="augmentation")(Brighten)
    assert "images left [0, 1]" in fails("augmentation", "brighten", "batch")


def test_an_augmentation_whose_config_forgets_an_argument_fails(scratch_registry):
    class Forgetful(Brighten):
        """Clamps, but records none of its arguments."""

        def forward(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
            return (images + self.amount).clamp(0, 1), targets

        def config(self) -> dict[str, Any]:
            return {}

    scratch_registry.register("forgetful", kind="augmentation")(Forgetful)
    assert "acts differently" in fails("augmentation", "forgetful", "config", arguments={"amount": 0.2})


def test_a_datamodule_without_its_shape_before_setup_fails(scratch_registry):
    from illusioncraft.data.mixtures import Ring8

    class Shapeless(Ring8):
        """Learns its shape only in setup."""

        def __init__(self, n_samples: int = 400, batch_size: int = 100) -> None:
            super().__init__(n_samples=n_samples, batch_size=batch_size)
            self.data_shape = None

    scratch_registry.register("shapeless")(Shapeless)
    assert "data_shape is not known before setup()" in fails("datamodule", "shapeless", "contract")


class Remembers(Callback):
    """Keeps a Python object in its state: checkpoints read with weights_only=True cannot hold it."""

    def state_dict(self) -> dict[str, Any]:
        return {"seen": torch.nn.Linear(1, 1)}


def test_a_callback_whose_state_needs_pickle_fails(scratch_registry):
    scratch_registry.register("remembers")(Remembers)
    assert "weights_only=True" in fails("callback", "remembers", "state")


def test_the_conformance_fixture_runs_checks_in_the_tests_directory(conformance, tmp_path):
    report = conformance.check_augmentation("cutout", arguments={"size": 0.25})
    assert report.passed == ["registration", "arguments", "batch on cpu", "config", "sample", "fit"]
    assert (tmp_path / "augmentation" / "run0" / "augmentation.json").is_file()
