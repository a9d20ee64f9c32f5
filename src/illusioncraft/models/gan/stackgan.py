"""StackGAN (Zhang et al., 2017): text -> Stage-I coarse image -> Stage-II refined image, on the one adversarial loop.

Both stages condition on a sentence vector through conditioning augmentation (with its KL term) and train
against a matching-aware discriminator (``text_to_image``). Stage-II loads a trained Stage-I checkpoint, freezes
it, and learns to refine its images at a higher resolution; its discriminator adds an unconditional head.
With ``text_encoder: precomputed`` the sentence vectors come from the data (e.g. StackGAN's char-CNN-RNN files).
"""

from __future__ import annotations

import inspect
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, Optional, TypedDict

import torch
from torch import Tensor, nn

from illusioncraft.augment.adaptive import ADASettings
from illusioncraft.errors import ConfigError
from illusioncraft.losses.spec import LossSpec
from illusioncraft.models.gan.loop import AdversarialModule, Condition, Generated, LRDecay, optimizer_default
from illusioncraft.models.gan.regularizers.base import RegularizerSpec
from illusioncraft.models.gan.text_to_image import PRECOMPUTED, TextToImageGAN
from illusioncraft.nn.compile import Compile
from illusioncraft.nn.networks.stackgan import (
    ConditioningAugmentation,
    MatchingDiscriminator,
    StageOneGenerator,
    StageTwoGenerator,
    TextConditionedDiscriminator,
    TextConditionedGenerator,
)
from illusioncraft.nn.optim import OptimizerSpec
from illusioncraft.registry import register
from illusioncraft.text import TextEncoderState

ADAM = {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}


class Stage1Arguments(TypedDict, total=False):
    """A Stage-I model's constructor arguments as Stage-II keeps them: typed field by field, so a config carrying
    them (a resumed Stage-II checkpoint) keeps every value, the vocabulary's tokens included, through YAML."""

    text_encoder: str
    text_dim: int
    condition_dim: int
    latent_dim: int
    kl_weight: float
    loss: LossSpec
    width: int
    unconditional_head: bool
    discriminator_head: str
    contrastive_weight: float
    ema_decay: Optional[float]
    n_critic: int
    gradient_penalty: Optional[float]
    weight_clip: Optional[float]
    diffaugment: Optional[str]
    lr_decay: LRDecay
    generator_optimizer: Optional[OptimizerSpec]
    discriminator_optimizer: Optional[OptimizerSpec]
    text: Optional[TextEncoderState]
    sample_captions: Optional[list[str]]
    compile: Compile
    data_shape: Optional[tuple[int, ...]]
    regularizers: Optional[list[RegularizerSpec]]
    ada: Optional[ADASettings]


