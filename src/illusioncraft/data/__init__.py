"""LightningDataModules registered by name; importing this package registers them."""

from illusioncraft.data import (  # noqa: F401 - registers the built-in datamodules
    captioned_digits,
    captioned_folder,
    celeba,
    cifar,
    digits,
    digits_c,
    image_folder,
    mixtures,
    mnist,
    shapes,
    stacked_digits,
)
