"""Pictures of what a classifier sees and says: training batches after augmentation, and validation predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from PIL import Image
from torch import Tensor

from illusioncraft.contracts import ClassLabelledData, NormalizedData
from illusioncraft.errors import ConfigError
from illusioncraft.imaging import image_grid
from illusioncraft.registry import register
from illusioncraft.step_logs import due


def in_unit_range(images: Tensor, data: Any) -> Tensor:
    """Images (B, C, H, W) as the datamodule gave them before normalisation, in [0, 1]."""
    if isinstance(data, NormalizedData):
        images = images * data.std + data.mean
    return images.clamp(0, 1)


def enlarged(image: Tensor, size: int = 64) -> Image.Image:
    """One image (C, H, W) in [0, 1] as a picture at least ``size`` pixels wide (nearest neighbour)."""
    picture = image_grid(image.unsqueeze(0), nrow=1, padding=0, value_range=(0.0, 1.0))
    scale = max(1, size // max(picture.size))
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)


@register("classifier_samples")
class ClassifierSamples(Callback):
    """Every ``every_n_steps`` training batches (on the next logged one, sharing its synchronisation): the first
    ``n`` images of the batch as the model sees them (after the batch augmentations) to
    ``<run dir>/samples/train_step_N.png`` and W&B ``samples/train_batch``; after each validation, the first ``n``
    validation images captioned with the predicted and the true class (W&B ``samples/predictions``)."""

    def __init__(self, every_n_steps: int = 100, n: int = 16) -> None:
        if every_n_steps < 1 or n < 1:
            raise ConfigError(f"callback 'classifier_samples': every_n_steps and n must be >= 1, got {every_n_steps}, {n}")
        self.every_n_steps, self.n = every_n_steps, n
        self.batches, self.last_picture = 0, -every_n_steps  # the first logged batch gets a picture

    def state_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "last_picture": self.last_picture}  # a resumed run keeps its picture schedule

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.batches = int(state_dict.get("batches", 0))
        self.last_picture = int(state_dict.get("last_picture", -self.every_n_steps))

    @staticmethod
    def _wandb(trainer: Trainer) -> list[WandbLogger]:
        return [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.batches += 1
        step = self.batches
        if not due(trainer, step, self.last_picture, self.every_n_steps):
            return  # the first logged batch, then every every_n_steps batches on the next logged one
        self.last_picture = step
        if not trainer.is_global_zero or not isinstance(batch, (tuple, list)):
            return
        images = in_unit_range(batch[0][: self.n].detach().float().cpu(), trainer.datamodule)  # (n, C, H, W)
        picture = image_grid(images, nrow=min(8, images.shape[0]), value_range=(0.0, 1.0))
        directory = Path(trainer.default_root_dir) / "samples"
        directory.mkdir(parents=True, exist_ok=True)
        picture.save(directory / f"train_step_{step:06d}.png")
        for logger in self._wandb(trainer):
            logger.log_image(key="samples/train_batch", images=[picture], caption=[f"batch {step}"], step=trainer.global_step)

    @torch.no_grad()
    def on_validation_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        if trainer.sanity_checking or batch_idx != 0 or not trainer.is_global_zero or not self._wandb(trainer):
            return
        images, labels = batch[0][: self.n], batch[1][: self.n]
        logits = pl_module(images)
        predicted = pl_module.predict_labels(logits) if hasattr(pl_module, "predict_labels") else logits.argmax(dim=1)
        data = trainer.datamodule
        names = data.class_names if isinstance(data, ClassLabelledData) else None

        def label(index: int) -> str:
            return names[index] if names else str(index)

        shown = in_unit_range(images.float().cpu(), data)
        pictures = [enlarged(image) for image in shown]
        captions = [f"predicted {label(int(p))}, true {label(int(t))}" for p, t in zip(predicted, labels, strict=True)]
        for logger in self._wandb(trainer):
            logger.log_image(key="samples/predictions", images=pictures, caption=captions, step=trainer.global_step)
