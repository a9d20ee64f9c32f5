"""Loss functions registered by name: classification, consistency (AugMix's JSD) and adversarial losses."""

from illusioncraft.losses import adversarial, classification, consistency  # noqa: F401 - registers the losses
