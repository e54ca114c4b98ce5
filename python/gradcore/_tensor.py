"""Tensor methods that are conveniences over the compiled core, written in Python.

They are attached to :class:`gradcore.Tensor` when ``gradcore`` is imported (``install()``):
PyTorch's ``repr``, ``to(...)``/``type(...)`` argument parsing, ``new_*`` constructors,
``*_as`` shorthands, iteration and containment, ``device``. None of them touches elements
in Python: they call the bound ops.
"""
from __future__ import annotations

import math
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["Size", "device", "finfo", "iinfo", "install", "PYTHON_METHODS"]


class Size(tuple):  # type: ignore[type-arg]
    """PyTorch's ``torch.Size``: what ``t.shape`` and ``t.size()`` return, a tuple of ints
    with ``numel()``; slicing and ``+`` keep the type."""

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, key: Any) -> Any:
        r = tuple.__getitem__(self, key)
        return Size(r) if isinstance(key, slice) else r

    def __add__(self, other: Any) -> "Size":
        return Size(tuple.__add__(self, other))

    def __repr__(self) -> str:
        return f"gradcore.Size({list(self)!r})"

    __str__ = __repr__


class device:
    """A device (PyTorch's ``torch.device``): gradcore has one, ``device("cpu")``."""

    __slots__ = ("type", "index")
    type: str
    index: Optional[int]

    def __init__(self, type: Any = "cpu", index: Optional[int] = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        if isinstance(type, str) and ":" in type:
            type, idx = type.split(":", 1)
            index = int(idx)
        if type != "cpu":
            raise RuntimeError(f"gradcore runs on the CPU only; device '{type}' is not available")
        if index not in (None, 0):
            raise RuntimeError(f"gradcore has one CPU device; got index {index}")
        object.__setattr__(self, "type", "cpu")
        object.__setattr__(self, "index", index)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("device objects are immutable")

    def __repr__(self) -> str:
        return "device(type='cpu')" if self.index is None else f"device(type='cpu', index={self.index})"

    def __str__(self) -> str:
        return "cpu" if self.index is None else f"cpu:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and other.type == self.type and other.index == self.index

    def __hash__(self) -> int:
        return hash(("cpu", self.index))


_CPU = device("cpu")

_NP_OF = {
    _core.float32: np.float32, _core.float64: np.float64, _core.float16: np.float16,
    _core.int64: np.int64, _core.int32: np.int32, _core.int16: np.int16, _core.int8: np.int8,
    _core.uint8: np.uint8, _core.bool: np.bool_,
}


class finfo:
    """Machine limits of a floating dtype (``torch.finfo``)."""

    def __init__(self, type: Any = None) -> None:  # noqa: A002
        dt = _core.get_default_dtype() if type is None else type
        if not isinstance(dt, _core.dtype) or not dt.is_floating_point:
            raise TypeError(f"finfo() requires a floating point input type, got {dt!r}")
        self.dtype = str(dt).split(".")[-1]
        if dt is _core.bfloat16:
            self.bits, self.eps, self.max, self.min = 16, 2.0 ** -7, float.fromhex("0x1.fep127"), -float.fromhex("0x1.fep127")
            self.tiny = self.smallest_normal = 2.0 ** -126
            self.resolution = 0.01
        else:
            f = np.finfo(_NP_OF[dt])
            self.bits, self.eps, self.max, self.min = int(f.bits), float(f.eps), float(f.max), float(f.min)
            self.tiny = self.smallest_normal = float(f.tiny)
            self.resolution = float(f.resolution)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min:.6g}, max={self.max:.6g}, eps={self.eps:.6g}, "
                f"smallest_normal={self.smallest_normal:.6g}, tiny={self.tiny:.6g}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype (``torch.iinfo``)."""

    def __init__(self, type: Any) -> None:  # noqa: A002
        if not isinstance(type, _core.dtype) or type.is_floating_point:
            raise TypeError(f"iinfo() requires an integer input type, got {type!r}")
        self.dtype = str(type).split(".")[-1]
        if type is _core.bool:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        i = np.iinfo(_NP_OF[type])
        self.bits, self.min, self.max = int(i.bits), int(i.min), int(i.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


# ---- repr, as PyTorch prints tensors (torch/_tensor_str.py's rules) ---------------------
_PRECISION = 4
_THRESHOLD = 1000
_EDGEITEMS = 3
_LINEWIDTH = 80


def _summarize(a: np.ndarray) -> bool:
    return bool(a.size > _THRESHOLD)


class _Formatter:
    def __init__(self, values: np.ndarray, floating: bool) -> None:
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        if not floating:
            self.width = max((len(str(v)) for v in values.ravel().tolist()), default=1)
            return
        finite = values[np.isfinite(values)]
        nonzero = np.abs(finite[finite != 0])
        if values.size:
            self.width = max((len(_special(v)) for v in values.ravel() if not math.isfinite(v)), default=1)
        if nonzero.size == 0:
            self.width = max(self.width, 2)  # "0."
            return
        self.int_mode = bool(np.all(np.ceil(nonzero) == nonzero))
        lo, hi = float(nonzero.min()), float(nonzero.max())
        if self.int_mode:
            self.sci_mode = hi > 1e8
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1e8 or lo < 1e-4
        # The width counts the sign (PyTorch pads " 0.2500" beside "-2.2500").
        for v in finite[finite != 0].tolist() + ([0.0] if finite.size != nonzero.size else []):
            self.width = max(self.width, len(self._fmt(v)))

    def _fmt(self, v: float) -> str:
        if not math.isfinite(v):
            return _special(v)
        if self.sci_mode:
            return f"{v:.{_PRECISION}e}"
        if self.int_mode:
            s = f"{v:.0f}"
            return s + "." if "e" not in s and "inf" not in s and "nan" not in s else s
        return f"{v:.{_PRECISION}f}"

    def format(self, v: Any) -> str:
        s = self._fmt(float(v)) if self.floating else str(v)
        return " " * (self.width - len(s)) + s


def _special(v: float) -> str:
    return "nan" if v != v else ("inf" if v > 0 else "-inf")


def _str_rec(a: np.ndarray, fmt: _Formatter, indent: int, summarize: bool) -> str:
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        items = [fmt.format(v) for v in a.tolist()] if not (summarize and a.shape[0] > 2 * _EDGEITEMS) else (
            [fmt.format(v) for v in a[:_EDGEITEMS].tolist()] + [" ..."] + [fmt.format(v) for v in a[-_EDGEITEMS:].tolist()])
        per_line = max(1, (_LINEWIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    if summarize and a.shape[0] > 2 * _EDGEITEMS:
        rows = [_str_rec(a[i], fmt, indent + 1, summarize) for i in range(_EDGEITEMS)] + ["..."] + [
            _str_rec(a[i], fmt, indent + 1, summarize) for i in range(a.shape[0] - _EDGEITEMS, a.shape[0])]
    else:
        rows = [_str_rec(a[i], fmt, indent + 1, summarize) for i in range(a.shape[0])]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def _values_for_format(a: np.ndarray, summarize: bool) -> np.ndarray:
    if not summarize:
        return a
    parts = []
    for idx in np.ndindex(*a.shape[:-1]) if a.ndim > 1 else [()]:
        row = a[idx]
        parts.append(np.concatenate([row[:_EDGEITEMS], row[-_EDGEITEMS:]]) if row.shape[0] > 2 * _EDGEITEMS else row)
        if len(parts) > 64:
            break
    return np.concatenate(parts) if parts else a.ravel()


def _tensor_repr(self: Tensor) -> str:
    prefix = "tensor("
    a = self._numpy_view()
    floating = self.dtype.is_floating_point
    suffixes: List[str] = []
    default_shown = {_core.get_default_dtype(), _core.int64, _core.bool}
    if self.numel() == 0:
        body = "[]"
        if tuple(self.shape) != (0,):
            suffixes.append(f"size={tuple(self.shape)}")
        if self.dtype is not _core.get_default_dtype():
            suffixes.append(f"dtype={self.dtype}")
    else:
        summarize = _summarize(a)
        vals = a.astype(np.float64) if floating else a
        fmt = _Formatter(_values_for_format(vals, summarize), floating)
        body = _str_rec(vals, fmt, len(prefix), summarize)
        if self.dtype not in default_shown:
            suffixes.append(f"dtype={self.dtype}")
    if self.grad_fn is not None:
        suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
    elif self.requires_grad:
        suffixes.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffixes) + ")"


# ---- conversions ---------------------------------------------------------------------

class memory_format:
    """A memory format, as ``torch.memory_format``: ``gradcore.contiguous_format`` (row-major),
    ``channels_last`` (4-D tensors stored N, H, W, C: strides of a permuted dense block),
    ``channels_last_3d`` (5-D, N, D, H, W, C) and ``preserve_format``. The kernels take any
    layout: convolutions read a channels-last input through one contiguous copy, so the
    format changes strides and speed, never values."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"gradcore.{self._name}"

    def __reduce__(self) -> str:
        return self._name


# The C++ methods the Python ones below wrap (install() replaces them on the class).
_CORE_IS_CONTIGUOUS = Tensor.is_contiguous
_CORE_CONTIGUOUS = Tensor.contiguous

contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")

# dims order (outermost first) of each channels-last format
_CHANNELS_LAST_ORDER = {4: (0, 2, 3, 1), 5: (0, 2, 3, 4, 1)}


def _check_memory_format(fmt: Any) -> None:
    if not isinstance(fmt, memory_format):
        raise TypeError(f"memory_format must be a gradcore.memory_format, not {type(fmt).__name__}")


def _with_memory_format(t: Tensor, fmt: Any) -> Tensor:
    """``t`` laid out in ``fmt`` (itself when it already is)."""
    _check_memory_format(fmt)
    if fmt is preserve_format:
        return t
    if fmt is contiguous_format:
        return t.contiguous()
    rank = 4 if fmt is channels_last else 5
    if t.dim() != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt._name} format")
    if _is_contiguous(t, fmt):
        return t
    order = _CHANNELS_LAST_ORDER[rank]
    inverse = tuple(order.index(d) for d in range(rank))
    return t.permute(*order).contiguous().permute(*inverse)


def _is_contiguous(self: Tensor, memory_format: Any = contiguous_format) -> bool:
    """Whether the strides are those of ``memory_format`` (row-major by default; size-1
    dims are ignored, as in PyTorch)."""
    _check_memory_format(memory_format)
    if memory_format is contiguous_format or memory_format is preserve_format:
        return bool(_CORE_IS_CONTIGUOUS(self))
    rank = 4 if memory_format is channels_last else 5
    if self.dim() != rank:
        return False
    expected = 1
    for d in reversed(_CHANNELS_LAST_ORDER[rank]):
        size = int(self.shape[d])
        if size != 1 and int(self.stride(d)) != expected:
            return False
        expected *= size
    return True


def _contiguous(self: Tensor, memory_format: Any = contiguous_format) -> Tensor:
    """This tensor if already laid out in ``memory_format``, else a copy that is."""
    return _CORE_CONTIGUOUS(self) if memory_format is contiguous_format else _with_memory_format(self, memory_format)


def _parse_to(self: Tensor, args: Tuple[Any, ...], kwargs: Any) -> Any:
    dtype = kwargs.pop("dtype", None)
    dev = kwargs.pop("device", None)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    fmt = kwargs.pop("memory_format", preserve_format)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, _core.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, device)):
            dev = a
        elif a is None:
            continue
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {type(a).__name__}")
    if dev is not None:
        device(dev)  # validates: only the CPU
    out = self if dtype is None else self._to_dtype(dtype)
    out = _with_memory_format(out, fmt)
    return out.clone() if copy and out is self else out


def _to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """This tensor converted: ``to(dtype)``, ``to(other)``, ``to("cpu")``, ``to(device, dtype)``.
    Returns ``self`` when nothing changes (``copy=True`` forces a copy)."""
    return _parse_to(self, args, kwargs)  # type: ignore[no-any-return]


_TYPE_NAMES = {
    "torch.FloatTensor": _core.float32, "torch.DoubleTensor": _core.float64, "torch.HalfTensor": _core.float16,
    "torch.BFloat16Tensor": _core.bfloat16, "torch.LongTensor": _core.int64, "torch.IntTensor": _core.int32,
    "torch.ShortTensor": _core.int16, "torch.CharTensor": _core.int8, "torch.ByteTensor": _core.uint8,
    "torch.BoolTensor": _core.bool,
}
_TYPE_OF = {v: k for k, v in _TYPE_NAMES.items()}


def _type(self: Tensor, dtype: Any = None, non_blocking: bool = False, **kwargs: Any) -> Any:
    """With no argument, the type name (``'torch.FloatTensor'``, as PyTorch); else ``to(dtype)``."""
    if dtype is None:
        return _TYPE_OF[self.dtype]
    if isinstance(dtype, str):
        name = dtype.replace("gradcore.", "torch.")
        if name not in _TYPE_NAMES:
            raise ValueError(f"invalid type: '{dtype}'")
        dtype = _TYPE_NAMES[name]
    return self._to_dtype(dtype)


def _new_like(self: Tensor, fill: Optional[float], size: Tuple[Any, ...], kwargs: Any) -> Tensor:
    dtype = kwargs.pop("dtype", None) or self.dtype
    dev = kwargs.pop("device", None)
    requires_grad = bool(kwargs.pop("requires_grad", False))
    kwargs.pop("layout", None)
    kwargs.pop("pin_memory", None)
    if kwargs:
        raise TypeError(f"unexpected keyword argument '{next(iter(kwargs))}'")
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if fill is None:
        return _core.empty(*size, dtype=dtype, device=dev, requires_grad=requires_grad)
    return _core.full(tuple(size), fill, dtype=dtype, device=dev, requires_grad=requires_grad)


def _new_zeros(self: Tensor, *size: Any, **kwargs: Any) -> Tensor:
    """zeros(size) with this tensor's dtype (unless dtype= is given)."""
    return _new_like(self, 0, size, kwargs)


def _new_ones(self: Tensor, *size: Any, **kwargs: Any) -> Tensor:
    """ones(size) with this tensor's dtype (unless dtype= is given)."""
    return _new_like(self, 1, size, kwargs)


def _new_empty(self: Tensor, *size: Any, **kwargs: Any) -> Tensor:
    """empty(size) with this tensor's dtype (unless dtype= is given)."""
    return _new_like(self, None, size, kwargs)


def _new_full(self: Tensor, size: Any, fill_value: Any, **kwargs: Any) -> Tensor:
    """full(size, fill_value) with this tensor's dtype (unless dtype= is given)."""
    return _new_like(self, fill_value, (tuple(size),), kwargs)


def _new_tensor(self: Tensor, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """tensor(data) with this tensor's dtype (unless dtype= is given)."""
    return _core.tensor(data, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)


def _type_as(self: Tensor, other: Tensor) -> Tensor:
    """This tensor in other's dtype."""
    return self._to_dtype(other.dtype)


def _view_as(self: Tensor, other: Tensor) -> Tensor:
    """view(other.shape)."""
    return self.view(*other.shape)


def _reshape_as(self: Tensor, other: Tensor) -> Tensor:
    """reshape(other.shape)."""
    return self.reshape(*other.shape)


def _expand_as(self: Tensor, other: Tensor) -> Tensor:
    """expand(other.shape)."""
    return self.expand(*other.shape)


def _iter(self: Tensor) -> Iterator[Tensor]:
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    return iter(self.unbind(0))


def _contains(self: Tensor, element: Any) -> bool:
    if isinstance(element, (Tensor, int, float, bool)) or (np.isscalar(element) and not isinstance(element, (str, bytes))):
        return bool((self == element).any())
    raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a {type(element)}.")


def _format(self: Tensor, spec: str) -> str:
    # As PyTorch: a 0-d tensor formats as its number, also with an empty spec (f"{loss}" is "0.25").
    if self.dim() == 0:
        return format(self.item(), spec)
    return object.__format__(self, spec) if spec else repr(self)


def _cpu(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """This tensor (gradcore tensors live on the CPU)."""
    return self


def _numpy_force(self: Tensor, force: bool = False) -> np.ndarray:
    return self.detach().numpy() if force else self.numpy()


def _isclose(self: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """|self - other| <= atol + rtol * |other| elementwise (a bool tensor); infinities equal themselves."""
    other = other if isinstance(other, Tensor) else _core.tensor(other, dtype=self.dtype)
    if not self.dtype.is_floating_point and not other.dtype.is_floating_point:
        equal: Tensor = self == other
        return equal
    a = self.detach()
    b = other.detach()
    dt = _core.result_type(a, b)
    a, b = a._to_dtype(dt), b._to_dtype(dt)
    close = (a == b) | ((a - b).abs() <= atol + rtol * b.abs())
    if equal_nan:
        close = close | (a.isnan() & b.isnan())
    result: Tensor = close & ~((a.isinf() | b.isinf()) & (a != b))
    return result


def _allclose(self: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether isclose holds for every element."""
    return bool(_isclose(self, other, rtol, atol, equal_nan).all())


def _reduce_ex(self: Tensor, protocol: Any = 2) -> Any:
    """Tensors do not pickle, for any protocol (protocols 0 and 1 would otherwise reach
    pybind11's instance allocation and abort the interpreter): save them with
    ``gradcore.save`` (safetensors)."""
    raise TypeError("cannot pickle 'gradcore._core.Tensor' object: gradcore never pickles tensors; save them "
                    "with gradcore.save (safetensors)")


def _requires_grad_default(self: Tensor) -> Any:
    return self.requires_grad


PYTHON_METHODS = {
    "__repr__": _tensor_repr, "__str__": _tensor_repr, "to": _to, "type": _type, "new_zeros": _new_zeros,
    "new_ones": _new_ones, "new_empty": _new_empty, "new_full": _new_full, "new_tensor": _new_tensor,
    "type_as": _type_as, "view_as": _view_as, "reshape_as": _reshape_as, "expand_as": _expand_as,
    "__iter__": _iter, "__contains__": _contains, "__format__": _format, "cpu": _cpu,
    "isclose": _isclose, "allclose": _allclose, "contiguous": _contiguous, "is_contiguous": _is_contiguous,
    "__reduce_ex__": _reduce_ex,
}
PYTHON_PROPERTIES = {
    "device": property(lambda self: _CPU, doc="The device of the tensor (always cpu)."),
    "is_cuda": property(lambda self: False, doc="False: gradcore runs on the CPU."),
    "is_cpu": property(lambda self: True, doc="True: gradcore runs on the CPU."),
    "layout": property(lambda self: "torch.strided", doc="The memory layout (always strided)."),
}


def install() -> None:
    """Attach the Python methods and properties to gradcore.Tensor (idempotent)."""
    _core._set_size_type(Size)
    for name, fn in PYTHON_METHODS.items():
        setattr(Tensor, name, fn)
    for name, prop in PYTHON_PROPERTIES.items():
        setattr(Tensor, name, prop)

# --- reductions and statistics (issue 12, reduce12): Python-composed Tensor methods
from gradcore import _stats  # noqa: E402

PYTHON_METHODS.update(_stats.TENSOR_METHODS)
