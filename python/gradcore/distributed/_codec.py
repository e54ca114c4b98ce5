"""The wire format of the object collectives (``broadcast_object_list``, ``all_gather_object``,
``gather_object``, ``scatter_object_list``): a small tagged binary encoding of Python's basic
values, NumPy arrays and scalars, and gradcore tensors.

PyTorch pickles these objects; gradcore uses no pickle anywhere (a byte string that a peer
sends could run code when unpickled). An object of another type raises TypeError on the
sending rank, naming the type: send its state as basic values instead.
"""
from __future__ import annotations

import struct
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

import gradcore as gc

__all__ = ["encode", "decode"]


def encode(obj: Any) -> bytes:
    out: List[bytes] = []
    _put(obj, out)
    return b"".join(out)


def decode(data: bytes) -> Any:
    obj, end = _get(memoryview(data), 0)
    if end != len(data):
        raise ValueError(f"object collective: {len(data) - end} trailing bytes in a message")
    return obj


def _count(n: int) -> bytes:
    return struct.pack("<Q", n)


def _put_array(a: np.ndarray, out: List[bytes]) -> None:
    if a.dtype.hasobject:
        raise TypeError("object collectives carry NumPy arrays of numbers only, not dtype=object")
    dt = a.dtype.str.encode()
    out += [_count(len(dt)), dt, _count(a.ndim)] + [_count(d) for d in a.shape]
    raw = np.ascontiguousarray(a).tobytes()
    out += [_count(len(raw)), raw]


def _put(obj: Any, out: List[bytes]) -> None:
    if obj is None:
        out.append(b"N")
    elif obj is True or obj is False:
        out.append(b"T" if obj else b"F")
    elif type(obj) is int:
        s = str(obj).encode()
        out += [b"i", _count(len(s)), s]
    elif type(obj) is float:
        out += [b"f", struct.pack("<d", obj)]
    elif type(obj) is complex:
        out += [b"c", struct.pack("<dd", obj.real, obj.imag)]
    elif type(obj) is str:
        s = obj.encode("utf-8", "surrogatepass")
        out += [b"s", _count(len(s)), s]
    elif type(obj) in (bytes, bytearray):
        out += [b"b" if type(obj) is bytes else b"B", _count(len(obj)), bytes(obj)]
    elif type(obj) in _SEQUENCES:
        items = list(obj)
        out += [_SEQUENCES[type(obj)], _count(len(items))]
        for x in items:
            _put(x, out)
    elif type(obj) is dict:
        out += [b"d", _count(len(obj))]
        for k, v in obj.items():
            _put(k, out)
            _put(v, out)
    elif isinstance(obj, gc.Tensor):
        name = str(obj.dtype).rsplit(".", 1)[-1].encode()
        out += [b"g", b"1" if obj.requires_grad else b"0", _count(len(name)), name]
        t = obj.detach()
        _put_array((t.float() if t.dtype == gc.bfloat16 else t).numpy(), out)  # NumPy has no bfloat16
    elif isinstance(obj, np.ndarray):
        out.append(b"a")
        _put_array(obj, out)
    elif isinstance(obj, np.generic):
        out.append(b"n")
        _put_array(np.asarray(obj), out)
    else:
        raise TypeError(f"object collectives carry None, bool, int, float, complex, str, bytes, list, tuple, dict, "
                        f"set, NumPy arrays and gradcore tensors (gradcore does not pickle), not "
                        f"{type(obj).__module__}.{type(obj).__qualname__}")


_SEQUENCES: Dict[type, bytes] = {list: b"l", tuple: b"t", set: b"S", frozenset: b"z"}
_BUILD: Dict[bytes, Callable[[List[Any]], Any]] = {b"l": list, b"t": tuple, b"S": set, b"z": frozenset}


def _n(buf: memoryview, at: int) -> Tuple[int, int]:
    return struct.unpack_from("<Q", buf, at)[0], at + 8


def _get_array(buf: memoryview, at: int) -> Tuple[np.ndarray, int]:
    k, at = _n(buf, at)
    dt = np.dtype(bytes(buf[at:at + k]).decode())
    at += k
    nd, at = _n(buf, at)
    shape = []
    for _ in range(nd):
        d, at = _n(buf, at)
        shape.append(d)
    k, at = _n(buf, at)
    a = np.frombuffer(bytes(buf[at:at + k]), dtype=dt).reshape(shape).copy()
    return a, at + k


def _get(buf: memoryview, at: int) -> Tuple[Any, int]:
    tag = bytes(buf[at:at + 1])
    at += 1
    if tag == b"N":
        return None, at
    if tag in (b"T", b"F"):
        return tag == b"T", at
    if tag == b"i":
        k, at = _n(buf, at)
        return int(bytes(buf[at:at + k])), at + k
    if tag == b"f":
        return struct.unpack_from("<d", buf, at)[0], at + 8
    if tag == b"c":
        re, im = struct.unpack_from("<dd", buf, at)
        return complex(re, im), at + 16
    if tag in (b"s", b"b", b"B"):
        k, at = _n(buf, at)
        raw = bytes(buf[at:at + k])
        return (raw.decode("utf-8", "surrogatepass") if tag == b"s" else raw if tag == b"b" else bytearray(raw)), at + k
    if tag in _BUILD:
        k, at = _n(buf, at)
        items = []
        for _ in range(k):
            x, at = _get(buf, at)
            items.append(x)
        return _BUILD[tag](items), at
    if tag == b"d":
        k, at = _n(buf, at)
        d = {}
        for _ in range(k):
            key, at = _get(buf, at)
            d[key], at = _get(buf, at)
        return d, at
    if tag == b"g":
        grad = bytes(buf[at:at + 1]) == b"1"
        k, at = _n(buf, at + 1)
        dtype = getattr(gc, bytes(buf[at:at + k]).decode())
        a, at = _get_array(buf, at + k)
        return gc.from_numpy(a).to(dtype).requires_grad_(grad), at
    if tag in (b"a", b"n"):
        a, at = _get_array(buf, at)
        return (a if tag == b"a" else a[()]), at
    raise ValueError(f"object collective: unknown tag {tag!r} in a message")
