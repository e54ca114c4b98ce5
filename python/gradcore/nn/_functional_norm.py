"""Functional normalisation and channel-wise dropout (issue 15), re-exported by
``gradcore.nn.functional``.

``batch_norm``, ``layer_norm``, ``group_norm`` and ``rms_norm`` are one fused C++ op each way
(``gradcore._core``, csrc/autograd/ops/norm.cpp); ``instance_norm`` is ``batch_norm`` on the
input seen as one sample of N * C channels (PyTorch's definition, running statistics averaged
over the batch), ``local_response_norm`` a composition of ops, and the dropouts multiply by a
mask drawn from gradcore's default generator.
"""
from __future__ import annotations

import math
import warnings
from typing import List, Optional, Sequence, Union

from gradcore import _core
from gradcore._core import Tensor
from gradcore._tensor import finfo
from gradcore.autograd import no_grad

__all__ = [
    "batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm", "local_response_norm",
    "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
]


def _verify_batch_size(size: Sequence[int]) -> None:
    prod = size[0]
    for s in size[2:]:
        prod *= s
    if prod == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")


def _verify_spatial_size(size: Sequence[int]) -> None:
    prod = 1
    for s in size[2:]:
        prod *= s
    if prod == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {size}")


def batch_norm(input: Tensor, running_mean: Optional[Tensor], running_var: Optional[Tensor],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of ``input`` (N, C, *) per channel. In training the batch statistics
    normalise (biased variance) and update ``running_mean`` / ``running_var`` in place when
    given (unbiased variance, ``r = (1 - momentum) r + momentum stat``); otherwise the running
    statistics normalise."""
    if training:
        _verify_batch_size(input.size())
    return _core.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input: Tensor, running_mean: Optional[Tensor] = None, running_var: Optional[Tensor] = None,
                  weight: Optional[Tensor] = None, bias: Optional[Tensor] = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each (sample, channel) of ``input`` (N, C, *) over its spatial values
    (PyTorch's ``instance_norm``: running statistics, when given, are updated with the mean
    over the batch of the per-instance statistics)."""
    if use_input_stats:
        _verify_spatial_size(input.size())
    if input.dim() < 2:
        raise ValueError(f"instance_norm: expected an input with at least 2 dimensions, got {input.dim()}D")
    if not use_input_stats:
        return _core.batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    n, c = int(input.shape[0]), int(input.shape[1])
    if running_mean is None and running_var is None:
        return _core.group_norm(input, c, weight, bias, eps) if c else input * 1
    shape = tuple(input.shape)
    x = input.reshape(1, n * c, *shape[2:])
    w = weight.repeat(n) if weight is not None else None
    b = bias.repeat(n) if bias is not None else None
    rm = running_mean.repeat(n) if running_mean is not None else None
    rv = running_var.repeat(n) if running_var is not None else None
    out = _core.batch_norm(x, rm, rv, w, b, True, momentum, eps)
    with no_grad():
        if running_mean is not None and rm is not None:
            running_mean.copy_(rm.view(n, c).mean(0))
        if running_var is not None and rv is not None:
            running_var.copy_(rv.view(n, c).mean(0))
    return out.view(shape)


def _shape_list(normalized_shape: Union[int, Sequence[int]]) -> List[int]:
    """An int or a sequence of ints (a list, tuple or gradcore.Size), checked before it is
    read: a tensor, or a sequence longer than any tensor's rank, is refused (TypeError)."""
    if isinstance(normalized_shape, int):
        return [normalized_shape]
    if isinstance(normalized_shape, Tensor) or not isinstance(normalized_shape, (list, tuple)):
        raise TypeError(f"normalized_shape must be an int or a sequence of ints, not {type(normalized_shape).__name__}")
    if len(normalized_shape) > 64:
        raise TypeError(f"normalized_shape has {len(normalized_shape)} dims; a tensor has at most 64")
    out = []
    for s in normalized_shape:
        if not isinstance(s, int) and not hasattr(s, "__index__"):
            raise TypeError(f"normalized_shape must contain ints, got {type(s).__name__}")
        out.append(s.__index__())
    return out


def layer_norm(input: Tensor, normalized_shape: Union[int, Sequence[int]], weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims, then ``* weight + bias``."""
    return _core.layer_norm(input, _shape_list(normalized_shape), weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise ``input`` (N, C, *) over each group of C / num_groups channels, then apply
    the per-channel ``weight`` and ``bias``."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    shape = list(input.size())
    if num_groups > 0:
        _verify_batch_size([shape[0] * shape[1] // num_groups, num_groups] + shape[2:])
    return _core.group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input: Tensor, normalized_shape: Union[int, Sequence[int]], weight: Optional[Tensor] = None,
             eps: Optional[float] = None) -> Tensor:
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last ``len(normalized_shape)`` dims;
    ``eps=None`` is ``finfo(input.dtype).eps`` as in PyTorch."""
    if eps is None:
        eps = float(finfo(input.dtype).eps) if input.is_floating_point() else float(finfo(_core.float32).eps)
    return _core.rms_norm(input, _shape_list(normalized_shape), weight, eps)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """``x / (k + alpha * mean of x**2 over a window of `size` channels) ** beta`` (PyTorch's
    LRN: the window is zero-padded, size // 2 channels before and (size - 1) // 2 after, and
    the sum is always divided by size)."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if size < 1:
        raise RuntimeError(f"local_response_norm: size must be positive, got {size}")
    if input.numel() == 0:
        return input
    shape = tuple(input.shape)
    c = shape[1]
    sq = (input * input).reshape(shape[0], c, -1)
    before, after = size // 2, (size - 1) // 2  # channel j sums channels j - before .. j + after
    if size <= 16:  # zero-pad and add the window's shifted slices (the window, not the channels)
        pad_b = _core.zeros(shape[0], before, sq.shape[2], dtype=sq.dtype)
        pad_a = _core.zeros(shape[0], after, sq.shape[2], dtype=sq.dtype)
        padded = _core.cat([pad_b, sq, pad_a], 1)
        acc = padded.narrow(1, 0, c)
        for i in range(1, size):
            acc = acc + padded.narrow(1, i, c)
    else:  # a long window: differences of the cumulative sum, the window clipped to [0, c)
        csum = _core.cat([_core.zeros(shape[0], 1, sq.shape[2], dtype=sq.dtype), sq.cumsum(1)], 1)
        j = _core.arange(0, c)
        lo = (j - before).clamp(min=0)
        hi = (j + after + 1).clamp(max=c)
        acc = csum.index_select(1, hi) - csum.index_select(1, lo)
    div: Tensor = ((acc / size) * alpha + k) ** beta
    out: Tensor = input / div.reshape(shape)
    return out


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool, alpha: bool) -> Tensor:
    """PyTorch's feature (channel) dropout: one Bernoulli(1 - p) draw per (sample, channel),
    broadcast over the remaining dims; ``alpha``: the SELU-preserving affine version."""
    if p == 0.0 or not training or input.numel() == 0:
        return input
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = [int(input.shape[0]), int(input.shape[1])] + [1] * (input.dim() - 2)
    return _apply_noise(input, shape, p, inplace, alpha)


def _apply_noise(input: Tensor, noise_shape: List[int], p: float, inplace: bool, alpha: bool) -> Tensor:
    if p == 1.0:  # PyTorch: input * 0 (NaN stays NaN), alpha or not
        zero = _core.zeros(1, dtype=input.dtype).reshape([])
        return input.mul_(zero) if inplace else input * zero
    with no_grad():
        noise = _core.empty(noise_shape, dtype=input.dtype).bernoulli_(1.0 - p)
        if alpha:
            a_const = 1.7580993408473766
            a = 1.0 / math.sqrt((a_const * a_const * p + 1.0) * (1.0 - p))
            b = (noise - 1.0) * (a_const * a) + a_const * a * p
            noise = noise * a
        else:
            noise = noise / (1.0 - p)
    if alpha:
        return input.mul_(noise).add_(b) if inplace else input * noise + b
    return input.mul_(noise) if inplace else input * noise


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) inputs with probability p, scale by 1/(1-p)."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {inp_dim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if inp_dim == 2:
        out = _feature_dropout(input.unsqueeze(0), p, training, inplace, False)
        if inplace:
            return input
        return out.squeeze(0)
    return _feature_dropout(input, p, training, inplace, False)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) inputs with probability p (PyTorch's warnings for
    other ranks; a 3D input is taken as (N, C, L), as PyTorch does today)."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {inp_dim}-D input to dropout2d, which is deprecated and will result "
                      "in an error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).")
    if inp_dim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
                      "will change in a future release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.")
    return _feature_dropout(input, p, training, inplace, False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs with probability p."""
    _check_p(p)
    inp_dim = input.dim()
    if inp_dim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {inp_dim}-D input to dropout3d, which is deprecated and will result "
                      "in an error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D "
                      "inputs).")
    if inp_dim != 5:
        out = _feature_dropout(input.unsqueeze(0), p, training, inplace, False)
        if inplace:
            return input
        return out.squeeze(0)
    return _feature_dropout(input, p, training, inplace, False)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout that keeps a SELU network's mean and variance: dropped values become
    -alpha' (SELU's negative saturation), then an affine map restores the statistics."""
    _check_p(p)
    if p == 0.0 or not training or input.numel() == 0:
        return input
    return _apply_noise(input, [int(s) for s in input.shape], p, inplace, True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """alpha_dropout with one draw per (sample, channel)."""
    _check_p(p)
    return _feature_dropout(input, p, training, inplace, True)
