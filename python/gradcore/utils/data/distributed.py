"""``DistributedSampler`` (PyTorch's ``torch.utils.data.distributed``): each of
``num_replicas`` processes reads its own share of the dataset.

The index structure is PyTorch's: one order for all ranks (``range(len)``, or a permutation
from a generator seeded with ``seed + epoch``), padded to a multiple of ``num_replicas`` by
repeating its head (or truncated with ``drop_last``), then rank ``r`` takes every
``num_replicas``-th index starting at ``r``. ``num_replicas`` and ``rank`` default to the
default process group's (``gradcore.distributed.init_process_group``).
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Optional

from gradcore import _core
from gradcore._core import Generator
from gradcore.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler[int]):
    """Rank ``rank``'s indices of ``dataset`` among ``num_replicas`` (see the module docstring);
    call ``set_epoch(epoch)`` before each epoch so that shuffling differs between epochs."""

    def __init__(self, dataset: Any, num_replicas: Optional[int] = None, rank: Optional[int] = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from gradcore import distributed as dist
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(self.dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = _core.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        if len(indices) != self.total_size:
            raise AssertionError(f"Number of indices ({len(indices)}) does not match total_size ({self.total_size})")
        indices = indices[self.rank:self.total_size:self.num_replicas]
        if len(indices) != self.num_samples:
            raise AssertionError(f"Number of subsampled indices ({len(indices)}) does not match num_samples "
                                 f"({self.num_samples})")
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch: with ``shuffle``, the order of the next iteration is seeded by
        ``seed + epoch`` (the same on every rank)."""
        self.epoch = epoch
