"""Text for text-to-image models: caption preprocessing, vocabularies, sentence encoders, pre-computed embeddings.

``TextEncoder`` turns captions into id tensors (a ``TextPipeline`` of registered steps plus a ``Vocabulary``);
the encoders in ``encoders`` turn ids into sentence vectors; ``load_sentence_embeddings`` reads fixed ones
such as StackGAN's char-CNN-RNN embeddings instead.
"""

from illusioncraft.text.embeddings import load_sentence_embeddings
from illusioncraft.text.encoders import BagOfWordsEncoder, BiGRUEncoder, EmbeddingBagEncoder
from illusioncraft.text.steps import DEFAULT_TEXT_STEPS, TextPipeline
from illusioncraft.text.vocabulary import OneHot, TextEncoder, TextEncoderState, Vocabulary, bag_of_words

__all__ = [
    "DEFAULT_TEXT_STEPS",
    "BagOfWordsEncoder",
    "BiGRUEncoder",
    "EmbeddingBagEncoder",
    "OneHot",
    "TextEncoder",
    "TextEncoderState",
    "TextPipeline",
    "Vocabulary",
    "bag_of_words",
    "load_sentence_embeddings",
]
