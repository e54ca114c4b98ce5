"""Samplers (PyTorch's ``torch.utils.data.sampler``): which indices a DataLoader reads, in
which order.

Random samplers take ``generator=`` (a ``gc.Generator``). When it is None, ``RandomSampler``
seeds a fresh generator per epoch from one draw of the default generator (PyTorch's rule), so
``gc.manual_seed`` makes the order reproducible; ``SubsetRandomSampler`` and
``WeightedRandomSampler`` draw from the default generator directly. The index sets are
PyTorch's; a shuffled order is not PyTorch's bit stream (gradcore's generators differ).
"""
from __future__ import annotations

import itertools
from typing import Any, Generic, Iterable, Iterator, List, Optional, Sequence, Sized, TypeVar, Union

from gradcore import _core
from gradcore._core import Generator, Tensor

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler",
           "WeightedRandomSampler"]

T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class: subclasses implement ``__iter__`` over indices (and ``__len__`` when known)."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError


def _seeded_generator(generator: Optional[Generator]) -> Generator:
    """``generator``, or a new one seeded from one int64 draw of the default generator."""
    if generator is not None:
        return generator
    seed = int(_core.empty((), dtype=_core.int64).random_().item())
    g = Generator()
    g.manual_seed(seed)
    return g


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)

    def _index_tensor(self) -> Tensor:
        """The epoch's indices as one int64 tensor (the DataLoader's fast path)."""
        return _core.arange(len(self.data_source), dtype=_core.int64)


class RandomSampler(Sampler[int]):
    """A random permutation of the indices (``replacement=False``; ``num_samples`` larger than
    the dataset concatenates whole permutations, then a prefix of one more), or
    ``num_samples`` indices drawn uniformly with replacement."""

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: Optional[int] = None,
                 generator: Optional[Generator] = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def _index_tensor(self) -> Tensor:
        """One epoch's indices as an int64 tensor; ``__iter__`` yields exactly these."""
        n = len(self.data_source)
        g = _seeded_generator(self.generator)
        if self.replacement:
            return _core.randint(0, n, (self.num_samples,), dtype=_core.int64, generator=g)
        parts = [_core.randperm(n, generator=g) for _ in range(self.num_samples // n)]
        rest = self.num_samples % n
        if rest:
            parts.append(_core.randperm(n, generator=g)[:rest])
        return parts[0] if len(parts) == 1 else _core.cat(parts)

    def __iter__(self) -> Iterator[int]:
        yield from self._index_tensor().tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in a random order."""

    def __init__(self, indices: Sequence[int], generator: Optional[Generator] = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in _core.randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (with or
    without replacement)."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Optional[Generator] = None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = _core.as_tensor(weights, dtype=_core.float64)
        if len(w.shape) != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        drawn = _core.multinomial(self.weights, self.num_samples, self.replacement, generator=self.generator)
        yield from drawn.tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[List[int]]):
    """Lists of ``batch_size`` indices from ``sampler``; the last one shorter unless
    ``drop_last``."""

    def __init__(self, sampler: Union[Sampler[int], Iterable[int]], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[List[int]]:
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size


