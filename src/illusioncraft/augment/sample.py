"""Per-sample augmentations: thin, checked wrappers around albumentations 2.0.8 transforms.

Each is registered under a short name and built from ``{name: ..., params: {...}}``. albumentations itself only
warns about argument names it does not know (such as the 1.x names ``max_holes`` or ``var_limit``) and then
ignores them; here an unknown or legacy argument is an error naming the augmentation and the argument.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import albumentations as A

from illusioncraft.errors import ConfigError
from illusioncraft.registry import register

# name -> (albumentations class, one-line description, default arguments for small images)
ALBUMENTATIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "horizontal_flip": ("HorizontalFlip", "Mirror left-right with probability p.", {}),
    "vertical_flip": ("VerticalFlip", "Mirror top-bottom with probability p.", {}),
    "rotate": ("Rotate", "Rotate by an angle drawn from [-limit, limit] degrees.", {"limit": 15}),
    "affine": ("Affine", "Scale, translate, rotate and shear in one affine warp.", {}),
    "random_resized_crop": ("RandomResizedCrop", "Crop a random area and aspect ratio, resized to size=(h, w).", {}),
    "resize": ("Resize", "Resize to height x width.", {}),
    "color_jitter": ("ColorJitter", "Random brightness, contrast, saturation and hue.", {}),
    "gaussian_noise": ("GaussNoise", "Add Gaussian noise with std drawn from std_range (fraction of the range).", {}),
    "elastic": ("ElasticTransform", "Elastic warping (Simard et al., 2003) with strength alpha and smoothness sigma.", {}),
    "grid_distortion": ("GridDistortion", "Warp by moving the points of a coarse grid.", {}),
    "optical_distortion": ("OpticalDistortion", "Lens-like barrel or pincushion distortion.", {}),
    "random_erasing": ("Erasing", "Random erasing (Zhong et al., 2020): blank a random rectangle.", {}),
}


def build_albumentation(name: str, class_name: str, params: dict[str, Any]) -> A.BasicTransform:
    """Instantiate ``albumentations.<class_name>(**params)``; unknown, legacy or invalid arguments are one line."""
    transform_class = getattr(A, class_name)
    accepted = [p for p in inspect.signature(transform_class.__init__).parameters if p not in ("self", "args", "kwargs")]
    for key in params:
        if key not in accepted:
            raise ConfigError(
                f"augmentation '{name}': albumentations {class_name} has no argument '{key}' "
                f"(a 1.x name?); accepted: {', '.join(accepted)}"
            )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            transform = transform_class(**params)
        except (ValueError, TypeError) as error:  # pydantic validation of values
            reason = " ".join(str(error).split())
            raise ConfigError(f"augmentation '{name}': invalid arguments {params}: {reason[:300]}") from None
    for warning in caught:
        message = str(warning.message)
        if "not valid" in message or "deprecated" in message.lower():
            raise ConfigError(f"augmentation '{name}': {message}")
    return transform


def _register_albumentation(name: str, class_name: str, summary: str, defaults: dict[str, Any]) -> None:
    def sample_transform(**params: Any) -> A.BasicTransform:
        return build_albumentation(name, class_name, {**defaults, **params})

    sample_transform.__name__ = sample_transform.__qualname__ = name
    sample_transform.__doc__ = f"{summary} (albumentations {class_name}; per-sample)"
    sample_transform.sample_only = True  # type: ignore[attr-defined]
    register(name, kind="augmentation")(sample_transform)


for _name, (_class_name, _summary, _defaults) in ALBUMENTATIONS.items():
    _register_albumentation(_name, _class_name, _summary, _defaults)
