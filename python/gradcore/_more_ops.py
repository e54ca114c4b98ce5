"""Issue 12 leftovers: small pieces of PyTorch's tensor surface, composed of gradcore's ops.

Each function is built from differentiable ops (views, ``cat``, ``where``, ``index_select``,
``__setitem__``, ``matmul``), so gradients, forward mode and create_graph come from those:

* ``tril_`` / ``triu_``: ``tril`` / ``triu`` written back in place (``_core._apply_inplace``);
* ``diagflat``: ``diag_embed`` of the flattened input; ``block_diag``: one ``cat`` of zero
  blocks and the inputs per row of blocks, then one ``cat`` of the rows;
* ``cartesian_prod``: ``meshgrid`` + ``stack``; ``combinations``: ``index_select`` with an
  index tensor built once from ``itertools`` (the only loop, over index tuples, not values);
* ``unravel_index``: ``floor_divide`` and ``remainder`` by the shape's strides (int64);
* ``addbmm``: one GEMM, ``(m, b*k) @ (b*k, n)``, which sums the batch inside the product;
* ``slice_scatter`` / ``select_scatter`` / ``diagonal_scatter``: a clone with ``src`` written
  in by ``__setitem__`` (its CopySlices node routes the gradients: the region to ``src``,
  the rest to ``input``);
* ``einsum``'s sublist form, mapped to the equation string (sublist ints 0-25 are A-Z,
  26-51 a-z, ``Ellipsis`` is ``...``);
* the Tensor methods ``matmul`` / ``mm`` / ``bmm`` / ``@`` for integer operands, on the
  integer product of gradcore._linalg_ops (``_int_mm``).
"""
from __future__ import annotations

import itertools
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore import _linalg_ops, _shape_ops
from gradcore._linalg_ops import (  # noqa: F401 (matmul, mm, bmm: re-exported)
    _INT_DTYPES, _int_bmm_checked, _int_matmul, _int_mm, _int_mm_checked, _is_int_pair, bmm, matmul, mm,
)

__all__ = [
    "diagflat", "block_diag", "cartesian_prod", "combinations", "unravel_index", "addbmm", "slice_scatter",
    "select_scatter", "diagonal_scatter", "einsum", "matmul", "mm", "bmm", "METHODS",
]

_c_matmul_method, _c_mm_method, _c_bmm_method = Tensor.matmul, Tensor.mm, Tensor.bmm
_c_matmul_op, _c_imatmul_op = Tensor.__matmul__, Tensor.__imatmul__


def _type_name(o: Any) -> str:
    return type(o).__name__


