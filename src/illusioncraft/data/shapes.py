"""captioned_shapes: procedural coloured shapes with several captions each, drawn with Pillow (no download).

Each image shows one shape on a plain background. Attributes (all named in every caption):
shape {circle, square, triangle}, colour {red, green, blue, yellow}, size {small, large} and background
{black, white, gray}; shape colours and background colours never coincide. The shape's centre is jittered at
random but position is not an attribute and captions never mention it: it keeps the images varied while the
72 attribute combinations stay few enough for a conditional GAN at 32 px.

Shapes are drawn at 4x resolution and downsampled with Lanczos (antialiasing). Everything is deterministic
given ``seed``; nothing is cached on disk (4,000 images at 32 px take well under a second).
"""

from __future__ import annotations

import random

import numpy as np
import torch
from PIL import Image, ImageDraw

from illusioncraft.data.captioned import CaptionedDataModule, CaptionedSplit, TextSteps, split_indices
from illusioncraft.data.captions import CaptionGrammar
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register

ATTRIBUTE_VALUES = {
    "shape": ["circle", "square", "triangle"],
    "colour": ["red", "green", "blue", "yellow"],
    "size": ["small", "large"],
    "background": ["black", "white", "gray"],
}
SHAPE_RGB = np.array([[0.86, 0.16, 0.16], [0.16, 0.70, 0.24], [0.20, 0.35, 0.90], [0.92, 0.84, 0.16]], dtype=np.float32)
BACKGROUND_RGB = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5]], dtype=np.float32)
HALF_EXTENT = {"small": (0.13, 0.18), "large": (0.28, 0.35)}  # half the shape's width, as a fraction of the image
SUPERSAMPLE = 4

GRAMMAR = CaptionGrammar(
    attribute_values=ATTRIBUTE_VALUES,
    words={
        "shape": {"circle": ["circle", "disc"], "square": ["square", "box"], "triangle": ["triangle"]},
        "colour": {colour: [colour] for colour in ATTRIBUTE_VALUES["colour"]},
        "size": {"small": ["small", "tiny", "little"], "large": ["large", "big", "huge"]},
        "background": {"black": ["black", "dark"], "white": ["white"], "gray": ["gray", "grey"]},
    },
    templates=[
        "a {size} {colour} {shape} on a {background} background",
        "a {size} {colour} {shape} sits on {background}",
        "there is a {size} {colour} {shape} in front of a {background} backdrop",
        "a picture of a {colour} {shape}, {size}, on {background}",
        "the {shape} is {size} and {colour} and it lies on a {background} background",
        "a {colour} {shape} that is {size} rests on a {background} backdrop, with no other shapes",
    ],
    # Plurals, comparatives and -ing forms that never occur in training captions: the default text pipeline
    # (lemmatize + stem) maps them to training tokens (circles -> circle, bigger -> big, sitting -> sit).
    held_out_words={
        "shape": {"circle": ["circles", "discs"], "square": ["squares", "boxes"], "triangle": ["triangles"]},
        "size": {"small": ["smaller", "tinier"], "large": ["larger", "bigger"]},
    },
    held_out_templates=[
        "{size} {colour} {shape} sitting on {background} backgrounds",
        "pictures of {colour} {shape} that are {size}, lying in front of {background} backdrops",
        "{shape}, {colour} and {size}, resting on a {background} background",
        "there are {size} {colour} {shape} on {background}",
    ],
)


def _polygon(shape: str, cx: float, cy: float, half: float) -> list[tuple[float, float]]:
    if shape == "square":
        return [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half)]
    return [(cx, cy - half), (cx + half, cy + half), (cx - half, cy + half)]  # triangle, apex up, fills the box


def shape_mask(shape: str, cx: float, cy: float, half: float, size: int) -> np.ndarray:
    """Coverage (size, size) in [0, 1] of one shape, drawn at 4x and downsampled with Lanczos."""
    scale = SUPERSAMPLE
    canvas = Image.new("L", (size * scale, size * scale), 0)
    draw = ImageDraw.Draw(canvas)
    cx, cy, half = cx * scale, cy * scale, half * scale
    if shape == "circle":
        draw.ellipse([cx - half, cy - half, cx + half, cy + half], fill=255)
    else:
        draw.polygon(_polygon(shape, cx, cy, half), fill=255)
    return np.asarray(canvas.resize((size, size), Image.LANCZOS), dtype=np.float32) / 255.0


