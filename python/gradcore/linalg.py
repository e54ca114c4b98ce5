"""gradcore.linalg: PyTorch's torch.linalg names.

Each block of this module belongs to one area (see its header): the norms (reduce12) and
the decompositions and products (linalg12).
"""
from __future__ import annotations

import builtins
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore.autograd.function import Function
from gradcore import return_types as _rt
from gradcore import _linalg_ops

__all__ = ["vector_norm", "matrix_norm", "norm",
           "LinAlgError", "inv", "inv_ex", "solve", "cholesky", "qr", "det", "slogdet", "eigh", "eigvalsh", "svd",
           "svdvals", "matmul", "multi_dot", "pinv"]

# --- norms (reduce12)
# vector_norm runs one C++ reduction (csrc/autograd/ops/stats.cpp: a lane kernel, PyTorch's
# subgradients); matrix_norm and norm are compositions of it with amax / amin. Matrix norms
# that need singular values (2, -2, 'nuc') take them from svdvals (the linalg12 block).

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


def _singular_value_norm(A: Tensor, ds: List[int], ord: Any, keepdim: builtins.bool, dtype: Any) -> Tensor:
    """ord 2 / -2 / 'nuc' of the matrices over dims ds: from svdvals of A with ds moved last."""
    if dtype is not None:
        A = A.to(dtype)
    n = A.dim()
    rest = [d for d in range(n) if d not in ds]
    M = A.permute(*rest, ds[0], ds[1])
    sv = svdvals(M)  # (..., k), differentiable
    out: Tensor = sv.amax(-1) if ord == 2 else sv.amin(-1) if ord == -2 else sv.sum(-1)
    if keepdim:
        for d in sorted(ds):
            out = out.unsqueeze(d)
    return out


def matrix_norm(A: Tensor, ord: Any = "fro", dim: Tuple[int, int] = (-2, -1), keepdim: builtins.bool = False, *,
                dtype: Any = None) -> Tensor:
    """The ord-norm of the matrices over the two dims: 'fro' (sqrt of the sum of squares),
    inf / -inf (largest / smallest row sum of |a|), 1 / -1 (largest / smallest column sum),
    2 / -2 (largest / smallest singular value), 'nuc' (their sum)."""
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
            return _singular_value_norm(A, ds, "nuc", keepdim, dtype)
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if not _is_number(ord):
        raise TypeError(f"linalg.matrix_norm(): argument 'ord' must be str or Number, not {type(ord).__name__}")
    if ord in (2, -2):
        return _singular_value_norm(A, ds, ord, keepdim, dtype)
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


# --- decompositions and products (linalg12) ------------------------------------------
# The factorizations run in LAPACK through NumPy (on the operands' memory, float32 and
# float64, batched over leading dims) and are wrapped as autograd Functions whose backward
# and jvp are PyTorch's formulas written with gradcore ops (so create_graph works: the
# backward of inv uses inv's output, itself recorded). Quantities a jvp needs are recomputed
# from the inputs through the same Functions, so reverse-over-forward sees them.

class LinAlgError(RuntimeError):
    """A matrix is singular (inv, solve) or not positive-definite (cholesky); PyTorch's
    ``torch.linalg.LinAlgError``, a RuntimeError."""


def _check(A: Any, op: str, square: bool = True) -> None:
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}(): argument 'A' (position 1) must be Tensor, not {type(A).__name__}")
    if A.dtype not in (_core.float32, _core.float64):
        kind = "floating point" if A.is_floating_point() else "floating point or complex"
        raise RuntimeError(f"{op}: Expected a {kind} tensor as input (float32 or float64 in gradcore). Got "
                           f"{A.dtype}")
    if A.dim() < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")


