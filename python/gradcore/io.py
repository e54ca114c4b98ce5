"""Checkpoints in the safetensors format: no pickle, atomic writes.

``save`` takes a (possibly nested) dict whose leaves are tensors, NumPy arrays or plain
JSON values (numbers, strings, lists, None) — a model's ``state_dict()`` or an optimizer's.
Tensors go into the safetensors body under their dotted path; everything else (and the
nesting) is recorded as JSON in the header's metadata. The file is written to a temporary
file in the same folder and renamed over the target, so a crash never leaves a half-written
checkpoint. ``load`` validates the file (the safetensors library parses the header and
checks every offset) and raises ``ValueError`` for a truncated, corrupted or hostile file.
A flat state dict of float tensors is a plain safetensors file that
``safetensors.torch.load_file`` reads directly. Dict keys are str or int; keys that could
not come back as they went in (bool keys, 0 next to "0", a top-level "__metadata__") are
refused before any file is written.
"""
from __future__ import annotations

import json
import math
import os
import uuid
from collections import OrderedDict
from typing import Any, Dict, Union

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore._interop import check_map_location, from_foreign, is_foreign_tensor

__all__ = ["save", "load"]

PathLike = Union[str, "os.PathLike[str]"]
_LAYOUT_KEY = "gradcore.layout"
_RESERVED = "__metadata__"  # the safetensors header's own entry: no tensor may have this name


class _BF16:
    """A bfloat16 tensor's bits (uint16) on their way into the file (NumPy has no bfloat16)."""

    def __init__(self, bits: np.ndarray) -> None:
        self.bits = bits


def _c_array(x: Any) -> Any:
    """A C-contiguous array of the same shape (0-dim stays 0-dim, unlike ascontiguousarray)."""
    if is_foreign_tensor(x):  # a PyTorch tensor: through DLPack (bfloat16 included)
        x = from_foreign(x)
    if isinstance(x, Tensor) and x.dtype is _core.bfloat16:
        # The upper half of each float32 is the bfloat16 (the conversion back is exact).
        f = x.detach().float().numpy()
        return _BF16((np.ascontiguousarray(f).view(np.uint32) >> 16).astype("<u2"))
    a = x.detach().numpy() if isinstance(x, Tensor) else np.asarray(x)
    return a if a.flags.c_contiguous else a.copy(order="C")


_ST_DTYPE = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.float16): "F16",
             np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.int16): "I16",
             np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}


def _write_safetensors(arrays: Dict[str, Any], path: str, metadata: Dict[str, str]) -> None:
    """The safetensors format (an 8-byte little-endian header size, the JSON header naming
    each tensor's dtype, shape and byte range, then the bytes), written directly so that
    bfloat16 (which NumPy, and so safetensors.numpy, cannot express) is stored as BF16."""
    header: Dict[str, Any] = {}
    chunks = []
    offset = 0
    for name in sorted(arrays):
        a = arrays[name]
        if isinstance(a, _BF16):
            dtype, data, shape = "BF16", a.bits, a.bits.shape
        else:
            if a.dtype not in _ST_DTYPE:
                raise TypeError(f"save: tensor {name!r} has unsupported dtype {a.dtype}")
            dtype, data, shape = _ST_DTYPE[a.dtype], a, a.shape
            if data.dtype.byteorder == ">":
                data = data.astype(data.dtype.newbyteorder("<"))
        raw = np.ascontiguousarray(data).tobytes()
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header[_RESERVED] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())


def _unique(name: str, arrays: Dict[str, np.ndarray]) -> str:
    """`name`, or `name#i` if taken; never safetensors' reserved "__metadata__"."""
    if name not in arrays and name != _RESERVED:
        return name
    i = 1
    while f"{name}#{i}" in arrays:
        i += 1
    return f"{name}#{i}"


def _check_keys(d: Dict[Any, Any], top: bool) -> None:
    """Keys that cannot round-trip are refused before anything is written.

    Keys are str (any str, the empty one included: module state dicts) or int (optimizer
    state dicts); bool is refused although it is an int (it would come back as 1/0), as is
    every other type. Two keys with the same text (0 and "0") would overwrite each other in
    the file: ValueError. "__metadata__" is the safetensors header's own entry: at the top
    level, where the keys of a flat state dict become tensor names, it is a ValueError
    (nested deeper it is an ordinary key; see _unique).
    """
    seen: Dict[str, Any] = {}
    for k in d:
        if isinstance(k, bool) or not isinstance(k, (str, int)):
            raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__} ({k!r})")
        if top and k == _RESERVED:
            raise ValueError(f"save: the key {_RESERVED!r} is reserved by the safetensors format")
        text = str(k)
        if text in seen:
            raise ValueError(f"save: keys {seen[text]!r} and {k!r} would both be stored as {text!r}")
        seen[text] = k


