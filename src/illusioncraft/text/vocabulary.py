"""Token ids for captions: the vocabulary, one-hot and bag-of-words views, and ``TextEncoder`` (captions -> ids).

Ids 0 and 1 are reserved: ``<pad>`` fills captions up to a fixed length and ``<unk>`` stands for any word the
vocabulary has not seen. The vocabulary is stored as a plain list of tokens (its index is the id), so it goes into
a checkpoint's hyper-parameters as JSON and comes back with ``Vocabulary.from_list``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict, Union

import torch
from torch import Tensor

from illusioncraft.errors import ConfigError, DataError
from illusioncraft.registry import register
from illusioncraft.text.steps import DEFAULT_TEXT_STEPS, IDS, StepSpec, TextPipeline, TextStep, blank_english

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1

StepValue = Union[str, int, float, bool, list[str], None]


class TextEncoderState(TypedDict):
    """What ``TextEncoder.state()`` holds, typed field by field: a config that carries it (a resumed checkpoint's
    hyper-parameters) keeps every token a string through YAML ("on" stays "on", not true)."""

    steps: list[dict[str, StepValue]]
    min_freq: int
    max_length: int
    vocabulary: list[str]


@register("vocabulary", kind="text")
class Vocabulary:
    """Token <-> id table with <pad> = 0 and <unk> = 1, built from token lists by frequency (ties alphabetical)."""

    PAD, UNK = PAD, UNK

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self._tokens = [PAD, UNK]
        self._ids = {PAD: PAD_ID, UNK: UNK_ID}
        for token in tokens:
            if token in self._ids:
                raise ConfigError(f"vocabulary: token {token!r} appears twice (or is a reserved token {PAD}/{UNK})")
            self._ids[token] = len(self._tokens)
            self._tokens.append(token)

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None) -> Vocabulary:
        """The tokens seen at least ``min_freq`` times, most frequent first; ``max_size`` caps len() (specials included)."""
        if min_freq < 1:
            raise ConfigError(f"vocabulary: min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 2:
            raise ConfigError(f"vocabulary: max_size must be >= 2 (<pad> and <unk>), got {max_size}")
        counts = Counter(token for tokens in token_lists for token in tokens)
        for special in (PAD, UNK):
            counts.pop(special, None)
        ordered = sorted((item for item in counts.items() if item[1] >= min_freq), key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            ordered = ordered[: max_size - 2]
        return cls(token for token, _ in ordered)

    @classmethod
    def from_list(cls, tokens: Sequence[str]) -> Vocabulary:
        """The vocabulary ``to_list`` wrote: ``[<pad>, <unk>, token_2, ...]``."""
        if list(tokens[:2]) != [PAD, UNK]:
            raise DataError(f"a saved vocabulary starts with {PAD!r}, {UNK!r}; got {list(tokens[:2])!r}")
        return cls(tokens[2:])

    def to_list(self) -> list[str]:
        """Every token in id order, specials first (JSON-serialisable)."""
        return list(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._tokens == other._tokens

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def token_to_id(self, token: str) -> int:
        """The id of ``token``; 1 (<unk>) if the vocabulary has not seen it."""
        return self._ids.get(token, UNK_ID)

    def id_to_token(self, index: int) -> str:
        """The token with id ``index``."""
        return self._tokens[index]

    def encode(self, tokens: Sequence[str], max_length: int) -> Tensor:
        """Ids of ``tokens`` as a LongTensor (max_length,): truncated, or padded with 0 at the end; unknown -> 1."""
        return torch.tensor(self.encode_list(tokens, max_length), dtype=torch.long)

    def encode_list(self, tokens: Sequence[str], max_length: int) -> list[int]:
        """Like ``encode`` but a Python list (cheaper when a batch is stacked afterwards)."""
        if max_length < 1:
            raise ConfigError(f"vocabulary: max_length must be >= 1, got {max_length}")
        ids = [self._ids.get(token, UNK_ID) for token in tokens[:max_length]]
        return ids + [PAD_ID] * (max_length - len(ids))

    def decode(self, ids: Tensor | Sequence[int]) -> list[str]:
        """Tokens of ``ids`` (L,), pads dropped."""
        values = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        return [self._tokens[index] for index in values if index != PAD_ID]

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens the vocabulary has not seen, in order of first appearance."""
        return [token for token in dict.fromkeys(tokens) if token not in self._ids]


@register("one_hot", kind="text")
class OneHot(TextStep):
    """Ids (..., L) -> one-hot float (..., L, V); rows of <pad> are all zero so they add nothing downstream."""

    accepts, returns = IDS, "one_hot"

    def __init__(self, vocabulary: Vocabulary | int) -> None:
        self.vocab_size = vocabulary if isinstance(vocabulary, int) else len(vocabulary)

    def __call__(self, ids: Tensor) -> Tensor:
        encoded = torch.nn.functional.one_hot(ids.long(), self.vocab_size).float()  # (..., L, V)
        encoded[..., PAD_ID] = 0.0  # only pad rows have a 1 in column 0
        return encoded


