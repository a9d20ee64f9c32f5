"""Generators and discriminators: network families chosen by name (``mlp``, ``dcgan``), class-conditional
wrappers, and StackGAN's text-conditioned networks."""

from illusioncraft.nn.networks import conditional, dcgan, mlp, stackgan  # noqa: F401 - registers the families
