"""StackGAN (Zhang et al., 2017): text -> Stage-I coarse image -> Stage-II refined image, on the shared GAN loop.

Both stages condition on a sentence vector through conditioning augmentation (with its KL term) and train
against a matching-aware discriminator (Reed et al., 2016): it must call (real image, right caption) real, and
both (generated image, right caption) and (real image, wrong caption) fake, so it learns whether image and text
agree, not only whether the image looks real. Stage-II loads a trained Stage-I checkpoint, freezes it, and
learns to refine its images at a higher resolution; its discriminator adds an unconditional (image-only) head.

Text is read by a learned encoder chosen by name (``illusioncraft list text``: ``embedding_bag``, ``bigru``,
``bag_of_words``); the generator and the discriminator each own one and train it with their own optimiser.
With ``text_encoder: precomputed`` the sentence vectors come from the data (e.g. StackGAN's char-CNN-RNN files).
"""

from __future__ import annotations

import copy
import inspect
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor, nn

from illusioncraft import registry
from illusioncraft.errors import ConfigError
from illusioncraft.models.adversarial import AdversarialModule, _optimizer_default
from illusioncraft.models.stackgan_nets import (
    HEADS,
    ConditioningAugmentation,
    MatchingDiscriminator,
    StageOneGenerator,
    StageTwoGenerator,
    TextConditionedDiscriminator,
    TextConditionedGenerator,
    kl_to_standard_normal,
)
from illusioncraft.nn.optim import OptimizerSpec
from illusioncraft.registry import register

PRECOMPUTED = "precomputed"
N_SAMPLE_CAPTIONS = 8  # fixed captions of the sample grids: one per row