def generate_shapes(n: int, image_size: int, seed: int, stream: int = 0, captions_per_image: int = 5) -> CaptionedSplit:
    """``n`` images (n, 3, S, S) in [0, 1] with attributes (n, 4) and captions; deterministic in (seed, stream)."""
    rng = np.random.default_rng([seed, stream])
    sizes = [len(values) for values in ATTRIBUTE_VALUES.values()]
    attributes = np.stack([rng.integers(k, size=n) for k in sizes], axis=1)  # (n, 4)
    masks = np.empty((n, image_size, image_size), dtype=np.float32)
    for i, (shape, _, size, _) in enumerate(attributes):
        low, high = HALF_EXTENT[ATTRIBUTE_VALUES["size"][size]]
        half = rng.uniform(low, high) * image_size
        margin = half + 0.5
        cx, cy = rng.uniform(margin, image_size - margin, size=2)
        masks[i] = shape_mask(ATTRIBUTE_VALUES["shape"][shape], cx, cy, half, image_size)
    colours = SHAPE_RGB[attributes[:, 1]] + rng.uniform(-0.06, 0.06, size=(n, 3)).astype(np.float32)  # (n, 3)
    backgrounds = BACKGROUND_RGB[attributes[:, 3]] + rng.uniform(-0.05, 0.05, size=(n, 1)).astype(np.float32)  # grey shift
    alpha = torch.from_numpy(masks)[:, None]  # (n, 1, S, S)
    foreground = torch.from_numpy(colours)[:, :, None, None]  # (n, 3, 1, 1)
    background = torch.from_numpy(backgrounds)[:, :, None, None]
    images = (background + (foreground - background) * alpha).clamp(0, 1)  # (n, 3, S, S)
    attributes = torch.from_numpy(attributes).long()
    caption_rng = random.Random(f"captioned_shapes/{seed}/{stream}")
    captions = [GRAMMAR.captions(row, caption_rng, captions_per_image) for row in attributes.tolist()]
    radix = torch.tensor([int(np.prod(sizes[i + 1:])) for i in range(len(sizes))])
    return CaptionedSplit(images=images, captions=captions, attributes=attributes, groups=attributes @ radix)


@register("captioned_shapes")
class CaptionedShapesDataModule(CaptionedDataModule):
    """Procedural shapes (shape, colour, size, background) with several captions per image; no download.

    ``n_images`` are split into train and val by ``val_fraction``; the test split is as large as val and drawn
    from its own random stream.
    """

    grammar = GRAMMAR

    def __init__(
        self,
        n_images: int = 4000,
        captions_per_image: int = 5,
        image_size: int = 32,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        text_steps: TextSteps = None,
        min_freq: int = 1,
        max_length: int = 16,
        val_fraction: float = 0.1,
    ) -> None:
        super().__init__(image_size, batch_size, num_workers, seed, text_steps, min_freq, max_length, val_fraction)
        if n_images < 40:
            raise ConfigError(f"data 'captioned_shapes': n_images must be >= 40, got {n_images}")
        if captions_per_image < 1:
            raise ConfigError(f"data 'captioned_shapes': captions_per_image must be >= 1, got {captions_per_image}")
        self.save_hyperparameters()
        self.n_images, self.captions_per_image = n_images, captions_per_image
        self.attribute_names = list(ATTRIBUTE_VALUES)
        self.attribute_values = {name: list(values) for name, values in ATTRIBUTE_VALUES.items()}

    def load_splits(self) -> dict[str, CaptionedSplit]:
        everything = generate_shapes(self.n_images, self.image_size, self.seed, 0, self.captions_per_image)
        train, val = split_indices(self.n_images, self.val_fraction, self.seed)
        test = generate_shapes(len(val), self.image_size, self.seed, 1, self.captions_per_image)
        return {"train": everything.subset(train), "val": everything.subset(val), "test": test}

