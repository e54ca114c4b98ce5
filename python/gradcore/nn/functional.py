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
]


def relu(input: Tensor) -> Tensor:
    """max(x, 0) elementwise."""
    return _core.relu(input)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return _core.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _core.tanh(input)


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
    return _core.gelu(input, approximate)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    return _core.leaky_relu(input, negative_slope)


def softplus(input: Tensor) -> Tensor:
    """log(1 + exp(x)), computed stably for any x."""
    return _core.softplus(input)


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
