"""Lightning callbacks registered by name; importing this package registers them."""

from illusioncraft.callbacks import (  # noqa: F401 - registers the built-in callbacks
    classifier_samples,
    confusion,
    fault,
    fid,
    modes,
    samples,
    text_image,
)
