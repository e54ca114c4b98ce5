"""Pooling, unpooling, interpolation and pixel shuffling (issue 15), re-exported by
``gradcore.nn.functional``.

Argument forms, defaults and messages are PyTorch's; each function expands its int
arguments to one entry per spatial dim and makes one call into the C++ op
(``csrc/autograd/ops/pool.cpp``), which checks shapes and computes forward and backward.
LP pooling and pixel (un)shuffle are compositions of those and the view ops, as in PyTorch.
"""
from __future__ import annotations

import math
import operator
from typing import Any, List, Optional, Sequence, Tuple, Union

from gradcore import _core
from gradcore._core import Tensor

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d", "lp_pool1d", "lp_pool2d",
    "lp_pool3d", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
    "pixel_unshuffle",
]

IntArg = Union[int, Sequence[int]]
_WORDS = {1: "one", 2: "two", 3: "three"}


def _ints(value: Any, n: int, fname: str, arg: str, bad_len: str) -> List[int]:
    """``value`` (an int or a sequence of 1 or ``n`` ints) as ``n`` ints; ``bad_len`` is the
    RuntimeError message for a sequence of another length."""
    if isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    out = []
    for pos, v in enumerate(items):
        if isinstance(v, float) or not hasattr(v, "__index__"):
            raise TypeError(f"{fname}(): argument '{arg}' must be tuple of ints, but found element of type "
                            f"{type(v).__name__} at pos {pos}")
        out.append(operator.index(v))
    if len(out) == 1:
        return out * n
    if len(out) != n:
        raise RuntimeError(bad_len.format(got=len(out)))
    return out


def _pool_args(fname: str, n: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1,
               avg: bool = False) -> Tuple[List[int], List[int], List[int], List[int]]:
    """PyTorch's expansion of a pool's kernel_size / stride / padding / dilation."""
    def msg(arg: str, omitted: bool = False) -> str:
        if n == 1 and avg:
            return f"{fname}() argument '{arg}' should contain one int (got {{got}})"
        if n == 1:
            return f"{fname}() {arg} must be an int, list of ints or tuple of ints of size 1 but got size {{got}}"
        lead = "must be a single int" if avg and n == 3 else ("must either be omitted, a single int" if omitted
                                                            else "must either be a single int")
        return f"{fname}: {arg} {lead}, or a tuple of {_WORDS[n]} ints"
    if isinstance(kernel_size, (list, tuple)) and len(kernel_size) == 0:
        raise RuntimeError(msg("kernel_size").format(got=0))
    k = _ints(kernel_size, n, fname, "kernel_size", msg("kernel_size"))
    no_stride = stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)
    s = list(k) if no_stride else _ints(stride, n, fname, "stride", msg("stride", omitted=True))
    p = _ints(padding, n, fname, "padding", msg("padding"))
    d = _ints(dilation, n, fname, "dilation", msg("dilation"))
    for v in (*k, *s, *p, *d):  # PyTorch computes these in 32-bit ints
        if not -2 ** 31 <= v < 2 ** 31:
            raise RuntimeError("integer out of range")
    return k, s, p, d