class StackGANStage(AdversarialModule):
    """What both stages share: text inputs, the matching-aware losses, the KL term, sampling from captions."""

    def __init__(
        self,
        text_encoder: str = "embedding_bag",
        text_dim: int = 128,
        condition_dim: int = 64,
        latent_dim: int = 64,
        kl_weight: float = 2.0,
        loss: str = "non_saturating",
        width: int = 32,
        unconditional_head: bool = False,
        discriminator_head: str = "concat",
        contrastive_weight: float = 0.0,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        text: Optional[dict[str, Any]] = None,
        sample_captions: Optional[list[str]] = None,
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        name = getattr(self, "registered_name", type(self).__name__)
        if text_encoder != PRECOMPUTED:
            encoder_class = registry.get("text", text_encoder)  # unknown names fail here with a suggestion
            if not (isinstance(encoder_class, type) and issubclass(encoder_class, nn.Module)):
                raise ConfigError(f"model '{name}': text_encoder '{text_encoder}' is a text step, not a sentence encoder "
                                  "(embedding_bag, bigru, bag_of_words, or precomputed)")
        for key, value in (("text_dim", text_dim), ("condition_dim", condition_dim), ("width", width)):
            if value < 1:
                raise ConfigError(f"model '{name}': {key} must be >= 1, got {value}")
        if kl_weight < 0:
            raise ConfigError(f"model '{name}': kl_weight must be >= 0, got {kl_weight}")
        if discriminator_head not in HEADS:
            raise ConfigError(f"model '{name}': discriminator_head must be one of {', '.join(HEADS)}, got {discriminator_head!r}")
        if contrastive_weight < 0:
            raise ConfigError(f"model '{name}': contrastive_weight must be >= 0, got {contrastive_weight}")
        self.discriminator_head, self.contrastive_weight = discriminator_head, contrastive_weight
        self.text_encoder_name, self.text_dim, self.condition_dim = text_encoder, text_dim, condition_dim
        self.kl_weight, self.unconditional_head = kl_weight, unconditional_head
        self.text_state = text
        adam = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}
        super().__init__(
            architecture="dcgan", latent_dim=latent_dim, loss=loss, ema_decay=ema_decay, width=width,
            generator_optimizer=_optimizer_default(generator_optimizer, adam),
            discriminator_optimizer=_optimizer_default(discriminator_optimizer, adam),
            data_shape=data_shape if (text is not None or text_encoder == PRECOMPUTED) else None,
        )

    # -- text ---------------------------------------------------------------------------------------------------
    @property
    def uses_tokens(self) -> bool:
        return self.text_encoder_name != PRECOMPUTED

    @property
    def text_width(self) -> int:
        """Length L of token rows, or width D of pre-computed sentence vectors: what one caption is to the nets."""
        return int(self.text_state["max_length"]) if self.uses_tokens else self.text_dim

    def make_text_encoder(self) -> nn.Module:
        if not self.uses_tokens:
            return nn.Identity()
        vocab_size = len(self.text_state["vocabulary"])
        return registry.build("text", self.text_encoder_name, vocab_size=vocab_size, output_dim=self.text_dim)

    def text_input(self, batch: dict[str, Tensor], wrong: bool = False) -> Tensor:
        key = ("wrong_" if wrong else "") + ("tokens" if self.uses_tokens else "embedding")
        if key not in batch:
            raise ConfigError(f"model: text_encoder '{self.text_encoder_name}' needs '{key}' in the batches; the data has none")
        return batch[key]

    def encode_captions(self, captions: list[str]) -> tuple[Tensor, list[str]]:
        """Captions -> token rows (N, L) with the training run's text pipeline, and the words it does not know."""
        if not self.uses_tokens:
            raise ConfigError("generate: this model reads pre-computed sentence embeddings, so it cannot read --text")
        from illusioncraft.text import TextEncoder

        encoder = TextEncoder.from_state(self.text_state)
        unknown = sorted({word for caption in captions for word in encoder.unknown_words(caption)})
        return encoder.encode(captions).to(self.device), unknown

    def _register_sample_text(self) -> None:
        shape = (N_SAMPLE_CAPTIONS, self.text_width)
        dtype = torch.long if self.uses_tokens else torch.float32
        self.register_buffer("sample_text", torch.zeros(shape, dtype=dtype))

    def _fill_sample_text(self, data: Any) -> None:
        """The first validation captions become the fixed captions of the sample grids (kept in checkpoints)."""
        if self.hparams.get("sample_captions"):
            return
        val_captions = data.captions("val")
        count = min(N_SAMPLE_CAPTIONS, len(val_captions))
        captions = [val_captions[i][0] for i in range(count)]
        index = torch.arange(N_SAMPLE_CAPTIONS) % count
        text = data.encode_text(captions) if self.uses_tokens else data.raw_split("val").embeddings[:count, 0]
        self.sample_text = text[index].to(self.sample_text)
        self.hparams.sample_captions = [captions[i] for i in index.tolist()]

    def _check_data(self, data: Any) -> None:
        name = getattr(self, "registered_name", type(self).__name__)
        if data is None or not hasattr(data, "text_encoder"):
            raise ConfigError(
                f"model '{name}' needs a captioned datamodule (captioned_shapes, captioned_digits, captioned_folder)"
            )
        if not self.uses_tokens:
            if data.embedding_dim is None:
                raise ConfigError(f"model '{name}': text_encoder 'precomputed' needs data with pre-computed embeddings")
            if data.embedding_dim != self.text_dim:
                raise ConfigError(
                    f"model '{name}': text_dim is {self.text_dim} but the data's embeddings are {data.embedding_dim}-d"
                )

    # -- generation ---------------------------------------------------------------------------------------------
    def draw(self, noise: Tensor, text: Tensor, generator: Optional[nn.Module] = None) -> tuple[Tensor, Tensor, Tensor]:
        """(images in [-1, 1], mu, log_var) for noise (B, latent) and captions (B, L) or (B, D)."""
        raise NotImplementedError

    def generate(self, z: Tensor, labels: Optional[Tensor] = None, generator: Optional[nn.Module] = None) -> Tensor:
        text = labels if labels is not None else self._cycled_sample_text(z.shape[0])
        return self.draw(z, text, generator)[0]

    def _cycled_sample_text(self, n: int) -> Tensor:
        """The fixed captions, each repeated for consecutive rows of a grid: rows 0..7 caption 0, and so on."""
        per_caption = max(1, n // N_SAMPLE_CAPTIONS)
        index = (torch.arange(n, device=self.sample_text.device) // per_caption) % N_SAMPLE_CAPTIONS
        return self.sample_text[index]

    @torch.no_grad()
    def sample(self, n: Optional[int] = None, noise: Optional[Tensor] = None, labels: Optional[Tensor] = None) -> Tensor:
        """Images in [0, 1] for captions ``labels`` (token rows or sentence vectors; default: the fixed captions)."""
        generator = self.generator_ema if self.generator_ema is not None else self.generator
        was_training = generator.training
        generator.eval()
        count = noise.shape[0] if noise is not None else (labels.shape[0] if labels is not None else (n or 64))
        z = noise if noise is not None else self.noise(count)
        images = self.to_data_range(self.generate(z, labels, generator))
        generator.train(was_training)
        return images

    # -- training -----------------------------------------------------------------------------------------------
    def matching_loss(self, real: Tensor, fake: Tensor, right: Tensor, wrong: Tensor) -> Tensor:
        """Matching-aware discriminator loss: real+right is real; fake+right and real+wrong are fake (half each)."""
        d = self.discriminator
        real_features, fake_features = d.net.features(real), d.net.features(fake)
        right_text, wrong_text = d.text_encoder(right), d.text_encoder(wrong)
        real_right = d.net.judge(real_features, right_text)
        loss = 0.5 * (self.loss_fn.discriminator(real_right, d.net.judge(fake_features, right_text))
                      + self.loss_fn.discriminator(real_right, d.net.judge(real_features, wrong_text)))
        real_alone = d.net.judge_image(real_features)
        if real_alone is not None:
            loss = loss + self.loss_fn.discriminator(real_alone, d.net.judge_image(fake_features))
        if self.contrastive_weight:
            loss = loss + self.contrastive_weight * d.net.contrastive_loss(real_features, right_text)
        return loss

    def generator_objective(self, fake: Tensor, right: Tensor, mu: Tensor, log_var: Tensor) -> tuple[Tensor, Tensor]:
        """Adversarial loss on (fake, right caption) [+ the image-only head] + kl_weight * KL; returns (loss, KL)."""
        d = self.discriminator
        features, right_text = d.net.features(fake), d.text_encoder(right)
        loss = self.loss_fn.generator(d.net.judge(features, right_text))
        alone = d.net.judge_image(features)
        if alone is not None:
            loss = loss + self.loss_fn.generator(alone)
        if self.contrastive_weight:
            loss = loss + self.contrastive_weight * d.net.contrastive_loss(features, right_text)
        kl = kl_to_standard_normal(mu, log_var)
        return loss + self.kl_weight * kl, kl

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        real = self.to_model_range(batch["image"])
        right, wrong = self.text_input(batch), self.text_input(batch, wrong=True)
        opt_g, opt_d = self.optimizers()
        with self.toggled_optimizer(opt_d):
            with torch.no_grad():
                fake = self.draw(self.noise(real.shape[0]), right)[0]
            d_loss = self.matching_loss(real, fake, right, wrong)
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            opt_d.step()
        self.discriminator_steps += 1
        self.log("train/d_loss", d_loss, prog_bar=True)
        if self.discriminator_steps % self.settings["n_critic"] == 0:
            with self.toggled_optimizer(opt_g):
                g_loss, logged = self.caption_generator_loss(self.noise(real.shape[0]), right)
                opt_g.zero_grad()
                self.manual_backward(g_loss)
                opt_g.step()
            self.generator_steps += 1
            self._update_ema()
            self.log_dict({"train/g_loss": g_loss, **logged}, prog_bar=True)

    def caption_generator_loss(self, noise: Tensor, right: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The generator's loss for one batch of noise and captions, and the terms to log beside it."""
        fake, mu, log_var = self.draw(noise, right)
        loss, kl = self.generator_objective(fake, right, mu, log_var)
        return loss, {"train/kl": kl}

    def default_callbacks(self) -> list[Any]:
        """Caption-labelled sample grids (+ a W&B table), attribute accuracy and FID on the validation captions."""
        return [registry.build("callback", "text_image_samples"), registry.build("callback", "text_image_metrics")]


@register("stackgan_stage1")
class StackGANStage1(StackGANStage):
    """StackGAN Stage-I: noise + conditioned caption -> a coarse image; matching-aware discriminator."""

    registered_name = "stackgan_stage1"

    def _build(self, data_shape: tuple[int, ...]) -> None:
        self.data_shape = tuple(data_shape)
        size = data_shape[1]
        self.generator = TextConditionedGenerator(
            self.make_text_encoder(), ConditioningAugmentation(self.text_dim, self.condition_dim),
            StageOneGenerator(self.settings["latent_dim"], self.condition_dim, size, self.settings["width"]),
        )
        self.discriminator = TextConditionedDiscriminator(
            self.make_text_encoder(),
            MatchingDiscriminator(size, self.text_dim, self.condition_dim, self.settings["width"], self.unconditional_head,
                                  self.discriminator_head, contrastive=self.contrastive_weight > 0),
        )
        if self.settings["ema_decay"] is not None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self._register_sample_text()

    def setup(self, stage: str) -> None:
        data = self.trainer.datamodule
        self._check_data(data)
        if self.generator is None:
            if self.uses_tokens:
                self.text_state = self.hparams.text = data.text_encoder.state()
            super().setup(stage)
        elif self.uses_tokens and data.text_encoder.state() != self.text_state:
            data._use_text_encoder(_text_encoder_from(self.text_state))  # the model's vocabulary decides the ids
        self._fill_sample_text(data)

    def draw(self, noise: Tensor, text: Tensor, generator: Optional[nn.Module] = None) -> tuple[Tensor, Tensor, Tensor]:
        return (generator or self.generator)(noise, text)


def stage1_consistency(fine: Tensor, coarse: Tensor) -> Tensor:
    """Mean absolute difference between the Stage-II image (B, C, S2, S2) reduced to Stage-I's size by averaging
    and the Stage-I image (B, C, S1, S1) it refines: Stage-II may add detail, but its coarse picture (the layout,
    the outline, the colours) stays the one Stage-I drew for the caption."""
    return (nn.functional.interpolate(fine, size=coarse.shape[-2:], mode="area") - coarse).abs().mean()


def _preferred_generator(model: StackGANStage) -> nn.Module:
    """The EMA generator when the model keeps one (it draws better images), else the trained one."""
    return model.generator_ema if model.generator_ema is not None else model.generator


def _text_encoder_from(state: dict[str, Any]) -> Any:
    from illusioncraft.text import TextEncoder

    return TextEncoder.from_state(state)


def read_stage1(path: str) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(hyperparameters, state dict) of a Stage-I checkpoint, read with weights_only=True; one-line errors."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"model 'stackgan_stage2': stage1_checkpoint '{path}' does not exist")
    try:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
        raise ConfigError(f"model 'stackgan_stage2': cannot read stage1_checkpoint '{path}' ({type(error).__name__})") from None
    hparams = checkpoint.get("hyper_parameters", {}) if isinstance(checkpoint, dict) else {}
    if not str(hparams.get("_class_path", "")).endswith("StackGANStage1") or "state_dict" not in checkpoint:
        kind = str(hparams.get("_class_path", "no IllusionCraft model")).rpartition(".")[2]
        raise ConfigError(f"model 'stackgan_stage2': stage1_checkpoint '{path}' holds {kind}, not a stackgan_stage1 model")
    return hparams, checkpoint["state_dict"]


@register("stackgan_stage2")
class StackGANStage2(StackGANStage):
    """StackGAN Stage-II: a frozen Stage-I draws the coarse image; a residual generator refines it at a higher
    resolution, reading the caption again; the discriminator has conditional and unconditional heads.

    ``stage1_checkpoint`` is read once; the Stage-I weights then travel inside this model's own checkpoints.
    """

    registered_name = "stackgan_stage2"

    def __init__(
        self,
        stage1_checkpoint: Optional[str] = None,
        residual_blocks: int = 2,
        text_encoder: str = "embedding_bag",
        text_dim: int = 128,
        condition_dim: int = 64,
        kl_weight: float = 2.0,
        loss: str = "non_saturating",
        width: int = 32,
        unconditional_head: bool = True,
        discriminator_head: str = "concat",
        contrastive_weight: float = 0.0,
        consistency_weight: float = 0.0,
        stage1_skip: bool = False,
        ema_decay: Optional[float] = None,
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        stage1: Optional[dict[str, Any]] = None,
        sample_captions: Optional[list[str]] = None,
        data_shape: Optional[tuple[int, ...]] = None,
    ) -> None:
        if residual_blocks < 0:
            raise ConfigError(f"model 'stackgan_stage2': residual_blocks must be >= 0, got {residual_blocks}")
        stage1_state = None
        if stage1 is None:  # a fresh run: read the Stage-I checkpoint
            if stage1_checkpoint is None:
                raise ConfigError("model 'stackgan_stage2': stage1_checkpoint is required (a trained stackgan_stage1 .ckpt)")
            stage1, stage1_state = read_stage1(stage1_checkpoint)
        accepted = inspect.signature(StackGANStage.__init__).parameters
        stage1 = {key: value for key, value in stage1.items() if key in accepted and key != "self"}
        stage_one = StackGANStage1(**stage1)
        if stage_one.generator is None:
            raise ConfigError("model 'stackgan_stage2': the Stage-I checkpoint has no networks (was it trained?)")
        if stage1_state is not None:
            stage_one.load_state_dict(stage1_state)
        if stage_one.text_encoder_name == PRECOMPUTED and text_encoder != PRECOMPUTED:
            raise ConfigError("model 'stackgan_stage2': Stage-I reads pre-computed embeddings; set text_encoder: precomputed")
        if consistency_weight < 0:
            raise ConfigError(f"model 'stackgan_stage2': consistency_weight must be >= 0, got {consistency_weight}")
        self.residual_blocks, self.consistency_weight, self.stage1_skip = residual_blocks, consistency_weight, stage1_skip
        super().__init__(
            text_encoder=text_encoder, text_dim=text_dim, condition_dim=condition_dim, latent_dim=stage1["latent_dim"],
            kl_weight=kl_weight, loss=loss, width=width, unconditional_head=unconditional_head,
            discriminator_head=discriminator_head, contrastive_weight=contrastive_weight, ema_decay=ema_decay,
            generator_optimizer=generator_optimizer, discriminator_optimizer=discriminator_optimizer,
            text=stage_one.text_state, sample_captions=sample_captions, data_shape=None,
        )
        self.hparams.stage1 = stage1
        self.stage1 = stage_one.requires_grad_(False).eval()
        # Lightning warns about modules in eval mode at the start of fit: here that is the frozen Stage-I, on purpose.
        warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
        self.hparams.text = stage_one.text_state
        if data_shape is not None:
            self.hparams.data_shape = tuple(data_shape)
            self._build(tuple(data_shape))

    def train(self, mode: bool = True) -> StackGANStage2:
        super().train(mode)
        if getattr(self, "stage1", None) is not None:
            self.stage1.eval()  # frozen: its batch-norm statistics stay those of its own training
        return self

    def _build(self, data_shape: tuple[int, ...]) -> None:
        self.data_shape = tuple(data_shape)
        size, stage1_size = data_shape[1], self.stage1.data_shape[1]
        self.generator = TextConditionedGenerator(
            self.make_text_encoder(), ConditioningAugmentation(self.text_dim, self.condition_dim),
            StageTwoGenerator(self.condition_dim, stage1_size, size, self.settings["width"], self.residual_blocks,
                              self.stage1_skip),
        )
        self.discriminator = TextConditionedDiscriminator(
            self.make_text_encoder(),
            MatchingDiscriminator(size, self.text_dim, self.condition_dim, self.settings["width"], self.unconditional_head,
                                  self.discriminator_head, contrastive=self.contrastive_weight > 0),
        )
        if self.settings["ema_decay"] is not None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self._register_sample_text()

    def setup(self, stage: str) -> None:
        data = self.trainer.datamodule
        self._check_data(data)
        if self.uses_tokens and data.text_encoder.state() != self.text_state:
            data._use_text_encoder(_text_encoder_from(self.text_state))  # Stage-I's vocabulary decides the ids
        if self.generator is None:
            super().setup(stage)
        self._fill_sample_text(data)

    @torch.no_grad()
    def stage1_images(self, noise: Tensor, text: Tensor) -> Tensor:
        """The frozen Stage-I's images (in [-1, 1]) for the same noise and captions."""
        stage_one = self.stage1
        return stage_one.draw(noise, text, _preferred_generator(stage_one))[0]

    def draw(self, noise: Tensor, text: Tensor, generator: Optional[nn.Module] = None) -> tuple[Tensor, Tensor, Tensor]:
        return (generator or self.generator)(self.stage1_images(noise, text), text)

    def caption_generator_loss(self, noise: Tensor, right: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The shared objective, plus ``consistency_weight`` times the consistency with the Stage-I image."""
        coarse = self.stage1_images(noise, right)
        fake, mu, log_var = self.generator(coarse, right)
        loss, kl = self.generator_objective(fake, right, mu, log_var)
        logged = {"train/kl": kl}
        if self.consistency_weight:
            consistency = stage1_consistency(fake, coarse)
            loss = loss + self.consistency_weight * consistency
            logged["train/consistency"] = consistency
        return loss, logged

    @torch.no_grad()
    def sample_both(self, noise: Tensor, text: Tensor) -> tuple[Tensor, Tensor]:
        """(Stage-I images, Stage-II images), both in [0, 1], for the same noise and captions."""
        generator = _preferred_generator(self)
        was_training = generator.training
        generator.eval()
        coarse = self.stage1_images(noise, text)
        fine = generator(coarse, text)[0]
        generator.train(was_training)
        return self.stage1.to_data_range(coarse), self.to_data_range(fine)
