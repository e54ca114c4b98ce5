"""PyTorch's shape ops (issue 12) composed of gradcore's differentiable C++ ops.

The copying primitives ``cat``, ``flip`` and ``diag_embed`` are C++ (csrc/autograd/ops/
concat.cpp); the views (narrow, select, unsqueeze, permute, expand, reshape, diagonal) are in
csrc/autograd/ops/view.cpp. Everything here is a composition of those ops, so each result
gets its backward, forward-mode rule and create_graph support from them:

* ``stack`` / ``hstack`` / ``vstack`` / ``dstack``: unsqueeze or atleast_Nd, then one ``cat``;
* ``tensor_split``, ``movedim``, ``unflatten``, ``broadcast_to``, ``meshgrid``: views;
* ``roll``: two narrows and a ``cat`` per rolled dim (its backward rolls back);
* ``repeat`` / ``tile``: reshape + expand + reshape (one copy; backward sums over repeats);
* ``repeat_interleave``: expand (int repeats) or ``index_select`` (tensor repeats, backward
  a segment sum by ``index_add``);
* ``rot90``: flip + transpose; ``tril`` / ``triu``: ``where`` with an index mask;
* ``diag`` / ``trace``: ``diag_embed`` / ``diagonal``.

No function loops over elements: the Python loops run over tensors in a list or over dims.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from gradcore import _core
from gradcore._core import Tensor


def _type_name(o: Any) -> str:
    return type(o).__name__


def _norm_dim(dim: Any, ndim: int) -> int:
    n = ndim if ndim > 0 else 1
    if isinstance(dim, bool) or not hasattr(dim, "__index__") or isinstance(dim, Tensor) and dim.dim() > 0:
        raise TypeError(f"dim must be an int, not {_type_name(dim)}")
    d = int(dim.__index__())
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d + n if d < 0 else d


def _int_tuple(v: Any, what: str) -> Tuple[int, ...]:
    """An int or a sequence of ints as a tuple (TypeError otherwise)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return (v,)
    if isinstance(v, Tensor):
        if v.dim() == 0 and not v.is_floating_point():
            return (int(v.item()),)
        return tuple(int(e) for e in v.tolist())
    if isinstance(v, (tuple, list)):
        out = []
        for e in v:
            if isinstance(e, bool) or not (isinstance(e, int) or hasattr(e, "__index__")):
                raise TypeError(f"{what} must be a tuple of ints, but found element of type {_type_name(e)}")
            out.append(int(e.__index__()))
        return tuple(out)
    if hasattr(v, "__index__") and not isinstance(v, float):
        return (int(v.__index__()),)
    raise TypeError(f"{what} must be an int or a tuple of ints, not {_type_name(v)}")


def _sizes(args: Tuple[Any, ...], what: str) -> Tuple[int, ...]:
    """f(2, 3) or f((2, 3)) / f([2, 3]) / f(Size)."""
    if len(args) == 1 and not isinstance(args[0], int):
        return _int_tuple(args[0], what)
    return _int_tuple(list(args), what)


def _tensors(tensors: Any, op: str) -> List[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (tuple, list)):
        raise TypeError(f"{op}(): argument 'tensors' (position 1) must be tuple of Tensors, not {_type_name(tensors)}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {_type_name(t)}")
    return list(tensors)


# ---- joining ----
def stack(tensors: Any, dim: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a new dim (promoted to their result_type)."""
    ts = _tensors(tensors, "stack")
    if not ts:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(ts[1:], 1):
        if tuple(t.shape) != tuple(ts[0].shape):
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(ts[0].shape)} at entry 0 "
                               f"and {list(t.shape)} at entry {i}")
    d = _norm_dim(dim, ts[0].dim() + 1)
    return _core.cat([t.unsqueeze(d) for t in ts], d)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dim (0-dim ones as shape (1,)); a tuple for several."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dims (1-D (n,) as (1, n))."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dims ((n,) as (1, n, 1), (m, n) as (m, n, 1))."""
    return _atleast(tensors, 3)


def _atleast_one(t: Tensor, n: int) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"atleast_{n}d(): expected Tensor, got {_type_name(t)}")
    nd = t.dim()
    if nd >= n:
        return t
    if n == 1 or nd == 0:
        return t.reshape((1,) * n)
    if n == 2 or nd == 2:
        return t.unsqueeze(0) if nd == 1 and n == 2 else t.unsqueeze(-1)
    return t.unsqueeze(0).unsqueeze(-1)  # 1-D to 3-D


