"""``default_collate`` and ``default_convert`` (PyTorch's ``torch.utils.data._utils.collate``).

``default_collate(batch)`` merges a list of samples into a batch, by the type of the first
sample: tensors are stacked on a new first dimension; NumPy arrays become tensors and are
stacked; NumPy scalars become a tensor of their dtype; Python floats a float64 tensor, ints
(and bools) a tensor of the dtype ``gc.tensor`` infers (int64 / bool); strings and bytes stay
a list; mappings collate per key; named tuples per field; other sequences are transposed and
collated per position (a tuple gives a list, as PyTorch does). Anything else is a TypeError.

``default_convert(data)`` is the same walk without batching (``batch_size=None``): NumPy
arrays and scalars become tensors, containers are rebuilt, everything else is returned as is.
"""
from __future__ import annotations

import collections.abc
import copy
import re
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Type, Union

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore._shape_ops import stack

__all__ = ["collate", "default_collate", "default_collate_fn_map", "default_convert"]

# NumPy dtype kinds that are not numbers: bytes, str, void, object (PyTorch's pattern).
np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)

CollateMap = Dict[Union[Type[Any], Tuple[Type[Any], ...]], Callable[..., Any]]


def default_convert(data: Any) -> Any:
    """Convert NumPy arrays/scalars inside ``data`` to tensors, keeping its structure."""
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_", "string_"):
        if isinstance(data, np.ndarray) and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return _core.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:  # the mapping type cannot be rebuilt this way
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # named tuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # a list, as PyTorch returns
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                seq = copy.copy(data)
                for i, d in enumerate(data):
                    seq[i] = default_convert(d)
                return seq
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def collate(batch: Sequence[Any], *, collate_fn_map: Optional[CollateMap] = None) -> Any:
    """Collate ``batch`` by the type of its first element: a handler of ``collate_fn_map`` for
    that type (exact type first, then the first ``isinstance`` match), else the container rules
    of the module docstring. Extend ``default_collate_fn_map`` (a copy) for custom types."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        merged = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(merged)
                return clone
            return elem_type(merged)
        except TypeError:
            return merged
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # named tuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence) and not isinstance(elem, (str, bytes)):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        columns = [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
        if isinstance(elem, tuple):
            return columns
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                seq = copy.copy(elem)
                for i, c in enumerate(columns):
                    seq[i] = c
                return seq
            return elem_type(columns)
        except TypeError:
            return columns
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def collate_tensor_fn(batch: Sequence[Tensor], *, collate_fn_map: Optional[CollateMap] = None) -> Tensor:
    """Stack tensors of one shape on a new first dimension (RuntimeError naming the first
    mismatching entry otherwise, as PyTorch's ``stack``)."""
    first = tuple(batch[0].shape)
    for i, t in enumerate(batch):
        if tuple(t.shape) != first:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(first)} at entry 0 "
                               f"and {list(t.shape)} at entry {i}")
    return stack(list(batch), 0)


def collate_numpy_array_fn(batch: Sequence[np.ndarray], *, collate_fn_map: Optional[CollateMap] = None) -> Any:
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return collate([_core.as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch: Sequence[Any], *, collate_fn_map: Optional[CollateMap] = None) -> Tensor:
    return _core.as_tensor(np.asarray(batch))


def collate_float_fn(batch: Sequence[float], *, collate_fn_map: Optional[CollateMap] = None) -> Tensor:
    return _core.tensor(list(batch), dtype=_core.float64)


def collate_int_fn(batch: Sequence[int], *, collate_fn_map: Optional[CollateMap] = None) -> Tensor:
    return _core.tensor(list(batch))


def collate_str_fn(batch: Sequence[Any], *, collate_fn_map: Optional[CollateMap] = None) -> Sequence[Any]:
    return batch


default_collate_fn_map: CollateMap = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch (see the module docstring); the DataLoader's
    default ``collate_fn`` when batching."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