def _flatten(obj: Any, prefix: str, arrays: Dict[str, Any], top: bool = False) -> Any:
    """Move tensors into `arrays` (keyed by dotted path, made unique); return the JSON skeleton."""
    if isinstance(obj, (Tensor, np.ndarray)) or is_foreign_tensor(obj):
        name = _unique(prefix, arrays)
        arrays[name] = _c_array(obj)
        return {"__tensor__": name}
    if isinstance(obj, dict):
        _check_keys(obj, top)
        out = {}
        for k, v in obj.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            out[str(k)] = _flatten(v, key, arrays)
        node: Dict[str, Any] = {"__dict__": out, "__intkeys__": [str(k) for k in obj if isinstance(k, int)]}
        if isinstance(obj, OrderedDict):  # a module's state_dict: it comes back as one, as from torch.load
            node["__ordered__"] = True
        return node
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, f"{prefix}.{i}" if prefix else str(i), arrays) for i, v in enumerate(obj)],
                "__tuple__": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"save: cannot store a {type(obj).__name__} (tensors, arrays, numbers, strings, lists, dicts)")


def _unflatten(layout: Any, tensors: Dict[str, Tensor]) -> Any:
    if isinstance(layout, dict):
        if "__tensor__" in layout:
            return tensors[layout["__tensor__"]]
        if "__dict__" in layout:
            ints = set(layout.get("__intkeys__", []))
            d = {(int(k) if k in ints else k): _unflatten(v, tensors) for k, v in layout["__dict__"].items()}
            return OrderedDict(d) if layout.get("__ordered__") else d
        if "__list__" in layout:
            items = [_unflatten(v, tensors) for v in layout["__list__"]]
            return tuple(items) if layout.get("__tuple__") else items
        raise ValueError("load: unrecognised layout entry in the checkpoint metadata")
    return layout


def _is_flat_tensor_dict(obj: Any) -> bool:
    """A plain dict of tensors (gradcore, NumPy or PyTorch) under str keys in sorted order:
    stored with no layout (the file lists tensors sorted by name, so that order is what comes
    back). An OrderedDict or another key order gets the layout, which restores the type and
    the order."""
    return type(obj) is dict and list(obj) == sorted(obj, key=str) and \
        all(isinstance(k, str) and (isinstance(v, (Tensor, np.ndarray)) or is_foreign_tensor(v))
            for k, v in obj.items())


def save(obj: Any, path: PathLike) -> None:
    """Write ``obj`` (a state dict) to ``path`` in the safetensors format, atomically.
    Every dtype is stored as itself (bfloat16 as BF16), readable by ``safetensors.torch``.
    PyTorch tensors are accepted wherever gradcore tensors are (read through DLPack)."""
    path = os.fspath(path)
    arrays: Dict[str, Any] = {}
    metadata: Dict[str, str] = {}
    if _is_flat_tensor_dict(obj):
        _check_keys(obj, top=True)
        for k, v in obj.items():
            arrays[k] = _c_array(v)
    else:
        metadata[_LAYOUT_KEY] = json.dumps(_flatten(obj, "", arrays, top=True))
    folder = os.path.dirname(os.path.abspath(path))
    # The temporary file is created like any new file (mode 0666 & ~umask), in the target's
    # folder so that os.replace is an atomic rename.
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        _write_safetensors(arrays, tmp, metadata)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# Bytes per element of the safetensors dtypes (sub-byte float formats are not listed: their
# size is not checked here and load refuses them as an unsupported dtype anyway).
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
             "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit on the JSON header
_INT64_MAX = 2**63 - 1


