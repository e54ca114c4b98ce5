"""Convolutions, transposed convolutions, ``unfold`` and ``fold`` (issue 15).

Each is one call into ``_core.convolution`` / ``_core.im2col`` / ``_core.col2im`` (C++:
autograd/ops/conv.cpp, kernels/conv.cpp); this module only normalises arguments as
PyTorch does (ints to tuples, ``"same"`` / ``"valid"`` padding, unbatched inputs).
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "unfold", "fold"]

IntOrTuple = Union[int, Sequence[int]]


def _ntuple(value: Any, n: int, name: str) -> List[int]:
    """``value`` as a list of ``n`` ints (an int is repeated); a sequence of another length
    is passed on as it is, for the C++ check to name."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a tuple of ints, got bool")
    if isinstance(value, int):
        return [value] * n
    if hasattr(value, "__index__") and not hasattr(value, "__len__"):  # a NumPy integer
        return [int(value.__index__())] * n
    if not isinstance(value, (tuple, list)) or len(value) > 8:
        raise TypeError(f"{name} must be an int or a tuple of ints, got {type(value).__name__}"
                        + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""))
    try:
        out = [int(v) for v in value]
    except TypeError:
        raise TypeError(f"{name} must be an int or a tuple of ints, got {type(value).__name__}") from None
    if len(out) == 1 and n > 1:
        return out * n
    return out


def _batched(input: Tensor, nd: int, op: str) -> Tuple[Tensor, bool]:
    """``input`` with a batch dim, and whether one was added (an unbatched input)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.dim() == nd + 1:
        return input.unsqueeze(0), True
    if input.dim() != nd + 2:
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but got input "
                           f"of size: {list(input.shape)}")
    return input, False


def _same_padding(weight: Tensor, dilation: List[int], nd: int) -> Tuple[List[int], List[int]]:
    """'same' padding: the left pads and the extra right pads (PyTorch puts the odd one on
    the right)."""
    left, extra = [], []
    for i in range(nd):
        total = dilation[i] * (int(weight.shape[2 + i]) - 1)
        left.append(total // 2)
        extra.append(total - 2 * (total // 2))
    return left, extra


def _conv(input: Tensor, weight: Tensor, bias: Optional[Tensor], stride: IntOrTuple, padding: Any,
          dilation: IntOrTuple, groups: int, nd: int) -> Tensor:
    op = f"conv{nd}d"
    x, unbatched = _batched(input, nd, op)
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}(): argument 'weight' (position 2) must be Tensor, not {type(weight).__name__}")
    st = _ntuple(stride, nd, "stride")
    dil = _ntuple(dilation, nd, "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            pad = [0] * nd
        elif padding == "same":
            if any(s != 1 for s in st):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            if weight.dim() != nd + 2:
                raise RuntimeError(f"Expected {nd + 2}-dimensional weight for {op}, got weight of size "
                                   f"{list(weight.shape)}")
            pad, extra = _same_padding(weight, dil, nd)
            if any(extra):
                from gradcore.nn.functional import pad as _pad
                amounts: List[int] = []
                for e in reversed(extra):
                    amounts += [0, e]
                x = _pad(x, amounts)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        pad = _ntuple(padding, nd, "padding")
    y = _core.convolution(x, weight, bias, st, pad, dil, False, [0] * nd, int(groups))
    return y.squeeze(0) if unbatched else y


def _conv_transpose(input: Tensor, weight: Tensor, bias: Optional[Tensor], stride: IntOrTuple, padding: IntOrTuple,
                    output_padding: IntOrTuple, groups: int, dilation: IntOrTuple, nd: int) -> Tensor:
    op = f"conv_transpose{nd}d"
    x, unbatched = _batched(input, nd, op)
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    y = _core.convolution(x, weight, bias, _ntuple(stride, nd, "stride"), _ntuple(padding, nd, "padding"),
                          _ntuple(dilation, nd, "dilation"), True, _ntuple(output_padding, nd, "output_padding"),
                          int(groups))
    return y.squeeze(0) if unbatched else y


def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: IntOrTuple = 1,
           padding: Any = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """1-D convolution of (N, C, L) or (C, L) with weight (K, C / groups, k): PyTorch's
    arguments; ``padding`` is an int, a tuple, ``"valid"`` or ``"same"``."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: IntOrTuple = 1,
           padding: Any = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """2-D convolution of (N, C, H, W) or (C, H, W) with weight (K, C / groups, kh, kw)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: IntOrTuple = 1,
           padding: Any = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """3-D convolution of (N, C, D, H, W) or (C, D, H, W) with weight (K, C / groups, kd, kh, kw)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: IntOrTuple = 1,
                     padding: IntOrTuple = 0, output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> Tensor:
    """Transposed 1-D convolution (the gradient of conv1d with respect to its input); weight
    (C, K / groups, k)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: IntOrTuple = 1,
                     padding: IntOrTuple = 0, output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> Tensor:
    """Transposed 2-D convolution; weight (C, K / groups, kh, kw)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride: IntOrTuple = 1,
                     padding: IntOrTuple = 0, output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> Tensor:
    """Transposed 3-D convolution; weight (C, K / groups, kd, kh, kw)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 3)


def unfold(input: Tensor, kernel_size: IntOrTuple, dilation: IntOrTuple = 1, padding: IntOrTuple = 0,
           stride: IntOrTuple = 1) -> Tensor:
    """Sliding local blocks of a 4-D (N, C, H, W) or 3-D unbatched input as columns:
    (N, C * kh * kw, L), L the number of blocks (as ``torch.nn.functional.unfold``)."""
    if input.dim() not in (3, 4):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    x, unbatched = (input.unsqueeze(0), True) if input.dim() == 3 else (input, False)
    y = _core.im2col(x, _ntuple(kernel_size, 2, "kernel_size"), _ntuple(dilation, 2, "dilation"),
                     _ntuple(padding, 2, "padding"), _ntuple(stride, 2, "stride"))
    return y.squeeze(0) if unbatched else y


def fold(input: Tensor, output_size: IntOrTuple, kernel_size: IntOrTuple, dilation: IntOrTuple = 1,
         padding: IntOrTuple = 0, stride: IntOrTuple = 1) -> Tensor:
    """The adjoint of ``unfold``: sums the columns of (N, C * kh * kw, L) or the unbatched
    (C * kh * kw, L) into (N, C, *output_size), overlapping blocks added."""
    if input.dim() not in (2, 3):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    x, unbatched = (input.unsqueeze(0), True) if input.dim() == 2 else (input, False)
    y = _core.col2im(x, _ntuple(output_size, 2, "output_size"), _ntuple(kernel_size, 2, "kernel_size"),
                     _ntuple(dilation, 2, "dilation"), _ntuple(padding, 2, "padding"), _ntuple(stride, 2, "stride"))
    return y.squeeze(0) if unbatched else y
