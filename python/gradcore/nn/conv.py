"""Convolution layers (issue 15): ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d``, ``Unfold``,
``Fold``, with PyTorch's arguments, attributes, initialisation and ``state_dict`` keys."""
from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple, Union

from gradcore import _core
from gradcore._core import Tensor
from gradcore.nn import _functional_conv as FC
from gradcore.nn import init
from gradcore.nn.module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Unfold", "Fold"]

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


def _tuple(value: Any, n: int) -> Tuple[int, ...]:
    return tuple(FC._ntuple(value, n, "argument"))


class _ConvNd(Module):
    """What Conv*d and ConvTranspose*d share: the parameters, their init, ``extra_repr``."""

    _nd = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, transposed: bool, output_padding: Any, groups: int, bias: bool,
                 padding_mode: str, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        n = self._nd
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        valid_padding_strings = {"same", "valid"}
        if isinstance(padding, str):
            if padding not in valid_padding_strings:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {valid_padding_strings}")
            if padding == "same" and any(s != 1 for s in _tuple(stride, n)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got padding_mode='{padding_mode}'")
        if device is not None and str(device) != "cpu":
            raise RuntimeError(f"gradcore runs on the CPU only, got device={device!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _tuple(kernel_size, n)
        self.stride = _tuple(stride, n)
        self.padding: Union[str, Tuple[int, ...]] = padding if isinstance(padding, str) else _tuple(padding, n)
        self.dilation = _tuple(dilation, n)
        self.transposed = transposed
        self.output_padding = _tuple(output_padding, n)
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's amounts for a non-zeros padding_mode (last dim first), as PyTorch's
        # _reversed_padding_repeated_twice.
        pads: List[int] = []
        if isinstance(self.padding, str):
            if self.padding == "same":
                for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                    total = d * (k - 1)
                    left = total // 2
                    pads += [left, total - left]
            else:
                pads = [0, 0] * n
        else:
            for p in reversed(self.padding):
                pads += [p, p]
        self._reversed_padding_repeated_twice = pads
        shape = ((in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups))
        self.weight = Parameter(_core.zeros(*shape, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(_core.zeros(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default init: weight ``kaiming_uniform_(a=sqrt(5))``, bias
        U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        """PyTorch's: channels, kernel_size, stride, then what differs from the defaults."""
        n = len(self.kernel_size)
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups, bias,
                         padding_mode, device, dtype)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
        if self.padding_mode != "zeros":
            from gradcore.nn.functional import pad
            padded = pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return FC._conv(padded, weight, bias, self.stride, 0, self.dilation, self.groups, self._nd)
        return FC._conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups, self._nd)

    def forward(self, input: Tensor) -> Tensor:
        """The convolution of ``input`` (batched or unbatched)."""
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) or (C_in, L) (``torch.nn.Conv1d``)."""

    _nd = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) (``torch.nn.Conv2d``): weight
    (out_channels, in_channels / groups, kh, kw), bias (out_channels)."""

    _nd = 2


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W) or (C_in, D, H, W) (``torch.nn.Conv3d``)."""

    _nd = 3


class _ConvTranspose(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding,
                         groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input: Tensor, output_size: Optional[Sequence[int]], stride: Sequence[int],
                        padding: Sequence[int], kernel_size: Sequence[int], num_spatial_dims: int,
                        dilation: Optional[Sequence[int]] = None) -> List[int]:
        """The output_padding giving ``output_size`` (PyTorch's method of the same name)."""
        if output_size is None:
            return list(self.output_padding)
        has_batch = input.dim() == num_spatial_dims + 2
        sizes = [int(s) for s in output_size]
        if len(sizes) == num_spatial_dims + (2 if has_batch else 1):
            sizes = sizes[-num_spatial_dims:]
        if len(sizes) != num_spatial_dims:
            raise ValueError(f"ConvTranspose{num_spatial_dims}D: for {input.dim()}D input, output_size must have "
                             f"{num_spatial_dims} or {num_spatial_dims + (2 if has_batch else 1)} elements "
                             f"(got {len(sizes)})")
        dil = dilation if dilation is not None else [1] * num_spatial_dims
        lo, hi = [], []
        first = input.dim() - num_spatial_dims
        for d in range(num_spatial_dims):
            size = ((int(input.shape[first + d]) - 1) * stride[d] - 2 * padding[d]
                    + dil[d] * (kernel_size[d] - 1) + 1)
            lo.append(size)
            hi.append(size + stride[d] - 1)
        for d in range(num_spatial_dims):
            if not lo[d] <= sizes[d] <= hi[d]:
                raise ValueError(f"requested an output size of {tuple(sizes)}, but valid sizes range from {lo} to "
                                 f"{hi} (for an input of {list(input.shape[first:])})")
        return [sizes[d] - lo[d] for d in range(num_spatial_dims)]

    def forward(self, input: Tensor, output_size: Optional[Sequence[int]] = None) -> Tensor:
        """The transposed convolution of ``input``; ``output_size`` picks the output_padding."""
        assert isinstance(self.padding, tuple)
        op = self._output_padding(input, output_size, self.stride, self.padding, self.kernel_size, self._nd,
                                  self.dilation)
        return FC._conv_transpose(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                  self.dilation, self._nd)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution (``torch.nn.ConvTranspose1d``): weight
    (in_channels, out_channels / groups, k)."""

    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution (``torch.nn.ConvTranspose2d``): weight
    (in_channels, out_channels / groups, kh, kw)."""

    _nd = 2


class ConvTranspose3d(_ConvTranspose):
    """Transposed 3-D convolution (``torch.nn.ConvTranspose3d``)."""

    _nd = 3


class Unfold(Module):
    """``F.unfold`` as a module (``torch.nn.Unfold``)."""

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        """The sliding blocks of ``input`` as columns."""
        return FC.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        """PyTorch's."""
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """``F.fold`` as a module (``torch.nn.Fold``)."""

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        """The columns of ``input`` summed back into images."""
        return FC.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        """PyTorch's."""
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
