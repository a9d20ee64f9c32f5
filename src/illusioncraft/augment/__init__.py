"""Augmentations: per-sample (albumentations, in the DataLoader workers) and batch-level (on the device).
Importing this package registers them."""

from illusioncraft.augment import augmix, batch, diffaugment, sample  # noqa: F401 - registers the augmentations
