"""Metrics for generated samples and the feature extractors they use; importing this package registers them."""

from illusioncraft.metrics import attributes, features, inception  # noqa: F401 - registers the feature extractors