def _check_tensor(x: Any, op: str, arg: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {_type_name(x)}")


# ---- triangles in place ----
def _tri_(self: Tensor, diagonal: Any, lower: bool) -> Tensor:
    name = "tril_" if lower else "triu_"
    if self.dim() < 2:
        raise RuntimeError(f"{name[:-1]}: input tensor must have at least 2 dimensions")
    fn = _shape_ops.tril if lower else _shape_ops.triu
    out: Tensor = _core._apply_inplace(self, name, lambda x: fn(x, diagonal))
    return out


def _m_tril_(self: Tensor, diagonal: int = 0) -> Tensor:
    """tril in place: zeros above the diagonal-th diagonal of the last two dims; returns self."""
    return _tri_(self, diagonal, True)


def _m_triu_(self: Tensor, diagonal: int = 0) -> Tensor:
    """triu in place: zeros below the diagonal-th diagonal of the last two dims; returns self."""
    return _tri_(self, diagonal, False)


# ---- diagonal and block matrices ----
def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """A square 2-D tensor with the flattened input on its offset-th diagonal (0-dim input: 1x1)."""
    _check_tensor(input, "diagflat", "input")
    out: Tensor = _core.diag_embed(input.reshape(-1), offset, 0, 1)
    return out


def _promote(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else _core.promote_types(a, b)


def _result_type(tensors: Sequence[Tensor]) -> Any:
    """PyTorch's result_type of a list of tensors: 0-dim tensors take part only when their
    category (bool < integer < floating) is higher than that of the others."""
    dim_dt: Any = None
    zero_dt: Any = None
    for t in tensors:
        if t.dim() > 0:
            dim_dt = _promote(dim_dt, t.dtype)
        else:
            zero_dt = _promote(zero_dt, t.dtype)
    if dim_dt is None or dim_dt.is_floating_point:
        return zero_dt if dim_dt is None else dim_dt
    if zero_dt is not None and (dim_dt == _core.bool or zero_dt.is_floating_point):
        return _core.promote_types(dim_dt, zero_dt)
    return dim_dt


def block_diag(*tensors: Any) -> Tensor:
    """The tensors (0-D as 1x1, 1-D (n,) as 1xn, 2-D as they are) on the diagonal of one matrix,
    zeros elsewhere, in the promoted dtype; no tensors give a 1x0 matrix of the default dtype."""
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {_type_name(t)}")
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.dim()} dimensions")
    if not tensors:
        return _core.zeros((1, 0))
    dt = _result_type(tensors)
    mats = [t.reshape(1, -1) if t.dim() < 2 else t for t in tensors]
    mats = [m if m.dtype == dt else m.to(dt) for m in mats]
    ncols = sum(m.shape[1] for m in mats)
    rows: List[Tensor] = []
    left = 0
    for m in mats:
        r, c = m.shape[0], m.shape[1]
        parts = [_core.zeros((r, left), dtype=dt), m, _core.zeros((r, ncols - left - c), dtype=dt)]
        rows.append(_core.cat(parts, 1))
        left += c
    out: Tensor = _core.cat(rows, 0)
    return out


# ---- products of index sets ----
def _need_1d(t: Any, op: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): expected Tensor, got {_type_name(t)}")
    if t.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    return t


def cartesian_prod(*tensors: Any) -> Tensor:
    """All tuples of one element from each 1-D tensor, as rows (itertools.product's order);
    a single tensor is returned as it is."""
    ts = [_need_1d(t, "cartesian_prod") for t in tensors]
    if len(ts) == 1:
        return ts[0]
    grids = _shape_ops.meshgrid(*ts, indexing="ij")
    out: Tensor = _shape_ops.stack([g.reshape(-1) for g in grids], 1)
    return out


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-r combinations of a 1-D tensor's elements as rows (itertools' order); r == 0
    gives an empty 1-D tensor."""
    _need_1d(input, "combinations")
    if isinstance(r, bool) or not isinstance(r, int):
        raise TypeError(f"combinations(): argument 'r' must be int, not {_type_name(r)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return _core.empty((0,), dtype=input.dtype)
    n = input.shape[0]
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.fromiter(itertools.chain.from_iterable(gen(range(n), r)), dtype=np.int64)
    sel: Tensor = _core.index_select(input, 0, _core.from_numpy(idx))
    return sel.reshape(-1, r)


def unravel_index(indices: Any, shape: Any) -> Tuple[Tensor, ...]:
    """The coordinates (a tuple of int64 tensors shaped like indices) of flat indices into an
    array of the given shape; indices out of range wrap around (floor-modulo), as PyTorch's."""
    if isinstance(indices, int) and not isinstance(indices, bool):
        indices = _core.tensor(indices)
    if not isinstance(indices, Tensor):
        raise TypeError(f"unravel_index(): argument 'indices' must be Tensor, not {_type_name(indices)}")
    if indices.is_floating_point() or indices.dtype == _core.bool:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    if isinstance(shape, int):
        dims: Tuple[int, ...] = (int(shape),)
    elif isinstance(shape, Sequence) and not isinstance(shape, str):
        for d in shape:
            if not isinstance(d, int):
                raise TypeError(f"expected 'shape' sequence to only contain ints, but got {type(d)}")
        dims = tuple(int(d) for d in shape)
    else:
        raise TypeError(f"expected 'shape' to be int or sequence of ints, but got {type(shape)}")
    if any(d < 0 for d in dims):
        raise ValueError(f"'shape' cannot have negative values, but got {dims}")
    if not dims:
        return ()
    if any(d == 0 for d in dims):
        raise RuntimeError(f"unravel_index(): cannot unravel indices into a shape with a zero dimension: {dims}")
    strides = [1] * len(dims)
    for i in range(len(dims) - 2, -1, -1):
        strides[i] = strides[i + 1] * dims[i + 1]
    idx = indices.to(_core.int64).unsqueeze(-1)
    coords = (idx // _core.tensor(strides, dtype=_core.int64)) % _core.tensor(list(dims), dtype=_core.int64)
    return tuple(coords.unbind(-1))


# ---- addbmm ----
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * sum_b batch1[b] @ batch2[b] (input broadcast to (n, p)): one GEMM
    over the batch-concatenated operands, (n, b*m) @ (b*m, p)."""
    _check_tensor(input, "addbmm", "input")
    _check_tensor(batch1, "addbmm", "batch1")
    _check_tensor(batch2, "addbmm", "batch2")
    # PyTorch reads the result's size (batch1.size(1), batch2.size(2)) first: too few dims
    # are an IndexError there, then any other dim count is a RuntimeError
    _shape_ops._norm_dim(1, batch1.dim())
    _shape_ops._norm_dim(2, batch2.dim())
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if t.dim() != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    b, n, m = batch1.shape
    b2, m2, p = batch2.shape
    if b != b2:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {b} and {b2}")
    if m != m2:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({n}x{m} and {m2}x{p})")
    if batch1.dtype != batch2.dtype:
        raise _core.DTypeError(f"addbmm: expected batch1 and batch2 to have the same dtype, but got: "
                               f"{batch1.dtype} != {batch2.dtype}")
    a = batch1.permute(1, 0, 2).reshape(n, b * m)
    prod = mm(a, batch2.reshape(b * m, p))
    out: Tensor = _linalg_ops._scaled_add("addbmm", input, prod, beta, alpha)
    return out


def _m_addbmm(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * self + alpha * sum_b batch1[b] @ batch2[b] (see gradcore.addbmm)."""
    return addbmm(self, batch1, batch2, beta=beta, alpha=alpha)


def _m_addbmm_(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """addbmm in place (self must have the result's shape and dtype); returns self."""
    r = addbmm(self, batch1, batch2, beta=beta, alpha=alpha)
    if tuple(r.shape) != tuple(self.shape):
        raise RuntimeError(f"addbmm_: output with shape {list(self.shape)} doesn't match the broadcast shape "
                           f"{list(r.shape)}")
    # copy_ records r's history into self (r is never a leaf when it requires grad) and
    # refuses a leaf that requires grad, as PyTorch's in-place ops.
    self.copy_(r)
    return self


# ---- scatters into a copy ----
def _check_src(input: Tensor, src: Any, want: Sequence[int], op: str) -> None:
    _check_tensor(input, op, "input")
    _check_tensor(src, op, "src")
    if tuple(src.shape) != tuple(want):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(want)}")


def _opt_int(v: Any, what: str) -> Optional[int]:
    if v is None:
        return None
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise TypeError(f"slice_scatter(): argument '{what}' must be int, not {_type_name(v)}")
    return int(v.__index__())


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start: Optional[int] = None, end: Optional[int] = None,
                  step: int = 1) -> Tensor:
    """A copy of input with input[..., start:end:step, ...] (along dim) replaced by src, which
    must have that slice's shape (src is converted to input's dtype)."""
    _check_tensor(input, "slice_scatter", "input")
    if input.dim() == 0:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    d = _shape_ops._norm_dim(dim, input.dim())
    st = _opt_int(step, "step")
    if st is None or st <= 0:
        raise RuntimeError("slice step must be positive")
    sl = slice(_opt_int(start, "start"), _opt_int(end, "end"), st)
    want = list(input.shape)
    want[d] = len(range(*sl.indices(want[d])))
    _check_src(input, src, want, "slice_scatter")
    out = input.clone()
    out[(slice(None),) * d + (sl,)] = src
    return out


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of input with input.select(dim, index) replaced by src (of that shape)."""
    _check_tensor(input, "select_scatter", "input")
    if input.dim() == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _shape_ops._norm_dim(dim, input.dim())
    if isinstance(index, bool) or not hasattr(index, "__index__"):
        raise TypeError(f"select_scatter(): argument 'index' must be int, not {_type_name(index)}")
    i = int(index.__index__())
    size = input.shape[d]
    if not -size <= i < size:
        raise IndexError(f"select(): index {i} out of range for tensor of size {list(input.shape)} at dimension {d}")
    want = list(input.shape[:d]) + list(input.shape[d + 1:])
    _check_src(input, src, want, "select_scatter")
    out = input.clone()
    out[(slice(None),) * d + (i,)] = src
    return out


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of input with input.diagonal(offset, dim1, dim2) replaced by src (of that shape)."""
    _check_tensor(input, "diagonal_scatter", "input")
    d1 = _shape_ops._norm_dim(dim1, input.dim())
    d2 = _shape_ops._norm_dim(dim2, input.dim())
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    if isinstance(offset, bool) or not hasattr(offset, "__index__"):
        raise TypeError(f"diagonal_scatter(): argument 'offset' must be int, not {_type_name(offset)}")
    off = int(offset.__index__())
    diag = input.diagonal(off, d1, d2)
    _check_src(input, src, tuple(diag.shape), "diagonal_scatter")
    length = diag.shape[-1]
    # The two diagonal dims moved last, then advanced indexing with (row, col) index vectors:
    # the indexed region has shape (other dims..., length), src's shape.
    moved = input.movedim((d1, d2), (-2, -1)).clone()
    k = _core.arange(length, dtype=_core.int64)
    rows, cols = (k, k + off) if off >= 0 else (k - off, k)
    moved[..., rows, cols] = src
    out: Tensor = moved.movedim((-2, -1), (d1, d2))
    # contiguous, as PyTorch's result (so .view() works on it)
    return out if out.is_contiguous() else out.contiguous()


