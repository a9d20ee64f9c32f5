"""What a plugin author meets at the seams: losses with parameters from YAML, one-line errors for a datamodule that
sets its attributes too late and for an augmentation that cannot record its arguments, a warning when a GAN gets
normalised data, and did-you-mean lines for misspelt model and data arguments."""

from __future__ import annotations

import pytest
import yaml
from conftest import EXPERIMENTS, QUIET, TINY, cli_error, run_cli

from illusioncraft import registry
from illusioncraft.augment.base import BatchAugmentation
from illusioncraft.data.base import ImageClassificationDataModule
from illusioncraft.errors import ConfigError, PluginError, RegistryError


def test_a_classifier_takes_a_loss_with_parameters():
    model = registry.build("model", "mlp", loss={"name": "cross_entropy", "label_smoothing": 0.1})
    assert model.loss_fn.label_smoothing == 0.1


def test_a_gan_takes_its_loss_with_parameters_from_the_command_line(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--model", "gan", "--data", "ring8", "--data.init_args.n_samples", "400",
                      "--data.init_args.batch_size", "100", "--model.init_args.hidden_size", "8",
                      "--model.init_args.loss", "{name: least_squares}", *TINY)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["init_args"]["loss"] == {"name": "least_squares"}


def test_a_misspelt_loss_parameter_is_one_line_with_a_suggestion(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "mlp_digits.yaml"), "--run.dir", str(tmp_path / "run"),
                     "--model.init_args.loss", "{name: cross_entropy, smoothing: 0.1}", "--run.loggers", "[]")
    assert "loss 'cross_entropy' has no argument 'smoothing'; did you mean 'label_smoothing'?" in line


def test_a_gan_refuses_a_classification_loss_in_one_line():
    with pytest.raises(ConfigError, match=r"model 'gan': loss 'cross_entropy' is not an adversarial loss"):
        registry.build("model", "gan", loss={"name": "cross_entropy"})


def test_a_gan_given_normalised_images_warns_naming_the_fix(tmp_path):
    with pytest.warns(UserWarning, match=r"model 'dcgan': the datamodule normalises its images .* set the datamodule's "
                                         r"normalize: false"):
        run_cli(tmp_path, "fit", "--model", "dcgan", "--model.init_args.width", "8", "--data", "digits",
                "--data.init_args.image_size", "16", "--data.init_args.normalize", "true", *TINY)


def test_misspelt_data_arguments_get_a_suggestion(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--config", str(EXPERIMENTS / "cnn_digits.yaml"), "--run.dir", str(tmp_path / "run"),
                     "--data.init_args.image_sise", "16", *QUIET)
    assert line.endswith("Option 'image_sise' is not accepted; did you mean 'image_size'?")


class LateShapes(ImageClassificationDataModule):
    """Sets its shape and class names after the base class's __init__: too late."""

    def __init__(self, batch_size: int = 8) -> None:
        super().__init__(batch_size=batch_size)
        self.image_shape, self.class_names = (1, 8, 8), ["a", "b"]


def test_a_datamodule_setting_its_attributes_too_late_is_one_line_naming_them():
    with pytest.raises(PluginError, match=r"datamodule LateShapes: set image_shape and class_names before calling "
                                          r"ImageClassificationDataModule.__init__"):
        LateShapes()


class Dim(BatchAugmentation):
    """Scales images by ``factor``, keeping it under another name."""

    def __init__(self, factor: float = 0.5) -> None:
        super().__init__()
        self.scale = factor

    def forward(self, images, targets):
        return images * self.scale, targets


def test_batch_augmentations_record_their_arguments_from_attributes_of_the_same_name():
    assert registry.build("augmentation", "salt_and_pepper", amount=0.1, p=0.25).config() == {"amount": 0.1, "p": 0.25}
    with pytest.raises(PluginError, match=r"config\(\) reads each __init__ argument back .* there is no self.factor"):
        Dim().config()


def test_an_unknown_argument_of_a_module_without_its_own_init_is_refused():
    with pytest.raises(RegistryError, match="loss 'binary_cross_entropy' has no argument 'weight'"):
        registry.build("loss", "binary_cross_entropy", weight=2.0)
