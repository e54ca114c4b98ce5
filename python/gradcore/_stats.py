"""Statistics reductions written over the compiled ops (issue 12, reduce12).

nansum, nanmean, aminmax, quantile / nanquantile, cov, corrcoef, norm, dist and cdist, with
PyTorch's names, arguments, results and exception types. Each is a short composition of
differentiable C++ ops (masked_fill, sum, amax, sort + gather, mm, the vector norm of
gradcore.linalg), so gradients, create_graph and forward mode come with them; no loop here
runs over elements, rows or batch entries. var/std, logsumexp, logcumsumexp and the vector
norm kernel are C++ ops (csrc/autograd/ops/stats.cpp).
"""
from __future__ import annotations

import builtins
import warnings
from typing import Any, Optional, Tuple

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["nansum", "nanmean", "aminmax", "quantile", "nanquantile", "cov", "corrcoef", "norm", "dist", "cdist",
           "TENSOR_METHODS"]

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")
# cdist's p = 2 goes through one GEMM (|a|^2 + |b|^2 - 2 a.b) above this many rows, as PyTorch's
# compute_mode 'use_mm_for_euclid_dist_if_necessary'.
_CDIST_MM_ROWS = 25


def _torch_dtype_name(t: Tensor) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}[str(t.dtype).split(".")[-1]]


def _norm_dim(d: Any, ndim: int) -> int:
    if isinstance(d, builtins.bool) or not isinstance(d, builtins.int):
        raise TypeError(f"dim must be an int, not {type(d).__name__}")
    n = builtins.max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d % n


def nansum(input: Tensor, dim: Any = None, keepdim: builtins.bool = False, *, dtype: Any = None) -> Tensor:
    """The sum over dim (None: all) with NaNs counted as zero. The gradient is PyTorch's
    g * ~isnan(x), a product: an infinite g (nanmean of only NaNs) gives NaN there, not 0."""
    if not input.is_floating_point():
        return _core.sum(input, dim, keepdim, dtype=dtype)
    x = input if dtype is None else input.to(dtype)
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        dims: Tuple[int, ...] = tuple(range(x.dim()))
    elif isinstance(dim, (list, tuple)):
        dims = tuple(_norm_dim(d, x.dim()) for d in dim)
    else:
        dims = (_norm_dim(dim, x.dim()),)
    out: Tensor = _NanSum.apply(x, dims, keepdim)
    return out


def _make_nansum() -> Any:
    from gradcore.autograd.function import Function

    def kd_shape(x: Tensor, dims: Tuple[int, ...]) -> Tuple[int, ...]:
        return tuple(1 if d in dims else n for d, n in enumerate(x.shape))

    class NanSum(Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor, dims: Tuple[int, ...], keepdim: builtins.bool) -> Tensor:
            ctx.dims, ctx.keepdim = dims, keepdim
            ctx.save_for_backward(x)
            return _core.sum(x.masked_fill(_core.isnan(x), 0), list(dims), keepdim)

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tuple[Any, None, None]:
            (x,) = ctx.saved_tensors
            keep = _core.logical_not(_core.isnan(x.detach())).to(x.dtype)
            return g.reshape(kd_shape(x, ctx.dims)) * keep, None, None

        @staticmethod
        def jvp(ctx: Any, t: Tensor, *_: Any) -> Tensor:
            (x,) = ctx.saved_tensors
            return _core.sum(t.masked_fill(_core.isnan(x), 0), list(ctx.dims), ctx.keepdim)

    return NanSum


