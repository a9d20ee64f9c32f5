"""Caption grammars of the procedural captioned sets: templates, word forms, held-out paraphrases, and parsing
a caption's attributes back."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

WORD = re.compile(r"[a-z0-9]+")


@dataclass
class CaptionGrammar:
    """Caption templates and word forms of a procedural set.

    Templates are ``str.format`` strings with one slot per attribute (``"a {size} {colour} {shape}"``). Training
    captions use ``words``; held-out paraphrases use ``held_out_templates`` and ``held_out_words`` (forms that
    never occur in training captions but lemmatize or stem to training tokens; an attribute missing there keeps
    its training forms). ``parse`` reads attributes back from any caption that uses either set of forms.
    """

    attribute_values: dict[str, list[str]]
    words: dict[str, dict[str, list[str]]]  # attribute -> value -> word forms of training captions
    templates: list[str]
    held_out_words: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    held_out_templates: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lookup: dict[str, dict[str, int]] = {}  # attribute -> word form -> value index
        for attribute, values in self.attribute_values.items():
            forms = self._lookup[attribute] = {}
            for index, value in enumerate(values):
                for table in (self.words, self.held_out_words):
                    for form in table.get(attribute, {}).get(value, []):
                        forms[form] = index
        clashes = {form for a in self._lookup for b in self._lookup if a < b for form in self._lookup[a].keys() & self._lookup[b]}
        if clashes:
            raise ValueError(f"caption grammar: words name two attributes: {sorted(clashes)}")

    def _fill(self, template: str, attributes: Sequence[int], rng: random.Random, held_out: bool) -> str:
        slots = {}
        for attribute, index in zip(self.attribute_values, attributes, strict=True):
            value = self.attribute_values[attribute][index]
            table = self.held_out_words if held_out and attribute in self.held_out_words else self.words
            slots[attribute] = rng.choice(table[attribute][value])
        return template.format(**slots)

    def captions(self, attributes: Sequence[int], rng: random.Random, count: int) -> list[str]:
        """``count`` training captions of one image, from distinct templates (cycling if there are fewer)."""
        order = rng.sample(self.templates, len(self.templates))
        return [self._fill(order[i % len(order)], attributes, rng, held_out=False) for i in range(count)]

    def held_out_caption(self, attributes: Sequence[int], rng: random.Random) -> str:
        return self._fill(rng.choice(self.held_out_templates), attributes, rng, held_out=True)

    def parse(self, caption: str) -> Optional[list[int]]:
        """Attribute indices named by the caption's words, or None if one is missing or named twice differently."""
        words = WORD.findall(caption.lower())
        result = []
        for attribute in self.attribute_values:
            found = {self._lookup[attribute][word] for word in words if word in self._lookup[attribute]}
            if len(found) != 1:
                return None
            result.append(found.pop())
        return result
