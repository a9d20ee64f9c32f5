"""Example IllusionCraft plugin: importing this module registers its entries (named by the entry point)."""

from illusioncraft_example_plugin.activations import Swish
from illusioncraft_example_plugin.augmentations import SaltAndPepper
from illusioncraft_example_plugin.losses import FocalLoss
from illusioncraft_example_plugin.models import ResidualCNN

__all__ = ["FocalLoss", "ResidualCNN", "SaltAndPepper", "Swish"]