def _np(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


def _wrap(a: Any, like: Tensor) -> Any:
    dt = np.float32 if like.dtype == _core.float32 else np.float64
    return _core.from_numpy(np.array(a, dtype=dt, order="C"))  # (ascontiguousarray makes 0-dim 1-D)


def _mT(x: Tensor) -> Any:
    return x.transpose(-2, -1)


def _as_any(x: Any) -> Any:
    return x


def _primal(A: Tensor) -> Any:
    """Inside a jvp (forward mode is off there): an alias of A that keeps A's history but
    carries no tangent, so a Function applied to it records a node and runs no nested jvp."""
    return A.view(tuple(A.shape))


def _eye_like(n: int, like: Tensor) -> Any:
    return _wrap(np.eye(n), like)


def _diag_embed(v: Tensor) -> Any:
    """(..., n) -> (..., n, n) with v on the diagonal."""
    n = v.shape[-1]
    return v.unsqueeze(-1) * _eye_like(n, v)


def _sum_to(g: Tensor, shape: Sequence[int]) -> Any:
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.dim() - len(shape)
    if lead:
        g = g.sum(list(range(lead)))
    dims = [i for i, (s, t) in enumerate(zip(g.shape, shape)) if t == 1 and s != 1]
    if dims:
        g = g.sum(dims, keepdim=True)
    return g


def _lapack(op: str, f: Any, *arrays: np.ndarray) -> Any:
    with np.errstate(all="ignore"):
        try:
            return f(*arrays)
        except np.linalg.LinAlgError as e:
            msg = str(e)
            if "positive" in msg.lower():
                raise LinAlgError(f"{op}: The factorization could not be completed because the input is not "
                                  f"positive-definite.") from None
            if "singular" in msg.lower():
                raise LinAlgError(f"{op}: The input matrix is singular, so the operation could not be completed.") \
                    from None
            raise LinAlgError(f"{op}: {msg}") from None


# ---- inv ----
class _Inv(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor) -> Any:
        X = _wrap(_lapack("linalg.inv", np.linalg.inv, _np(A)), A)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        _, X = ctx.saved_tensors
        assert X is not None
        Xt = _mT(X)
        return -(Xt @ g @ Xt)

    @staticmethod
    def jvp(ctx: Any, dA: Tensor) -> Any:
        A, _ = ctx.saved_tensors
        assert A is not None
        X = _Inv.apply(_primal(A))
        return -(X @ dA @ X)


def inv(A: Tensor, *, out: Any = None) -> Any:
    """The inverse of square matrices (batched); LinAlgError when one is singular."""
    _no_out(out, "linalg.inv")
    _check(A, "linalg.inv")
    return _Inv.apply(A)


def inv_ex(A: Tensor, *, check_errors: bool = False) -> Any:
    """(inverse, info): info 0 where the inverse exists (here: raises LinAlgError otherwise
    when check_errors, else NaN inverse and info 1)."""
    _check(A, "linalg.inv_ex")
    try:
        X = _Inv.apply(A)
        info = _core.zeros(tuple(A.shape[:-2]), dtype=_core.int32)
    except LinAlgError:
        if check_errors:
            raise
        X = _core.full(tuple(A.shape), float("nan"), dtype=A.dtype)
        info = _core.ones(tuple(A.shape[:-2]), dtype=_core.int32)
    return _rt.linalg_inv_ex((X, info))


def _no_out(out: Any, op: str) -> None:
    if out is not None:
        raise TypeError(f"{op}: out= is not supported by gradcore")


# ---- solve ----
class _Solve(Function):
    """X = A^{-1} B for B of shape (..., n, k), batch dims broadcast."""

    @staticmethod
    def forward(ctx: Any, A: Tensor, B: Tensor) -> Any:
        X = _wrap(_lapack("torch.linalg.solve", np.linalg.solve, _np(A), _np(B)), A)
        ctx.save_for_backward(A, B, X)
        return X

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        A, B, X = ctx.saved_tensors
        assert A is not None and B is not None and X is not None
        gB = _Solve.apply(_mT(A), g)
        gA = -(gB @ _mT(X)) if ctx.needs_input_grad[0] else None
        return (_sum_to(gA, A.shape) if gA is not None else None,
                _sum_to(gB, B.shape) if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(ctx: Any, dA: Tensor, dB: Tensor) -> Any:
        A, B, _ = ctx.saved_tensors
        assert A is not None and B is not None
        A, B = _primal(A), _primal(B)
        X = _Solve.apply(A, B)
        return _Solve.apply(A, dB - dA @ X)


def solve(A: Tensor, B: Tensor, *, left: bool = True, out: Any = None) -> Any:
    """The solution X of A X = B (left) or X A = B; B is a batch of vectors when it is 1-D or
    has A's shape without its last dim. Batch dims broadcast."""
    _no_out(out, "linalg.solve")
    _check(A, "linalg.solve")
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg.solve(): argument 'B' (position 2) must be Tensor, not {type(B).__name__}")
    if B.dtype != A.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type {A.dtype} "
                           f"and B of type {B.dtype} instead")
    n = A.shape[-1]
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        if B.shape[-1] != n:
            raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                               f"({A.shape[-2]}x{A.shape[-1]} and {B.shape[-1]}x1)")
        return _Solve.apply(A if left else _mT(A), B.unsqueeze(-1)).squeeze(-1)
    if B.dim() < 2:
        raise RuntimeError("linalg.solve: The input tensor B must have at least 2 dimensions.")
    if left:
        if B.shape[-2] != n:
            raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                               f"({A.shape[-2]}x{A.shape[-1]} and {B.shape[-2]}x{B.shape[-1]})")
        return _Solve.apply(A, B)
    if B.shape[-1] != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation XA = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {B.shape[-2]}x{B.shape[-1]})")
    return _mT(_Solve.apply(_mT(A), _mT(B)))


