"""Building blocks: activations with their derivatives, optimisers chosen by name, hand-written backpropagation,
generator and discriminator networks, and weight averaging."""

from illusioncraft.nn import activations, networks, optim, scratch_optim  # noqa: F401 - registers the built-ins