class _LazyFn:
    """A Function class built on first use (gradcore.autograd imports this package)."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._fn: Any = None

    def apply(self, *args: Any) -> Any:
        if self._fn is None:
            self._fn = self._make()
        return self._fn.apply(*args)


_NanSum = _LazyFn(_make_nansum)


def nanmean(input: Tensor, dim: Any = None, keepdim: builtins.bool = False, *, dtype: Any = None) -> Tensor:
    """The mean over dim (None: all) of the non-NaN elements (NaN where there are none)."""
    if not input.is_floating_point():
        raise RuntimeError("nanmean(): expected input to have floating point or complex dtype but got "
                           f"{_torch_dtype_name(input)}")
    count = _core.sum(_core.logical_not(_core.isnan(input)), dim, keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / count


def aminmax(input: Tensor, *, dim: Optional[builtins.int] = None, keepdim: builtins.bool = False) -> Any:
    """(min, max) over dim (None: all elements), a ``return_types.aminmax``; ties share the
    gradient evenly as amin / amax."""
    from gradcore import return_types

    if dim is not None:
        if isinstance(dim, builtins.bool) or not isinstance(dim, builtins.int):
            raise TypeError(f"aminmax(): argument 'dim' must be int, not {type(dim).__name__}")
        d = _norm_dim(dim, input.dim())
        if input.dim() > 0 and input.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
        empty = False
    else:
        empty = input.numel() == 0
    if empty:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity.")
    if dim is None:
        lo, hi = _core.amin(input), _core.amax(input)
        if keepdim:
            shape = (1,) * input.dim()
            lo, hi = lo.reshape(shape), hi.reshape(shape)
    else:
        lo, hi = _core.amin(input, dim, keepdim), _core.amax(input, dim, keepdim)
    return return_types.aminmax((lo, hi))


def _quantile(name: str, input: Tensor, q: Any, dim: Any, keepdim: builtins.bool, interpolation: str,
              ignore_nan: builtins.bool) -> Tensor:
    if not isinstance(interpolation, str) or interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    if str(input.dtype) not in ("gradcore.float32", "gradcore.float64"):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.dtype != input.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        if q.dim() > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        scalar_q = q.dim() == 0
        qs = q.detach().reshape(-1)
        if qs.numel() and not builtins.bool(((qs >= 0) & (qs <= 1)).all()):
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    elif isinstance(q, (builtins.float, builtins.int)) and not isinstance(q, builtins.bool):
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        scalar_q = True
        qs = _core.full((1,), builtins.float(q), dtype=input.dtype)
    else:
        raise TypeError(f"{name}(): argument 'q' must be float or Tensor, not {type(q).__name__}")
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    ndim = input.dim()
    if dim is None:
        x = input.reshape(-1)
    else:
        d = _norm_dim(dim, ndim)
        # the reduced dim moved last, a size-1 dim left in its place (keepdim layout)
        x = input.reshape(1) if ndim == 0 else input.unsqueeze(-1).transpose(d, -1)
    s = _core.sort(x, -1)[0]                 # NaNs sort last
    lead = tuple(s.shape[:-1])
    n = s.shape[-1]
    k = qs.numel()
    with _core_no_grad():
        if ignore_nan:
            valid = _core.sum(_core.logical_not(_core.isnan(s)), -1, True).to(input.dtype)  # (*lead, 1)
            last = _core.clamp(valid - 1, 0, None)
        else:
            last = _core.full(lead + (1,), builtins.float(n - 1), dtype=input.dtype)
        ranks = qs.reshape((k,) + (1,) * len(lead) + (1,)) * last   # (k, *lead, 1)
        if ignore_nan:
            ranks = _core.clamp(ranks, 0, None)
        else:   # a lane holding NaN: its last (NaN) value
            has_nan = _core.isnan(s.narrow(-1, n - 1, 1))
            ranks = _core.where(has_nan, last, ranks)
        if interpolation == "lower":
            ranks = _core.floor(ranks)
        elif interpolation == "higher":
            ranks = _core.ceil(ranks)
        elif interpolation == "nearest":
            ranks = _core.round(ranks)
        below = _core.floor(ranks)
        idx_below = below.to(_core.int64)
        idx_above = _core.ceil(ranks).to(_core.int64)
        weights = _core.full_like(ranks, 0.5) if interpolation == "midpoint" else ranks - below
    se = s.unsqueeze(0).expand((k,) + tuple(s.shape))
    out = _core.gather(se, -1, idx_below)
    if interpolation in ("linear", "midpoint"):
        out = _core.lerp(out, _core.gather(se, -1, idx_above), weights)  # PyTorch's lerp formula, infinities alike
    out = out.squeeze(-1)                    # (k, *lead)
    if dim is None:
        if keepdim:
            out = out.reshape((k,) + (1,) * ndim)
    elif not keepdim and ndim > 0:
        out = out.squeeze(d + 1)
    elif ndim == 0:
        out = out.reshape((k,))
    return out.squeeze(0) if scalar_q else out


class _core_no_grad:
    """Recording off for index arithmetic (ranks are not differentiable)."""

    def __enter__(self) -> None:
        from gradcore.autograd import no_grad
        self._g = no_grad()
        self._g.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._g.__exit__(*exc)


def quantile(input: Tensor, q: Any, dim: Any = None, keepdim: builtins.bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The q-th quantiles over dim (None: all elements), interpolated as numpy's methods
    linear / lower / higher / midpoint / nearest; a lane holding NaN gives NaN. A 1-D q adds a
    leading dim. Gradients flow to the selected (sorted) elements."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input: Tensor, q: Any, dim: Any = None, keepdim: builtins.bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """quantile ignoring NaNs (NaN only for lanes of NaNs)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


