"""IllusionCraft: a modular PyTorch Lightning toolkit from logistic regression to text-to-image GANs."""

import os

from illusioncraft import registry as _registry

# albumentations 2.x asks the package index for a newer version on import unless told not to;
# IllusionCraft never touches the network at run time.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.2.0"
PLUGIN_API_VERSION = "1.0"  # what illusioncraft.plugin_api promises plugins ("MAJOR.MINOR"; see that module)

# Where the built-in registry entries live: each package imports its own modules, whose @register lines run on
# import. The registry imports these packages on its first lookup (it names no module above itself).
_registry.add_locations(
    [
        "illusioncraft.nn",
        "illusioncraft.losses",
        "illusioncraft.text",
        "illusioncraft.augment",
        "illusioncraft.data",
        "illusioncraft.metrics",
        "illusioncraft.models",
        "illusioncraft.callbacks",
        "illusioncraft.loggers",
    ]
)
