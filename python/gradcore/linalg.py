"""gradcore.linalg: PyTorch's torch.linalg names.

Blocks by area: the norms (reduce12) below; decompositions are added in their own block.
"""
from __future__ import annotations

import builtins
from typing import Any, List, Optional, Tuple

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["vector_norm", "matrix_norm", "norm"]


# --- norms (reduce12)
# vector_norm runs one C++ reduction (csrc/autograd/ops/stats.cpp: a lane kernel, PyTorch's
# subgradients); matrix_norm and norm are compositions of it with amax / amin. Matrix norms
# that need singular values (2, -2, 'nuc') raise NotImplementedError.

_FLOAT_RANK = {"float16": 0, "bfloat16": 0, "float32": 1, "float64": 2}


def _dtype_key(d: Any) -> str:
    return str(d).split(".")[-1]


def _is_number(v: Any) -> builtins.bool:
    return isinstance(v, (builtins.int, builtins.float)) and not isinstance(v, builtins.bool)


def _dims(dim: Any, ndim: int, op: str) -> List[int]:
    if dim is None:
        return []
    ds = [dim] if isinstance(dim, builtins.int) and not isinstance(dim, builtins.bool) else list(dim)
    n = builtins.max(ndim, 1)
    out = []
    for d in ds:
        if isinstance(d, builtins.bool) or not isinstance(d, builtins.int):
            raise TypeError(f"{op}(): argument 'dim' must be an int or a tuple of ints, not {type(d).__name__}")
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        out.append(d % n)
    return out


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: builtins.bool = False, *,
                dtype: Any = None) -> Tensor:
    """The ord-norm of x over dim (None: all elements, as one vector): inf / -inf the largest
    / smallest |x|, 0 the count of nonzeros, else (sum |x|^ord)^(1/ord). ``dtype`` computes
    (and returns) in that floating dtype. Gradient 0 where the norm is 0 (PyTorch's)."""
    if not _is_number(ord):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not {type(ord).__name__}")
    if not x.is_floating_point():
        name = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                "bool": "Bool"}.get(_dtype_key(x.dtype), _dtype_key(x.dtype))
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {name}")
    if dtype is not None:
        key = _dtype_key(dtype)
        if key not in _FLOAT_RANK:
            raise RuntimeError(f"linalg.vector_norm: dtype should be floating point or complex, but got {key}")
        if _FLOAT_RANK[key] < _FLOAT_RANK[_dtype_key(x.dtype)]:
            raise RuntimeError(f"linalg.vector_norm: the dtype of the input ({_dtype_key(x.dtype)}) should be "
                               f"convertible without narrowing to the specified dtype ({key})")
        x = x.to(dtype)
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        dim = None
    return _core._linalg_vector_norm(x, builtins.float(ord), dim, keepdim)


def matrix_norm(A: Tensor, ord: Any = "fro", dim: Tuple[int, int] = (-2, -1), keepdim: builtins.bool = False, *,
                dtype: Any = None) -> Tensor:
    """The ord-norm of the matrices over the two dims: 'fro' (sqrt of the sum of squares),
    inf / -inf (largest / smallest row sum of |a|), 1 / -1 (largest / smallest column sum).
    2, -2 and 'nuc' need singular values: NotImplementedError."""
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if not A.is_floating_point():
        raise RuntimeError("linalg.matrix_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_dtype_key(A.dtype)}")
    ds = _dims(dim, A.dim(), "linalg.matrix_norm")
    if len(ds) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {tuple(dim)}")
    if ds[0] == ds[1]:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if isinstance(ord, str):
        if ord == "fro":
            return vector_norm(A, 2, tuple(ds), keepdim, dtype=dtype)
        if ord == "nuc":
            raise NotImplementedError("linalg.matrix_norm: ord='nuc' needs singular values, not supported by "
                                      "gradcore yet")
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if not _is_number(ord):
        raise TypeError(f"linalg.matrix_norm(): argument 'ord' must be str or Number, not {type(ord).__name__}")
    if ord in (2, -2):
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord} needs singular values, not supported by "
                                  "gradcore yet")
    if ord not in (1, -1, builtins.float("inf"), builtins.float("-inf")):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    # ord +-1: sums over rows (dim[0]), then the extreme over columns; ord +-inf the other way
    d0, d1 = (ds[0], ds[1]) if abs(ord) == 1 else (ds[1], ds[0])
    if not keepdim and d0 < d1:
        d1 -= 1
    sums = vector_norm(A, 1, d0, keepdim, dtype=dtype)
    return _core.amax(sums, d1, keepdim) if ord > 0 else _core.amin(sums, d1, keepdim)


def norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: builtins.bool = False, *,
         dtype: Any = None) -> Tensor:
    """torch.linalg.norm: a vector norm over one dim (or all elements when dim and ord are
    None), a matrix norm over two dims; with ord but no dim, A must be 1-D or 2-D."""
    if dim is not None:
        ds = [dim] if isinstance(dim, builtins.int) and not isinstance(dim, builtins.bool) else list(dim)
        if len(ds) == 1:
            return vector_norm(A, 2 if ord is None else ord, ds, keepdim, dtype=dtype)
        if len(ds) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, (ds[0], ds[1]), keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(ds)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.dim() == 1:
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.vector_norm: ord={ord!r} is a matrix norm; got a 1-D input")
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.dim() == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.dim()}D.")