def cov(input: Tensor, *, correction: builtins.int = 1, fweights: Optional[Tensor] = None,
        aweights: Optional[Tensor] = None) -> Tensor:
    """The covariance of the variables in input's rows (observations in columns; a 1-D input is
    one variable), divided by sum(w) - correction (PyTorch's weighted form with fweights
    and aweights)."""
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.dim()} dimensions")
    x = input if input.is_floating_point() else input.to(_core.get_default_dtype())
    x2 = x.reshape(1, -1) if x.dim() < 2 else x
    nobs = x2.shape[1]
    w: Optional[Tensor] = None
    if fweights is not None:
        if fweights.dim() > 1:
            raise RuntimeError(f"cov(): expected fweights to have one or fewer dimensions but got fweights with "
                               f"{fweights.dim()} dimensions")
        if fweights.is_floating_point():
            raise RuntimeError("cov(): expected fweights to have integral dtype")
        if fweights.numel() != nobs:
            raise RuntimeError(f"cov(): expected fweights to have the same numel as there are observations in the "
                               f"input but got {fweights.numel()} != {nobs}")
        if fweights.numel() and builtins.bool((fweights < 0).any()):
            raise RuntimeError("cov(): fweights cannot be negative")
        w = fweights.to(x.dtype)
    aw: Optional[Tensor] = None
    if aweights is not None:
        if aweights.dim() > 1:
            raise RuntimeError(f"cov(): expected aweights to have one or fewer dimensions but got aweights with "
                               f"{aweights.dim()} dimensions")
        if not aweights.is_floating_point():
            raise RuntimeError("cov(): expected aweights to have floating point dtype")
        if aweights.numel() != nobs:
            raise RuntimeError(f"cov(): expected aweights to have the same numel as there are observations in the "
                               f"input but got {aweights.numel()} != {nobs}")
        if aweights.numel() and builtins.bool((aweights < 0).any()):
            raise RuntimeError("cov(): aweights cannot be negative")
        aw = aweights.to(x.dtype)
        w = aw if w is None else w * aw
    if w is None:
        avg = _core.mean(x2, 1)
        norm_factor: Any = nobs - correction
    else:
        w_sum = w.sum()
        avg = (x2 * w).sum(1) / w_sum
        if correction == 0:
            norm_factor = w_sum
        elif aw is None:
            norm_factor = w_sum - correction
        else:
            norm_factor = w_sum - correction * (w * aw).sum() / w_sum
    nf = builtins.float(norm_factor)
    if nf <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                      "observations.", UserWarning, stacklevel=2)
        norm_factor = 0.0
    centered = x2 - avg.unsqueeze(1)
    c = _core.mm(centered, (centered if w is None else centered * w).t())
    out: Tensor = (c / norm_factor).squeeze()
    return out


