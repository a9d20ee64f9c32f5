"""Learned sentence encoders: token ids (B, L) -> a sentence vector (B, output_dim) to condition a GAN on.

All three take the same arguments, so a config can swap them by name: ``embedding_bag`` (mean of word
embeddings, order-blind and fast), ``bigru`` (a bidirectional GRU over the words, order-aware) and
``bag_of_words`` (word counts through one linear layer, the simplest baseline). Id 0 is padding everywhere:
it never changes the output, and an all-pad (empty) caption gives a valid vector rather than an error.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from illusioncraft.errors import ConfigError
from illusioncraft.registry import register
from illusioncraft.text.vocabulary import PAD_ID, bag_of_words


def _check_sizes(name: str, **sizes: int) -> None:
    if sizes["vocab_size"] < 2:
        raise ConfigError(f"text encoder '{name}': vocab_size must be >= 2 (<pad> and <unk>), got {sizes['vocab_size']}")
    for key, value in sizes.items():
        if value < 1:
            raise ConfigError(f"text encoder '{name}': {key} must be >= 1, got {value}")


@register("embedding_bag", kind="text")
class EmbeddingBagEncoder(nn.Module):
    """Mean of the caption's word embeddings (pads excluded), then a linear map: a fast order-blind encoder."""

    def __init__(self, vocab_size: int, output_dim: int = 128, embedding_dim: int = 64) -> None:
        super().__init__()
        _check_sizes("embedding_bag", vocab_size=vocab_size, output_dim=output_dim, embedding_dim=embedding_dim)
        # padding_idx entries are left out of the mean; an all-pad bag gives zeros
        self.embedding = nn.EmbeddingBag(vocab_size, embedding_dim, mode="mean", padding_idx=PAD_ID)
        self.project = nn.Linear(embedding_dim, output_dim)

    def forward(self, token_ids: Tensor) -> Tensor:
        return self.project(self.embedding(token_ids))  # (B, L) -> (B, E) -> (B, output_dim)


@register("bigru", kind="text")
class BiGRUEncoder(nn.Module):
    """Bidirectional GRU over the word embeddings; the last forward and backward states, linearly mapped.

    Sequences are packed to their true lengths (up to the last non-pad token), so trailing pads change nothing.
    """

    def __init__(self, vocab_size: int, output_dim: int = 128, embedding_dim: int = 64, hidden_size: int = 64) -> None:
        super().__init__()
        _check_sizes("bigru", vocab_size=vocab_size, output_dim=output_dim, embedding_dim=embedding_dim, hidden_size=hidden_size)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.gru = nn.GRU(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.project = nn.Linear(2 * hidden_size, output_dim)

    def forward(self, token_ids: Tensor) -> Tensor:
        positions = torch.arange(1, token_ids.shape[1] + 1, device=token_ids.device)  # (L,)
        lengths = ((token_ids != PAD_ID) * positions).amax(dim=1).clamp(min=1)  # (B,); empty caption -> one pad
        packed = pack_padded_sequence(self.embedding(token_ids), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, hidden = self.gru(packed)  # (2, B, H): last forward state, last backward state
        return self.project(torch.cat([hidden[0], hidden[1]], dim=1))  # (B, 2H) -> (B, output_dim)


@register("bag_of_words", kind="text")
class BagOfWordsEncoder(nn.Module):
    """Word counts (pads not counted) through one linear layer: the simplest baseline.

    ``embedding_dim`` is accepted and unused, so every text encoder takes the same arguments.
    """

    def __init__(self, vocab_size: int, output_dim: int = 128, embedding_dim: int = 64) -> None:
        super().__init__()
        _check_sizes("bag_of_words", vocab_size=vocab_size, output_dim=output_dim, embedding_dim=embedding_dim)
        self.vocab_size = vocab_size
        self.project = nn.Linear(vocab_size, output_dim)

    def forward(self, token_ids: Tensor) -> Tensor:
        return self.project(bag_of_words(token_ids, self.vocab_size))  # (B, L) -> (B, V) -> (B, output_dim)
