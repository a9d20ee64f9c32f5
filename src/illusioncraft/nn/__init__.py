"""Building blocks: activations with their derivatives and optimisers chosen by name."""
