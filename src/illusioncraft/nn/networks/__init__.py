"""Generators and discriminators: network families chosen by name (``mlp``, ``dcgan``, ``sngan``), class-conditional
wrappers, and StackGAN's text-conditioned networks."""

from illusioncraft.nn.networks import (  # noqa: F401 - registers the families
    blocks,
    conditional,
    dcgan,
    dfgan,
    mlp,
    sngan,
    stackgan,
)