# ---- einsum's sublist form ----
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _sublist(sub: Any) -> str:
    if isinstance(sub, Tensor) or not hasattr(sub, "__iter__") or isinstance(sub, str):
        raise TypeError(f"einsum(): a subscript list must be a list of ints and Ellipsis, got {_type_name(sub)}")
    out = []
    for s in sub:
        if s is Ellipsis:
            out.append("...")
            continue
        if not hasattr(s, "__index__") or isinstance(s, Tensor) and s.dim() != 0:
            raise TypeError(f"'{_type_name(s)}' object cannot be interpreted as an integer")
        v = int(s.__index__())
        if not 0 <= v < 52:
            raise ValueError("einsum(): subscript in subscript list is not within the valid range [0, 52)")
        out.append(_LETTERS[v])
    return "".join(out)


def einsum(*args: Any) -> Any:
    """Einstein summation: ``einsum("ij,jk->ik", a, b)``, ``einsum("ij,jk", [a, b])`` or the
    sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (output sublist optional; Ellipsis
    allowed in the sublists), which is the equation with subscripts 0-51 as A-Z, a-z."""
    if not args or not isinstance(args[0], Tensor):
        return _linalg_ops.einsum(*args)
    if len(args) < 2:
        raise ValueError("einsum(): must specify the equation string and at least one operand, or at least one "
                         "operand and its subscripts list")
    ops: List[Tensor] = []
    subs: List[str] = []
    i = 0
    while i + 1 < len(args):
        op, sub = args[i], args[i + 1]
        if not isinstance(op, Tensor):
            raise TypeError(f"einsum(): expected Tensor as operand {len(ops)}, but got {_type_name(op)}")
        ops.append(op)
        subs.append(_sublist(sub))
        i += 2
    eq = ",".join(subs)
    if i < len(args):  # the output sublist
        eq += "->" + _sublist(args[i])
    return _linalg_ops.einsum(eq, *ops)


