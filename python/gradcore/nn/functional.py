"""Functional forms of gradcore's layers and losses (``import gradcore.nn.functional as F``).

Each function is a thin call into the C++ op; forward and backward run in C++.
"""
from __future__ import annotations

from typing import Any, Optional

from gradcore import _core
from gradcore._core import Tensor

__all__ = [
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "cross_entropy", "mse_loss",
    "gelu", "leaky_relu", "softplus", "dropout", "flatten", "binary_cross_entropy_with_logits",
    # activations (issue 12): each a C++ kernel and fused backward (GC_ACTIVATIONS, ops.h)
    "relu_", "relu6", "elu", "elu_", "selu", "selu_", "celu", "celu_", "leaky_relu_", "silu", "mish",
    "hardtanh", "hardtanh_", "hardswish", "hardsigmoid", "softsign", "logsigmoid", "tanhshrink", "softshrink",
    "hardshrink", "threshold", "threshold_",
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


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (max-subtracted, so large inputs are safe)."""
    return _core.softmax(input, dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``, numerically stable."""
    return _core.log_softmax(input, dim)


def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, *, activation: str = "none") -> Tensor:
    """``activation(input @ weight.T + bias)`` with ``weight`` of shape (out_features, in_features).

    One GEMM; the bias and the activation ("none", "relu", "sigmoid", "tanh", "gelu",
    "gelu_tanh") are applied in its epilogue, and the backward folds the activation's
    derivative and the bias gradient into one pass. ``nn.Sequential`` uses this for
    ``Linear`` followed by ``ReLU``/``Sigmoid``/``Tanh``/``GELU`` automatically.
    """
    return _core.linear(input, weight, bias, activation)


def cross_entropy(input: Tensor, target: Any, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits ``input`` (N, C) against integer class labels (N,).

    Fused log-softmax + negative log-likelihood in one C++ kernel, stable for logits of
    any magnitude. ``target`` may be a NumPy integer array, a list of ints or a tensor of
    whole numbers; labels outside [0, C) raise ``ValueError`` before anything is read.
    ``reduction`` is ``"mean"`` (default), ``"sum"`` or ``"none"``; with
    ``label_smoothing`` = eps the target is (1 - eps) * onehot + eps / C.
    """
    return _core.cross_entropy(input, target, reduction, label_smoothing)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error; ``input`` and ``target`` must have the same shape."""
    return _core.mse_loss(input, target, reduction)


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


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the others by 1/(1-p).

    Identity when ``training`` is False. The mask comes from gradcore's counter-based RNG,
    so ``gc.manual_seed`` makes it reproducible.
    """
    if not training or p == 0.0:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        return input
    return _core.dropout(input, p)


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
    input: Tensor, target: Any, reduction: str = "mean", pos_weight: Optional[Tensor] = None
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable formula:

    loss = (1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)

    which equals -[pos_weight y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] without
    ever computing log(0). ``target`` must have the shape of ``input``.
    """
    if not isinstance(target, Tensor):
        target = _core.tensor(target, dtype=input.dtype)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"binary_cross_entropy_with_logits: input {tuple(input.shape)} and target "
                         f"{tuple(target.shape)} must have the same shape")
    sp = _core.softplus(-input)
    if pos_weight is None:
        loss: Tensor = (1.0 - target) * input + sp
    else:
        if not isinstance(pos_weight, Tensor):
            pos_weight = _core.tensor(pos_weight, dtype=input.dtype)
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * sp
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


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