def corrcoef(input: Tensor) -> Tensor:
    """The Pearson correlation coefficients of input's rows (cov normalised, clipped to [-1, 1])."""
    c = cov(input)
    if c.dim() == 0:
        return c / c
    sd = _core.sqrt(_core.diagonal(c))
    c = c / sd.unsqueeze(1)
    c = c / sd.unsqueeze(0)
    return _core.clamp(c, -1, 1)


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: builtins.bool = False,
         dtype: Any = None) -> Tensor:
    """torch.norm: 'fro' (2-norm over dim, or all elements), a number p (vector p-norm over dim,
    however many dims), 'nuc' (the sum of the singular values)."""
    from gradcore import linalg

    if not input.is_floating_point():
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                           f"{_torch_dtype_name(input)} instead.")
    if isinstance(p, str):
        if p == "fro":
            return linalg.vector_norm(input, 2, dim, keepdim, dtype=dtype)
        if p == "nuc":
            return linalg.matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
        raise RuntimeError(f"norm(): unsupported norm type {p!r}: 'fro', 'nuc' or a number")
    return linalg.vector_norm(input, 2 if p is None else p, dim, keepdim, dtype=dtype)


def dist(input: Tensor, other: Tensor, p: Any = 2) -> Tensor:
    """The p-norm of input - other (broadcast)."""
    from gradcore import linalg

    if not input.is_floating_point() or not (other.is_floating_point() if isinstance(other, Tensor) else True):
        bad = input if not input.is_floating_point() else other
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                           f"{_torch_dtype_name(bad)} instead.")
    return linalg.vector_norm(input - other, p)


def _euclid_mm(x1: Tensor, x2: Tensor) -> Tensor:
    """sqrt(clamp(|a|^2 + |b|^2 - 2 a.b, 0)) for 2-D x1 (P, M), x2 (R, M): one GEMM."""
    out: Tensor = _EuclidMM.apply(x1, x2)
    return out


