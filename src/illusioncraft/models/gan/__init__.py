"""GANs: one adversarial loop (``loop``) and one file per variant; importing this package registers them."""

from illusioncraft.models.gan import conditional, dcgan, gan, stackgan, unrolled, wgan  # noqa: F401 - registers the variants
