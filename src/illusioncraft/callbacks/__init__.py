"""Lightning callbacks registered by name."""
