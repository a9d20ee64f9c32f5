"""Confusion-matrix picture after testing, saved in the run directory and sent to image-capable loggers."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger

from illusioncraft.contracts import ClassLabelledData
from illusioncraft.imaging import confusion_matrix_image
from illusioncraft.registry import register


@register("confusion_matrix")
class ConfusionMatrixImage(Callback):
    """Draws the test confusion matrix to ``<run dir>/confusion_matrix.png`` and logs it to W&B."""

    def __init__(self, filename: str = "confusion_matrix.png") -> None:
        self.filename = filename

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        metric = getattr(pl_module, "test_confusion", None)
        if metric is None:
            return
        matrix = metric.compute()  # synchronised across ranks; every rank must call it
        metric.reset()
        if not trainer.is_global_zero:
            return
        data = trainer.datamodule
        names = data.class_names if isinstance(data, ClassLabelledData) else [str(i) for i in range(matrix.shape[0])]
        image = confusion_matrix_image(matrix, names)
        directory = Path(trainer.default_root_dir)
        directory.mkdir(parents=True, exist_ok=True)
        image.save(directory / self.filename)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key="test/confusion_matrix", images=[image])
