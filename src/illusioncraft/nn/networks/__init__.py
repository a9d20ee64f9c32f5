"""Generators and discriminators: network families chosen by name (``mlp``, ``dcgan``, ``sngan``), class-conditional
wrappers, and StackGAN's text-conditioned networks."""

from illusioncraft.nn.networks import blocks, conditional, dcgan, mlp, sngan, stackgan  # noqa: F401 - registers the families