# ---- det, slogdet ----
def _where_singular_identity(A: Tensor, d: Tensor) -> Any:
    """A with every matrix whose determinant is exactly 0 replaced by the identity, so that
    d A^{-T} can be formed (it is 0 there) where inverting A itself would raise."""
    n = A.shape[-1]
    eye = _wrap(np.eye(n), A)
    return _core.where((d == 0).unsqueeze(-1).unsqueeze(-1), eye, A)


def _singular_cofactors(A: Tensor, d: Tensor) -> Any:
    """The cofactor matrix (adj(A)^T, det's gradient) of each matrix whose determinant is
    exactly 0, from the SVD A = U S V^T: det(U) det(V) U diag(prod_{j != i} s_j) V^T (nonzero
    for rank n - 1, zero below); 0 for the other matrices. None when no matrix is singular.
    PyTorch 2.13 gives this or 0 depending on whether its LAPACK's LU rounds det to exactly 0."""
    sing = _np(d) == 0
    if not np.any(sing):
        return None
    a = np.asarray(_np(A))
    out = np.zeros_like(a)
    idx = np.nonzero(sing)
    u, s, vt = np.linalg.svd(a[idx])
    n = a.shape[-1]
    p = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    out[idx] = (u * p[..., None, :]) @ vt * sign[..., None, None]
    return _wrap(out, A)


class _Det(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor) -> Any:
        d = _wrap(np.linalg.det(_np(A)), A)
        ctx.save_for_backward(A, d)
        return d

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Any:
        A, d = ctx.saved_tensors
        assert A is not None and d is not None
        gA = (g * d).unsqueeze(-1).unsqueeze(-1) * _mT(_Inv.apply(_where_singular_identity(A, d)))
        cof = _singular_cofactors(A, d)
        return gA if cof is None else gA + g.unsqueeze(-1).unsqueeze(-1) * cof

    @staticmethod
    def jvp(ctx: Any, dA: Tensor) -> Any:
        A, _ = ctx.saved_tensors
        assert A is not None
        A = _primal(A)
        d = _Det.apply(A)
        return d * (_mT(_Inv.apply(_where_singular_identity(A, d))) * dA).sum([-2, -1])


def det(A: Tensor, *, out: Any = None) -> Any:
    """The determinant of square matrices (batched). The gradient is det A^{-T}, and the
    cofactor matrix adj(A)^T where det is exactly 0 (see _singular_cofactors)."""
    _no_out(out, "linalg.det")
    _check(A, "linalg.det")
    return _Det.apply(A)


