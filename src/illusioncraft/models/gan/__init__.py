"""GANs: one adversarial loop (``loop``), its regularisers, and one file per variant; importing this package
registers them."""

from illusioncraft.models.gan import (  # noqa: F401 - registers the variants and the regularisers
    conditional,
    dcgan,
    dfgan,
    gan,
    regularizers,
    sngan,
    stackgan,
    unrolled,
    wgan,
)
