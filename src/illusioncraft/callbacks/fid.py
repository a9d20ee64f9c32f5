"""Scores of generators during validation: FID with its provenance, and class accuracy for conditional models.

Both draw their samples under a forked random state, so scoring never changes the training run itself.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from illusioncraft import registry
from illusioncraft.callbacks.provenance import append_provenance
from illusioncraft.contracts import ClassConditionedModel, GeneratorModel
from illusioncraft.errors import ConfigError
from illusioncraft.metrics.fid import FrechetDistance, kernel_distance
from illusioncraft.registry import register


@register("fid")
class FIDScore(Callback):
    """Logs ``val/fid`` and ``val/kid`` after each validation: ``n_fake`` samples vs up to ``n_real`` training images.

    The feature extractor is chosen by name (``illusioncraft list feature_extractor``). Each score is written to
    ``<run dir>/metric_provenance.json`` with the extractor, its weights hash, n_real, n_fake and image size.
    """

    def __init__(self, extractor: str = "digits_classifier", extractor_args: Optional[dict[str, Any]] = None,
                 n_real: int = 1000, n_fake: int = 1000, batch_size: int = 250) -> None:
        if n_real < 2 or n_fake < 2:
            raise ConfigError(f"callback 'fid': n_real and n_fake must be >= 2, got {n_real}, {n_fake}")
        registry.check_arguments("feature_extractor", extractor, extractor_args or {})
        self.extractor_name, self.extractor_args = extractor, dict(extractor_args or {})
        self.n_real, self.n_fake, self.batch_size = n_real, n_fake, batch_size
        self.extractor: Any = None
        self.real_features: Optional[torch.Tensor] = None

    def _real_images(self, trainer: Trainer) -> torch.Tensor:
        dataset = trainer.datamodule.train_dataset
        dataset = getattr(dataset, "dataset", dataset)  # beneath a per-sample augmentation wrapper
        count = min(self.n_real, len(dataset))
        return torch.stack([dataset[i][0] for i in range(count)])  # (n_real, C, H, W) in [0, 1]

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.extractor(chunk) for chunk in images.split(self.batch_size)])

    def _fake_features(self, trainer: Trainer, pl_module: LightningModule) -> torch.Tensor:
        """Features of ``n_fake`` samples, in chunks of ``batch_size`` each drawn from its own seed.

        Under DDP rank r draws chunks r, r + W, ... and the features are gathered, so every rank holds the same
        ``n_fake`` features as a single process would, in the same order (KID's subsets depend on the order).
        """
        sizes = [min(self.batch_size, self.n_fake - start) for start in range(0, self.n_fake, self.batch_size)]
        world, rank = trainer.world_size, trainer.global_rank
        cuda = [pl_module.device] if pl_module.device.type == "cuda" else []
        local = []
        with torch.random.fork_rng(devices=cuda):  # scoring must not shift the training run's random stream
            for chunk in range(rank, len(sizes), world):
                torch.manual_seed(trainer.current_epoch * 100_003 + chunk)
                local.append(self._features(pl_module.sample(sizes[chunk]).cpu()))
        if world == 1:
            return torch.cat(local)
        counts = [sum(sizes[rank::world]) for rank in range(world)]
        padded = torch.zeros(max(counts), self.extractor.num_features)
        if local:
            mine = torch.cat(local)
            padded[: mine.shape[0]] = mine
        gathered = trainer.strategy.all_gather(padded.to(pl_module.device)).cpu()  # (W, max count, d)
        chunks: dict[int, torch.Tensor] = {}
        for source in range(world):
            indices = list(range(source, len(sizes), world))
            pieces = gathered[source, : counts[source]].split([sizes[i] for i in indices]) if indices else ()
            chunks.update(zip(indices, pieces, strict=True))
        return torch.cat([chunks[i] for i in range(len(sizes))])

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not isinstance(pl_module, GeneratorModel) or not pl_module.is_image_model:
            return
        if self.extractor is None:
            with torch.random.fork_rng(devices=[]):  # building an extractor may train one
                self.extractor = registry.build("feature_extractor", self.extractor_name, **self.extractor_args)
            self.real_features = self._features(self._real_images(trainer))
        fake_features = self._fake_features(trainer, pl_module)
        # every rank already holds all the features: summing them over the ranks would count them twice
        metric = FrechetDistance(self.extractor.num_features, sync_on_compute=False)
        metric.update(self.real_features, real=True)
        metric.update(fake_features, real=False)
        score = float(metric.compute())
        kid, kid_std = kernel_distance(self.real_features, fake_features, seed=trainer.current_epoch)
        # the same numbers on every rank: sync_dist averages equal values (and silences Lightning's DDP warning)
        pl_module.log_dict({"val/fid": score, "val/kid": kid, "val/kid_std": kid_std}, sync_dist=True)
        if trainer.is_global_zero:
            shape = tuple(pl_module.data_shape)  # the generated images' (C, H, W)
            self._record(trainer, "val/fid", score, shape)
            self._record(trainer, "val/kid", kid, shape)

    def _record(self, trainer: Trainer, metric: str, score: float, image_shape: tuple[int, ...]) -> None:
        append_provenance(trainer.default_root_dir, [{
            "metric": metric, "value": score, "epoch": trainer.current_epoch, "step": trainer.global_step,
            "extractor": self.extractor.name, "extractor_weights_sha256": self.extractor.weights_hash,
            "extractor_input_size": self.extractor.input_size, "n_real": int(self.real_features.shape[0]),
            "n_fake": self.n_fake, "image_shape": list(image_shape),
        }])


@register("class_accuracy")
class ConditionalClassAccuracy(Callback):
    """For class-conditional generators: the share of samples that an independent classifier assigns to the asked
    class, overall (``val/class_accuracy``) and per class (``val/class_accuracy_<k>``), from ``n_per_class`` each.

    The classifier is the ``digits_classifier`` feature extractor's network (trained apart from the GAN).
    """

    def __init__(self, classifier: str = "digits_classifier", n_per_class: int = 100) -> None:
        if n_per_class < 1:
            raise ConfigError(f"callback 'class_accuracy': n_per_class must be >= 1, got {n_per_class}")
        registry.get("feature_extractor", classifier)
        self.classifier_name, self.n_per_class = classifier, n_per_class
        self.classifier: Any = None

    @torch.no_grad()
    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not isinstance(pl_module, ClassConditionedModel):
            return
        if self.classifier is None:
            with torch.random.fork_rng(devices=[]):
                self.classifier = registry.build("feature_extractor", self.classifier_name).network
        k = pl_module.num_classes
        labels = torch.arange(k, device=pl_module.device).repeat_interleave(self.n_per_class)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(trainer.current_epoch)
            samples = pl_module.sample(condition=labels).cpu()
        predicted = self.classifier(samples).argmax(dim=1)
        correct = (predicted == labels.cpu()).float()
        # every rank draws the same samples, so the ranks agree; sync_dist averages equal values
        pl_module.log("val/class_accuracy", correct.mean(), sync_dist=True)
        per_class = correct.view(k, self.n_per_class).mean(dim=1)
        pl_module.log_dict({f"val/class_accuracy_{c}": per_class[c] for c in range(k)}, sync_dist=True)