def _tensor(input: Any, fname: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input


# ---- max pooling -----------------------------------------------------------------------

def _max_pool(n: int, input: Tensor, kernel_size: IntArg, stride: Optional[IntArg], padding: IntArg,
              dilation: IntArg, ceil_mode: bool) -> Tuple[Tensor, Tensor]:
    fname = f"max_pool{n}d"
    k, s, p, d = _pool_args(fname, n, kernel_size, stride, padding, dilation)
    values, indices = _core._max_pool(_tensor(input, fname), n, k, s, p, d, bool(ceil_mode))
    return values, indices


def max_pool1d_with_indices(input: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None,
                            padding: IntArg = 0, dilation: IntArg = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> Tuple[Tensor, Tensor]:
    """(values, indices) of max_pool1d (indices into the flattened spatial dims, int64)."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_with_indices(input: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None,
                            padding: IntArg = 0, dilation: IntArg = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> Tuple[Tensor, Tensor]:
    """(values, indices) of max_pool2d (indices into the flattened H*W plane, int64)."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool3d_with_indices(input: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None,
                            padding: IntArg = 0, dilation: IntArg = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> Tuple[Tensor, Tensor]:
    """(values, indices) of max_pool3d (indices into the flattened D*H*W volume, int64)."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool1d(input: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None, padding: IntArg = 0,
               dilation: IntArg = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The maximum over each (dilated) window of (N, C, L) or (C, L) input; with
    ``return_indices`` also the argmax positions. ``stride`` defaults to ``kernel_size``."""
    r = _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode)
    return r if return_indices else r[0]


def max_pool2d(input: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None, padding: IntArg = 0,
               dilation: IntArg = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """max_pool1d over (N, C, H, W) or (C, H, W) input."""
    r = _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode)
    return r if return_indices else r[0]


def max_pool3d(input: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None, padding: IntArg = 0,
               dilation: IntArg = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """max_pool1d over (N, C, D, H, W) or (C, D, H, W) input."""
    r = _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode)
    return r if return_indices else r[0]


# ---- average pooling -------------------------------------------------------------------

def _avg_pool(n: int, input: Tensor, kernel_size: IntArg, stride: Optional[IntArg], padding: IntArg,
              ceil_mode: bool, count_include_pad: bool, divisor_override: Optional[int]) -> Tensor:
    fname = f"avg_pool{n}d"
    k, s, p, _ = _pool_args(fname, n, kernel_size, stride, padding, avg=True)
    if divisor_override is not None:
        divisor_override = operator.index(divisor_override)
    out: Tensor = _core._avg_pool(_tensor(input, fname), n, k, s, p, bool(ceil_mode), bool(count_include_pad),
                                  divisor_override)
    return out


def avg_pool1d(input: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None, padding: IntArg = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """The mean over each window of (N, C, L) or (C, L) input (padding counts as zeros in
    the divisor when ``count_include_pad``)."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None, padding: IntArg = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> Tensor:
    """avg_pool1d over (N, C, H, W) or (C, H, W); ``divisor_override`` replaces the window count."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None, padding: IntArg = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> Tensor:
    """avg_pool2d over (N, C, D, H, W) or (C, D, H, W)."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


# ---- adaptive pooling ------------------------------------------------------------------

def _output_size(n: int, input: Tensor, output_size: Any, fname: str) -> List[int]:
    """output_size as n ints; None entries take the input's size (PyTorch's)."""
    items = list(output_size) if isinstance(output_size, (list, tuple)) else [output_size] * n
    if n == 1 and len(items) != 1:
        raise RuntimeError(f"{fname}() argument 'output_size' should contain one int (got {len(items)})")
    if len(items) != n:
        raise ValueError(f"{fname}: output_size must be an int or a tuple of {n} ints (None keeps a dim), got "
                         f"{output_size!r}")
    shape = input.shape
    out = []
    for i, v in enumerate(items):
        if v is None:
            out.append(int(shape[len(shape) - n + i]))
        elif isinstance(v, float) or not hasattr(v, "__index__"):
            raise TypeError(f"{fname}(): argument 'output_size' must be tuple of ints, but found element of type "
                            f"{type(v).__name__} at pos {i}")
        else:
            out.append(operator.index(v))
    return out


def adaptive_avg_pool1d(input: Tensor, output_size: IntArg) -> Tensor:
    """Average pooling of (N, C, L) or (C, L) to ``output_size`` bins of (nearly) equal width."""
    x = _tensor(input, "adaptive_avg_pool1d")
    out: Tensor = _core._adaptive_avg_pool(x, 1, _output_size(1, x, output_size, "adaptive_avg_pool1d"))
    return out


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """adaptive_avg_pool1d over (N, C, H, W) or (C, H, W); None in output_size keeps that dim."""
    x = _tensor(input, "adaptive_avg_pool2d")
    out: Tensor = _core._adaptive_avg_pool(x, 2, _output_size(2, x, output_size, "adaptive_avg_pool2d"))
    return out


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """adaptive_avg_pool1d over (N, C, D, H, W) or (C, D, H, W)."""
    x = _tensor(input, "adaptive_avg_pool3d")
    out: Tensor = _core._adaptive_avg_pool(x, 3, _output_size(3, x, output_size, "adaptive_avg_pool3d"))
    return out


def _adaptive_max(n: int, input: Tensor, output_size: Any) -> Tuple[Tensor, Tensor]:
    fname = f"adaptive_max_pool{n}d"
    x = _tensor(input, fname)
    values, indices = _core._adaptive_max_pool(x, n, _output_size(n, x, output_size, fname))
    return values, indices


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: IntArg,
                                     return_indices: bool = False) -> Tuple[Tensor, Tensor]:
    """(values, indices) of adaptive_max_pool1d."""
    return _adaptive_max(1, input, output_size)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> Tuple[Tensor, Tensor]:
    """(values, indices) of adaptive_max_pool2d."""
    return _adaptive_max(2, input, output_size)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> Tuple[Tensor, Tensor]:
    """(values, indices) of adaptive_max_pool3d."""
    return _adaptive_max(3, input, output_size)


def adaptive_max_pool1d(input: Tensor, output_size: IntArg, return_indices: bool = False) -> Any:
    """The maximum over ``output_size`` adaptive bins of (N, C, L) or (C, L)."""
    r = _adaptive_max(1, input, output_size)
    return r if return_indices else r[0]


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """adaptive_max_pool1d over (N, C, H, W) or (C, H, W)."""
    r = _adaptive_max(2, input, output_size)
    return r if return_indices else r[0]


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """adaptive_max_pool1d over (N, C, D, H, W) or (C, D, H, W)."""
    r = _adaptive_max(3, input, output_size)
    return r if return_indices else r[0]


# ---- max unpooling ---------------------------------------------------------------------

def _unpool_output_size(input: Tensor, kernel_size: List[int], stride: List[int], padding: List[int],
                        output_size: Any) -> List[int]:
    """PyTorch's _unpool_output_size: (in - 1) * stride - 2 * padding + kernel, or output_size
    (its last len(kernel) entries), each within one stride of that default."""
    n = len(kernel_size)
    shape = input.shape
    default = [(int(shape[len(shape) - n + d]) - 1) * stride[d] + kernel_size[d] - 2 * padding[d] for d in range(n)]
    if output_size is None:
        return default
    if not isinstance(output_size, (list, tuple)):
        raise TypeError(f"max_unpool{n}d(): output_size must be a list or tuple of ints, not "
                        f"{type(output_size).__name__}")
    sizes = [operator.index(v) for v in output_size]
    if len(sizes) == n + 2:
        sizes = sizes[2:]
    if len(sizes) != n:
        raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, but it has a length "
                         f"of '{len(sizes)}'")
    for d in range(n):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < sizes[d] < hi:
            raise ValueError(f'invalid output_size "{sizes}" (dim {d} must be between {lo} and {hi})')
    return sizes


def _max_unpool(n: int, input: Tensor, indices: Tensor, kernel_size: IntArg, stride: Optional[IntArg],
                padding: IntArg, output_size: Any) -> Tensor:
    fname = f"max_unpool{n}d"
    k, s, p, _ = _pool_args(fname, n, kernel_size, stride, padding)
    x = _tensor(input, fname)
    if not isinstance(indices, Tensor):
        raise TypeError(f"{fname}(): argument 'indices' (position 2) must be Tensor, not {type(indices).__name__}")
    out: Tensor = _core._max_unpool(x, indices, n, _unpool_output_size(x, k, s, p, output_size))
    return out


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None,
                 padding: IntArg = 0, output_size: Optional[Sequence[int]] = None) -> Tensor:
    """The partial inverse of max_pool1d: zeros with ``input`` written at ``indices``."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None,
                 padding: IntArg = 0, output_size: Optional[Sequence[int]] = None) -> Tensor:
    """The partial inverse of max_pool2d (indices into each H*W plane of the output)."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: IntArg, stride: Optional[IntArg] = None,
                 padding: IntArg = 0, output_size: Optional[Sequence[int]] = None) -> Tensor:
    """The partial inverse of max_pool3d."""
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


# ---- LP pooling (composed, as PyTorch's) -----------------------------------------------

def _lp_pool(n: int, input: Tensor, norm_type: float, kernel_size: IntArg, stride: Optional[IntArg],
             ceil_mode: bool) -> Tensor:
    k, _, _, _ = _pool_args(f"lp_pool{n}d", n, kernel_size, None, 0)
    out = _avg_pool(n, _core.pow(input, norm_type), kernel_size, stride, 0, ceil_mode, True, None)
    window = math.prod(k)
    res: Tensor = _core.pow(_core.mul(_core.mul(_core.sign(out), _core.relu(_core.abs(out))), window),
                            1.0 / norm_type)
    return res


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: int, stride: Optional[IntArg] = None,
              ceil_mode: bool = False) -> Tensor:
    """(sum over each window of x ** p) ** (1 / p), from avg_pool1d as PyTorch composes it."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: IntArg, stride: Optional[IntArg] = None,
              ceil_mode: bool = False) -> Tensor:
    """lp_pool1d over (N, C, H, W) or (C, H, W)."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: IntArg, stride: Optional[IntArg] = None,
              ceil_mode: bool = False) -> Tensor:
    """lp_pool1d over (N, C, D, H, W) or (C, D, H, W)."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# ---- interpolation ---------------------------------------------------------------------