class _LogAbsDet(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor) -> Tuple[Tensor, Tensor]:
        s, l = np.linalg.slogdet(_np(A))
        sign, logabs = _wrap(s, A), _wrap(l, A)
        ctx.mark_non_differentiable(sign)
        ctx.save_for_backward(A)
        return sign, logabs

    @staticmethod
    def backward(ctx: Any, gs: Tensor, gl: Tensor) -> Any:
        A, = ctx.saved_tensors
        assert A is not None
        return gl.unsqueeze(-1).unsqueeze(-1) * _mT(_Inv.apply(A))

    @staticmethod
    def jvp(ctx: Any, dA: Tensor) -> Tuple[Optional[Tensor], Tensor]:
        A, = ctx.saved_tensors
        assert A is not None
        return None, (_mT(_Inv.apply(_primal(A))) * dA).sum([-2, -1])


def slogdet(A: Tensor, *, out: Any = None) -> Any:
    """(sign, logabsdet) of square matrices; the gradient flows through logabsdet."""
    _no_out(out, "linalg.slogdet")
    _check(A, "linalg.slogdet")
    sign, logabs = _LogAbsDet.apply(A)
    return _rt.linalg_slogdet((sign, logabs))


# ---- cholesky ----
def _phi(X: Tensor) -> Any:
    """The lower triangle of X with its diagonal halved."""
    n = X.shape[-1]
    return X * _wrap(np.tril(np.ones((n, n))) - 0.5 * np.eye(n), X)


class _Cholesky(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor) -> Any:
        a = _np(A)
        if not np.all(np.isfinite(a)):
            raise LinAlgError("linalg.cholesky: The factorization could not be completed because the input is not "
                              "positive-definite (it has non-finite values).")
        L = _wrap(_lapack("linalg.cholesky", np.linalg.cholesky, a), A)
        ctx.save_for_backward(A, L)
        return L

    @staticmethod
    def backward(ctx: Any, gL: Tensor) -> Any:
        # gA = L^{-T} phi(L^T gL) L^{-1}, symmetrized (PyTorch's cholesky_backward)
        _, L = ctx.saved_tensors
        assert L is not None
        Li = _Inv.apply(L)
        gA = _mT(Li) @ _phi(_mT(L) @ gL) @ Li
        return (gA + _mT(gA)) * 0.5

    @staticmethod
    def jvp(ctx: Any, dA: Tensor) -> Any:
        # dL = L phi(L^{-1} dA L^{-T})
        A, _ = ctx.saved_tensors
        assert A is not None
        L = _Cholesky.apply(_primal(A))
        Li = _Inv.apply(L)
        return L @ _phi(Li @ dA @ _mT(Li))


def cholesky(A: Tensor, *, upper: bool = False, out: Any = None) -> Any:
    """L with A = L L^T (lower; upper=True gives L^T) from A's lower triangle; LinAlgError
    when A is not positive-definite."""
    _no_out(out, "linalg.cholesky")
    _check(A, "linalg.cholesky")
    L = _Cholesky.apply(A)
    return _mT(L) if upper else L


# ---- eigh ----
def _eig_E(L: Tensor) -> Any:
    """E[i, j] = L[j] - L[i] with ones on the diagonal."""
    n = L.shape[-1]
    return L.unsqueeze(-2) - L.unsqueeze(-1) + _eye_like(n, L)


def _offdiag(n: int, like: Tensor) -> Any:
    return _wrap(1.0 - np.eye(n), like)


