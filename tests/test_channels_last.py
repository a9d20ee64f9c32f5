"""``channels_last``: the convolution weights and image batches of a CNN or an image GAN stored (N, H, W, C), the
same values and the same training as the default layout, kept through a checkpoint; refused for 2-D points."""

from __future__ import annotations

import pytest
import torch
from conftest import EXPERIMENTS, TINY, cli_error, run_cli
from lightning.pytorch import Trainer, seed_everything

from illusioncraft import registry
from illusioncraft.nn.memory_format import is_channels_last


def fitted(kind: str, name: str, data: dict, steps: int = 3, **arguments):
    seed_everything(0, verbose=False)
    model = registry.build("model", name, **arguments)
    datamodule = registry.build("datamodule", kind, **data)
    trainer = Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(model, datamodule)
    return model


DIGITS = {"image_size": 16, "batch_size": 32, "normalize": False}
SGD = {"name": "sgd", "lr": 0.05}  # Adam would turn the rounding noise of gradients that are 0 in theory into whole steps


@pytest.mark.parametrize(("name", "arguments", "networks"), [
    ("cnn", {"channels": [8, 8], "optimizer": SGD}, ["network"]),
    ("dcgan", {"width": 8, "latent_dim": 8, "ema_decay": 0.9, "generator_optimizer": SGD, "discriminator_optimizer": SGD},
     ["generator", "discriminator", "generator_ema"]),
])
def test_channels_last_stores_the_weights_in_that_layout_and_trains_as_the_default(name, arguments, networks):
    default = fitted("digits", name, DIGITS, **arguments)
    last = fitted("digits", name, DIGITS, channels_last=True, **arguments)
    for network in networks:
        assert is_channels_last(getattr(last, network)) and not is_channels_last(getattr(default, network))
    trained = last.state_dict()
    assert trained.keys() == default.state_dict().keys()
    for key, value in default.state_dict().items():  # three steps: the same training
        torch.testing.assert_close(trained[key], value, rtol=1e-4, atol=1e-5)


def test_a_channels_last_checkpoint_resumes_with_its_values(tmp_path):
    run_dir = run_cli(tmp_path, "fit", "--config", str(EXPERIMENTS / "dcgan_digits.yaml"), *TINY,
                      "--model.init_args.width", "4", "--model.init_args.channels_last", "true",
                      "--trainer.callbacks", "[]")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    model = registry.get("model", "dcgan").load_from_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert model.hparams.channels_last is True
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, checkpoint["state_dict"][key], rtol=0, atol=0, msg=key)


def test_channels_last_on_points_is_one_line(tmp_path, capsys):
    line = cli_error(capsys, "fit", "--model", "wgan_gp", "--model.architecture", "mlp", "--model.channels_last", "true",
                     "--data", "ring8", *TINY, "--trainer.default_root_dir", str(tmp_path))
    assert "channels_last is a layout of image batches" in line and "(2,)" in line, line
