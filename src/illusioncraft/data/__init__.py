"""LightningDataModules registered by name."""