def _check_shapes(path: str) -> None:
    """Name the tensor and shape of a header entry whose size overflows int64 or disagrees
    with its byte range. safe_open catches both too, but with a message that names neither,
    and it accepts a zero-element shape with absurd other dims, which NumPy then refuses.

    The rule is NumPy's: the product of the non-zero dims times the item size must fit in
    int64. Anything this function
    does not understand (a malformed header) is left to safe_open, which rejects it.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            n = int.from_bytes(f.read(8), "little")
            if size < 8 or not 0 < n <= min(size - 8, _MAX_HEADER):
                return
            header = json.loads(f.read(n))
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError), absurdly nested
        return
    if not isinstance(header, dict):
        return
    for name, entry in header.items():
        if name == _RESERVED or not isinstance(entry, dict):
            continue
        shape, dtype, offsets = entry.get("shape"), entry.get("dtype"), entry.get("data_offsets")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            continue
        itemsize = _ITEMSIZE.get(dtype) if isinstance(dtype, str) else None
        if itemsize is None:
            continue
        if itemsize * math.prod(max(d, 1) for d in shape) > _INT64_MAX:
            raise ValueError(f"load: {path}: tensor {name!r} has shape {tuple(shape)}, whose size overflows int64")
        if isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets):
            nbytes = itemsize * math.prod(shape)
            if offsets[1] - offsets[0] != nbytes:
                raise ValueError(f"load: {path}: tensor {name!r} of shape {tuple(shape)} and dtype {dtype} needs "
                                 f"{nbytes} bytes, but its data_offsets {offsets} span {offsets[1] - offsets[0]}")


def load(path: PathLike, map_location: Any = None, *, weights_only: Any = None, mmap: Any = None) -> Any:
    """Read a checkpoint written by :func:`save` (or any safetensors file).

    ``map_location``, ``weights_only`` and ``mmap`` are PyTorch's arguments: every tensor
    loads on the CPU (``map_location`` may be None, "cpu", a CPU device or a dict mapping
    to the CPU; another device is a RuntimeError), and a safetensors file holds no pickle,
    so the load is always weights-only whatever ``weights_only`` says.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a file that is
    not a valid safetensors file (truncated, corrupted, hostile header). Every dtype comes
    back as itself (float32/64/16, bfloat16, int64/32/16/8, uint8, bool); dtypes gradcore
    lacks (uint16/32/64, float8) are a ValueError.
    """
    from safetensors import safe_open

    check_map_location(map_location)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    _check_shapes(path)
    try:
        # safe_open parses and checks the header (sizes, offsets, dtypes) before any read.
        with safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            keys = list(f.keys())
            arrays = {}
            for k in keys:
                try:
                    arrays[k] = f.get_tensor(k)
                except TypeError:  # bfloat16 has no NumPy dtype
                    arrays[k] = None
        if any(a is None for a in arrays.values()):
            arrays.update(_read_bfloat16(path, [k for k, a in arrays.items() if a is None]))
    except ValueError:
        raise
    except Exception as e:  # safetensors raises its own error types for every malformed file
        raise ValueError(f"load: {path} is not a valid safetensors file ({e})") from e
    tensors: Dict[str, Tensor] = {}
    for k, a in arrays.items():
        if getattr(getattr(a, "dtype", None), "name", "") == "bfloat16":  # ml_dtypes' NumPy bfloat16, if installed
            a = _BF16(np.ascontiguousarray(a).view("<u2"))
        if isinstance(a, _BF16):  # bfloat16 bits -> float32 (exact) -> bfloat16 (exact)
            f32 = (a.bits.astype(np.uint32) << 16).view(np.float32)
            tensors[k] = _core.tensor(f32, dtype=_core.bfloat16)
            continue
        a = np.asarray(a)
        if a.dtype in _ST_DTYPE:
            ok = a.flags.c_contiguous and a.flags.writeable and a.dtype.byteorder != ">"
            tensors[k] = _core.from_numpy(a if ok else a.astype(a.dtype.newbyteorder("=")).copy(order="C"))
        else:
            raise ValueError(f"load: tensor {k!r} has unsupported dtype {a.dtype}")
    if _LAYOUT_KEY in metadata:
        try:
            layout = json.loads(metadata[_LAYOUT_KEY])
            return _unflatten(layout, tensors)
        except Exception as e:  # any malformed layout (wrong types, absurd nesting) is a bad file
            raise ValueError(f"load: {path} has a corrupted gradcore layout ({type(e).__name__}: {e})") from e
    return tensors


def _read_bfloat16(path: str, keys: Any) -> Dict[str, Any]:
    """bfloat16 tensors' bits (uint16). Called only after
    safe_open has validated the header, so the offsets below are known to be in range."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        out = {}
        for k in keys:
            entry = header[k]
            if entry["dtype"] != "BF16":
                raise ValueError(f"load: tensor {k!r} has unsupported dtype {entry['dtype']}")
            begin, end = entry["data_offsets"]
            f.seek(8 + n + begin)
            raw = np.frombuffer(f.read(end - begin), dtype="<u2")
            out[k] = _BF16(raw.reshape(entry["shape"]))
    return out
