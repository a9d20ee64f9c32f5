"""The contracts between layers, written down: what a model, a datamodule or a callback may rely on in another.

Each is a ``typing.Protocol``; ``isinstance`` checks the members are there (``runtime_checkable``). Built-ins
satisfy them by construction; a plugin's class satisfies them by having the members, whatever its base class.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class ShapedData(Protocol):
    """A datamodule that knows the shape of one sample before reading any: (C, H, W) images or (D,) points."""

    data_shape: Optional[tuple[int, ...]]


@runtime_checkable
class ClassLabelledData(Protocol):
    """A datamodule whose samples carry class labels 0..num_classes-1, named by ``class_names``."""

    class_names: list[str]

    @property
    def num_classes(self) -> int: ...


@runtime_checkable
class NormalizedData(Protocol):
    """A datamodule that standardises images on the device with its training split's ``mean`` and ``std`` (set by
    ``setup``); mean 0 and std 1 leave the images in [0, 1]."""

    mean: float
    std: float


@runtime_checkable
class MixtureData(Protocol):
    """Points drawn from an equal-weight mixture of isotropic Gaussians with centres ``modes`` (M, D)."""

    modes: Tensor
    std: float


@runtime_checkable
class StackedDigitData(Protocol):
    """Images whose colour channels each hold one digit (stacked digits): its modes are the digit combinations."""

    digit_channels: int


@runtime_checkable
class CaptionedData(Protocol):
    """Images with captions (``illusioncraft.data.captioned``): the text encoder fitted on the training captions
    and the raw splits. Batches are dicts with ``image``, ``tokens``, ``wrong_tokens`` and ``attributes``."""

    text_encoder: Any
    image_size: int
    seed: int
    attribute_names: list[str]

    def use_text_encoder(self, encoder: Any) -> None: ...

    def captions(self, split: str = "train") -> list[list[str]]: ...

    def raw_split(self, split: str) -> Any: ...

    def encode_text(self, captions: list[str]) -> Tensor: ...

    @property
    def embedding_dim(self) -> Optional[int]: ...


@runtime_checkable
class AttributeData(Protocol):
    """Captioned data whose captions name attributes a classifier can read back (procedural sets)."""

    attribute_names: list[str]
    attribute_values: dict[str, list[str]]
    grammar: Any


@runtime_checkable
class GeneratorModel(Protocol):
    """A model that draws samples (every GAN): what sample pictures, scores and ``generate`` use."""

    fixed_noise: Tensor
    grid_columns: int
    data_shape: Optional[tuple[int, ...]]

    @property
    def is_image_model(self) -> bool: ...

    def noise(self, n: int) -> Tensor: ...

    def default_condition(self, n: int) -> Optional[Tensor]: ...

    def sample(self, n: Optional[int] = None, noise: Optional[Tensor] = None, condition: Optional[Tensor] = None) -> Tensor: ...

    def sample_stages(self, n: Optional[int] = None, noise: Optional[Tensor] = None,
                      condition: Optional[Tensor] = None) -> dict[str, Tensor]: ...


@runtime_checkable
class TextConditionedModel(GeneratorModel, Protocol):
    """A generator conditioned on captions (StackGAN): it reads captions with the pipeline it was trained with."""

    sample_text: Tensor
    uses_tokens: bool

    def encode_captions(self, captions: list[str]) -> tuple[Tensor, list[str]]: ...


@runtime_checkable
class ClassConditionedModel(GeneratorModel, Protocol):
    """A generator conditioned on class labels 0..num_classes-1."""

    num_classes: int


@runtime_checkable
class RunDefaults(Protocol):
    """What a model tells the command line about running it: the callbacks it wants by default, the metric that
    picks the best checkpoint, the names of the losses its optimizers minimise, and whether DDP must look for
    unused parameters (true for GANs, whose steps each leave one network without gradients)."""

    checkpoint_monitor: tuple[Optional[str], str]
    loss_names: tuple[str, ...]
    find_unused_parameters: bool

    def default_callbacks(self) -> list[Any]: ...


@runtime_checkable
class MultiViewLoss(Protocol):
    """A classification loss for training batches that hold several views of each image (AugMix with ``jsd``):
    it takes every view's logits in training; ``clean_loss`` scores evaluation batches of one view per image."""

    accepts_views: bool

    def clean_loss(self, logits: Tensor, target: Tensor) -> Tensor: ...


@runtime_checkable
class FullPrecisionModel(Protocol):
    """A model whose training needs float32 (a gradient penalty's double backward): ``penalty_weight`` > 0."""

    penalty_weight: float