def _atleast(tensors: Tuple[Any, ...], n: int) -> Any:
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        return tuple(_atleast_one(t, n) for t in tensors[0])
    if len(tensors) == 1:
        return _atleast_one(tensors[0], n)
    return tuple(_atleast_one(t, n) for t in tensors)


def hstack(tensors: Any) -> Tensor:
    """Joined column-wise: along dim 0 for 1-D tensors, dim 1 otherwise."""
    ts = _tensors(tensors, "hstack")
    if not ts:
        raise RuntimeError("hstack expects a non-empty TensorList")
    ts = [_atleast_one(t, 1) for t in ts]
    return _core.cat(ts, 0 if ts[0].dim() == 1 else 1)


def vstack(tensors: Any) -> Tensor:
    """Joined row-wise (1-D tensors as rows)."""
    ts = _tensors(tensors, "vstack")
    if not ts:
        raise RuntimeError("vstack expects a non-empty TensorList")
    return _core.cat([_atleast_one(t, 2) for t in ts], 0)


def dstack(tensors: Any) -> Tensor:
    """Joined depth-wise, along dim 2 of atleast_3d of each."""
    ts = _tensors(tensors, "dstack")
    if not ts:
        raise RuntimeError("dstack expects a non-empty TensorList")
    return _core.cat([_atleast_one(t, 3) for t in ts], 2)


# ---- splitting (views) ----
def tensor_split(input: Tensor, indices_or_sections: Any, dim: int = 0) -> Tuple[Tensor, ...]:
    """Views along dim: ``sections`` pieces of near-equal size (the first ones one larger),
    or the pieces between the given indices (clamped as Python slicing)."""
    if input.dim() == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _norm_dim(dim, input.dim())
    n = input.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.dtype != _core.int64:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{_torch_dtype_name(ios.dtype)}")
        if ios.dim() > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {ios.dim()} dims")
        ios = int(ios.item()) if ios.dim() == 0 else [int(v) for v in ios.tolist()]
    if isinstance(ios, int) and not isinstance(ios, bool):
        if ios <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {ios}")
        q, r = divmod(n, ios)
        sizes = [q + 1] * r + [q] * (ios - r)
        out, start = [], 0
        for s in sizes:
            out.append(input.narrow(d, start, s))
            start += s
        return tuple(out)
    idx = _int_tuple(ios, "tensor_split(): indices")
    pieces, prev = [], 0
    for i in list(idx) + [n]:
        lo = min(max(prev + n if prev < 0 else prev, 0), n)
        hi = min(max(i + n if i < 0 else i, 0), n)
        pieces.append(input.narrow(d, lo, max(hi - lo, 0)))
        prev = i
    return tuple(pieces)


def _torch_dtype_name(dt: Any) -> str:
    names = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "int16": "Short",
             "int8": "Char", "uint8": "Byte", "bool": "Bool", "float16": "Half", "bfloat16": "BFloat16"}
    s = str(dt).replace("gradcore.", "").replace("torch.", "")
    return names.get(s, s)


def hsplit(input: Tensor, indices_or_sections: Any) -> Tuple[Tensor, ...]:
    """tensor_split along dim 1 (dim 0 for 1-D tensors)."""
    if input.dim() < 1:
        raise RuntimeError("torch.hsplit requires a tensor with at least 1 dimension, but got a tensor with 0 dimensions!")
    return _split_even(input, indices_or_sections, 0 if input.dim() == 1 else 1, "hsplit")


def vsplit(input: Tensor, indices_or_sections: Any) -> Tuple[Tensor, ...]:
    """tensor_split along dim 0."""
    if input.dim() < 2:
        raise RuntimeError(f"torch.vsplit requires a tensor with at least 2 dimension, but got a tensor with "
                           f"{input.dim()} dimensions!")
    return _split_even(input, indices_or_sections, 0, "vsplit")


