"""Named tuples of the ops that return values and indices (PyTorch's ``torch.return_types``).

``gc.max(x, 1)`` returns ``gradcore.return_types.max(values=..., indices=...)``: a tuple (so
``values, indices = x.max(1)`` and ``r[1]`` work) whose fields are also attributes
(``r.values``, ``r.indices``). As PyTorch's structseq types, each class is built from one
sequence: ``return_types.max((values, indices))``. The compiled core creates them here.
"""
from __future__ import annotations

from typing import Any, Iterable, Tuple

__all__ = ["max", "min", "sort", "topk", "kthvalue", "median", "mode", "cummax", "cummin"]


class _ValuesIndices(tuple):  # type: ignore[type-arg]
    """(values, indices), as a tuple with named fields."""

    __slots__ = ()
    n_fields = 2
    n_sequence_fields = 2
    n_unnamed_fields = 0

    def __new__(cls, sequence: Iterable[Any]) -> "_ValuesIndices":
        items = tuple(sequence)
        if len(items) != 2:
            raise TypeError(f"{cls.__module__}.{cls.__name__}() takes a 2-sequence ({len(items)}-sequence given)")
        return super().__new__(cls, items)

    @property
    def values(self) -> Any:
        return self[0]

    @property
    def indices(self) -> Any:
        return self[1]

    def __repr__(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}(\nvalues={self[0]!r},\nindices={self[1]!r})"

    def __reduce__(self) -> Tuple[Any, Tuple[Tuple[Any, ...]]]:
        return (type(self), (tuple(self),))


def _make(name: str) -> type:
    cls = type(name, (_ValuesIndices,), {"__slots__": (), "__module__": __name__,
                                         "__qualname__": name, "__doc__": f"(values, indices) of gradcore.{name}."})
    return cls


max = _make("max")  # noqa: A001
min = _make("min")  # noqa: A001
sort = _make("sort")
topk = _make("topk")
kthvalue = _make("kthvalue")
median = _make("median")
mode = _make("mode")
cummax = _make("cummax")
cummin = _make("cummin")


# --- reduce12: aminmax's (min, max)
class aminmax(tuple):  # type: ignore[type-arg]  # noqa: N801
    """(min, max) of gradcore.aminmax, as a tuple with named fields."""

    __slots__ = ()
    n_fields = 2
    n_sequence_fields = 2
    n_unnamed_fields = 0

    def __new__(cls, sequence: Iterable[Any]) -> "aminmax":
        items = tuple(sequence)
        if len(items) != 2:
            raise TypeError(f"{cls.__module__}.aminmax() takes a 2-sequence ({len(items)}-sequence given)")
        return super().__new__(cls, items)

    @property
    def min(self) -> Any:
        return self[0]

    @property
    def max(self) -> Any:
        return self[1]

    def __repr__(self) -> str:
        return f"{type(self).__module__}.aminmax(\nmin={self[0]!r},\nmax={self[1]!r})"

    def __reduce__(self) -> Tuple[Any, Tuple[Tuple[Any, ...]]]:
        return (type(self), (tuple(self),))


__all__ += ["aminmax"]