def cdist(x1: Tensor, x2: Tensor, p: Any = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M), batch dims
    broadcast: (..., P, R). p = 2 takes one GEMM when a side has more than 25 rows (unbatched
    inputs; compute_mode as PyTorch's); other p, and batched inputs, the direct differences.
    The gradient at zero distance is 0."""
    for name, t in (("X1", x1), ("X2", x2)):
        if not t.is_floating_point():
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {_torch_dtype_name(t)}")
    if x1.dim() < 2 or x2.dim() < 2:
        bad, name = (x1, "X1") if x1.dim() < 2 else (x2, "X2")
        raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {bad.dim()}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if isinstance(p, builtins.bool) or not isinstance(p, (builtins.int, builtins.float)):
        raise TypeError(f"cdist(): argument 'p' must be float, not {type(p).__name__}")
    if not p >= 0:
        raise RuntimeError("cdist only supports non-negative p values")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    if x1.dtype != x2.dtype:
        raise RuntimeError(f"cdist only supports the same dtype for X1 and X2: X1 got {_torch_dtype_name(x1)}, "
                           f"X2 got {_torch_dtype_name(x2)}")
    rows1, rows2 = x1.shape[-2], x2.shape[-2]
    use_mm = p == 2 and x1.dim() == 2 and x2.dim() == 2 and (
        compute_mode == "use_mm_for_euclid_dist" or
        (compute_mode == "use_mm_for_euclid_dist_if_necessary" and (rows1 > _CDIST_MM_ROWS or rows2 > _CDIST_MM_ROWS)))
    if use_mm and x1.numel() and x2.numel():
        return _euclid_mm(x1, x2)
    from gradcore import linalg
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)          # (..., P, R, M)
    if diff.shape[-1] == 0:
        return _core.zeros(tuple(diff.shape[:-1]), dtype=x1.dtype) + 0 * diff.sum(-1)
    d = linalg.vector_norm(diff, builtins.float(p), -1)
    if p == 1:
        # NOTE: PyTorch's cdist backward for p = 1 takes sign(NaN) = NaN (the vector norm's, as
        # torch.sign, is 0): a NaN difference gives its inputs a NaN gradient. The term added
        # is 0 where the difference is not NaN (and NaN only where d is NaN already); its
        # gradient NaN at the NaN differences, 0 elsewhere.
        zero = _core.zeros((), dtype=diff.dtype)
        with _core_no_grad():
            is_nan = _core.isnan(diff)
            nan_at = _core.where(is_nan, _core.full((), builtins.float("nan"), dtype=diff.dtype), zero)
        d = d + (_core.where(is_nan, diff, zero) * nan_at).sum(-1)
    return d


def _euclid_mm_backward(g: Tensor, x1: Tensor, x2: Tensor, d: Tensor) -> Tuple[Tensor, Tensor]:
    # PyTorch's _euclidean_dist_backward: ratio = g / d (0 where d = 0);
    # dx1 = x1 * rowsum(ratio) - ratio @ x2, dx2 = x2 * colsum(ratio) - ratio^T @ x1
    zero = _core.zeros((), dtype=d.dtype)
    ratio = _core.where(d == 0, zero, g / _core.where(d == 0, _core.ones((), dtype=d.dtype), d))
    dx1 = x1 * ratio.sum(-1, True) - _core.matmul(ratio, x2)
    dx2 = x2 * ratio.sum(-2).unsqueeze(-1) - _core.matmul(ratio.t(), x1)
    return dx1, dx2


def _euclid_mm_values(x1: Tensor, x2: Tensor) -> Tensor:
    n1 = (x1 * x1).sum(-1, True)                # (P, 1)
    n2 = (x2 * x2).sum(-1, True).t()            # (1, R)
    out: Tensor = _core.sqrt(_core.clamp(n1 + n2 - 2 * _core.mm(x1, x2.t()), 0, None))
    return out


def _make_euclid_mm() -> Any:
    from gradcore.autograd.function import Function

    class EuclidMM(Function):
        @staticmethod
        def forward(ctx: Any, x1: Tensor, x2: Tensor) -> Tensor:
            d = _euclid_mm_values(x1, x2)
            ctx.save_for_backward(x1, x2, d)
            return d

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Tuple[Tensor, Tensor]:
            x1, x2, d = ctx.saved_tensors
            return _euclid_mm_backward(g, x1, x2, d)

        @staticmethod
        def jvp(ctx: Any, t1: Tensor, t2: Tensor) -> Tensor:
            # d(d_ij) = <x1_i - x2_j, t1_i - t2_j> / d_ij (0 where d_ij = 0)
            x1, x2, _ = ctx.saved_tensors
            d = _euclid_mm_values(x1, x2)  # recomputed from x1, x2: reverse over this jvp sees d's dependence
            num = (x1 * t1).sum(-1, True) + (x2 * t2).sum(-1, True).t() - _core.mm(x1, t2.t()) - _core.mm(t1, x2.t())
            one = _core.ones((), dtype=d.dtype)
            out: Tensor = _core.where(d == 0, _core.zeros((), dtype=d.dtype), num / _core.where(d == 0, one, d))
            return out

    return EuclidMM


_EuclidMM = _LazyFn(lambda: _make_euclid_mm())


def _method_norm(self: Tensor, p: Any = "fro", dim: Any = None, keepdim: builtins.bool = False,
                 dtype: Any = None) -> Tensor:
    return norm(self, p, dim, keepdim, dtype)


def _method_aminmax(self: Tensor, *, dim: Optional[builtins.int] = None, keepdim: builtins.bool = False) -> Any:
    return aminmax(self, dim=dim, keepdim=keepdim)


TENSOR_METHODS = {
    "nansum": nansum, "nanmean": nanmean, "aminmax": _method_aminmax, "quantile": quantile,
    "nanquantile": nanquantile, "cov": cov, "corrcoef": corrcoef, "norm": _method_norm, "dist": dist,
}
