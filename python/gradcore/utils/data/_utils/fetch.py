"""Fetchers: turn one sampler index (or a batch of them) into one collated item, for a
map-style (``__getitems__`` or ``__getitem__``) or an iterable dataset."""
from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["create_fetcher"]

MAP, ITERABLE = 0, 1  # the DataLoader's dataset kinds


class _MapFetcher:
    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any], drop_last: bool) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        getitems = getattr(dataset, "__getitems__", None)
        self._getitems = getitems if callable(getitems) else None

    def fetch(self, index: Any) -> Any:
        if self.auto_collation:
            if self._getitems is not None:
                data = self._getitems(index)
            else:
                data = [self.dataset[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class _IterableFetcher:
    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any], drop_last: bool) -> None:
        self.dataset_iter = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if len(data) == 0 or (self.drop_last and len(data) < len(index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


class _TensorFetcher(_MapFetcher):
    """The fast path: a batch of a TensorDataset (or of one tensor) is one ``index_select``
    per tensor, equal to ``default_collate`` over the samples (a list of tensors, or one
    tensor when ``single``). Indices ``index_select`` rejects (negative, out of range) go the
    per-sample way, which raises what indexing one sample raises."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any], drop_last: bool,
                 fast: Tuple[Tuple[Tensor, ...], bool]) -> None:
        super().__init__(dataset, auto_collation, collate_fn, drop_last)
        self.tensors, self.single = fast

    def gather(self, idx: Tensor) -> Any:
        out = [_core.index_select(t, 0, idx) for t in self.tensors]
        return out[0] if self.single else out

    def fetch(self, index: Any) -> Any:
        try:
            idx = _core.tensor(index, dtype=_core.int64)
            if idx.dim() == 1 and idx.shape[0] > 0 and int(idx.min().item()) >= 0:
                return self.gather(idx)
        except (IndexError, TypeError, ValueError, RuntimeError, OverflowError):
            pass
        return super().fetch(index)


def create_fetcher(kind: int, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any],
                   drop_last: bool, fast: Optional[Tuple[Tuple[Tensor, ...], bool]] = None) -> Any:
    """The fetcher for a dataset kind; ``fast`` (from ``DataLoader._fast_source``) selects the
    one-gather-per-tensor path."""
    if kind == MAP and fast is not None:
        return _TensorFetcher(dataset, auto_collation, collate_fn, drop_last, fast)
    if kind == MAP:
        return _MapFetcher(dataset, auto_collation, collate_fn, drop_last)
    return _IterableFetcher(dataset, auto_collation, collate_fn, drop_last)