class _Eigh(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor, uplo: str) -> Tuple[Tensor, Tensor]:
        w, v = _lapack("linalg.eigh", lambda a: np.linalg.eigh(a, UPLO=_as_any(uplo)), _np(A))
        L, V = _wrap(w, A), _wrap(v, A)
        ctx.uplo = uplo
        ctx.save_for_backward(A, L, V)
        return L, V

    @staticmethod
    def backward(ctx: Any, gL: Tensor, gV: Tensor) -> Tuple[Tensor, None]:
        # gA = V (skew(V^T gV) / 2 / E + diag(gL)) V^T (PyTorch's linalg_eig_backward, hermitian)
        _, L, V = ctx.saved_tensors
        assert L is not None and V is not None
        n = L.shape[-1]
        VgV = _mT(V) @ gV
        inner = (VgV - _mT(VgV)) * 0.5 / _eig_E(L) * _offdiag(n, L) + _diag_embed(gL)
        return V @ inner @ _mT(V), None

    @staticmethod
    def jvp(ctx: Any, dA: Tensor, _: Any) -> Tuple[Tensor, Tensor]:
        # dL = diag(V^T dA V), dV = V ((V^T dA V) / E off the diagonal)
        A, _L, _V = ctx.saved_tensors
        assert A is not None
        L, V = _Eigh.apply(_primal(A), ctx.uplo)
        n = L.shape[-1]
        P = _mT(V) @ dA @ V
        return P.diagonal(0, -2, -1), V @ (P / _eig_E(L) * _offdiag(n, L))


def _uplo(UPLO: Any, op: str) -> str:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return str(UPLO)


def eigh(A: Tensor, UPLO: str = "L", *, out: Any = None) -> Any:
    """(eigenvalues ascending, eigenvectors as columns) of symmetric matrices, from the
    triangle UPLO names. Eigenvectors are defined up to sign: differentiate functions that
    do not depend on it."""
    _no_out(out, "linalg.eigh")
    _check(A, "linalg.eigh")
    L, V = _Eigh.apply(A, _uplo(UPLO, "linalg.eigh"))
    return _rt.linalg_eigh((L, V))


def eigvalsh(A: Tensor, UPLO: str = "L", *, out: Any = None) -> Any:
    """The eigenvalues (ascending) of symmetric matrices."""
    _no_out(out, "linalg.eigvalsh")
    _check(A, "linalg.eigvalsh")
    return _Eigh.apply(A, _uplo(UPLO, "linalg.eigvalsh"))[0]