def _m_matmul(self: Tensor, other: Tensor) -> Tensor:
    """Matrix product with PyTorch's rules: 1-D and 2-D operands, batched N-D with broadcast batch
    dims; integer operands too (exact, wrapping)."""
    try:
        out: Tensor = _c_matmul_method(self, other)
    except TypeError:
        if not _is_int_pair(self, other):
            raise
        return _int_matmul(self, other)
    return out


def _m_matmul_op(self: Tensor, other: Any) -> Any:
    """self @ other (integer tensors included)."""
    try:
        return _c_matmul_op(self, other)
    except TypeError:
        if not _is_int_pair(self, other):
            raise
        return _int_matmul(self, other)


def _m_imatmul_op(self: Tensor, other: Any) -> Any:
    """self @= other: integer operands rebind self to the product, as PyTorch (which has no
    __imatmul__); floating ones keep gradcore's rule (in place when the product has self's
    shape and dtype)."""
    try:
        return _c_imatmul_op(self, other)
    except TypeError:
        if not _is_int_pair(self, other):
            raise
        return _int_matmul(self, other)


def _m_mm(self: Tensor, mat2: Tensor) -> Tensor:
    """self @ mat2 for 2-D tensors (integer ones too)."""
    try:
        out: Tensor = _c_mm_method(self, mat2)
    except TypeError:
        if not _is_int_pair(self, mat2):
            raise
        return _int_mm_checked(self, mat2, False, False)
    return out


def _m_bmm(self: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product of 3-D tensors with equal batch sizes (integer ones too)."""
    try:
        out: Tensor = _c_bmm_method(self, mat2)
    except TypeError:
        if not _is_int_pair(self, mat2):
            raise
        return _int_bmm_checked(self, mat2)
    return out


# ---- Tensor methods (PyTorch has these as methods too) ----
def _m_diagflat(self: Tensor, offset: int = 0) -> Tensor:
    """A square matrix with the flattened self on its offset-th diagonal (see gradcore.diagflat)."""
    return diagflat(self, offset)


def _m_slice_scatter(self: Tensor, src: Tensor, dim: int = 0, start: Optional[int] = None,
                     end: Optional[int] = None, step: int = 1) -> Tensor:
    """A copy of self with the slice start:end:step of dim replaced by src (see gradcore.slice_scatter)."""
    return slice_scatter(self, src, dim, start, end, step)


def _m_select_scatter(self: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of self with self.select(dim, index) replaced by src (see gradcore.select_scatter)."""
    return select_scatter(self, src, dim, index)


def _m_diagonal_scatter(self: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of self with the diagonal (offset, dim1, dim2) replaced by src (see gradcore.diagonal_scatter)."""
    return diagonal_scatter(self, src, offset, dim1, dim2)


METHODS: Dict[str, Any] = {
    "tril_": _m_tril_, "triu_": _m_triu_, "diagflat": _m_diagflat, "addbmm": _m_addbmm, "addbmm_": _m_addbmm_,
    "slice_scatter": _m_slice_scatter, "select_scatter": _m_select_scatter,
    "diagonal_scatter": _m_diagonal_scatter, "matmul": _m_matmul, "__matmul__": _m_matmul_op,
    "__imatmul__": _m_imatmul_op, "mm": _m_mm,
    "bmm": _m_bmm,
}
