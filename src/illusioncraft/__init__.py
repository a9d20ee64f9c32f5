"""IllusionCraft: a modular PyTorch Lightning toolkit from logistic regression to text-to-image GANs."""

import os

# albumentations 2.x asks the package index for a newer version on import unless told not to;
# IllusionCraft never touches the network at run time.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