_LINEAR_DIMS = {"linear": 3, "bilinear": 4, "trilinear": 5}


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: Optional[bool] = None, recompute_scale_factor: Optional[bool] = None,
                antialias: bool = False) -> Tensor:
    """Resample (N, C, [D, H,] W) input to ``size`` or by ``scale_factor``: modes "nearest",
    "nearest-exact", "linear" (3-D), "bilinear" (4-D), "trilinear" (5-D) and "area"
    (adaptive average pooling), with PyTorch's source coordinates and ``align_corners`` /
    ``recompute_scale_factor`` rules."""
    x = _tensor(input, "interpolate")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = x.dim() - 2
    output_size: Optional[List[int]] = None
    scale_factors: Optional[List[float]] = None
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got input with spatial "
                    f"dimensions of {list(x.shape[2:])} and output size of {size}. Please provide input tensor in "
                    "(N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.")
            if not all(not isinstance(v, float) and hasattr(v, "__index__") for v in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                                f"Tuple[int, int, int], but got size with types {[type(v) for v in size]}")
            output_size = [operator.index(v) for v in size]
        else:
            if isinstance(size, float) or not hasattr(size, "__index__"):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                                f"Tuple[int, int, int], but got size with types {[type(size)]}")
            output_size = [operator.index(size)] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but got input with "
                    f"spatial dimensions of {list(x.shape[2:])} and scale_factor of shape {scale_factor}. Please "
                    "provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
            scale_factors = [float(v) for v in scale_factor]
        else:
            scale_factors = [float(scale_factor)] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor is not None and recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor and scale_factors is not None:
        for f in scale_factors:
            if not math.isfinite(f):
                raise ValueError(f"interpolate: scale_factor must be finite, got {f}")
        output_size = [math.floor(float(x.shape[i + 2]) * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if antialias:
        raise NotImplementedError("gradcore's interpolate does not implement antialias=True")
    if x.dim() in (3, 4, 5):
        sizes = output_size if output_size is not None else []
        scales = scale_factors if scale_factors is not None else []
        if mode in ("nearest", "nearest-exact"):
            out: Tensor = _core._interpolate(x, dim, sizes, scales, mode, False)
            return out
        if mode == "area":
            assert output_size is not None
            return _core._adaptive_avg_pool(x, dim, output_size)
        if mode in _LINEAR_DIMS:
            want = _LINEAR_DIMS[mode]
            if x.dim() != want:
                raise NotImplementedError(f"Got {x.dim()}D input, but {mode} mode needs {want}D input")
            out = _core._interpolate(x, dim, sizes, scales, "linear", bool(align_corners))
            return out
        if mode in ("bicubic", "lanczos"):
            raise NotImplementedError(f"gradcore's interpolate does not implement mode '{mode}'")
    raise NotImplementedError(
        "Input Error: Only 3D, 4D and 5D input Tensors supported"
        f" (got {x.dim()}D) for the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
        f"nearest-exact (got {mode})")


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: Optional[bool] = None) -> Tensor:
    """Deprecated spelling of :func:`interpolate` (as in PyTorch)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated: ``interpolate(input, size, scale_factor, mode="nearest")``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated: ``interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---- pixel shuffle (views and one permute) ---------------------------------------------

def _factor(value: Any, fname: str, arg: str) -> int:
    if isinstance(value, float) or not hasattr(value, "__index__"):
        raise TypeError(f"{fname}(): argument '{arg}' (position 2) must be int, not {type(value).__name__}")
    r = operator.index(value)
    if r <= 0:
        raise RuntimeError(f"{fname} expects a positive {arg}, but got {r}")
    return r


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r): channel blocks moved into space."""
    x = _tensor(input, "pixel_shuffle")
    if x.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{x.dim()} dimension(s)")
    r = _factor(upscale_factor, "pixel_shuffle", "upscale_factor")
    shape = [int(v) for v in x.shape]
    *lead, c, h, w = shape
    if c % (r * r) != 0:
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    nl = len(lead)
    y = _core.reshape(x, (*lead, c // (r * r), r, r, h, w))
    y = _core.permute(y, (*range(nl), nl, nl + 3, nl + 1, nl + 4, nl + 2))
    out: Tensor = _core.reshape(y, (*lead, c // (r * r), h * r, w * r))
    return out


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W): the inverse of pixel_shuffle."""
    x = _tensor(input, "pixel_unshuffle")
    if x.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{x.dim()} dimension(s)")
    r = _factor(downscale_factor, "pixel_unshuffle", "downscale_factor")
    shape = [int(v) for v in x.shape]
    *lead, c, h, w = shape
    if h % r != 0:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, but "
                           f"input.size(-2)={h} is not divisible by {r}")
    if w % r != 0:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, but "
                           f"input.size(-1)={w} is not divisible by {r}")
    nl = len(lead)
    y = _core.reshape(x, (*lead, c, h // r, r, w // r, r))
    y = _core.permute(y, (*range(nl), nl, nl + 2, nl + 4, nl + 1, nl + 3))
    out: Tensor = _core.reshape(y, (*lead, c * r * r, h // r, w // r))
    return out
