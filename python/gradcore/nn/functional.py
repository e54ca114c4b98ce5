"""Functional forms of gradcore's layers and losses (``import gradcore.nn.functional as F``).

Most functions are a thin call into the C++ op (forward and backward run in C++); the
issue-12 block at the end composes the other losses and functional ops from them.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Optional

import numpy as np

from gradcore import _core
from gradcore._core import Tensor

__all__ = [
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "cross_entropy", "mse_loss",
    "gelu", "leaky_relu", "softplus", "dropout", "flatten", "binary_cross_entropy_with_logits",
    # activations (issue 12): each a C++ kernel and fused backward (GC_ACTIVATIONS, ops.h)
    "relu_", "relu6", "elu", "elu_", "selu", "selu_", "celu", "celu_", "leaky_relu_", "silu", "mish",
    "hardtanh", "hardtanh_", "hardswish", "hardsigmoid", "softsign", "logsigmoid", "tanhshrink", "softshrink",
    "hardshrink", "threshold", "threshold_",
    # issue 12 (nn12)
    "nll_loss", "binary_cross_entropy", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "poisson_nll_loss",
    "gaussian_nll_loss", "margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss",
    "pairwise_distance", "triplet_margin_loss", "multi_margin_loss", "multilabel_soft_margin_loss",
    "soft_margin_loss", "multilabel_margin_loss", "softmin", "glu", "prelu", "normalize", "cosine_similarity",
    "bilinear",
]


def _maybe_inplace(input: Tensor, inplace: bool, name: str, fn: Any) -> Tensor:
    """fn(input), or with ``inplace`` the same op written into ``input`` (recorded as PyTorch's)."""
    out: Tensor = _core._apply_inplace(input, name, fn) if inplace else fn(input)
    return out


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise."""
    return input.relu_() if inplace else _core.relu(input)


def relu_(input: Tensor) -> Tensor:
    """relu in place."""
    return input.relu_()


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return _core.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _core.tanh(input)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return _maybe_inplace(input, inplace, "relu6_", _core.relu6)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _maybe_inplace(input, inplace, "elu_", lambda t: _core.elu(t, alpha))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """elu in place."""
    return elu(input, alpha, True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))) with the self-normalising constants."""
    return _maybe_inplace(input, inplace, "selu_", _core.selu)


def selu_(input: Tensor) -> Tensor:
    """selu in place."""
    return selu(input, True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _maybe_inplace(input, inplace, "celu_", lambda t: _core.elu(t, alpha, 1.0, 1.0 / alpha))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """celu in place."""
    return celu(input, alpha, True)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return _maybe_inplace(input, inplace, "silu_", _core.silu)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _maybe_inplace(input, inplace, "mish_", _core.mish)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """min(max(x, min_val), max_val)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, inplace, "hardtanh_", lambda t: _core.hardtanh(t, min_val, max_val))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """hardtanh in place."""
    return hardtanh(input, min_val, max_val, True)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    return _maybe_inplace(input, inplace, "hardswish_", _core.hardswish)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    return _maybe_inplace(input, inplace, "hardsigmoid_", _core.hardsigmoid)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return _core.softsign(input)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), stable for any x."""
    return _core.logsigmoid(input)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return input - _core.tanh(input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, else 0."""
    return _core.softshrink(input, lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    return _core.hardshrink(input, lambd)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    return _maybe_inplace(input, inplace, "threshold_", lambda t: _core.threshold(t, threshold, value))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """threshold in place."""
    return _maybe_inplace(input, True, "threshold_", lambda t: _core.threshold(t, threshold, value))


def softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (max-subtracted, so large inputs are safe).

    As PyTorch's: ``dtype`` converts the input first; without ``dim`` an implicit one is
    chosen (0 for 0-, 1- and 3-D input, else 1) with a deprecation warning.
    """
    if dim is None:
        dim = _softmax_dim(input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    return _core.softmax(input, dim)


def log_softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """x - logsumexp(x) along ``dim``, numerically stable (``dim`` and ``dtype`` as :func:`softmax`)."""
    if dim is None:
        dim = _softmax_dim(input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    return _core.log_softmax(input, dim)


def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, *, activation: str = "none") -> Tensor:
    """``activation(input @ weight.T + bias)`` with ``weight`` of shape (out_features, in_features).

    One GEMM; the bias and the activation ("none", "relu", "sigmoid", "tanh", "gelu",
    "gelu_tanh") are applied in its epilogue, and the backward folds the activation's
    derivative and the bias gradient into one pass. ``nn.Sequential`` uses this for
    ``Linear`` followed by ``ReLU``/``Sigmoid``/``Tanh``/``GELU`` automatically.
    """
    return _core.linear(input, weight, bias, activation)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (``approximate="none"``, exact with erf) or its tanh approximation."""
    if approximate == "none":
        return _core.gelu(input)
    if approximate == "tanh":
        return _core.gelu_tanh(input)
    raise RuntimeError("approximate argument must be either none or tanh.")


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    return _maybe_inplace(input, inplace, "leaky_relu_", lambda t: _core.leaky_relu(t, negative_slope))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """leaky_relu in place."""
    return leaky_relu(input, negative_slope, True)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, computed stably; x itself where beta x > threshold."""
    if beta == 1.0 and threshold == 20.0:
        return _core.softplus(input)
    return _core._softplus(input, beta, threshold)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the others by 1/(1-p).

    Identity when ``training`` is False. The mask comes from gradcore's counter-based RNG
    (the default generator), so ``gc.manual_seed`` makes it reproducible. ``inplace=True``
    writes the result into ``input`` (recorded as PyTorch's in-place ops are).
    """
    if not training or p == 0.0:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        return input
    return _maybe_inplace(input, inplace, "dropout_", lambda t: _core.dropout(t, p))


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one (a view)."""
    shape = tuple(input.shape)
    nd = len(shape)
    if nd == 0:
        return input.reshape(1)
    s = start_dim + nd if start_dim < 0 else start_dim
    e = end_dim + nd if end_dim < 0 else end_dim
    if not (0 <= s < nd and 0 <= e < nd) or s > e:
        raise IndexError(f"flatten: start_dim={start_dim}, end_dim={end_dim} invalid for shape {shape}")
    return input.reshape(*shape[:s], -1, *shape[e + 1:])


def binary_cross_entropy_with_logits(
    input: Tensor, target: Any, weight: Optional[Tensor] = None, size_average: Optional[bool] = None,
    reduce: Optional[bool] = None, reduction: str = "mean", pos_weight: Optional[Tensor] = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable formula (PyTorch's signature):

    loss = weight * [(1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)]

    which equals -weight * [pos_weight y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] without
    ever computing log(0). ``target`` must have the shape of ``input`` (else ValueError);
    ``weight`` and ``pos_weight`` broadcast.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not isinstance(target, Tensor):
        target = _core.tensor(target, dtype=input.dtype)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({_shape_str(target)}) must be the same as input size ({_shape_str(input)})")
    _check_reduction(reduction)
    sp = _core.softplus(-input)
    if pos_weight is None:
        loss: Tensor = (1.0 - target) * input + sp
    else:
        pos_weight = _as_tensor(pos_weight, input)
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * sp
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


# --- issue 12: losses and functional (nn12) -------------------------------------------
# PyTorch's signatures, defaults, reductions and error types. Everything here is composed
# from differentiable gradcore ops (so gradients, create_graph and forward mode come for
# free) except the plain class-index case of cross_entropy, which runs the fused C++
# softmax-cross-entropy kernel. Target indices, ignore masks and per-sample class weights
# are constants: they are computed once with NumPy on the integer targets (no Python loop
# over elements).

_REDUCTIONS = ("mean", "sum", "none")


def _legacy_reduction(size_average: Optional[bool], reduce: Optional[bool], reduction: str) -> str:
    """PyTorch's ``size_average`` / ``reduce`` (deprecated) mapped onto ``reduction``, with its warning."""
    if size_average is None and reduce is None:
        return reduction
    sa = True if size_average is None else size_average
    rd = True if reduce is None else reduce
    ret = "mean" if sa and rd else ("sum" if rd else "none")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                  stacklevel=3)
    return ret


def _check_reduction(reduction: Any) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_tensor(x: Any, like: Tensor) -> Tensor:
    """``x`` as a tensor; Python numbers / lists / arrays take ``like``'s dtype."""
    if isinstance(x, Tensor):
        return x
    return _core.tensor(np.asarray(x), dtype=like.dtype)


def _shape_str(t: Tensor) -> str:
    """A shape as PyTorch's messages print it (``torch.Size([2, 3])``), under gradcore's name."""
    return f"gradcore.Size({[int(d) for d in t.shape]})"


def _warn_size(input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({_shape_str(target)}) that is different to the input size "
                      f"({_shape_str(input)}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)


_SCALAR_TYPE = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
                "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _scalar_type(dtype: Any) -> str:
    """PyTorch's ScalarType name of a dtype ("Long" for int64), as its messages print it."""
    name = str(dtype).split(".")[-1]
    return _SCALAR_TYPE.get(name, name)


def _scalar_like(v: float, like: Tensor) -> Tensor:
    return _core.tensor(v, dtype=like.dtype)


def _class_indices(target: Any) -> Optional[np.ndarray]:
    """Integer class targets as an int64 array, or None when ``target`` holds probabilities."""
    if isinstance(target, Tensor):
        if target.is_floating_point():
            return None
        if target.dtype == _core.bool:
            raise RuntimeError("expected target dtype to be Long or Byte, but got Bool")
        return np.asarray(target.numpy(), dtype=np.int64)
    arr = np.asarray(target)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        return None
    raise TypeError(f"cross_entropy / nll_loss: target must be a tensor or an array of class indices or "
                    f"probabilities, got {type(target).__name__} of {arr.dtype}")


def _check_targets(input: Tensor, labels: np.ndarray) -> int:
    """PyTorch's shape checks of class-index targets; returns the number of classes."""
    nd = input.ndim
    if nd == 0:
        raise RuntimeError("input tensor should be 1D or more, got 0D")
    shape = tuple(input.shape)
    if nd == 1:
        if labels.ndim != 0:
            raise RuntimeError(f"0D target tensor expected for an unbatched input of shape {shape}, "
                               f"got target of shape {labels.shape}")
        return int(shape[0])
    if nd == 2 and labels.ndim != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    n = labels.shape[0] if labels.ndim > 0 else 1
    if n != shape[0]:
        raise ValueError(f"Expected input batch_size ({shape[0]}) to match target batch_size ({n}).")
    want = (shape[0],) + shape[2:]
    if labels.shape != want:
        raise RuntimeError(f"Expected target size {list(want)}, got {list(labels.shape)}")
    return int(shape[1])


def _check_weight(weight: Optional[Tensor], C: int) -> None:
    if weight is not None and (weight.ndim != 1 or weight.numel() != C):
        raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no classes but got "
                           f"weight tensor of shape: {list(weight.shape)}")


def _class_view(t: Tensor, ndim: int) -> Tensor:
    """A (C,) tensor shaped to broadcast along dim 1 of an ``ndim``-D (N, C, ...) tensor."""
    return t.reshape(-1, *([1] * (ndim - 2))) if ndim >= 2 else t


def _nll(logp: Tensor, labels: np.ndarray, weight: Optional[Tensor], ignore_index: int, reduction: str,
         smoothing: float = 0.0) -> Tensor:
    """-weight[t] * logp[t] (plus PyTorch's label smoothing term), reduced; ``logp`` is (C,) or (N, C, ...)."""
    C = _check_targets(logp, labels)
    _check_weight(weight, C)
    valid = labels != ignore_index
    bad = labels[valid & ((labels < 0) | (labels >= C))]
    if bad.size:
        raise IndexError(f"Target {int(bad.flat[0])} is out of bounds.")
    unbatched = logp.ndim == 1
    lp = logp.unsqueeze(0) if unbatched else logp
    safe = np.where(valid, labels, 0).reshape((1,) if unbatched else labels.shape)
    vmask = valid.reshape(safe.shape)
    picked = lp.gather(1, _core.from_numpy(np.ascontiguousarray(safe)).unsqueeze(1)).squeeze(1)
    w_np = vmask.astype(np.float64)
    if weight is not None:
        w_np = w_np * np.asarray(weight.detach().to(_core.float64).numpy())[safe]
    w_t = _core.tensor(w_np, dtype=lp.dtype)
    # Ignored targets contribute an exact 0 (not 0 * their log-probability, which may be
    # -inf or NaN), and no gradient, as in PyTorch.
    keep = _core.from_numpy(np.ascontiguousarray(vmask))
    zero = _core.zeros_like(picked)
    loss: Tensor = _core.where(keep, -(picked * w_t), zero)
    if smoothing > 0.0:
        wl = lp * _class_view(weight.detach().to(lp.dtype), lp.ndim) if weight is not None else lp
        smooth: Tensor = _core.where(keep, -wl.sum(1), zero)
        loss = (1.0 - smoothing) * loss + (smoothing / C) * smooth
    if reduction == "none":
        return loss.reshape(()) if unbatched else loss
    total: Tensor = loss.sum()
    if reduction == "sum":
        return total
    return total / _scalar_like(float(w_np.sum()), total)


def nll_loss(input: Tensor, target: Any, weight: Optional[Tensor] = None, size_average: Optional[bool] = None,
             ignore_index: int = -100, reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (C,), (N, C) or (N, C, d1, ...) at the
    integer class ``target`` (), (N,) or (N, d1, ...), as PyTorch's.

    ``weight`` (C,) scales each class; targets equal to ``ignore_index`` contribute nothing
    and "mean" divides by the summed weights of the other targets.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    labels = _class_indices(target)
    if labels is None:
        raise RuntimeError("expected target dtype to be Long or Byte, but got "
                           f"{_scalar_type(getattr(target, 'dtype', 'float32'))}")
    return _nll(input, labels, weight, ignore_index, reduction)


def cross_entropy(input: Tensor, target: Any, weight: Optional[Tensor] = None, size_average: Optional[bool] = None,
                  ignore_index: int = -100, reduce: Optional[bool] = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits ``input`` (C,), (N, C) or (N, C, d1, ...), as PyTorch's.

    ``target`` holds class indices ((), (N,) or (N, d1, ...); a tensor, NumPy integer array
    or list of ints) or class probabilities (a floating tensor of ``input``'s shape). Options
    as PyTorch's: ``weight`` per class, ``ignore_index``, ``label_smoothing`` (the target
    becomes (1 - eps) * onehot + eps / C), ``reduction`` "mean" | "sum" | "none".

    The common case, (N, C) logits with class indices, no ``weight`` and no ignored target,
    runs the fused C++ log-softmax + NLL kernel; the others are composed from log_softmax,
    gather and reductions (differentiable the same way).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not (0.0 <= label_smoothing <= 1.0):
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    labels = _class_indices(target)
    if labels is None:  # class probabilities
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        tgt = _as_tensor(target, input)
        if input.ndim > 0 and tgt.ndim == input.ndim - 1:  # shaped like class indices, but floating
            raise _core.DTypeError(f"expected target dtype to be Long or Byte, but got {_scalar_type(tgt.dtype)}: "
                                   "class indices must be integers (a floating target of the input's shape "
                                   "holds class probabilities)")
        if input.ndim == 0 or tuple(tgt.shape) != tuple(input.shape):
            raise RuntimeError(f"cross_entropy: a probability target must have the input's shape "
                               f"{_shape_str(input)}, got {_shape_str(tgt)}")
        cdim = 1 if input.ndim >= 2 else 0
        C = input.shape[cdim]
        _check_weight(weight, C)
        logp = log_softmax(input, cdim)
        if label_smoothing > 0.0:
            tgt = tgt * (1.0 - label_smoothing) + label_smoothing / C
        prod = logp * tgt
        if weight is not None:
            prod = prod * _class_view(weight.to(logp.dtype), logp.ndim)
        if reduction == "none":
            return -prod.sum(cdim)
        if reduction == "sum":
            return -prod.sum()
        return -prod.sum() / _scalar_like(input.numel() / C if C else 0.0, logp)
    if (input.ndim == 2 and labels.ndim == 1 and weight is None and labels.shape[0] == input.shape[0]
            and not (labels == ignore_index).any()):
        C = input.shape[1]
        bad = labels[(labels < 0) | (labels >= C)]
        if bad.size:
            raise IndexError(f"Target {int(bad.flat[0])} is out of bounds.")
        return _core.cross_entropy(input, labels, reduction, label_smoothing)
    cdim = 1 if input.ndim >= 2 else 0
    return _nll(log_softmax(input, cdim), labels, weight, ignore_index, reduction, label_smoothing)


def binary_cross_entropy(input: Tensor, target: Any, weight: Optional[Tensor] = None,
                         size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                         reduction: str = "mean") -> Tensor:
    """-weight * [t log(x) + (1 - t) log(1 - x)] with each log clamped at -100 (PyTorch's), for
    probabilities ``input`` in [0, 1] and a ``target`` of the same shape."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_tensor(target, input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({_shape_str(target)}) that is different to the input size "
                         f"({_shape_str(input)}) is deprecated. Please ensure they have the same size.")
    _check_reduction(reduction)
    if input.numel() and not bool(((input >= 0) & (input <= 1)).all()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    # log(max(x, e^-100)) == max(log x, -100), and its gradient is 0 where clamped.
    tiny = math.exp(-100.0)
    log_x = input.clamp(min=tiny).log()
    log_1mx = (1.0 - input).clamp(min=tiny).log()
    loss = -(target * log_x + (1.0 - target) * log_1mx)
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


def mse_loss(input: Tensor, target: Any, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
             reduction: str = "mean", weight: Optional[Tensor] = None) -> Tensor:
    """(input - target)^2, reduced; a target of another shape broadcasts with PyTorch's UserWarning."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_tensor(target, input)
    _check_reduction(reduction)
    if weight is None and tuple(target.shape) == tuple(input.shape) and input.is_floating_point():
        return _core.mse_loss(input, target, reduction)
    _warn_size(input, target)
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


def l1_loss(input: Tensor, target: Any, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
            reduction: str = "mean", weight: Optional[Tensor] = None) -> Tensor:
    """|input - target|, reduced (broadcasting with PyTorch's UserWarning)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_tensor(target, input)
    _check_reduction(reduction)
    _warn_size(input, target)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Any, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta = 0 is l1_loss."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_tensor(target, input)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_size(input, target)
    d = input - target
    a = d.abs()
    if beta == 0.0:
        return _reduce(a, reduction)
    big = a >= beta
    # the quadratic branch sees 0 where |d| >= beta (no inf * 0 in its gradient); NaN goes through it
    q = _core.where(big, _core.zeros_like(d), d)
    loss = _core.where(big, a - 0.5 * beta, (0.5 / beta) * q * q)
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0,
               weight: Optional[Tensor] = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target)."""
    target = _as_tensor(target, input)
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _warn_size(input, target)
    d = input - target
    a = d.abs()
    big = a >= delta
    # the quadratic branch sees 0 where |d| >= delta (no inf * 0 in its gradient); NaN goes through it
    q = _core.where(big, _core.zeros_like(d), d)
    loss = _core.where(big, delta * (a - 0.5 * delta), 0.5 * q * q)
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Any, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise KL divergence of log-probabilities ``input`` from ``target`` (probabilities, or
    log-probabilities with ``log_target``): t (log t - input), 0 where t == 0.

    ``reduction="batchmean"`` divides the sum by the batch size (the KL definition); "mean"
    divides by the number of elements and warns, as PyTorch does.
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    target = _as_tensor(target, input)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _core.xlogy(target, target) - target * input  # PyTorch's formula (0 log 0 = 0)
    if reduction == "batchmean":
        total: Tensor = loss.sum()
        return total / int(input.shape[0]) if input.ndim > 0 else total
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Any, log_input: bool = True, full: bool = False,
                     size_average: Optional[bool] = None, eps: float = 1e-8, reduce: Optional[bool] = None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood: exp(input) - t input (``log_input``) or input - t log(input + eps);
    ``full`` adds Stirling's t log t - t + 0.5 log(2 pi t) where t > 1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    target = _as_tensor(target, input)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        small = target <= 1  # NaN targets are not "small": their NaN goes through, as in PyTorch
        t = _core.where(small, _core.ones_like(target), target)
        stirling = t * t.log() - t + 0.5 * (2.0 * math.pi * t).log()
        loss = loss + _core.where(small, _core.zeros_like(stirling), stirling)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Any, var: Any, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) with ``full``).

    ``var`` has ``input``'s shape, or that shape without (or with 1 as) its last dim, or is
    a number. As PyTorch's, the clamp at ``eps`` does not stop var's gradient.
    """
    target = _as_tensor(target, input)
    if not isinstance(var, Tensor):
        if isinstance(var, (int, float)) and var < 0:
            raise ValueError("var has negative entry/entries")
        var = _core.full(tuple(input.shape), float(var), dtype=input.dtype)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    if var.numel() and bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    v = var + (var.detach().clamp(min=eps) - var.detach())
    d = input - target
    loss = 0.5 * (v.log() + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0,
                        size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target (input1 - input2) + margin), target in {1, -1}."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    target = _as_tensor(target, input1)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {_shape_str(input1)}, input2: {_shape_str(input2)}, "
                           f"target: {_shape_str(target)} ")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction)


def hinge_embedding_loss(input: Tensor, target: Any, margin: float = 1.0, size_average: Optional[bool] = None,
                         reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """input where target == 1, max(0, margin - input) where target == -1 (PyTorch's: both
    terms where target is neither)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    target = _as_tensor(target, input)
    zeros = _core.zeros_like(input)
    m = (margin - input).clamp(min=0.0)
    loss = _core.where(target != 1, m, zeros) + _core.where(target != -1, input, zeros)
    return _reduce(loss, reduction)


def _sq_norm(x: Tensor, dim: int) -> Tensor:
    return (x * x).sum(dim)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0,
                          size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    target = _as_tensor(target, input1)
    td = target.ndim
    if td not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if td == 1 and not (input1.ndim == 2 and input2.ndim == 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with sizes "
                           f"{list(input1.shape)} and {list(input2.shape)}.")
    if td == 0 and not (input1.ndim == 1 and input2.ndim == 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with sizes "
                           f"{list(input1.shape)} and {list(input2.shape)}.")
    eps = 1e-12
    prod = (input1 * input2).sum(td)
    denom = ((_sq_norm(input1, td) + eps) * (_sq_norm(input2, td) + eps)).sqrt()
    cos = prod / denom
    zeros = _core.zeros_like(cos)
    loss = (_core.where(target == 1, 1.0 - cos, zeros)
            + _core.where(target == -1, (cos - margin).clamp(min=0.0), zeros))
    return _reduce(loss, reduction)


def _norm(x: Tensor, p: float, dim: int, keepdim: bool = False) -> Tensor:
    """The p-norm along ``dim`` (p > 0, or inf); the gradient at an all-zero slice is 0, as PyTorch's."""
    if p == math.inf:
        return x.abs().amax(dim, keepdim)
    if p == 1:
        return x.abs().sum(dim, keepdim)
    if p == 2:
        s = (x * x).sum(dim, keepdim)
    else:
        s = (x.abs() ** p).sum(dim, keepdim)
    pos = s != 0  # NaN passes (a NaN slice has a NaN norm)
    safe = _core.where(pos, s, _core.ones_like(s))
    r = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    out: Tensor = _core.where(pos, r, _core.zeros_like(r))
    return out


def _check_p(p: float, who: str) -> None:
    if not p > 0:
        raise RuntimeError(f"{who}: only p > 0 (or inf) is supported by gradcore, got p={p}")


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The p-norm of ``x1 - x2 + eps`` along the last dim (broadcasting), as PyTorch's."""
    _check_p(p, "pairwise_distance")
    nd = max(x1.ndim, x2.ndim)
    return _norm(x1 - x2 + eps, p, nd - 1 if nd > 0 else 0, keepdim)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: Optional[bool] = None,
                        reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) with d = pairwise_distance(., ., p, eps); ``swap``
    uses min(d(a, n), d(p, n))."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                           f"{negative.ndim}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _core.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp(min=0.0), reduction)


def multi_margin_loss(input: Tensor, target: Any, p: int = 1, margin: float = 1.0, weight: Optional[Tensor] = None,
                      size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                      reduction: str = "mean") -> Tensor:
    """sum over j != y of max(0, margin - x[y] + x[j])^p (times weight[y]) / C, per sample."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    _check_reduction(reduction)
    labels = _class_indices(target)
    if labels is None:
        raise RuntimeError("expected scalar type Long but found Float")
    if input.ndim > 2:
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")
    x = input.reshape(1, -1) if input.ndim <= 1 else input
    N, C = x.shape
    if labels.ndim > 1 or labels.size != N:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of "
                           f"input samples (batch size). Expected target size [{N}], but got "
                           f"{list(labels.shape)}. Input has shape {list(input.shape)}.")
    labels = labels.reshape(N)
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise RuntimeError("target out of range")
    _check_weight(weight, C)
    idx = _core.from_numpy(np.ascontiguousarray(labels)).unsqueeze(1)
    xy = x.gather(1, idx)
    z = margin - xy + x
    m = _core.where(z > 0, z, _core.zeros_like(z))  # as PyTorch's kernel: only z > 0 counts (NaN does not)
    if p == 2:
        m = m * m
    other = np.ones((N, C), dtype=bool)
    other[np.arange(N), labels] = False
    scale = np.full((N, C), 1.0 / C)
    if weight is not None:
        scale = scale * np.asarray(weight.detach().to(_core.float64).numpy())[labels][:, None]
    # the j == y terms are left out (not multiplied by 0: x[y] may be NaN or inf)
    terms = _core.where(_core.from_numpy(other), m * _core.tensor(scale, dtype=x.dtype), _core.zeros_like(m))
    loss = terms.sum(1)
    if input.ndim <= 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Any, weight: Optional[Tensor] = None,
                                size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                                reduction: str = "mean") -> Tensor:
    """-(t log sigmoid(x) + (1 - t) log sigmoid(-x)), times ``weight``, averaged over classes."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_tensor(target, input)
    # log sigmoid(x) = -softplus(-x): loss = t softplus(-x) + (1 - t) softplus(x)
    loss = target * _core.softplus(-input) + (1.0 - target) * _core.softplus(input)
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    cdim = input.ndim - 1
    loss = loss.sum(cdim) / input.shape[cdim] if input.ndim > 0 else loss
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not valid")
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Any, size_average: Optional[bool] = None,
                     reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input)), reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    target = _as_tensor(target, input)
    return _reduce(_core.softplus(-target * input), reduction)


def multilabel_margin_loss(input: Tensor, target: Any, size_average: Optional[bool] = None,
                           reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """sum over target classes j and non-target classes k of max(0, 1 - (x[j] - x[k])) / C.

    ``target`` (C,) or (N, C) lists the target classes of each sample, ended by the first -1.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    labels = _class_indices(target)
    if labels is None:
        raise RuntimeError("expected scalar type Long but found Float")
    x = input.reshape(1, -1) if input.ndim <= 1 else input
    if input.ndim > 2 or labels.shape != tuple(input.shape):
        raise RuntimeError(f"inconsistent target size: {list(labels.shape)} for input of size: "
                           f"{list(input.shape)}")
    lab = labels.reshape(x.shape)
    N, C = x.shape
    ended = np.cumsum(lab == -1, axis=1) > 0        # entries from the first -1 on are unused
    used = ~ended
    if ((lab[used] < 0) | (lab[used] >= C)).any():
        raise RuntimeError("argument #2 'target' is out of range")
    count = np.zeros((N, C))                         # how often each class is listed as a target
    rows = np.repeat(np.arange(N), C)[used.reshape(-1)]
    np.add.at(count, (rows, lab[used]), 1.0)
    is_t = count > 0
    pair = count[:, :, None] * (~is_t)[:, None, :] / C   # (N, j, k) weights
    z = 1.0 - x.unsqueeze(2) + x.unsqueeze(1)
    margins = _core.where(z > 0, z, _core.zeros_like(z))  # as PyTorch's kernel: only z > 0 counts (NaN does not)
    terms = margins * _core.tensor(pair, dtype=x.dtype)
    loss = _core.where(_core.from_numpy(pair > 0), terms, _core.zeros_like(terms)).sum((1, 2))
    if input.ndim <= 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def _softmax_dim(ndim: int) -> int:
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include "
                  "dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmin(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmax(-input) along ``dim``."""
    if dim is None:
        dim = _softmax_dim(input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    return _core.softmax(-input, dim)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) where a, b are the two halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim + input.ndim if dim < 0 else dim
    if not 0 <= d < input.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.ndim}, {input.ndim - 1}], "
                         f"but got {dim})")
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a = input.narrow(d, 0, n // 2)
    b = input.narrow(d, n // 2, n // 2)
    return a * _core.sigmoid(b)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0 else weight * x, ``weight`` of 1 or C (= input.shape[1]) entries (dim 1 is the channel)."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu(): argument 'weight' must be Tensor, not {type(weight).__name__}")
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.numel() != 1 and weight.numel() != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{weight.numel()} and channel size = {channels}.")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: weight must be 0-D or 1-D, got shape {list(weight.shape)}")
    w = weight.reshape(-1, *([1] * (input.ndim - 2))) if input.ndim >= 2 and weight.numel() > 1 else weight.reshape(())
    # x * (1 or w): a NaN / inf weight does not leak into the gradient of positive inputs
    out: Tensor = input * _core.where(input > 0, _core.ones_like(input), w)
    return out


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor:
    """input / max(||input||_p along ``dim``, eps)."""
    if out is not None:
        raise RuntimeError("normalize: out= is not supported by gradcore")
    if not input.is_floating_point():
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_scalar_type(input.dtype)}")
    _check_p(p, "normalize")
    return input / _norm(input, p, dim, True).clamp(min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """<x1 / max(||x1||, eps), x2 / max(||x2||, eps)> along ``dim`` (broadcasting), as PyTorch's
    (the clamp at ``eps`` does not stop the norms' gradients)."""
    if not (x1.is_floating_point() or x2.is_floating_point()):
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{_scalar_type(_core.promote_types(x1.dtype, x2.dtype))}")
    a, b = x1 + 0 * x2, x2 + 0 * x1  # broadcast both to one shape (values unchanged)
    if not a.is_floating_point():
        a, b = a.to(_core.get_default_dtype()), b.to(_core.get_default_dtype())
    na, nb = _norm(a, 2, dim, True), _norm(b, 2, dim, True)
    na = na + (na.detach().clamp(min=eps) - na.detach())
    nb = nb + (nb.detach().clamp(min=eps) - nb.detach())
    return ((a / na) * (b / nb)).sum(dim)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """y[..., k] = input1 @ weight[k] @ input2 + bias[k]; ``weight`` (out, in1, in2), inputs (..., in1), (..., in2)."""
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional, but got {weight.ndim} dimension(s)")
    out, in1, in2 = weight.shape
    if input1.ndim == 0 or input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1] if input1.ndim else 0} but expected {in1}")
    if input2.ndim == 0 or input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1] if input2.ndim else 0} but expected {in2}")
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} "
                           f"and {list(input2.shape[:-1])}")
    lead = tuple(input1.shape[:-1])
    a = input1.reshape(-1, in1)
    b = input2.reshape(-1, in2)
    # (M, in1) @ (in1, out * in2) -> (M, out, in2), then contract with input2: two GEMM-shaped steps.
    t = a.matmul(weight.permute(1, 0, 2).reshape(in1, out * in2)).reshape(-1, out, in2)
    y = (t * b.unsqueeze(1)).sum(2)
    if bias is not None:
        y = y + bias
    res: Tensor = y.reshape(*lead, out)
    return res


