"""Models, one LightningModule family per file: classifiers, hand-written-backpropagation classifiers and GANs.
Importing this package registers them."""

from illusioncraft.models import classifiers, gan, scratch  # noqa: F401 - registers the built-in models
