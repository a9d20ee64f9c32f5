"""Pictures of a generator's samples from its fixed noise: image grids, or scatter plots for 2-D points."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from PIL import Image

from illusioncraft.contracts import GeneratorModel, MixtureData
from illusioncraft.errors import ConfigError
from illusioncraft.imaging import image_grid
from illusioncraft.registry import register
from illusioncraft.step_logs import due


def scatter_image(points: torch.Tensor, modes: Optional[torch.Tensor], title: str) -> Image.Image:
    """Generated 2-D points (and the true mode centres) as a picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4, 4), dpi=100)
    axis.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5, label="generated")
    if modes is not None:
        axis.scatter(modes[:, 0], modes[:, 1], s=30, marker="x", color="red", label="modes")
    axis.set_title(title)
    axis.set_aspect("equal")
    axis.legend(loc="upper right", fontsize=7)
    figure.tight_layout()
    figure.canvas.draw()
    picture = Image.frombuffer("RGBA", figure.canvas.get_width_height(), figure.canvas.buffer_rgba()).convert("RGB")
    plt.close(figure)
    return picture


@register("gan_samples")
class GeneratorSamples(Callback):
    """Every ``every_n_steps`` training batches (on the next logged one, sharing its synchronisation) and at the
    end of training: ``<run dir>/samples/step_N.png`` and W&B ``samples/generated``."""

    def __init__(self, every_n_steps: int = 500, n_points: int = 2500) -> None:
        if every_n_steps < 1:
            raise ConfigError(f"callback 'gan_samples': every_n_steps must be >= 1, got {every_n_steps}")
        self.every_n_steps, self.n_points = every_n_steps, n_points
        self.batches = self.last_picture = 0

    def picture(self, pl_module: GeneratorModel, trainer: Trainer, title: str) -> Image.Image:
        if pl_module.is_image_model:
            samples = pl_module.sample(noise=pl_module.fixed_noise).cpu()
            return image_grid(samples, nrow=pl_module.grid_columns, value_range=(0.0, 1.0))
        modes = trainer.datamodule.modes if isinstance(trainer.datamodule, MixtureData) else None
        return scatter_image(pl_module.sample(self.n_points).cpu(), modes, title)

    def save(self, trainer: Trainer, pl_module: LightningModule, name: str) -> None:
        if not trainer.is_global_zero:
            return
        with torch.random.fork_rng(devices=[]):  # pictures must not shift the training run's random stream
            torch.manual_seed(0)
            picture = self.picture(pl_module, trainer, name)
        directory = Path(trainer.default_root_dir) / "samples"
        directory.mkdir(parents=True, exist_ok=True)
        picture.save(directory / f"{name}.png")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key="samples/generated", images=[picture], caption=[name], step=trainer.global_step)

    def state_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "last_picture": self.last_picture}  # a resumed run keeps its picture schedule

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.batches = int(state_dict.get("batches", 0))
        self.last_picture = int(state_dict.get("last_picture", self.batches - self.batches % self.every_n_steps))

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        self.batches += 1
        if due(trainer, self.batches, self.last_picture, self.every_n_steps):
            self.last_picture = self.batches
            self.save(trainer, pl_module, f"step_{self.batches:06d}")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.save(trainer, pl_module, "final")