# ---- svd ----
class _Svd(Function):
    """The reduced SVD (k = min(m, n)); full_matrices pads U / Vh outside (no gradient there)."""

    @staticmethod
    def forward(ctx: Any, A: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        u, s, vh = _lapack("linalg.svd", lambda a: np.linalg.svd(a, full_matrices=False), _np(A))
        U, S, Vh = _wrap(u, A), _wrap(s, A), _wrap(vh, A)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(A, U, S, Vh)
        return U, S, Vh

    @staticmethod
    def backward(ctx: Any, gU: Optional[Tensor], gS: Optional[Tensor],
                 gVh: Optional[Tensor]) -> Any:
        # PyTorch's svd_backward (real case), k = min(m, n):
        # gA = U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] Vh
        #      + (I - U U^T) gU S^{-1} Vh + U S^{-1} gVh (I - V Vh),   E[i, j] = s_j^2 - s_i^2
        A, U, S, Vh = ctx.saved_tensors
        assert A is not None and U is not None and S is not None and Vh is not None
        m, n = A.shape[-2], A.shape[-1]
        k = S.shape[-1]
        if gU is None and gVh is None:
            if gS is None:
                return None
            return (U * gS.unsqueeze(-2)) @ Vh
        V = _mT(Vh)
        S2 = S * S
        E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + _eye_like(k, S)
        off = _offdiag(k, S)
        inner = _diag_embed(gS) if gS is not None else None
        if gU is not None:
            UgU = _mT(U) @ gU
            t = (UgU - _mT(UgU)) * S.unsqueeze(-2) / E * off
            inner = t if inner is None else inner + t
        if gVh is not None:
            VgV = Vh @ _mT(gVh)
            t = S.unsqueeze(-1) * (VgV - _mT(VgV)) / E * off
            inner = t if inner is None else inner + t
        assert inner is not None
        gA = U @ inner
        if gU is not None and m > k:
            gA = gA + (gU - U @ (_mT(U) @ gU)) / S.unsqueeze(-2)
        gA = gA @ Vh
        if gVh is not None and n > k:
            gA = gA + (U / S.unsqueeze(-2)) @ (gVh - (gVh @ V) @ Vh)
        return gA

    @staticmethod
    def jvp(ctx: Any, dA: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        # P = U^T dA V; dS = diag(P); dU = U (F o (P S + S P^T)) + (I - U U^T) dA V S^{-1};
        # dV = V (F o (S P + P^T S)) + (I - V V^T) dA^T U S^{-1};  F[i, j] = 1 / (s_j^2 - s_i^2)
        A = ctx.saved_tensors[0]
        assert A is not None
        U, S, Vh = _Svd.apply(_primal(A))
        m, n = A.shape[-2], A.shape[-1]
        k = S.shape[-1]
        V = _mT(Vh)
        P = _mT(U) @ dA @ V
        S2 = S * S
        F = _offdiag(k, S) / (S2.unsqueeze(-2) - S2.unsqueeze(-1) + _eye_like(k, S))
        Sr, Sc = S.unsqueeze(-2), S.unsqueeze(-1)  # scale columns / rows
        dU = U @ (F * (P * Sr + Sc * _mT(P)))
        dV = V @ (F * (Sc * P + _mT(P) * Sr))
        if m > k:
            dAV = dA @ V
            dU = dU + (dAV - U @ (_mT(U) @ dAV)) / Sr
        if n > k:
            dAU = _mT(dA) @ U
            dV = dV + (dAU - V @ (Vh @ dAU)) / Sr
        return dU, P.diagonal(0, -2, -1), _mT(dV)


def svd(A: Tensor, full_matrices: bool = True, *, driver: Any = None, out: Any = None) -> Any:
    """(U, S, Vh) with A = U diag(S) Vh, S descending. Singular vectors are defined up to
    sign: differentiate functions that do not depend on it (PyTorch's rule). With
    full_matrices and m != n the extra columns of U / rows of Vh get no gradient."""
    _no_out(out, "linalg.svd")
    _check(A, "linalg.svd", square=False)
    if driver is not None:
        raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with "
                           "cuSOLVER backend.")
    m, n = A.shape[-2], A.shape[-1]
    U, S, Vh = _Svd.apply(A)
    if full_matrices and m != n:
        u, _, vh = np.linalg.svd(_np(A), full_matrices=True)
        k = min(m, n)
        if m > k:
            U = _cat_last(U, u[..., :, k:])
        if n > k:
            Vh = _cat_rows(Vh, vh[..., k:, :])
    return _rt.linalg_svd((U, S, Vh))


def _cat_last(U: Tensor, extra: np.ndarray) -> Any:
    """[U | extra] along the last dim; the gradient reaches U's columns only."""
    m, k = U.shape[-2], U.shape[-1]
    pad = np.zeros(extra.shape[:-1] + (k + extra.shape[-1],), dtype=extra.dtype)
    pad[..., k:] = extra
    sel = np.zeros((k, k + extra.shape[-1]))
    sel[:, :k] = np.eye(k)
    return U @ _wrap(sel, U) + _wrap(pad, U)


def _cat_rows(Vh: Tensor, extra: np.ndarray) -> Any:
    return _mT(_cat_last(_mT(Vh), np.swapaxes(extra, -1, -2)))


def svdvals(A: Tensor, *, driver: Any = None, out: Any = None) -> Any:
    """The singular values, descending."""
    _no_out(out, "linalg.svdvals")
    _check(A, "linalg.svdvals", square=False)
    return _Svd.apply(A)[1]


def _qr_backward_tall(Q: Tensor, R: Tensor, gQ: Optional[Tensor], gR: Optional[Tensor]) -> Any:
    """The gradient of A = QR for m >= n (R square, invertible): M = R gR^T - gQ^T Q and
    gA = (gQ + Q copyltu(M)) R^{-T}, copyltu(M) the symmetric matrix with M's lower triangle
    (the adjoint of dA -> (dQ, dR))."""
    n = R.shape[-1]
    M = None
    if gR is not None:
        M = R @ _mT(gR)
    if gQ is not None:
        t = _mT(gQ) @ Q
        M = -t if M is None else M - t
    assert M is not None
    low = M * _wrap(np.tril(np.ones((n, n)), -1), M)
    sym = low + _mT(low) + _diag_embed(M.diagonal(0, -2, -1))
    G = Q @ sym
    if gQ is not None:
        G = G + gQ
    return _mT(_Solve.apply(R, _mT(G)))


# ---- qr ----
class _Qr(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor, mode: str) -> Tuple[Tensor, Tensor]:
        q, r = _lapack("linalg.qr", lambda a: np.linalg.qr(a, mode=_as_any(mode)), _np(A))
        Q, R = _wrap(q, A), _wrap(r, A)
        ctx.mode = mode
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(A, Q, R)
        return Q, R

    @staticmethod
    def backward(ctx: Any, gQ: Optional[Tensor], gR: Optional[Tensor]) -> Any:
        A, Q, R = ctx.saved_tensors
        assert A is not None and Q is not None and R is not None
        m, n = A.shape[-2], A.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise NotImplementedError("linalg.qr: the derivative is not implemented for mode 'complete' with more "
                                      "rows than columns (the extra columns of Q are not unique)")
        if gQ is None and gR is None:
            return None, None
        if m >= n:
            return _qr_backward_tall(Q, R, gQ, gR), None
        # Wide: A = [X | Y] with X square, R = [U | V], X = Q U, Y = Q V. V = Q^T Y sends Y gV^T
        # into Q's gradient; then X is the square case and gY = Q gV.
        U = R.narrow(-1, 0, m)
        gU = None if gR is None else gR.narrow(-1, 0, m)
        gV = None if gR is None else gR.narrow(-1, m, n - m)
        gQx = gQ
        if gV is not None:
            t = A.narrow(-1, m, n - m) @ _mT(gV)
            gQx = t if gQx is None else gQx + t
        gX = _qr_backward_tall(Q, U, gQx, gU)
        gY = _core.zeros_like(A.narrow(-1, m, n - m)) if gV is None else Q @ gV
        return _core.cat([gX, gY], -1), None

    @staticmethod
    def jvp(ctx: Any, dA: Tensor, _: Any) -> Tuple[Tensor, Tensor]:
        A = ctx.saved_tensors[0]
        assert A is not None
        m, n = A.shape[-2], A.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise NotImplementedError("linalg.qr: forward-mode AD is not implemented for mode 'complete' with more "
                                      "rows than columns")
        Q, R = _Qr.apply(_primal(A), ctx.mode)
        if m >= n:
            return _qr_jvp_tall(Q, R, dA)
        # Wide (see backward): the square part X gives dQ and dU; dV = dQ^T Y + Q^T dY.
        dQ, dU = _qr_jvp_tall(Q, R.narrow(-1, 0, m), dA.narrow(-1, 0, m))
        dV = _mT(dQ) @ _primal(A).narrow(-1, m, n - m) + _mT(Q) @ dA.narrow(-1, m, n - m)
        return dQ, _core.cat([dU, dV], -1)


def _qr_jvp_tall(Q: Tensor, R: Tensor, dA: Tensor) -> Tuple[Tensor, Tensor]:
    """Forward mode of A = QR for m >= n: C = Q^T dA R^{-1}, W = tril(C, -1) - its transpose;
    dR = (C - W) R, dQ = dA R^{-1} - Q (C - W)."""
    n = R.shape[-1]
    dARi = _mT(_Solve.apply(_mT(R), _mT(dA)))  # dA R^{-1}
    C = _mT(Q) @ dARi
    low = C * _wrap(np.tril(np.ones((n, n)), -1), C)
    W = low - _mT(low)
    return dARi - Q @ (C - W), (C - W) @ R


def qr(A: Tensor, mode: str = "reduced", *, out: Any = None) -> Any:
    """(Q, R) with A = Q R; mode 'reduced', 'complete' or 'r' (Q empty)."""
    _no_out(out, "linalg.qr")
    _check(A, "linalg.qr", square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           f"or 'complete'")
    if mode == "r":
        r = _lapack("linalg.qr", lambda a: np.linalg.qr(a, mode="r"), _np(A))
        return _rt.linalg_qr((_core.zeros((0,), dtype=A.dtype), _wrap(r, A)))
    Q, R = _Qr.apply(A, mode)
    return _rt.linalg_qr((Q, R))


# ---- products ----
def matmul(input: Tensor, other: Tensor, *, out: Any = None) -> Any:
    """Alias of gradcore.matmul."""
    _no_out(out, "linalg.matmul")
    return _linalg_ops.matmul(input, other)


def multi_dot(tensors: Sequence[Tensor], *, out: Any = None) -> Any:
    """The product of matrices left to right; the first may be 1-D (a row), the last 1-D (a
    column)."""
    _no_out(out, "linalg.multi_dot")
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    for i, t in enumerate(ts):
        if not isinstance(t, Tensor):
            raise TypeError(f"multi_dot(): expected Tensors, got {type(t).__name__}")
        lo = 1 if i in (0, len(ts) - 1) else 2
        if not lo <= t.dim() <= 2:
            where = "first" if i == 0 else "last" if i == len(ts) - 1 else None
            if where:
                raise RuntimeError(f"multi_dot(): the {where} tensor must be 1D or 2D but got {t.dim()}D")
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
    first_1d, last_1d = ts[0].dim() == 1, ts[-1].dim() == 1
    if first_1d:
        ts[0] = ts[0].unsqueeze(0)
    if last_1d:
        ts[-1] = ts[-1].unsqueeze(-1)
    for i in range(len(ts) - 1):
        if ts[i].shape[-1] != ts[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(ts[i].shape)} and "
                               f"{list(ts[i + 1].shape)} cannot be multiplied")
    # PyTorch's order (it matters for inf / NaN and rounding): the cheaper parenthesisation
    # for three, the matrix-chain dynamic programme for more.
    dims = [t.shape[0] for t in ts] + [ts[-1].shape[-1]]
    n = len(ts)
    if n == 2:
        out_ = _linalg_ops.mm(ts[0], ts[1])
    elif n == 3:
        a, b, c, d = dims
        if a * b * c + a * c * d < b * c * d + a * b * d:
            out_ = _linalg_ops.mm(_linalg_ops.mm(ts[0], ts[1]), ts[2])
        else:
            out_ = _linalg_ops.mm(ts[0], _linalg_ops.mm(ts[1], ts[2]))
    else:
        cost = [[0] * n for _ in range(n)]
        split = [[0] * n for _ in range(n)]
        for length in range(1, n):
            for i in range(n - length):
                j = i + length
                cost[i][j] = -1
                for k in range(i, j):
                    q = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                    if cost[i][j] < 0 or q < cost[i][j]:
                        cost[i][j], split[i][j] = q, k

        def chain(i: int, j: int) -> Any:
            if i == j:
                return ts[i]
            return _core.mm(chain(i, split[i][j]), chain(split[i][j] + 1, j))
        out_ = chain(0, n - 1)
    if first_1d:
        out_ = out_.squeeze(0)
    if last_1d:
        out_ = out_.squeeze(-1)
    return out_


def pinv(A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False, out: Any = None) -> Any:
    """The pseudo-inverse through the SVD: singular values below max(atol, rtol * s_max) are
    dropped (rtol defaults to max(m, n) * eps when atol is not given)."""
    _no_out(out, "linalg.pinv")
    _check(A, "linalg.pinv", square=False)
    U, S, Vh = _Svd.apply(A)
    m, n = A.shape[-2], A.shape[-1]
    eps = float(np.finfo(np.float32 if A.dtype == _core.float32 else np.float64).eps)
    if rtol is None:
        rtol = max(m, n) * eps if atol is None or atol == 0 else 0.0
    smax = S.detach().amax(-1, keepdim=True) if S.shape[-1] else S.detach()
    tol = smax * float(rtol)
    if atol is not None:
        tol = _core.maximum(tol, _core.full(tuple(tol.shape), float(atol), dtype=S.dtype))
    keep = S.detach() > tol
    Sinv = _core.where(keep, 1.0 / _core.where(keep, S, _core.ones_like(S)), _core.zeros_like(S))
    return (_mT(Vh) * Sinv.unsqueeze(-2)) @ _mT(U)