@register("stackgan_stage1")
class StackGANStage1(TextToImageGAN):
    """StackGAN Stage-I: noise + conditioned caption -> a coarse image; matching-aware discriminator."""

    stage_name = "stage1"

    def __init__(
        self,
        text_encoder: str = "embedding_bag",
        text_dim: int = 128,
        condition_dim: int = 64,
        latent_dim: int = 64,
        kl_weight: float = 2.0,
        loss: LossSpec = "non_saturating",
        width: int = 32,
        unconditional_head: bool = False,
        discriminator_head: str = "concat",
        contrastive_weight: float = 0.0,
        ema_decay: Optional[float] = None,
        n_critic: int = 1,
        gradient_penalty: Optional[float] = None,
        weight_clip: Optional[float] = None,
        diffaugment: Optional[str] = None,
        lr_decay: LRDecay = "none",
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        text: Optional[TextEncoderState] = None,
        sample_captions: Optional[list[str]] = None,
        compile: Compile = False,
        data_shape: Optional[tuple[int, ...]] = None,
        regularizers: Optional[list[RegularizerSpec]] = None,
        ada: Optional[ADASettings] = None,
    ) -> None:
        super().__init__(
            text_encoder, text_dim, condition_dim, kl_weight, width, unconditional_head, discriminator_head,
            contrastive_weight, text, latent_dim=latent_dim, loss=loss, ema_decay=ema_decay, n_critic=n_critic,
            gradient_penalty=gradient_penalty, weight_clip=weight_clip, diffaugment=diffaugment, lr_decay=lr_decay,
            generator_optimizer=optimizer_default(generator_optimizer, ADAM),
            discriminator_optimizer=optimizer_default(discriminator_optimizer, ADAM),
            data_shape=data_shape if (text is not None or text_encoder == PRECOMPUTED) else None, compile=compile,
            regularizers=regularizers, ada=ada,
        )

    def build_networks(self, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        size = data_shape[1]
        generator = TextConditionedGenerator(
            self.make_text_encoder(), ConditioningAugmentation(self.text_dim, self.condition_dim),
            StageOneGenerator(self.latent_dim, self.condition_dim, size, self.width),
        )
        discriminator = TextConditionedDiscriminator(
            self.make_text_encoder(),
            MatchingDiscriminator(size, self.text_dim, self.condition_dim, self.width, self.unconditional_head,
                                  self.discriminator_head, contrastive=self.contrastive_weight > 0),
        )
        return generator, discriminator


def stage1_consistency(fine: Tensor, coarse: Tensor) -> Tensor:
    """Mean absolute difference between the Stage-II image (B, C, S2, S2) reduced to Stage-I's size by averaging
    and the Stage-I image (B, C, S1, S1) it refines: Stage-II may add detail, but its coarse picture (the layout,
    the outline, the colours) stays the one Stage-I drew for the caption."""
    return (nn.functional.interpolate(fine, size=coarse.shape[-2:], mode="area") - coarse).abs().mean()


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


def stage1_arguments(hparams: dict[str, Any]) -> dict[str, Any]:
    """The Stage-I constructor's arguments among a Stage-I checkpoint's hyper-parameters."""
    accepted = inspect.signature(StackGANStage1.__init__).parameters
    return {key: value for key, value in hparams.items() if key in accepted and key != "self"}


def frozen_stage1(stage1: dict[str, Any], state: Optional[dict[str, Tensor]]) -> StackGANStage1:
    """A Stage-I model from its arguments (and weights), frozen: no gradients, batch norm in eval mode."""
    stage_one = StackGANStage1(**stage1)
    if stage_one.generator is None:
        raise ConfigError("model 'stackgan_stage2': the Stage-I checkpoint has no networks (was it trained?)")
    if state is not None:
        stage_one.load_state_dict(state)
    return stage_one.requires_grad_(False).eval()


@register("stackgan_stage2")
class StackGANStage2(TextToImageGAN):
    """StackGAN Stage-II: a frozen Stage-I draws the coarse image; a residual generator refines it at a higher
    resolution, reading the caption again; the discriminator has conditional and unconditional heads.

    ``stage1_checkpoint`` is read once; the Stage-I weights then travel inside this model's own checkpoints.
    """

    stage_name = "stage2"

    def __init__(
        self,
        stage1_checkpoint: Optional[str] = None,
        residual_blocks: int = 2,
        text_encoder: str = "embedding_bag",
        text_dim: int = 128,
        condition_dim: int = 64,
        kl_weight: float = 2.0,
        loss: LossSpec = "non_saturating",
        width: int = 32,
        unconditional_head: bool = True,
        discriminator_head: str = "concat",
        contrastive_weight: float = 0.0,
        consistency_weight: float = 0.0,
        stage1_skip: bool = False,
        ema_decay: Optional[float] = None,
        n_critic: int = 1,
        gradient_penalty: Optional[float] = None,
        weight_clip: Optional[float] = None,
        diffaugment: Optional[str] = None,
        lr_decay: LRDecay = "none",
        generator_optimizer: OptimizerSpec = None,
        discriminator_optimizer: OptimizerSpec = None,
        stage1: Optional[Stage1Arguments] = None,
        sample_captions: Optional[list[str]] = None,
        compile: Compile = False,
        data_shape: Optional[tuple[int, ...]] = None,
        regularizers: Optional[list[RegularizerSpec]] = None,
        ada: Optional[ADASettings] = None,
    ) -> None:
        if residual_blocks < 0:
            raise ConfigError(f"model 'stackgan_stage2': residual_blocks must be >= 0, got {residual_blocks}")
        if consistency_weight < 0:
            raise ConfigError(f"model 'stackgan_stage2': consistency_weight must be >= 0, got {consistency_weight}")
        stage1_state = None
        if stage1 is None:  # a fresh run: read the Stage-I checkpoint
            if stage1_checkpoint is None:
                raise ConfigError("model 'stackgan_stage2': stage1_checkpoint is required (a trained stackgan_stage1 .ckpt)")
            stage1, stage1_state = read_stage1(stage1_checkpoint)
        stage1 = stage1_arguments(stage1)
        stage_one = frozen_stage1(stage1, stage1_state)
        if stage_one.text_encoder_name == PRECOMPUTED and text_encoder != PRECOMPUTED:
            raise ConfigError("model 'stackgan_stage2': Stage-I reads pre-computed embeddings; set text_encoder: precomputed")
        self.residual_blocks, self.consistency_weight, self.stage1_skip = residual_blocks, consistency_weight, stage1_skip
        super().__init__(
            text_encoder, text_dim, condition_dim, kl_weight, width, unconditional_head, discriminator_head,
            contrastive_weight, stage_one.text_state, latent_dim=stage_one.latent_dim, loss=loss, ema_decay=ema_decay,
            n_critic=n_critic, gradient_penalty=gradient_penalty, weight_clip=weight_clip, diffaugment=diffaugment,
            lr_decay=lr_decay, generator_optimizer=optimizer_default(generator_optimizer, ADAM),
            discriminator_optimizer=optimizer_default(discriminator_optimizer, ADAM), compile=compile,
            regularizers=regularizers, ada=ada,
        )
        self.hparams.stage1 = stage1
        self.stage1 = stage_one
        # Lightning warns about modules in eval mode at the start of fit: here that is the frozen Stage-I, on purpose.
        warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")
        if data_shape is not None:
            self.hparams.data_shape = tuple(data_shape)
            self.build(tuple(data_shape))

    def train(self, mode: bool = True) -> StackGANStage2:
        super().train(mode)
        if getattr(self, "stage1", None) is not None:
            self.stage1.eval()  # frozen: its batch-norm statistics stay those of its own training
        return self

    def build_networks(self, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
        size, stage1_size = data_shape[1], self.stage1.data_shape[1]
        generator = TextConditionedGenerator(
            self.make_text_encoder(), ConditioningAugmentation(self.text_dim, self.condition_dim),
            StageTwoGenerator(self.condition_dim, stage1_size, size, self.width, self.residual_blocks, self.stage1_skip),
        )
        discriminator = TextConditionedDiscriminator(
            self.make_text_encoder(),
            MatchingDiscriminator(size, self.text_dim, self.condition_dim, self.width, self.unconditional_head,
                                  self.discriminator_head, contrastive=self.contrastive_weight > 0),
        )
        return generator, discriminator

    def setup(self, stage: str) -> None:
        data = self.trainer.datamodule
        self.check_data(data)
        self.read_with_vocabulary(data)  # Stage-I's vocabulary decides the ids
        if self.generator is None:
            AdversarialModule.setup(self, stage)  # the loop's: networks for the data's shape
        self.fill_sample_text(data)

    def generate(self, noise: Tensor, condition: Condition, generator: Optional[nn.Module] = None) -> Generated:
        """The frozen Stage-I's image for the same noise and caption, refined: stages hold the Stage-I image."""
        with torch.no_grad():
            coarse = self.stage1.generate(noise, condition, self.stage1.sampling_generator).samples
        fine, mu, log_var = (generator or self.generator)(coarse, condition)
        return Generated(fine, stages={"stage1": coarse}, terms={"mu": mu, "log_var": log_var})

    def generator_objective(self, fake: Generated, right: Tensor,
                            real: Optional[Tensor] = None) -> tuple[Tensor, dict[str, Tensor]]:
        """The shared objective, plus ``consistency_weight`` times the consistency with the Stage-I image."""
        loss, terms = super().generator_objective(fake, right, real)
        if self.consistency_weight:
            consistency = stage1_consistency(fake.samples, fake.stages["stage1"])
            loss = loss + self.consistency_weight * consistency
            terms["train/consistency"] = consistency
        return loss, terms