def bag_of_words(ids: Tensor, vocab_size: int) -> Tensor:
    """Word counts per caption: ids (B, L) -> float (B, V), pads not counted (a single caption (L,) gives (V,))."""
    single = ids.dim() == 1
    batched = ids.long().reshape(1, -1) if single else ids.long()  # (B, L)
    if batched.numel() and int(batched.max()) >= vocab_size:
        raise ConfigError(f"bag_of_words: id {int(batched.max())} is out of range for vocab_size {vocab_size}")
    counts = torch.zeros(batched.shape[0], vocab_size, device=ids.device)  # (B, V)
    counts.scatter_add_(1, batched, torch.ones_like(batched, dtype=counts.dtype))
    counts[:, PAD_ID] = 0.0
    return counts[0] if single else counts


class TextEncoder:
    """Captions -> fixed-length id tensors: a ``TextPipeline`` plus a ``Vocabulary`` fitted on training captions.

    Processed captions are cached per distinct string (datasets repeat captions a lot), so encoding tens of
    thousands of short captions takes seconds. ``state()`` is JSON-serialisable and ``from_state`` rebuilds an
    encoder that gives identical ids.
    """

    def __init__(self, steps: Sequence[StepSpec] = DEFAULT_TEXT_STEPS, min_freq: int = 1, max_length: int = 16) -> None:
        if min_freq < 1:
            raise ConfigError(f"text encoder: min_freq must be >= 1, got {min_freq}")
        if max_length < 1:
            raise ConfigError(f"text encoder: max_length must be >= 1, got {max_length}")
        self.pipeline = TextPipeline(steps)
        self.min_freq, self.max_length = min_freq, max_length
        self.vocabulary: Vocabulary | None = None
        self._tokens: dict[str, list[str]] = {}  # caption -> processed tokens
        self._ids: dict[str, list[int]] = {}  # caption -> padded ids (valid for the current vocabulary)

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The pipeline's step specs."""
        return self.pipeline.specs

    @property
    def vocab_size(self) -> int:
        """len(vocabulary), the input size of the sentence encoders."""
        return len(self._fitted())

    def tokens(self, caption: str) -> list[str]:
        """The processed tokens of one caption (cached)."""
        if caption not in self._tokens:
            self._tokens[caption] = self.pipeline(caption)
        return self._tokens[caption]

    def fit(self, captions: Iterable[str]) -> TextEncoder:
        """Build the vocabulary from ``captions`` (words seen fewer than min_freq times become <unk>)."""
        self.vocabulary = Vocabulary.build((self.tokens(caption) for caption in captions), min_freq=self.min_freq)
        self._ids.clear()
        return self

    def encode(self, captions: Sequence[str]) -> Tensor:
        """Ids of each caption: LongTensor (N, max_length), padded with 0 / truncated, unknown words 1."""
        vocabulary = self._fitted()
        rows = []
        for caption in captions:
            if caption not in self._ids:
                self._ids[caption] = vocabulary.encode_list(self.tokens(caption), self.max_length)
            rows.append(self._ids[caption])
        return torch.tensor(rows, dtype=torch.long).reshape(len(rows), self.max_length)  # (N, max_length)

    def unknown_words(self, caption: str) -> list[str]:
        """The caption's own words (as written) whose processed form is not in the vocabulary."""
        vocabulary = self._fitted()
        words = [token.text for token in blank_english().make_doc(caption) if not token.is_space]
        return [word for word in dict.fromkeys(words) if vocabulary.unknown(self.tokens(word))]

    def decode(self, ids: Tensor | Sequence[int]) -> list[str]:
        """Processed tokens of one row of ids (L,), pads dropped."""
        return self._fitted().decode(ids)

    def state(self) -> TextEncoderState:
        """Everything needed to rebuild this encoder, as JSON-serialisable values."""
        return {
            "steps": self.steps,
            "min_freq": self.min_freq,
            "max_length": self.max_length,
            "vocabulary": self._fitted().to_list(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TextEncoder:
        """The encoder ``state()`` described, with the same vocabulary (no refitting)."""
        missing = [key for key in ("steps", "min_freq", "max_length", "vocabulary") if key not in state]
        if missing:
            raise DataError(f"text encoder state lacks {', '.join(repr(key) for key in missing)}; was it written by state()?")
        encoder = cls(steps=state["steps"], min_freq=state["min_freq"], max_length=state["max_length"])
        encoder.vocabulary = Vocabulary.from_list(state["vocabulary"])
        return encoder

    def _fitted(self) -> Vocabulary:
        if self.vocabulary is None:
            raise RuntimeError("TextEncoder has no vocabulary yet; call fit(captions) or use TextEncoder.from_state")
        return self.vocabulary

    def __repr__(self) -> str:
        size = "unfitted" if self.vocabulary is None else f"{len(self.vocabulary)} tokens"
        return f"TextEncoder(steps={self.steps!r}, min_freq={self.min_freq}, max_length={self.max_length}, {size})"