# ---- issue 12: shape ops (pad, one_hot) ----
_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_index(n: int, left: int, right: int, mode: str) -> Tensor:
    """Source positions along one dim of the padded result (length n + left + right):
    output position j reads input position idx[j], with j - left outside [0, n) folded back
    by the mode. Negative pads start/stop inside [0, n) (a crop)."""
    import numpy as np
    p = np.arange(-left, n + right, dtype=np.int64)
    if mode == "reflect":
        p = np.abs(p)
        p = np.where(p > n - 1, 2 * (n - 1) - p, p)
    elif mode == "replicate":
        p = np.clip(p, 0, n - 1)
    else:  # circular
        p = np.mod(p, n)
    return _core.tensor(p, dtype=_core.int64)


def pad(input: Tensor, pad: Any, mode: str = "constant", value: Optional[float] = None) -> Tensor:
    """Pad (or, with negative amounts, crop) the last len(pad) // 2 dims: ``pad`` lists
    (left, right) pairs from the last dim backwards. ``mode`` "constant" fills with
    ``value`` (0 by default) and works for any rank; "reflect" (mirror without the edge),
    "replicate" (the edge repeated) and "circular" (wrap around) pad 1, 2 or 3 trailing dims
    of a tensor with one or two more dims, as PyTorch. Differentiable: the constant mode is
    narrows and a cat (its backward slices the gradient); the others gather with
    index_select, whose backward is an accumulating index_add."""
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, not {type(pad).__name__}")
    for i, v in enumerate(pad):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but found element of type "
                            f"{type(v).__name__} at pos {i}")
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    nd = input.dim()
    npad = len(pad) // 2
    if npad > nd:
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {nd}")
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    out = input
    if mode == "constant":
        fill = 0 if value is None else value
        for k in range(npad):
            d = nd - 1 - k
            left, right = pad[2 * k], pad[2 * k + 1]
            n = out.shape[d]
            start, length = max(-left, 0), n - max(-left, 0) - max(-right, 0)
            if length < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
            if start or length != n:
                out = out.narrow(d, start, length)
            if left > 0 or right > 0:
                def block(amount: int) -> Tensor:
                    shape = list(out.shape)
                    shape[d] = amount
                    return _core.full(shape, fill, dtype=input.dtype)
                parts = ([block(left)] if left > 0 else []) + [out] + ([block(right)] if right > 0 else [])
                out = _core.cat(parts, d)
        return out if out is not input else input.clone()  # always a new tensor, as PyTorch's
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if npad > 3 or nd not in (npad + 1, npad + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {nd}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    shape = list(input.shape)
    if mode in ("reflect", "replicate"):
        first = 1 if nd == npad + 2 else 0  # a batch dim may be empty, the others not
        if any(s == 0 for s in shape[first:]):
            raise RuntimeError(f"Expected {npad + 1}D or {npad + 2}D (batch mode) tensor with possibly 0 batch size "
                               f"and other non-zero dimensions for input, but got: {shape}")
    if mode in ("reflect", "replicate"):
        # PyTorch's kernels refuse an output that is empty in every padded dim
        sizes = [shape[nd - npad + i] for i in range(npad)]                       # D, H, W order
        outs = [sizes[i] + pad[2 * (npad - 1 - i)] + pad[2 * (npad - 1 - i) + 1] for i in range(npad)]
        if all(0 <= o < 1 for o in outs):
            if npad == 1:
                got = f"input (W: {sizes[0]}) is too small. Calculated output W: {outs[0]}"
            elif npad == 2:
                gap = " " if mode == "replicate" else ""
                got = (f"input (H: {sizes[0]}, W: {sizes[1]}{gap}) is too small. Calculated output H: {outs[0]} "
                       f"W: {outs[1]}")
            else:
                got = (f"input (D: {sizes[0]} H: {sizes[1]}, W: {sizes[2]}) is too small. Calculated output "
                       f"D: {outs[0]} H: {outs[1]} W: {outs[2]}")
            raise RuntimeError(got)
    for k in range(npad):
        d = nd - 1 - k
        left, right = pad[2 * k], pad[2 * k + 1]
        n = shape[d]
        if mode == "reflect" and (left >= n or right >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({left}, {right}) at dimension {d} of input {shape}")
        if mode == "circular" and (left > n or right > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if n + left + right < 0:
            raise RuntimeError(f"The input size {n}, plus negative padding {left} and {right} resulted in a negative "
                               "output size, which is invalid. Check dimension "
                               f"{d} of your input.")
        if mode == "circular" and (left < 0 or right < 0):
            # As PyTorch: the crop comes first, the wrap-around reads the cropped values.
            out = out.narrow(d, max(-left, 0), n - max(-left, 0) - max(-right, 0))
            n, left, right = out.shape[d], max(left, 0), max(right, 0)
            if left > n or right > n:  # (PyTorch reads uninitialised memory here)
                raise RuntimeError("Padding value causes wrapping around more than once.")
        out = out.index_select(d, _pad_index(n, left, right, mode))
    return out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape ``tensor.shape + (num_classes,)``, 1 at each class index;
    ``num_classes=-1`` takes max + 1. ``tensor`` must be int64 with values in [0, num_classes)."""
    if tensor.dtype != _core.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max().item()) + 1
    if tensor.numel() > 0:
        if int(tensor.min().item()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(tensor.max().item()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    elif num_classes < 0:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = _core.zeros(tuple(tensor.shape) + (num_classes,), dtype=_core.int64)
    if tensor.numel() == 0:
        return out
    return out.scatter_(-1, tensor.unsqueeze(-1), 1)


__all__ += ["pad", "one_hot"]

# issue 15: convolutions (nn/_functional_conv.py)
from gradcore.nn._functional_conv import (  # noqa: E402
    conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, fold, unfold,
)
__all__ += ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "unfold",
            "fold"]

# ---- issue 15: pooling, unpooling, interpolation, pixel shuffle (nn/_functional_pool.py) ----
from gradcore.nn import _functional_pool  # noqa: E402
from gradcore.nn._functional_pool import *  # noqa: E402,F401,F403

__all__ += _functional_pool.__all__
# issue 15: normalisation and channel-wise dropout (nn/_functional_norm.py)
from gradcore.nn._functional_norm import (  # noqa: E402
    alpha_dropout, batch_norm, dropout1d, dropout2d, dropout3d, feature_alpha_dropout, group_norm, instance_norm,
    layer_norm, local_response_norm, rms_norm,
)
from gradcore.nn import _functional_norm as _fn  # noqa: E402
__all__ += _fn.__all__
# issue 16: embeddings (nn/_functional_sparse.py)
from gradcore.nn._functional_sparse import embedding, embedding_bag  # noqa: E402
__all__ += ["embedding", "embedding_bag"]
# issue 16: attention (nn/_functional_attention.py)
from gradcore.nn._functional_attention import (  # noqa: E402,F401
    multi_head_attention_forward as multi_head_attention_forward,
    scaled_dot_product_attention as scaled_dot_product_attention,
)
from gradcore.nn import _functional_attention as _fa  # noqa: E402
__all__ += _fa.__all__
