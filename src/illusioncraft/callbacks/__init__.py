"""Lightning callbacks registered by name; importing this package registers them."""

from illusioncraft.callbacks import (  # noqa: F401 - registers the built-in callbacks
    checkpoint_paths,
    classifier_samples,
    confusion,
    fault,
    fid,
    modes,
    progress,
    samples,
    text_image,
    throughput,
)
