"""A shuffling sampler whose order is a function of (seed, epoch) alone, so a resumed run sees the data it would have.

``DataLoader(shuffle=True, generator=torch.Generator().manual_seed(seed))`` draws each epoch's permutation from
one generator that lives as long as the loader: epoch k's order depends on the k permutations before it. A run
resumed at epoch k builds a fresh loader and replays epoch 0's order instead. Lightning calls ``set_epoch`` on
samplers before every epoch (as for ``DistributedSampler``), so seeding each epoch by (seed, epoch) makes the order
after resuming identical. Under DDP Lightning swaps this sampler (a ``RandomSampler``) for a ``DistributedSampler``,
which is seeded the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch
from torch.utils.data import BatchSampler, RandomSampler, Sampler


class EpochShuffleSampler(RandomSampler):
    """Random permutation of the dataset for each epoch, seeded by ``(seed, epoch)``.

    Without ``set_epoch`` calls (iterating a loader by hand) the epoch counts up after each pass, so successive
    passes still differ.
    """

    def __init__(self, data_source: Sized, seed: int = 0) -> None:
        super().__init__(data_source)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1  # Lightning sets it again before the next epoch; by hand, the next pass differs
        yield from torch.randperm(len(self.data_source), generator=generator).tolist()


class EpochBatchSampler(BatchSampler):
    """``BatchSampler`` that passes ``set_epoch`` on to its sampler (Lightning only looks one level down for it)."""

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)


class CaptionDrawSampler(Sampler):
    """Yields ``(index, caption_draw, wrong_draw, wrong_caption_draw)``: a shuffled order and three random ints per
    image, deterministic given ``seed`` and the epoch (fixed across epochs when ``shuffle`` is off)."""

    def __init__(self, n: int, seed: int, shuffle: bool) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[int, int, int, int]]:
        epoch = self.epoch if self.shuffle else 0
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.n, generator=generator) if self.shuffle else torch.arange(self.n)
        draws = torch.randint(2**31 - 1, (self.n, 3), generator=generator)  # (N, 3)
        if self.shuffle:
            self.epoch += 1  # Lightning also calls set_epoch; both agree
        for index, (caption, wrong, wrong_caption) in zip(order.tolist(), draws.tolist(), strict=True):
            yield index, caption, wrong, wrong_caption
