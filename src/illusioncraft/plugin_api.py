"""What IllusionCraft promises plugin packages: the names here keep working across releases of one API version.

Import from this module, not from the modules behind it (those may move). ``API_VERSION`` is "MAJOR.MINOR": a
minor release only adds names; a name is removed only after one release in which using it warns
(``DeprecationWarning`` naming its replacement), and a removal raises the major version. A plugin states the
version it needs with ``require_api("1.0")`` at the top of its package, before its ``@register`` lines: on an
IllusionCraft that does not provide it, the plugin is not loaded and the user gets one warning naming it.
"""

from __future__ import annotations

from illusioncraft import PLUGIN_API_VERSION, __version__, registry, testing
from illusioncraft.augment.base import BatchAugmentation
from illusioncraft.contracts import (
    AttributeData,
    CaptionedData,
    ClassConditionedModel,
    ClassLabelledData,
    FullPrecisionModel,
    GeneratorModel,
    MixtureData,
    MultiViewLoss,
    NormalizedData,
    RunDefaults,
    ShapedData,
    StackedDigitData,
    TextConditionedModel,
)
from illusioncraft.data.base import ImageClassificationDataModule
from illusioncraft.errors import ConfigError, DataError, PluginAPIVersionError, PluginError, RegistryError
from illusioncraft.losses.adversarial import AdversarialLoss
from illusioncraft.losses.spec import LossSpec, build_loss
from illusioncraft.metrics.features import FeatureExtractor
from illusioncraft.models.classifiers import Classifier
from illusioncraft.models.gan.loop import AdversarialModule, Condition, Generated
from illusioncraft.models.gan.regularizers.base import JudgedBatch, Regularizer
from illusioncraft.nn.activations import ElementwiseActivation
from illusioncraft.nn.networks.family import build_networks
from illusioncraft.nn.optim import OptimizerSpec, build_optimizer
from illusioncraft.registry import register
from illusioncraft.text.steps import TextStep

API_VERSION = PLUGIN_API_VERSION


def _parse(version: str) -> tuple[int, int]:
    try:
        major, minor = (int(part) for part in str(version).split("."))
    except ValueError:
        raise PluginError(f"plugin API versions are 'MAJOR.MINOR' (e.g. '1.0'), got {version!r}") from None
    return major, minor


def require_api(version: str) -> None:
    """Stop loading the calling plugin unless this IllusionCraft provides plugin API ``version`` ("MAJOR.MINOR"):
    the same major version and at least that minor version."""
    needed, provided = _parse(version), _parse(API_VERSION)
    if needed[0] != provided[0] or needed[1] > provided[1]:
        hint = "upgrade illusioncraft" if needed > provided else "the plugin was written for an older IllusionCraft"
        raise PluginAPIVersionError(
            f"it requires IllusionCraft plugin API {version}, and this IllusionCraft {__version__} "
            f"provides {API_VERSION} ({hint})"
        )


__all__ = [
    "API_VERSION",
    "AdversarialLoss",
    "AdversarialModule",
    "AttributeData",
    "BatchAugmentation",
    "CaptionedData",
    "ClassConditionedModel",
    "ClassLabelledData",
    "Classifier",
    "Condition",
    "ConfigError",
    "DataError",
    "ElementwiseActivation",
    "FeatureExtractor",
    "FullPrecisionModel",
    "Generated",
    "GeneratorModel",
    "ImageClassificationDataModule",
    "JudgedBatch",
    "LossSpec",
    "MixtureData",
    "MultiViewLoss",
    "NormalizedData",
    "OptimizerSpec",
    "PluginAPIVersionError",
    "PluginError",
    "RegistryError",
    "Regularizer",
    "RunDefaults",
    "ShapedData",
    "StackedDigitData",
    "TextConditionedModel",
    "TextStep",
    "build_loss",
    "build_networks",
    "build_optimizer",
    "register",
    "registry",
    "require_api",
    "testing",
]
