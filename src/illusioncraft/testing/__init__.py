"""Conformance checks for plugin authors: one call runs every behaviour IllusionCraft relies on in an entry.

``check_model``, ``check_datamodule``, ``check_loss``, ``check_augmentation`` and ``check_callback`` each take a
registry name (and the arguments to build it with), raise ``ConformanceError`` naming the entry, the behaviour
and the fix, and return a ``Report`` of what passed. The pytest plugin (``illusioncraft.testing.pytest_plugin``,
loaded by pytest through its entry point) gives tests a ``conformance`` fixture whose checks run in the test's
temporary directory.
"""

from illusioncraft.testing.augmentations import check_augmentation
from illusioncraft.testing.callbacks import check_callback
from illusioncraft.testing.data import check_datamodule
from illusioncraft.testing.losses import check_loss
from illusioncraft.testing.models import check_model
from illusioncraft.testing.runs import ConformanceError, Report

CHECKS = {
    "model": check_model,
    "datamodule": check_datamodule,
    "loss": check_loss,
    "augmentation": check_augmentation,
    "callback": check_callback,
}

__all__ = ["CHECKS", "ConformanceError", "Report", "check_augmentation", "check_callback", "check_datamodule",
           "check_loss", "check_model"]
