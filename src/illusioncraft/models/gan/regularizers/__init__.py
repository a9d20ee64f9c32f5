"""Regularisers of the adversarial loop, chosen by name in a model's ``regularizers`` list; importing this package
registers them."""

from illusioncraft.models.gan.regularizers import consistency, gradient, lecam  # noqa: F401 - registers them
