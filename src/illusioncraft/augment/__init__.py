"""Augmentations: per-sample (albumentations, in the DataLoader workers) and batch-level (on the device)."""
