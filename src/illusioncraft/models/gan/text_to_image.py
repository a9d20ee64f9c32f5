"""What every caption-conditioned GAN shares, on the one adversarial loop: captions as the condition, the
matching-aware discriminator loss, conditioning augmentation's KL term, and the fixed captions of sample grids.

The condition of a real batch is its caption (``tokens``, or ``embedding`` with ``text_encoder: precomputed``).
The matching-aware discriminator (Reed et al., 2016) must call (real image, right caption) real, and both
(generated image, right caption) and (real image, wrong caption) fake, so it learns whether image and text agree,
not only whether the image looks real. Text is read by a learned encoder chosen by name (``illusioncraft list
text``: ``embedding_bag``, ``bigru``, ``bag_of_words``); the generator and the discriminator each own one and train
it with their own optimiser. Networks: ``illusioncraft.nn.networks.stackgan``.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from illusioncraft import registry
from illusioncraft.contracts import CaptionedData
from illusioncraft.errors import ConfigError
from illusioncraft.models.gan.loop import AdversarialModule, Condition, Generated
from illusioncraft.nn.networks.stackgan import HEADS, kl_to_standard_normal
from illusioncraft.text import TextEncoder, TextEncoderState

PRECOMPUTED = "precomputed"
N_SAMPLE_CAPTIONS = 8  # fixed captions of the sample grids: one per row


class TextToImageGAN(AdversarialModule):
    """Caption-conditioned GAN: the generator returns (image, mu, log_var); the discriminator is a
    ``TextConditionedDiscriminator`` (its own text encoder and a ``MatchingDiscriminator``)."""

    def __init__(
        self,
        text_encoder: str,
        text_dim: int,
        condition_dim: int,
        kl_weight: float,
        width: int,
        unconditional_head: bool,
        discriminator_head: str,
        contrastive_weight: float,
        text: Optional[TextEncoderState],
        **loop: Any,
    ) -> None:
        name = registry.name_of(type(self))
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
        if loop.get("pack", 1) != 1:
            raise ConfigError(f"model '{name}': pack is not supported with captions (one caption per image)")
        self.text_encoder_name, self.text_dim, self.condition_dim = text_encoder, text_dim, condition_dim
        self.kl_weight, self.width, self.unconditional_head = kl_weight, width, unconditional_head
        self.discriminator_head, self.contrastive_weight = discriminator_head, contrastive_weight
        self.text_state = text
        super().__init__(**loop)

    # -- text ----------------------------------------------------------------------------------------------------
    @property
    def uses_tokens(self) -> bool:
        return self.text_encoder_name != PRECOMPUTED

    @property
    def text_width(self) -> int:
        """Length L of token rows, or width D of pre-computed sentence vectors: what one caption is to the nets."""
        return int(self.text_state["max_length"]) if self.uses_tokens else self.text_dim

    @property
    def can_build(self) -> bool:
        """Whether the networks can be built before seeing the data (the vocabulary is known, or not needed)."""
        return self.text_state is not None or not self.uses_tokens

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
        encoder = TextEncoder.from_state(self.text_state)
        unknown = sorted({word for caption in captions for word in encoder.unknown_words(caption)})
        return encoder.encode(captions).to(self.device), unknown

    # -- data ----------------------------------------------------------------------------------------------------
    def check_data(self, data: Any) -> None:
        """Refuse data without captions, or embeddings of another width than ``text_dim`` (one line each)."""
        name = registry.name_of(type(self))
        if not isinstance(data, CaptionedData):
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

    def read_with_vocabulary(self, data: CaptionedData) -> None:
        """Make the data encode captions with this model's vocabulary (a resumed or stacked model's ids decide)."""
        if self.uses_tokens and data.text_encoder.state() != self.text_state:
            data.use_text_encoder(TextEncoder.from_state(self.text_state))

    def build(self, data_shape: tuple[int, ...]) -> None:
        super().build(data_shape)
        dtype = torch.long if self.uses_tokens else torch.float32
        self.register_buffer("sample_text", torch.zeros((N_SAMPLE_CAPTIONS, self.text_width), dtype=dtype))

    def setup(self, stage: str) -> None:
        """A one-stage model: the data's vocabulary for a fresh model (its networks are built then), the model's
        own vocabulary for the data of a resumed one; then the fixed captions of the sample grids."""
        data = self.trainer.datamodule
        self.check_data(data)
        if self.generator is None:
            if self.uses_tokens:
                self.text_state = self.hparams.text = data.text_encoder.state()
            super().setup(stage)
        else:
            self.read_with_vocabulary(data)  # the model's vocabulary decides the ids
        self.fill_sample_text(data)

    def fill_sample_text(self, data: CaptionedData) -> None:
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

    # -- the loop's hooks ----------------------------------------------------------------------------------------
    def real_of(self, batch: dict[str, Tensor]) -> Tensor:
        return batch["image"]

    def condition_of(self, batch: dict[str, Tensor]) -> Tensor:
        return self.text_input(batch)

    def default_condition(self, n: int) -> Tensor:
        """The fixed captions, each repeated for consecutive rows of a grid: rows 0..7 caption 0, and so on."""
        per_caption = max(1, n // N_SAMPLE_CAPTIONS)
        index = (torch.arange(n, device=self.sample_text.device) // per_caption) % N_SAMPLE_CAPTIONS
        return self.sample_text[index]

    def generate(self, noise: Tensor, condition: Condition, generator: Optional[nn.Module] = None) -> Generated:
        images, mu, log_var = (generator or self.generator)(noise, condition)
        return Generated(images, terms={"mu": mu, "log_var": log_var})

    def discriminator_loss(self, real: Tensor, fake: Generated, condition: Condition,
                           batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        return self.matching_loss(real, fake.samples, condition, self.text_input(batch, wrong=True)), {}

    def matching_loss(self, real: Tensor, fake: Tensor, right: Tensor, wrong: Tensor) -> Tensor:
        """Matching-aware discriminator loss: real+right is real; fake+right and real+wrong are fake (half each);
        plus the image-only head and the contrastive term when the model has them."""
        d = self.discriminator
        real_features = d.net.features(self.augment_for_discriminator(real))
        fake_features = d.net.features(self.augment_for_discriminator(fake))
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

    def generator_loss(self, real: Tensor, condition: Condition, batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        return self.generator_objective(self.generate(self.noise(real.shape[0]), condition), condition, real)

    def generator_objective(self, fake: Generated, right: Tensor,
                            real: Optional[Tensor] = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Adversarial loss on (fake, right caption) [+ the image-only head, + the contrastive term]
        + kl_weight * KL of conditioning augmentation; returns (loss, terms to log). ``real`` (the real batch)
        is judged too when the loss compares with the real logits (``generator_needs_real``)."""
        d = self.discriminator
        features, right_text = d.net.features(self.augment_for_discriminator(fake.samples)), d.text_encoder(right)
        real_features = None
        if self.loss_fn.generator_needs_real and real is not None:
            real_features = d.net.features(self.augment_for_discriminator(real))
        loss = self.loss_fn.generator(d.net.judge(features, right_text),
                                      None if real_features is None else d.net.judge(real_features, right_text))
        alone = d.net.judge_image(features)
        if alone is not None:
            loss = loss + self.loss_fn.generator(alone, None if real_features is None else d.net.judge_image(real_features))
        if self.contrastive_weight:
            loss = loss + self.contrastive_weight * d.net.contrastive_loss(features, right_text)
        kl = kl_to_standard_normal(fake.terms["mu"], fake.terms["log_var"])
        return loss + self.kl_weight * kl, {"train/kl": kl}

    def default_callbacks(self) -> list[Any]:
        """Caption-labelled sample grids (+ a W&B table), attribute accuracy and FID on the validation captions."""
        return [registry.build("callback", "text_image_samples"), registry.build("callback", "text_image_metrics")]
