"""What a text-to-image run shows and scores after each validation: caption-labelled sample grids (PNG in the run
directory, and a W&B table with the caption beside its Stage-I and Stage-II images), attribute accuracy of the
generated images against their captions, and FID with a feature extractor trained on the captioned data.

Everything is drawn under a forked random state, so showing and scoring never change the training run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from illusioncraft.callbacks.provenance import append_provenance
from illusioncraft.contracts import AttributeData, TextConditionedModel
from illusioncraft.errors import ConfigError
from illusioncraft.imaging import captioned_rows
from illusioncraft.registry import register


def _fixed_rows(pl_module: TextConditionedModel, per_caption: int) -> tuple[list[str], Optional[list[Tensor]], list[Tensor]]:
    """(captions, Stage-I rows or None, final rows): ``per_caption`` images for each fixed sample caption."""
    text = pl_module.sample_text.repeat_interleave(per_caption, dim=0)
    noise = pl_module.fixed_noise[: per_caption].repeat(pl_module.sample_text.shape[0], 1)  # same noise in every row
    *earlier, fine = pl_module.sample_stages(noise=noise, condition=text).values()
    coarse_rows = list(earlier[0].cpu().split(per_caption)) if earlier else None
    captions = list(pl_module.hparams.get("sample_captions") or [f"caption {i}" for i in range(len(pl_module.sample_text))])
    return captions, coarse_rows, list(fine.cpu().split(per_caption))


@register("text_image_samples")
class TextImageSamples(Callback):
    """After every ``every_n_epochs`` validations and at the end of training: ``samples/epoch_N.png`` (one row per
    fixed caption; Stage-II runs also write ``epoch_N_stage1.png``), the same pictures as W&B ``samples/generated``
    (and ``samples/stage1``), and a W&B table ``samples/table`` (caption, Stage-I, Stage-II)."""

    def __init__(self, every_n_epochs: int = 1, per_caption: int = 8) -> None:
        if every_n_epochs < 1 or per_caption < 1:
            raise ConfigError(
                f"callback 'text_image_samples': every_n_epochs and per_caption must be >= 1, got {every_n_epochs}, {per_caption}"
            )
        self.every_n_epochs, self.per_caption = every_n_epochs, per_caption

    def save(self, trainer: Trainer, pl_module: Any, name: str) -> None:
        if not trainer.is_global_zero:
            return
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            captions, coarse_rows, fine_rows = _fixed_rows(pl_module, self.per_caption)
        directory = Path(trainer.default_root_dir) / "samples"
        directory.mkdir(parents=True, exist_ok=True)
        pictures = {"samples/generated": captioned_rows(fine_rows, captions)}
        if coarse_rows is not None:
            pictures["samples/stage1"] = captioned_rows(coarse_rows, captions, scale=4)
        for key, picture in pictures.items():
            picture.save(directory / f"{name}{'_stage1' if key.endswith('stage1') else ''}.png")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                for key, picture in pictures.items():
                    logger.log_image(key=key, images=[picture], caption=[name], step=trainer.global_step)
                self._log_table(logger, captions, coarse_rows, fine_rows, trainer.global_step)

    @staticmethod
    def _log_table(
        logger: WandbLogger, captions: list[str], coarse: Optional[list[Tensor]], fine: list[Tensor], step: int
    ) -> None:
        import wandb

        from illusioncraft.imaging import image_grid

        def picture(row: Tensor) -> Any:
            return wandb.Image(image_grid(row, nrow=row.shape[0], value_range=(0.0, 1.0)))

        columns = ["caption", "stage1", "stage2"] if coarse is not None else ["caption", "stage1"]
        data = [[caption, picture(coarse[i]), picture(fine[i])] if coarse is not None else [caption, picture(fine[i])]
                for i, caption in enumerate(captions)]
        logger.log_table(key="samples/table", columns=columns, data=data, step=step)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.sanity_checking and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.save(trainer, pl_module, f"epoch_{trainer.current_epoch:03d}")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.save(trainer, pl_module, "final")


@register("text_image_metrics")
class TextImageMetrics(Callback):
    """After each validation: generate one image for each of ``n_samples`` validation captions and log

    - ``val/attribute_accuracy``: share of (image, attribute) pairs where an independent attribute classifier
      (trained on the real training images) reads the attribute the caption asked for; ``val/attribute_all``:
      share of images with every attribute right; ``val/attribute_accuracy_<name>`` per attribute;
    - ``val/fid``: Fréchet distance between the classifier's features of the generated and the real validation
      images (the same extractor for both stages, at the data's resolution);
    - for Stage-II models, the same for the frozen Stage-I's images: ``val/stage1_attribute_accuracy``, ``val/stage1_fid``.

    Data without attributes (``captioned_folder``) has no attribute classifier: the callback says so once and logs nothing.
    """

    def __init__(self, n_samples: int = 500, batch_size: int = 250, classifier_epochs: int = 6) -> None:
        if n_samples < 2 or batch_size < 1 or classifier_epochs < 1:
            raise ConfigError(
                f"callback 'text_image_metrics': n_samples must be >= 2, batch_size and classifier_epochs >= 1, "
                f"got {n_samples}, {batch_size}, {classifier_epochs}")
        self.n_samples, self.batch_size, self.classifier_epochs = n_samples, batch_size, classifier_epochs
        self.classifier: Any = None
        self.enabled = True

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        data = trainer.datamodule
        if not isinstance(data, AttributeData) or not data.attribute_names or data.grammar is None:
            self.enabled = False
            rank_zero_info(
                f"text_image_metrics: {type(data).__name__} has no attributes; attribute accuracy and FID are not computed"
            )

    def _load_classifier(self, data: Any) -> Any:
        from illusioncraft import registry
        from illusioncraft.metrics.attributes import load_attribute_classifier

        entry = registry.find_by_object(type(data))
        if entry is None:
            raise ConfigError(f"text_image_metrics: {type(data).__name__} is not a registered datamodule")
        with torch.random.fork_rng(devices=[]), torch.inference_mode(False):  # training it must not shift this run
            return load_attribute_classifier(entry.name, data.image_size, data.seed, getattr(data, "n_images", None),
                                             self.classifier_epochs)

    def evaluation_set(self, data: Any, pl_module: Any) -> tuple[Tensor, Tensor, Tensor]:
        """(real images, captions as the model reads them, attributes) of the first ``n_samples`` validation images;
        image i uses its caption number i modulo its caption count, so every template is represented."""
        split = data.raw_split("val")
        count = min(self.n_samples, len(split))
        captions = [split.captions[i][i % len(split.captions[i])] for i in range(count)]
        if pl_module.uses_tokens:
            text = data.encode_text(captions)
        else:
            text = torch.stack([split.embeddings[i, i % split.embeddings.shape[1]] for i in range(count)])
        images = torch.stack([split.images[i] for i in range(count)])
        return images, text, split.attributes[:count]

    @torch.no_grad()
    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not self.enabled:
            return
        data = trainer.datamodule
        if self.classifier is None:
            self.classifier = self._load_classifier(data)
            real, self.text, self.attributes = self.evaluation_set(data, pl_module)
            self.real_features = self.classifier.features(real).cpu()  # (n, F), the same every epoch
        self.classifier.to(pl_module.device)
        coarse, fine = [], []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(trainer.current_epoch)
            for text in self.text.to(pl_module.device).split(self.batch_size):
                *earlier, final = pl_module.sample_stages(noise=pl_module.noise(text.shape[0]), condition=text).values()
                if earlier:
                    coarse.append(earlier[0].cpu())
                fine.append(final.cpu())
        scores = self.score(torch.cat(fine), prefix="val/")
        if coarse:
            scores.update(self.score(torch.cat(coarse), prefix="val/stage1_"))
        pl_module.log_dict(scores, sync_dist=True)  # every rank scores the same captions and noise: equal values
        if trainer.is_global_zero:
            self._record(trainer, scores)

    def score(self, images: Tensor, prefix: str) -> dict[str, float]:
        from illusioncraft.metrics.attributes import attribute_accuracy
        from illusioncraft.metrics.fid import FrechetDistance

        images = images.to(next(self.classifier.parameters()).device)
        accuracy = attribute_accuracy(self.classifier, images, self.attributes)
        # every rank scores the same captions and noise, so nothing is summed across ranks
        fid = FrechetDistance(self.real_features.shape[1], sync_on_compute=False)
        fid.update(self.real_features, real=True)
        fid.update(torch.cat([self.classifier.features(chunk).cpu() for chunk in images.split(self.batch_size)]), real=False)
        scores = {f"{prefix}attribute_accuracy": accuracy.pop("mean"), f"{prefix}attribute_all": accuracy.pop("all")}
        scores.update({f"{prefix}attribute_accuracy_{name}": value for name, value in accuracy.items()})
        scores[f"{prefix}fid"] = float(fid.compute())
        return scores

    def _record(self, trainer: Trainer, scores: dict[str, float]) -> None:
        from illusioncraft.metrics.features import weights_hash

        digest, count = weights_hash(self.classifier), int(self.attributes.shape[0])
        append_provenance(trainer.default_root_dir, [{
            "metric": metric, "value": scores[metric], "epoch": trainer.current_epoch, "step": trainer.global_step,
            "extractor": "attribute_classifier", "extractor_weights_sha256": digest,
            "extractor_input_size": self.classifier.image_size, "n_real": count, "n_fake": count,
        } for metric in scores if metric.endswith("fid") or metric.endswith("attribute_accuracy")])