def dsplit(input: Tensor, indices_or_sections: Any) -> Tuple[Tensor, ...]:
    """tensor_split along dim 2."""
    if input.dim() < 3:
        raise RuntimeError(f"torch.dsplit requires a tensor with at least 3 dimension, but got a tensor with "
                           f"{input.dim()} dimensions!")
    return _split_even(input, indices_or_sections, 2, "dsplit")


def _split_even(input: Tensor, ios: Any, dim: int, op: str) -> Tuple[Tensor, ...]:
    if isinstance(ios, int) and not isinstance(ios, bool):
        n = input.shape[dim]
        if ios == 0 or n % ios != 0:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the size of the dimension "
                               f"{n} is not divisible by the split_size {ios}!")
    return tensor_split(input, ios, dim)


# ---- rearranging (views) ----
def unflatten(input: Tensor, dim: int, sizes: Any) -> Tensor:
    """Dim `dim` split into `sizes` (one may be -1); a view."""
    d = _norm_dim(dim, input.dim())
    sz = _int_tuple(sizes, "unflatten(): sizes")
    if not sz:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = input.shape[d] if input.dim() > 0 else 1
    known = 1
    for s in sz:
        if s != -1:
            known *= s
    if (-1 not in sz and known != n) or (-1 in sz and (known == 0 or n % known != 0)):
        raise RuntimeError(f"unflatten: Provided sizes {list(sz)} don't multiply up to the size of dim {dim} ({n}) "
                           "in the input tensor")
    shape = tuple(input.shape[:d]) + sz + tuple(input.shape[d + 1:])
    return input.view(shape)  # splitting one dim is always a view


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """A view with the dims of `source` moved to the positions `destination`."""
    src, dst = _int_tuple(source, "movedim(): source"), _int_tuple(destination, "movedim(): destination")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain "
                           f"the same number of dims as destination ({list(dst)} dims)")
    nd = input.dim()
    s = [_norm_dim(v, nd) for v in src]
    t = [_norm_dim(v, nd) for v in dst]
    if len(set(s)) != len(s):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(src)})")
    if len(set(t)) != len(t):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(dst)})")
    if nd == 0:
        return input.view(())
    order = [-1] * nd
    for a, b in zip(s, t):
        order[b] = a
    rest = iter(d for d in range(nd) if d not in s)
    order = [o if o >= 0 else next(rest) for o in order]
    return input.permute(order)


def broadcast_shapes(*shapes: Any) -> Any:
    """The shape the given shapes broadcast to (a gradcore.Size)."""
    from gradcore._tensor import Size
    dims: List[int] = []
    parsed = [_int_tuple(s, "broadcast_shapes()") for s in shapes]
    for s in parsed:
        for v in s:
            if v < 0:
                raise ValueError("Attempting to broadcast a dimension with negative length!")
    nd = max((len(s) for s in parsed), default=0)
    dims = [1] * nd
    for i, s in enumerate(parsed):
        for k, v in enumerate(s):
            j = nd - len(s) + k
            if dims[j] == 1:
                dims[j] = v
            elif v != 1 and v != dims[j]:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {v} at {k - len(s)}! Mismatching "
                                   f"argument at index {i} had {tuple(s)}; but expected shape should be broadcastable "
                                   f"to {dims}")
    return Size(dims)


def broadcast_to(input: Tensor, size: Any) -> Tensor:
    """A view of input broadcast to `size` (-1 keeps a dim), as expand."""
    return input.expand(*_int_tuple(size, "broadcast_to(): size"))


