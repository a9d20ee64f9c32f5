"""Caption preprocessing steps chosen by name from YAML, and the pipeline that chains them.

A pipeline is a list of step specs, each a registered name (``lemmatize``) or a mapping
(``{name: tokenize, keep_punctuation: true}``). Every step says what it takes and gives (``text``: a str,
``tokens``: a list of str, ``ids``: a LongTensor), so a step in the wrong place is caught when the pipeline is
built, not on the first caption. Order matters: spaCy's lemma lookup is case-sensitive, so ``lowercase`` comes
before ``lemmatize`` (as in ``DEFAULT_TEXT_STEPS``).

spaCy and snowballstemmer are imported on first use (spaCy takes seconds to import), and the spaCy objects are
built once per process.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Union

from illusioncraft import registry
from illusioncraft.errors import ConfigError
from illusioncraft.registry import register

TEXT, TOKENS, IDS = "text", "tokens", "ids"  # what a step takes and gives: str, list[str], LongTensor
StepSpec = Union[str, Mapping[str, Any]]
DEFAULT_TEXT_STEPS = ["lowercase", "tokenize", "lemmatize", "stem"]


@lru_cache(maxsize=1)
def blank_english() -> Any:
    """spaCy's blank English pipeline (tokenizer and vocabulary only), built once per process."""
    import spacy

    return spacy.blank("en")


