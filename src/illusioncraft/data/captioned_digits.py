"""captioned_digits: scikit-learn's real handwritten digits, coloured and stroked, with captions (no download).

Each 8x8 digit is upscaled (bilinear) into the central three quarters of the image, sharpened, then thinned
(min-pool erosion) or thickened (max-pool dilation) and painted in one colour on black. Attributes, all named in
every caption: digit {zero..nine}, colour {red, green, blue, yellow} and stroke {thin, thick}. The digit split
is the one every digits datamodule uses (``digits_split``); colour and stroke are drawn per image from ``seed``.
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from illusioncraft.data.captioned import SPLITS, CaptionedDataModule, CaptionedSplit, TextSteps
from illusioncraft.data.captions import CaptionGrammar
from illusioncraft.data.digits import digits_split
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ATTRIBUTE_VALUES = {"digit": DIGIT_WORDS, "colour": ["red", "green", "blue", "yellow"], "stroke": ["thin", "thick"]}
COLOUR_RGB = np.array([[0.90, 0.15, 0.15], [0.15, 0.75, 0.25], [0.25, 0.40, 0.95], [0.95, 0.88, 0.15]], dtype=np.float32)
PLURALS = ["zeros", "ones", "twos", "threes", "fours", "fives", "sixes", "sevens", "eights", "nines"]

GRAMMAR = CaptionGrammar(
    attribute_values=ATTRIBUTE_VALUES,
    words={
        "digit": {word: [word, str(number)] for number, word in enumerate(DIGIT_WORDS)},
        "colour": {colour: [colour] for colour in ATTRIBUTE_VALUES["colour"]},
        "stroke": {"thin": ["thin", "fine", "light"], "thick": ["thick", "bold", "heavy"]},
    },
    templates=[
        "a {stroke} {colour} {digit}",
        "the digit {digit} written in {colour} with a {stroke} stroke",
        "a handwritten {digit} in {colour}, drawn with {stroke} lines",
        "a {colour} {digit} with a {stroke} line on a black background",
        "the {digit} is {colour} and its stroke is {stroke}",
    ],
    # Plurals, comparatives and -ing forms never used in training captions (sevens -> seven, thicker -> thick).
    held_out_words={
        "digit": {word: [plural] for word, plural in zip(DIGIT_WORDS, PLURALS, strict=True)},
        "stroke": {"thin": ["thinner", "finer"], "thick": ["thicker", "bolder", "heavier"]},
    },
    held_out_templates=[
        "{stroke} {colour} {digit}",
        "{digit} writing in {colour} with {stroke} strokes",
        "handwritten {digit} in {colour}, drawing with a {stroke} line",
        "the {digit} are {colour} and its strokes are {stroke}",
    ],
)


def render_digits(digits: np.ndarray, colours: Tensor, thick: Tensor, image_size: int) -> Tensor:
    """(N, 8, 8) digits in [0, 1] -> (N, 3, S, S) coloured strokes on black; ``thick`` (N,) bool picks dilation."""
    inner = round(image_size * 0.75)
    before = (image_size - inner) // 2
    x = torch.from_numpy(digits).float().unsqueeze(1)  # (N, 1, 8, 8)
    x = F.interpolate(x, size=(inner, inner), mode="bilinear", align_corners=False)
    x = F.pad(x, (before, image_size - inner - before) * 2)  # (N, 1, S, S)
    x = ((x - 0.2) / 0.4).clamp(0, 1)  # sharpen the blurry upscale into strokes
    k = 2 * max(1, image_size // 32) + 1  # 3 px at 32 px, 5 px at 64 px
    thinned = -F.max_pool2d(-x, k, stride=1, padding=k // 2)
    thickened = F.max_pool2d(x, k, stride=1, padding=k // 2)
    strokes = torch.where(thick.view(-1, 1, 1, 1), thickened, thinned)  # (N, 1, S, S)
    return (strokes * colours[:, :, None, None]).clamp(0, 1)  # (N, 3, S, S)


@register("captioned_digits")
class CaptionedDigitsDataModule(CaptionedDataModule):
    """Real handwritten digits (scikit-learn) in colour with a thin or thick stroke, with captions; no download.

    ``renderings`` draws each handwritten digit that many times, each with its own colour and stroke.
    """

    grammar = GRAMMAR

    def __init__(
        self,
        renderings: int = 1,
        captions_per_image: int = 5,
        test_fraction: float = 0.2,
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
        if renderings < 1 or captions_per_image < 1:
            raise ConfigError(
                f"data 'captioned_digits': renderings and captions_per_image must be >= 1, got {renderings}, {captions_per_image}"
            )
        if not 0.0 < test_fraction < 1.0 or val_fraction + test_fraction >= 1.0:
            raise ConfigError(
                f"data 'captioned_digits': test_fraction must be in (0, 1) with val_fraction + test_fraction < 1, "
                f"got {test_fraction} and {val_fraction}"
            )
        self.save_hyperparameters()
        self.renderings, self.captions_per_image, self.test_fraction = renderings, captions_per_image, test_fraction
        self.attribute_names = list(ATTRIBUTE_VALUES)
        self.attribute_values = {name: list(values) for name, values in ATTRIBUTE_VALUES.items()}

    def load_splits(self) -> dict[str, CaptionedSplit]:
        splits = digits_split(self.seed, self.val_fraction, self.test_fraction)
        return {name: self._render(name, *splits[name]) for name in SPLITS}

    def _render(self, split: str, digits: np.ndarray, labels: np.ndarray) -> CaptionedSplit:
        stream = SPLITS.index(split)
        digits, labels = np.tile(digits, (self.renderings, 1, 1)), np.tile(labels, self.renderings)
        rng = np.random.default_rng([self.seed, stream])
        n = len(labels)
        colour = rng.integers(len(COLOUR_RGB), size=n)
        stroke = rng.integers(2, size=n)
        rgb = COLOUR_RGB[colour] + rng.uniform(-0.06, 0.06, size=(n, 3)).astype(np.float32)  # (N, 3)
        images = render_digits(digits, torch.from_numpy(rgb), torch.from_numpy(stroke == 1), self.image_size)
        attributes = torch.from_numpy(np.stack([labels, colour, stroke], axis=1)).long()  # (N, 3)
        caption_rng = random.Random(f"captioned_digits/{self.seed}/{stream}")
        captions = [GRAMMAR.captions(row, caption_rng, self.captions_per_image) for row in attributes.tolist()]
        groups = attributes @ torch.tensor([len(COLOUR_RGB) * 2, 2, 1])  # one id per attribute vector
        return CaptionedSplit(images=images, captions=captions, attributes=attributes, groups=groups)