def broadcast_tensors(*tensors: Any) -> Tuple[Tensor, ...]:
    """Views of the tensors broadcast to one shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    ts = _tensors(list(tensors), "broadcast_tensors")
    shape: Tuple[int, ...] = ()
    for i, t in enumerate(ts):
        a, b = list(shape), list(t.shape)
        n = max(len(a), len(b))
        a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
        for k in range(n):
            if a[k] != b[k] and a[k] != 1 and b[k] != 1:
                raise RuntimeError(f"The size of tensor a ({a[k]}) must match the size of tensor b ({b[k]}) at "
                                   f"non-singleton dimension {k}")
        shape = tuple(y if x == 1 else x for x, y in zip(a, b))
    return tuple(t.expand(*shape) for t in ts)


def meshgrid(*tensors: Any, indexing: Optional[str] = None) -> Tuple[Tensor, ...]:
    """Coordinate grids of 0-D/1-D tensors, as views: ``indexing="ij"`` (the default, with
    PyTorch's warning when not given) has one dim per input in order; ``"xy"`` swaps the first two."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    ts = _tensors(list(tensors), "meshgrid")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in ts:
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
        if t.dtype != ts[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    if indexing not in ("xy", "ij"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    n = len(ts)
    shape = tuple(t.numel() for t in ts)
    grids = []
    for i, t in enumerate(ts):
        view = [1] * n
        view[i] = shape[i]
        grids.append(t.reshape(view).expand(*shape))
    if swap:  # the grids of the swapped inputs, given back in the callers' order
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


# ---- copying data movement ----
def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """input tiled sizes[i] times along each dim (leading new dims for extra sizes); a copy."""
    if not sizes:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    reps = _sizes(sizes, "repeat(): repeats")
    nd = input.dim()
    if len(reps) < nd:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    shape = (1,) * (len(reps) - nd) + tuple(input.shape)
    out_shape = tuple(r * s for r, s in zip(reps, shape))
    for v in out_shape:
        if v < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {v}: {list(out_shape)}")
    # (s0, s1) -> (1, s0, 1, s1) -> expand (r0, s0, r1, s1) -> (r0 s0, r1 s1): one copy;
    # the backward of expand sums over the repeats.
    inter = tuple(v for s in shape for v in (1, s))
    big = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    return _fresh(input.reshape(inter).expand(*big)).reshape(out_shape)


def _fresh(t: Tensor) -> Tensor:
    """t's values in new memory (an expanded view has stride-0 dims that a reshape could keep)."""
    return t.contiguous() if not t.is_contiguous() else t.clone()


def tile(input: Tensor, dims: Any) -> Tensor:
    """repeat with dims padded by leading 1s to input's rank."""
    reps = _int_tuple(dims, "tile(): dims")
    reps = (1,) * (input.dim() - len(reps)) + reps
    return repeat(input, reps)


def repeat_interleave(input: Tensor, repeats: Any = None, dim: Optional[int] = None, *,
                      output_size: Optional[int] = None) -> Tensor:
    """Each element (or slice along dim) repeated `repeats` times in place (an int, or a
    tensor of per-slice counts); dim None flattens first. ``repeat_interleave(counts)``
    alone gives the indices ``arange(len(counts))`` repeated by counts."""
    if repeats is None:  # torch.repeat_interleave(repeats)
        counts = input
        if counts.dim() > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        idx = _counts_index(counts, counts.reshape(-1).shape[0], output_size)
        return _core.tensor(idx, dtype=counts.dtype)
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else _norm_dim(dim, x.dim())
    n = x.shape[d] if x.dim() > 0 else 1
    if isinstance(repeats, Tensor):
        if repeats.dim() > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        if repeats.is_floating_point() or repeats.dtype == _core.bool:
            raise NotImplementedError(f"\"repeat_interleave_cpu\" not implemented for "
                                      f"'{_torch_dtype_name(repeats.dtype)}'")
        if repeats.numel() == 1:
            repeats = int(repeats.item())
        else:
            if repeats.shape[0] != n:
                raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                                   f"{repeats.shape[0]} and input.size({d}) = {n}")
            idx = _counts_index(repeats, n, output_size)
            return x.index_select(d, _core.tensor(idx, dtype=_core.int64))
    if not isinstance(repeats, int) or isinstance(repeats, bool):
        raise TypeError(f"repeat_interleave(): argument 'repeats' must be Tensor or int, not {_type_name(repeats)}")
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    if output_size is not None and output_size != n * repeats:
        raise RuntimeError("allocated size does not match required size")
    if x.dim() == 0:
        x = x.reshape(1)
    # (.., n, ..) -> (.., n, 1, ..) -> expand (.., n, r, ..) -> (.., n r, ..)
    u = x.unsqueeze(d + 1)
    big = list(u.shape)
    big[d + 1] = repeats
    shape = list(x.shape)
    shape[d] = n * repeats
    return _fresh(u.expand(*big)).reshape(shape)


def _counts_index(counts: Tensor, n: int, output_size: Optional[int]) -> Any:
    c = np.asarray(counts.reshape(-1).tolist(), dtype=np.int64)
    if c.size and c.min() < 0:
        raise RuntimeError("repeats can not be negative")
    if output_size is not None and output_size != int(c.sum()):
        raise RuntimeError("allocated size does not match required size")
    return np.repeat(np.arange(n, dtype=np.int64), c)


def fliplr(input: Tensor) -> Tensor:
    """flip along dim 1 (input at least 2-D)."""
    if input.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return _core.flip(input, [1])


def flipud(input: Tensor) -> Tensor:
    """flip along dim 0 (input at least 1-D)."""
    if input.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return _core.flip(input, [0])


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Elements shifted along dims, wrapping around; no dims: over the flattened tensor."""
    sh = _int_tuple(shifts, "roll(): shifts")
    ds = () if dims is None else _int_tuple(dims, "roll(): dims")
    if not sh:
        raise RuntimeError("`shifts` required")
    if not ds:
        if len(sh) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:0")
        return roll(input.reshape(-1), sh, 0).view(input.shape)
    if len(sh) != len(ds):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:{len(ds)}")
    out = input
    for s, dim in zip(sh, ds):
        d = _norm_dim(dim, input.dim())
        n = out.shape[d] if out.dim() > 0 else 1
        k = s % n if n else 0
        if k == 0 or out.dim() == 0:
            continue
        # out[i] = x[(i - k) mod n]: the last k elements, then the first n - k.
        out = _core.cat([out.narrow(d, n - k, k), out.narrow(d, 0, n - k)], d)
    return out if out is not input else input.clone()


def rot90(input: Tensor, k: int = 1, dims: Any = None) -> Tensor:
    """Rotated by 90 degrees k times, from dims[0] towards dims[1] (dims (0, 1) by default)."""
    ds = (0, 1) if dims is None else _int_tuple(dims, "rot90(): dims")
    if len(ds) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(ds)}")
    nd = input.dim()
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    a, b = _norm_dim(ds[0], nd), _norm_dim(ds[1], nd)
    if a == b:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {a} and dim1 = {b}")
    k %= 4
    if k == 1:
        return _core.flip(input, [b]).transpose(a, b)
    if k == 2:
        return _core.flip(input, [a, b])
    if k == 3:
        return _core.flip(input, [a]).transpose(a, b)
    return input.clone()


def _tri(input: Tensor, diagonal: int, lower: bool) -> Tensor:
    name = "tril" if lower else "triu"
    if input.dim() < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    m, n = input.shape[-2], input.shape[-1]
    rows = _core.arange(m, dtype=_core.int64).reshape(m, 1)
    cols = _core.arange(n, dtype=_core.int64).reshape(1, n)
    off = cols - rows  # j - i: 0 on the main diagonal, > 0 above it
    keep = off <= diagonal if lower else off >= diagonal
    # where() keeps x's gradient on the kept triangle and 0 elsewhere (NaNs outside vanish).
    out: Tensor = _core.where(keep, input, _core.zeros((), dtype=input.dtype))
    return out


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (j - i <= diagonal), zeros elsewhere; batched."""
    return _tri(input, diagonal, True)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (j - i >= diagonal), zeros elsewhere; batched."""
    return _tri(input, diagonal, False)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D: a square matrix with input on the given diagonal; 2-D: that diagonal (a copy)."""
    if input.dim() == 1:
        return _core.diag_embed(input, diagonal, 0, 1)
    if input.dim() == 2:
        return input.diagonal(diagonal).clone()
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.dim()}D")


def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a matrix (int64 for integer input)."""
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    if input.dtype == _core.bool:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    return input.diagonal().sum()


# Tensor methods (installed by gradcore/__init__.py, issue 12 block): x.op(...) is op(x, ...).
def _m_tensor_split(self: Tensor, indices_or_sections: Any, dim: int = 0) -> Tuple[Tensor, ...]:
    """tensor_split(self, indices_or_sections, dim)."""
    return tensor_split(self, indices_or_sections, dim)


def _m_hsplit(self: Tensor, indices_or_sections: Any) -> Tuple[Tensor, ...]:
    """hsplit(self, indices_or_sections)."""
    return hsplit(self, indices_or_sections)


def _m_vsplit(self: Tensor, indices_or_sections: Any) -> Tuple[Tensor, ...]:
    """vsplit(self, indices_or_sections)."""
    return vsplit(self, indices_or_sections)


def _m_dsplit(self: Tensor, indices_or_sections: Any) -> Tuple[Tensor, ...]:
    """dsplit(self, indices_or_sections)."""
    return dsplit(self, indices_or_sections)


def _m_unflatten(self: Tensor, dim: int, sizes: Any) -> Tensor:
    """unflatten(self, dim, sizes): a view."""
    return unflatten(self, dim, sizes)


def _m_movedim(self: Tensor, source: Any, destination: Any) -> Tensor:
    """movedim(self, source, destination): a view."""
    return movedim(self, source, destination)


def _m_broadcast_to(self: Tensor, size: Any) -> Tensor:
    """broadcast_to(self, size): a view."""
    return broadcast_to(self, size)


def _m_repeat(self: Tensor, *repeats: Any) -> Tensor:
    """This tensor tiled repeats[i] times along each dim (x.repeat(2, 3) or x.repeat((2, 3))); a copy."""
    return repeat(self, *repeats)


def _m_tile(self: Tensor, *dims: Any) -> Tensor:
    """tile(self, dims): x.tile(2, 3) or x.tile((2, 3))."""
    return tile(self, _sizes(dims, "tile(): dims"))


def _m_repeat_interleave(self: Tensor, repeats: Any, dim: Optional[int] = None, *,
                         output_size: Optional[int] = None) -> Tensor:
    """repeat_interleave(self, repeats, dim, output_size=)."""
    return repeat_interleave(self, repeats, dim, output_size=output_size)


def _m_fliplr(self: Tensor) -> Tensor:
    """fliplr(self)."""
    return fliplr(self)


def _m_flipud(self: Tensor) -> Tensor:
    """flipud(self)."""
    return flipud(self)


def _m_roll(self: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """roll(self, shifts, dims)."""
    return roll(self, shifts, dims)


def _m_rot90(self: Tensor, k: int = 1, dims: Any = None) -> Tensor:
    """rot90(self, k, dims) (dims (0, 1) by default)."""
    return rot90(self, k, dims)


def _m_tril(self: Tensor, diagonal: int = 0) -> Tensor:
    """tril(self, diagonal)."""
    return tril(self, diagonal)


def _m_triu(self: Tensor, diagonal: int = 0) -> Tensor:
    """triu(self, diagonal)."""
    return triu(self, diagonal)


def _m_diag(self: Tensor, diagonal: int = 0) -> Tensor:
    """diag(self, diagonal)."""
    return diag(self, diagonal)


def _m_trace(self: Tensor) -> Tensor:
    """trace(self)."""
    return trace(self)


METHODS: Dict[str, Any] = {
    "tensor_split": _m_tensor_split, "hsplit": _m_hsplit, "vsplit": _m_vsplit, "dsplit": _m_dsplit,
    "unflatten": _m_unflatten, "movedim": _m_movedim, "moveaxis": _m_movedim, "broadcast_to": _m_broadcast_to,
    "repeat": _m_repeat, "tile": _m_tile, "repeat_interleave": _m_repeat_interleave, "fliplr": _m_fliplr,
    "flipud": _m_flipud, "roll": _m_roll, "rot90": _m_rot90, "tril": _m_tril, "triu": _m_triu, "diag": _m_diag,
    "trace": _m_trace,
}

__all__ = [
    "stack", "hstack", "vstack", "dstack", "atleast_1d", "atleast_2d", "atleast_3d", "tensor_split", "hsplit",
    "vsplit", "dsplit", "unflatten", "movedim", "moveaxis", "broadcast_shapes", "broadcast_to", "broadcast_tensors",
    "meshgrid", "repeat", "tile", "repeat_interleave", "fliplr", "flipud", "roll", "rot90", "tril", "triu", "diag",
    "trace", "column_stack", "row_stack",
]

moveaxis = movedim


def column_stack(tensors: Any) -> Tensor:
    """Joined as columns: 0-D and 1-D tensors as (n, 1) columns, then along dim 1."""
    ts = _tensors(tensors, "column_stack")
    if not ts:
        raise RuntimeError("column_stack expects a non-empty TensorList")
    return _core.cat([t.reshape(t.numel(), 1) if t.dim() <= 1 else t for t in ts], 1)


row_stack = vstack
