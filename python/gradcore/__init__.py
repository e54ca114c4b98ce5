"""gradcore: a small, fast deep-learning library whose core is compiled C++.

>>> import gradcore as gc
>>> x = gc.tensor([[1.0, 2.0]], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
tensor([[2., 4.]])
"""
from typing import Any

from gradcore import _core

_core._check_env()  # a malformed GRADCORE_GEMM_BLOCKING is a ValueError now, not at the first matmul
from gradcore._core import (
    Tensor, dtype, IntOverflowError, ShapeError,
    float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool,
    float, double, half, long, int, short,
    get_default_dtype, set_default_dtype, promote_types, can_cast, result_type,
    tensor, as_tensor, from_numpy, zeros, ones, empty, full, zeros_like, ones_like, empty_like, full_like,
    randn, rand, arange, manual_seed, initial_seed,
    add, sub, subtract, mul, multiply, div, divide, true_divide, floor_divide, remainder, pow, matmul, mm,
    neg, negative, abs, absolute, tanh, sigmoid, relu, selu, sign, sgn, square, logit, nan_to_num,
    floor, ceil, trunc, fix, round,
    eq, ne, not_equal, lt, less, le, less_equal, gt, greater, ge, greater_equal, equal,
    logical_and, logical_or, logical_xor, logical_not, bitwise_and, bitwise_or, bitwise_xor, bitwise_not,
    isnan, isinf, isposinf, isneginf, isfinite, where, maximum, minimum, lerp, addcmul, addcdiv, clamp, clip,
    sum, mean, prod, max, min, amax, amin, argmax, argmin, any, all, count_nonzero,
    sort, argsort, topk, kthvalue, median, mode, cummax, cummin, cumsum, cumprod, unique, bincount, histc,
    reshape, flatten, transpose, swapaxes, swapdims, t, permute, squeeze, unsqueeze,
    narrow, select, diagonal, unbind, split, chunk, detach, clone, softmax, log_softmax,
    backend_info, set_num_threads, get_num_threads, is_grad_enabled,
    # the index op family (issue 11)
    IndexOutOfBoundsError, index_select, gather, take_along_dim, scatter, scatter_add, scatter_reduce, index_add,
    index_fill, index_put, index_put_, masked_fill, masked_select, masked_scatter, nonzero, argwhere,
)
from gradcore._ops import *  # noqa: F401,F403  (the registry ops: exp, sin, atan2, ...)
from gradcore import _ops
# random generators, sampling and creation (issue 12)
from gradcore._core import (
    Generator, default_generator, seed, get_rng_state, set_rng_state,
    randint, randperm, multinomial, poisson, bernoulli, eye, linspace, logspace,
)
from gradcore._random import normal, rand_like, randn_like, randint_like
from gradcore._tensor import Size, device, finfo, iinfo
from gradcore._tensor import (  # noqa: F401  (issue 15)
    channels_last, channels_last_3d, contiguous_format, memory_format, preserve_format,
)
from gradcore import _tensor
from gradcore.autograd import (
    no_grad, enable_grad, set_grad_enabled, inference_mode, is_inference_mode_enabled,
    grad, backward, gradcheck, gradgradcheck, GradcheckError,
)
from gradcore import autograd, nn, optim, return_types, train
# gradcore.utils.data (torch.utils.data) is also gradcore.data: the same module objects, so that
# `from gradcore.data.distributed import DistributedSampler` and the utils spelling agree.
from gradcore import utils
from gradcore import distributed  # noqa: F401  (issue 17; mpi4py is imported on first use)
from gradcore import multiprocessing  # noqa: F401,E402  (spawn on MPI ranks; torch.multiprocessing)
from gradcore import backends, cuda  # noqa: F401,E402  (what a CPU-only PyTorch answers)
from gradcore._compat import (  # noqa: F401,E402
    are_deterministic_algorithms_enabled, compile, get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled, set_float32_matmul_precision, use_deterministic_algorithms,
)
from gradcore.utils import data
import sys as _sys

for _name, _mod in list(_sys.modules.items()):
    if _name == "gradcore.utils.data" or _name.startswith("gradcore.utils.data."):
        _sys.modules["gradcore.data" + _name[len("gradcore.utils.data"):]] = _mod
del _name, _mod
from gradcore import random
from gradcore import viz
from gradcore.io import load, save

_tensor.install()

__version__ = "0.1.0"

from gradcore import _threadpool

_threadpool.register()


def is_tensor(obj: Any) -> Any:
    """True for gradcore tensors."""
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> Any:
    """Whether input's dtype is a floating one."""
    return input.is_floating_point()


def numel(input: Tensor) -> Any:
    """The number of elements of input."""
    return input.numel()


