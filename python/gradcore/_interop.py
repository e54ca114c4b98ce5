"""Other libraries' tensors (PyTorch, JAX, anything with ``__dlpack__``) as gradcore tensors.

The conversions go through DLPack (``gc.from_dlpack``): no copy, no Python lists. Used where
gradcore takes foreign tensors as values: ``Module.load_state_dict`` (a PyTorch
``state_dict()``) and ``gc.save``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["is_foreign_tensor", "from_foreign"]


def is_foreign_tensor(obj: Any) -> bool:
    """True for another library's tensor that speaks DLPack (not a gradcore Tensor, not a
    NumPy array: those have their own paths)."""
    return not isinstance(obj, (Tensor, np.ndarray)) and hasattr(type(obj), "__dlpack__")


def from_foreign(obj: Any) -> Tensor:
    """A gradcore tensor sharing ``obj``'s memory. A tensor that requires grad (a PyTorch
    Parameter) is read through its ``detach()``: its values, never its graph."""
    if getattr(obj, "requires_grad", False) and hasattr(obj, "detach"):
        obj = obj.detach()
    return _core.from_dlpack(obj)


def _is_cpu(device: Any) -> bool:
    """"cpu", "cpu:0", torch.device("cpu") or gc.device("cpu") (anything with .type/.index)."""
    if isinstance(device, str):
        return device in ("cpu", "cpu:0")
    kind, index = getattr(device, "type", None), getattr(device, "index", None)
    return isinstance(kind, str) and kind == "cpu" and index in (None, 0)


def check_map_location(map_location: Any) -> None:
    """``gc.load``'s ``map_location`` (PyTorch's argument): gradcore loads every tensor on the
    CPU, so None, "cpu", a CPU device object, or a dict whose targets are all the CPU (such
    as ``{"cuda:0": "cpu"}``: a checkpoint saved on a GPU loads on the CPU) are accepted;
    any other device is a RuntimeError, a callable or another type a TypeError."""
    if map_location is None:
        return
    if isinstance(map_location, dict):
        targets = list(map_location.values())
    elif isinstance(map_location, str) or hasattr(map_location, "type"):
        targets = [map_location]
    elif callable(map_location):
        raise TypeError("load: map_location as a callable is not supported: gradcore runs on the CPU only and "
                        "loads every tensor there (pass None or 'cpu')")
    else:
        raise TypeError(f"load: map_location must be None, a str, a device or a dict, got "
                        f"{type(map_location).__module__}.{type(map_location).__qualname__}")
    for t in targets:
        if not (isinstance(t, str) or hasattr(t, "type")):
            raise TypeError(f"load: map_location's targets must be devices (str or device), got {t!r}")
        if not _is_cpu(t):
            raise RuntimeError(f"load: gradcore runs on the CPU only; map_location {str(t)!r} is not available "
                               "(use map_location='cpu' or None)")