@lru_cache(maxsize=1)
def lookup_lemmatizer() -> Any:
    """A blank English pipeline with spaCy's table-lookup lemmatizer (data from spacy-lookups-data), built once."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lookup table; without it spaCy raises E1004
    return nlp


@lru_cache(maxsize=1)
def english_stemmer() -> Any:
    """The Snowball (Porter 2) English stemmer."""
    import snowballstemmer

    return snowballstemmer.stemmer("english")


class TextStep:
    """Base of the caption steps: ``accepts`` and ``returns`` name the types, checked when a pipeline is built."""

    accepts: str = TEXT
    returns: str = TEXT

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in vars(self).items() if not key.startswith("_"))
        return f"{type(self).__name__}({arguments})"


@register("lowercase", kind="text")
class Lowercase(TextStep):
    """Lower-case the caption (put it before 'lemmatize': spaCy's lemma lookup is case-sensitive)."""

    accepts, returns = TEXT, TEXT

    def __call__(self, text: str) -> str:
        return text.lower()


@register("tokenize", kind="text")
class Tokenize(TextStep):
    """Split a caption into words with spaCy's English tokenizer, dropping whitespace and (by default) punctuation."""

    accepts, returns = TEXT, TOKENS

    def __init__(self, keep_punctuation: bool = False) -> None:
        self.keep_punctuation = keep_punctuation

    def __call__(self, text: str) -> list[str]:
        doc = blank_english().make_doc(text)
        return [token.text for token in doc if not token.is_space and (self.keep_punctuation or not token.is_punct)]


_WORD_CACHE_SIZE = 200_000  # distinct words remembered by 'lemmatize' and 'stem' (both ignore context)
_lemmas: dict[str, str] = {}  # word -> lemma
_stems: dict[str, str] = {}  # word -> stem


@register("lemmatize", kind="text")
class Lemmatize(TextStep):
    """Replace each word by its dictionary form with spaCy's lookup lemmatizer (birds -> bird, were -> be).

    The lookup is case-sensitive: lower-case first. Tokens are lemmatized as given (no re-tokenization).
    """

    accepts, returns = TOKENS, TOKENS

    def __call__(self, tokens: list[str]) -> list[str]:
        missing = [word for word in dict.fromkeys(tokens) if word not in _lemmas]
        if missing:
            from spacy.tokens import Doc

            nlp = lookup_lemmatizer()
            doc = nlp.get_pipe("lemmatizer")(Doc(nlp.vocab, words=missing))
            if len(_lemmas) + len(missing) > _WORD_CACHE_SIZE:
                _lemmas.clear()
            _lemmas.update((token.text, token.lemma_ or token.text) for token in doc)
        return [_lemmas.get(word, word) for word in tokens]


@register("stem", kind="text")
class Stem(TextStep):
    """Cut each word to its Snowball English stem (running -> run, circles -> circl), merging word forms."""

    accepts, returns = TOKENS, TOKENS

    def __call__(self, tokens: list[str]) -> list[str]:
        missing = [word for word in dict.fromkeys(tokens) if word not in _stems]
        if missing:  # the pure-Python stemmer takes ~0.1 ms a word, so each distinct word is stemmed once
            if len(_stems) + len(missing) > _WORD_CACHE_SIZE:
                _stems.clear()
            _stems.update(zip(missing, english_stemmer().stemWords(missing), strict=True))
        return [_stems[word] for word in tokens]


@register("remove_stopwords", kind="text")
class RemoveStopwords(TextStep):
    """Drop spaCy's English stop words ("a", "the", "has", "on", ...) except those listed in ``keep``.

    Words are compared lower-cased. Colour words are never stop words; prepositions such as "on" are, so keep
    them if position matters.
    """

    accepts, returns = TOKENS, TOKENS

    def __init__(self, keep: list[str] | None = None) -> None:
        self.keep = list(keep or [])
        from spacy.lang.en.stop_words import STOP_WORDS

        self._stop_words = frozenset(STOP_WORDS) - {word.lower() for word in self.keep}

    def __call__(self, tokens: list[str]) -> list[str]:
        return [token for token in tokens if token.lower() not in self._stop_words]


def normalise_spec(spec: StepSpec) -> dict[str, Any]:
    """A step spec as a mapping ``{"name": ..., **arguments}`` (a bare name has no arguments)."""
    if isinstance(spec, str):
        return {"name": spec}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise ConfigError(f"a text step is a name or a mapping with a 'name' key (e.g. {{name: tokenize}}); got {spec!r}")
    return copy.deepcopy(dict(spec))


def text_step_names() -> list[str]:
    """Names of the registered entries of kind 'text' that are caption steps (text or tokens in and out)."""
    return [name for name in registry.names("text") if getattr(registry.get("text", name), "accepts", None) in (TEXT, TOKENS)]


class TextPipeline:
    """Caption -> tokens through a list of registered text steps, checked for order when built.

    ``specs`` gives back the steps as plain mappings, so the pipeline can be saved in a checkpoint's
    hyper-parameters and rebuilt with ``TextPipeline(specs)``.
    """

    def __init__(self, steps: Sequence[StepSpec] = tuple(DEFAULT_TEXT_STEPS)) -> None:
        if isinstance(steps, (str, Mapping)):
            steps = [steps]
        self._specs = [normalise_spec(spec) for spec in steps]
        classes = [registry.get("text", spec["name"]) for spec in self._specs]  # unknown name: close-match error
        self._check_order(classes)
        self.steps = [
            registry.build("text", spec["name"], **{key: value for key, value in spec.items() if key != "name"})
            for spec in self._specs
        ]

    def _check_order(self, classes: list[Any]) -> None:
        count = len(classes)
        for position, (spec, cls) in enumerate(zip(self._specs, classes, strict=True), start=1):
            if getattr(cls, "accepts", None) not in (TEXT, TOKENS) or getattr(cls, "returns", None) not in (TEXT, TOKENS):
                raise ConfigError(
                    f"text step '{spec['name']}' (step {position} of {count}) does not turn captions into tokens; "
                    f"caption steps are: {', '.join(text_step_names())}"
                )
        if not any(cls.accepts == TEXT and cls.returns == TOKENS for cls in classes):
            raise ConfigError("text pipeline needs a 'tokenize' step")
        current = TEXT
        for position, (spec, cls) in enumerate(zip(self._specs, classes, strict=True), start=1):
            if cls.accepts != current:
                where = "after 'tokenize'" if cls.accepts == TOKENS else "before 'tokenize'"
                raise ConfigError(
                    f"text step '{spec['name']}' (step {position} of {count}) takes {cls.accepts} but gets {current}; "
                    f"put it {where}"
                )
            current = cls.returns
        if current != TOKENS:  # only a (plugin) step turning tokens back into text can get here
            raise ConfigError(f"text pipeline ends with {current}, not tokens; end it with 'tokenize' or a token step")

    @property
    def specs(self) -> list[dict[str, Any]]:
        """The steps as ``[{"name": ..., **arguments}, ...]`` (a copy, YAML/JSON-serialisable)."""
        return copy.deepcopy(self._specs)

    def __call__(self, caption: str) -> list[str]:
        value: Any = caption
        for step in self.steps:
            value = step(value)
        return value

    def __repr__(self) -> str:
        return f"TextPipeline({self.specs!r})"
