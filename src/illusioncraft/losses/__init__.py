"""Loss functions registered by name."""