def isclose(input: Tensor, other: Any, rtol: Any = 1e-05, atol: Any = 1e-08, equal_nan: Any = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (a bool tensor)."""
    return input.isclose(other, rtol, atol, equal_nan)


def allclose(input: Tensor, other: Any, rtol: Any = 1e-05, atol: Any = 1e-08, equal_nan: Any = False) -> Any:
    """Whether isclose holds everywhere."""
    return input.allclose(other, rtol, atol, equal_nan)


__all__ = [
    "Tensor", "dtype", "IntOverflowError", "ShapeError", "Size", "device", "finfo", "iinfo",
    "memory_format", "channels_last", "channels_last_3d", "contiguous_format", "preserve_format",
    "float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
    "float", "double", "half", "long", "int", "short",
    "get_default_dtype", "set_default_dtype", "promote_types", "can_cast", "result_type",
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
    "full_like", "randn", "rand", "arange", "manual_seed", "initial_seed",
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide", "remainder", "pow",
    "matmul", "mm", "neg", "negative", "abs", "absolute", "tanh", "sigmoid", "relu", "selu", "sign",
    "sgn", "square", "logit", "nan_to_num", "floor", "ceil", "trunc", "fix", "round",
    "eq", "ne", "not_equal", "lt", "less", "le", "less_equal", "gt", "greater", "ge", "greater_equal", "equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "isnan", "isinf", "isposinf", "isneginf", "isfinite", "where", "maximum", "minimum", "lerp", "addcmul", "addcdiv", "clamp",
    "clip", "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "sort", "argsort", "topk",
    "kthvalue", "median", "mode", "cummax", "cummin", "cumsum", "cumprod", "unique", "bincount", "histc",
    "reshape", "flatten", "transpose", "swapaxes", "swapdims", "t", "permute",
    "squeeze", "unsqueeze", "narrow", "select", "diagonal", "unbind", "split", "chunk", "detach", "clone",
    "softmax", "log_softmax", "any", "all", "isclose", "allclose", "count_nonzero", "is_tensor",
    "is_floating_point", "numel",
    "backend_info", "set_num_threads", "get_num_threads", "is_grad_enabled",
    "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_inference_mode_enabled",
    "grad", "backward", "gradcheck", "gradgradcheck", "GradcheckError",
    "autograd", "data", "nn", "optim", "return_types", "train", "utils", "save", "load",
    "viz",
    "IndexOutOfBoundsError", "index_select", "gather", "take_along_dim", "scatter", "scatter_add", "scatter_reduce",
    "index_add", "index_fill", "index_put", "index_put_", "masked_fill", "masked_select", "masked_scatter", "nonzero",
    "argwhere",
    # random generators, sampling and creation (issue 12)
    "Generator", "default_generator", "seed", "get_rng_state", "set_rng_state", "random",
    "randint", "randperm", "multinomial", "poisson", "bernoulli", "normal", "rand_like", "randn_like",
    "randint_like", "eye", "linspace", "logspace",
]
__all__ += _ops.__all__

# --- reductions and statistics (issue 12, reduce12)
from gradcore._core import var, std, var_mean, std_mean, logsumexp, logcumsumexp  # noqa: E402
from gradcore._stats import (  # noqa: E402
    nansum, nanmean, aminmax, quantile, nanquantile, cov, corrcoef, norm, dist, cdist,
)
from gradcore import linalg  # noqa: E402

__all__ += [
    "var", "std", "var_mean", "std_mean", "logsumexp", "logcumsumexp", "nansum", "nanmean", "aminmax", "quantile",
    "nanquantile", "cov", "corrcoef", "norm", "dist", "cdist", "linalg",
]

# ---- issue 12: shape ops (cat/flip/diag_embed in C++, the rest composed in _shape_ops) ----
from gradcore._core import cat, concat, concatenate, flip, diag_embed  # noqa: E402
from gradcore import _shape_ops  # noqa: E402
from gradcore._shape_ops import (  # noqa: E402
    stack, hstack, vstack, dstack, column_stack, row_stack, atleast_1d, atleast_2d, atleast_3d, tensor_split,
    hsplit, vsplit, dsplit, unflatten, movedim, moveaxis, broadcast_shapes, broadcast_to, broadcast_tensors,
    meshgrid, repeat_interleave, tile, fliplr, flipud, roll, rot90, tril, triu, diag, trace,
)

for _name, _fn in _shape_ops.METHODS.items():
    setattr(Tensor, _name, _fn)

__all__ += [
    "cat", "concat", "concatenate", "flip", "diag_embed", "stack", "hstack", "vstack", "dstack", "column_stack",
    "row_stack", "atleast_1d", "atleast_2d", "atleast_3d", "tensor_split", "hsplit", "vsplit", "dsplit", "unflatten",
    "movedim", "moveaxis", "broadcast_shapes", "broadcast_to", "broadcast_tensors", "meshgrid", "repeat_interleave",
    "tile", "fliplr", "flipud", "roll", "rot90", "tril", "triu", "diag", "trace",
]

# --- linear algebra (issue 12, linalg12) ---
import math as _math  # noqa: E402
from gradcore._core import bmm  # noqa: E402
from gradcore._linalg_ops import (  # noqa: E402
    addmm, addmv, addr, baddbmm, mv, dot, vdot, outer, ger, inner, tensordot, einsum, kron, chain_matmul,
)
from gradcore import linalg  # noqa: E402


def det(input: Tensor) -> Any:
    """Alias of gradcore.linalg.det."""
    return linalg.det(input)


def inverse(input: Tensor) -> Any:
    """Alias of gradcore.linalg.inv."""
    return linalg.inv(input)


def cholesky(input: Tensor, upper: Any = False) -> Any:
    """torch.cholesky: linalg.cholesky with upper= positional."""
    return linalg.cholesky(input, upper=upper)


def slogdet(input: Tensor) -> Any:
    """(sign, logabsdet) as gradcore.return_types.slogdet."""
    r = linalg.slogdet(input)
    return return_types.slogdet((r[0], r[1]))


def logdet(input: Tensor) -> Any:
    """log(det(input)): NaN where the determinant is negative, -inf where it is 0."""
    sign, logabs = linalg.slogdet(input)
    nan = full(tuple(sign.shape), _math.nan, dtype=logabs.dtype)  # (float is gradcore.float here)
    return where(sign < 0, nan, logabs)


def pinverse(input: Tensor, rcond: Any = 1e-15) -> Any:
    """torch.pinverse: linalg.pinv with rtol=rcond."""
    return linalg.pinv(input, rtol=rcond)


def _linalg_methods() -> None:
    from gradcore._linalg_ops import TENSOR_METHODS
    methods = dict(TENSOR_METHODS)
    for name, fn in {"det": det, "inverse": inverse, "cholesky": cholesky, "slogdet": slogdet, "logdet": logdet,
                     "pinverse": pinverse}.items():
        methods[name] = fn
    _tensor.PYTHON_METHODS.update(methods)
    _tensor.install()


_linalg_methods()

__all__ += [
    "bmm", "addmm", "addmv", "addr", "baddbmm", "mv", "dot", "vdot", "outer", "ger", "inner", "tensordot", "einsum",
    "kron", "chain_matmul", "linalg", "det", "inverse", "cholesky", "slogdet", "logdet", "pinverse",
]


# --- functional ops PyTorch also has at top level and as Tensor methods (issue 12) ---
from gradcore.nn.functional import prelu, cosine_similarity, pairwise_distance, bilinear  # noqa: E402

_softmax_method, _log_softmax_method = Tensor.softmax, Tensor.log_softmax


def _tensor_softmax(self: Tensor, dim: Any = None, dtype: Any = None) -> Tensor:
    """Softmax along ``dim``; ``dtype`` converts the input first (PyTorch's Tensor.softmax)."""
    if dtype is None and dim is not None:
        return _softmax_method(self, dim)
    return nn.functional.softmax(self, dim, dtype=dtype)


def _tensor_log_softmax(self: Tensor, dim: Any = None, dtype: Any = None) -> Tensor:
    """Log-softmax along ``dim``; ``dtype`` converts the input first (PyTorch's Tensor.log_softmax)."""
    if dtype is None and dim is not None:
        return _log_softmax_method(self, dim)
    return nn.functional.log_softmax(self, dim, dtype=dtype)


setattr(Tensor, "softmax", _tensor_softmax)
setattr(Tensor, "log_softmax", _tensor_log_softmax)
setattr(Tensor, "prelu", prelu)

__all__ += ["prelu", "cosine_similarity", "pairwise_distance", "bilinear"]

# --- interop (issue 13): DLPack in (Tensor.__dlpack__ / __array_interface__ are methods) ---
from gradcore._core import from_dlpack  # noqa: E402

__all__ += ["from_dlpack"]

# --- issue 12 leftovers (left12): tril_/triu_, diagflat, block_diag, cartesian_prod, combinations,
# unravel_index, addbmm, *_scatter, einsum sublists, integer matmul/mm/bmm/@ (python/gradcore/_more_ops.py) ---
from gradcore import _more_ops  # noqa: E402
from gradcore._more_ops import (  # noqa: E402
    diagflat, block_diag, cartesian_prod, combinations, unravel_index, addbmm, slice_scatter, select_scatter,
    diagonal_scatter, einsum, matmul, mm, bmm,
)

for _name, _fn in _more_ops.METHODS.items():
    setattr(Tensor, _name, _fn)

# --- small functions of torch's namespace found missing in stop 29 (python/gradcore/_torch_extras.py) ---
from gradcore import _torch_extras  # noqa: E402
from gradcore._torch_extras import (  # noqa: E402
    ravel, msort, diff, tril_indices, triu_indices, searchsorted, bucketize, isin, fmax, fmin, heaviside, take,
    trapezoid,
)
for _name in ("ravel", "msort", "diff", "fmax", "fmin", "heaviside", "take"):
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, getattr(_torch_extras, _name))
__all__ += list(_torch_extras.__all__)

__all__ += [
    "diagflat", "block_diag", "cartesian_prod", "combinations", "unravel_index", "addbmm", "slice_scatter",
    "select_scatter", "diagonal_scatter",
]
