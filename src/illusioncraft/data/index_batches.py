"""Batches drawn by index from data that lives on the training device: no per-sample Python, no collation.

For small embedded datasets (digits, mixtures, procedural captioned images) the loader, not the network, would
set the speed on a GPU: a ``DataLoader`` calls Python once per sample and stacks the samples on the host. Here
the whole dataset sits on the training device as tensors; each epoch draws one permutation on the host (seeded
by (seed, epoch), so a resumed run replays the same order), copies it to the device once, and every batch is
one indexing of the tensors by a slice of it.

Under DDP each process takes every world-th position of the epoch's order (padded by wrapping around to equal
shares, as ``DistributedSampler`` does). Lightning calls ``set_epoch`` on the ``sampler`` attribute, as it does
for a ``DataLoader``'s sampler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Optional

import torch
from torch import Tensor

Fetch = Callable[[Tensor, Optional[Tensor]], Any]  # (indices (B,), draws (B, k) or None) -> a batch


class IndexBatches:
    """An iterable of batches ``fetch(order[i:i+B], draws[i:i+B])`` over ``length`` items, ``batch_size`` at a time.

    ``draws`` > 0 adds that many random integers per position from the same seeded generator after the
    permutation (for data that draws, say, a caption per image); ``fetch`` receives them on the device.
    """

    def __init__(self, length: int, fetch: Fetch, batch_size: int, shuffle: bool, seed: int = 0, draws: int = 0,
                 drop_last: bool = False, rank: int = 0, world_size: int = 1, device: Optional[torch.device] = None) -> None:
        self.length, self.fetch, self.batch_size, self.shuffle = length, fetch, batch_size, shuffle
        self.seed, self.draws, self.drop_last = seed, draws, drop_last
        self.rank, self.world_size, self.device = rank, world_size, device
        self.epoch = 0
        self.sampler = self  # Lightning sets the epoch through the loader's ``sampler``...
        self.batch_sampler = None  # ...and looks for a batch sampler beside it

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _share(self) -> int:
        return -(-self.length // self.world_size)  # positions per process, padded to equal shares

    def __len__(self) -> int:
        share = self._share()
        return share // self.batch_size if self.drop_last else -(-share // self.batch_size)

    def order(self) -> tuple[Tensor, Optional[Tensor]]:
        """This process's positions of the epoch (and their draws), on the host."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + (self.epoch if self.shuffle else 0))
        order = torch.randperm(self.length, generator=generator) if self.shuffle else torch.arange(self.length)
        draws = torch.randint(2**31 - 1, (self.length, self.draws), generator=generator) if self.draws else None
        if self.shuffle:
            self.epoch += 1  # Lightning sets it again before the next epoch; by hand, the next pass differs
        if self.world_size > 1:
            padded = torch.arange(self._share() * self.world_size) % self.length  # wrap around to equal shares
            mine = padded[self.rank :: self.world_size]
            order, draws = order[mine], None if draws is None else draws[mine]
        return order, draws

    def __iter__(self) -> Iterator[Any]:
        # A DataLoader's iterator draws its workers' base seed from the global generator; drawing it here too keeps
        # every later random number (noise, dropout) where it was, so a run does not depend on the loader type.
        torch.empty((), dtype=torch.int64).random_()
        order, draws = self.order()
        order = order.to(self.device, non_blocking=True) if self.device is not None else order
        if draws is not None and self.device is not None:
            draws = draws.to(self.device, non_blocking=True)
        for start in range(0, len(order), self.batch_size):
            stop = start + self.batch_size
            if self.drop_last and stop > len(order):
                break
            yield self.fetch(order[start:stop], None if draws is None else draws[start:stop])


def tensor_batches(tensors: Sequence[Tensor], batch_size: int, shuffle: bool, seed: int = 0, drop_last: bool = False,
                   trainer: Any = None, on_device: bool = True) -> IndexBatches:
    """Batches (tuples of tensors indexed alike) of ``tensors``, sharded by the trainer's rank. ``on_device``: the
    tensors move to the trainer's device once; otherwise they stay on the host (a large decoded image cache) and
    each batch is copied into pinned memory when the device is a GPU, so it reaches it with a non-blocking copy."""
    device = trainer.strategy.root_device if trainer is not None else None
    if on_device and device is not None:
        placed = [t.to(device) for t in tensors]
        return IndexBatches(len(placed[0]), lambda index, _: tuple(t[index] for t in placed), batch_size, shuffle,
                            seed, drop_last=drop_last, **distribution(trainer), device=device)
    pin = device is not None and device.type == "cuda"

    def fetch(index: Tensor, _: Optional[Tensor]) -> tuple[Tensor, ...]:
        batch = tuple(t[index] for t in tensors)
        return tuple(b.pin_memory() for b in batch) if pin else batch

    return IndexBatches(len(tensors[0]), fetch, batch_size, shuffle, seed, drop_last=drop_last, **distribution(trainer))


def distribution(trainer: Any) -> dict[str, int]:
    """This process's rank and the number of processes, from the trainer (one process without one)."""
    if trainer is None:
        return {"rank": 0, "world_size": 1}
    return {"rank": trainer.global_rank, "world_size": trainer.world_size}
