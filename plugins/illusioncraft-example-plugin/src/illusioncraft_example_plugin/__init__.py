"""Example IllusionCraft plugin: importing this module registers its entries (named by the entry point)."""

from illusioncraft.plugin_api import require_api

require_api("1.0")  # first: on an IllusionCraft without plugin API 1.0 this plugin is skipped with one warning

from illusioncraft_example_plugin.activations import Swish  # noqa: E402
from illusioncraft_example_plugin.augmentations import SaltAndPepper  # noqa: E402
from illusioncraft_example_plugin.data import Bars  # noqa: E402
from illusioncraft_example_plugin.gans import SpectralGAN  # noqa: E402
from illusioncraft_example_plugin.losses import FocalLoss, RelativisticAverage  # noqa: E402
from illusioncraft_example_plugin.models import ResidualCNN  # noqa: E402

__all__ = ["Bars", "FocalLoss", "RelativisticAverage", "ResidualCNN", "SaltAndPepper", "SpectralGAN", "Swish"]
