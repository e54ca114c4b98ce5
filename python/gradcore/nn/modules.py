"""Layers, activations and losses: each a few lines over ``gradcore.nn.functional``."""
from __future__ import annotations

import math
from typing import Any, Iterator, Optional, Tuple, Union

from gradcore import _core
from gradcore._core import Tensor
from gradcore.nn import functional as F
from gradcore.nn import init
from gradcore.nn.activation import (  # noqa: F401  (re-exported: their home before issue 12)
    GELU, LeakyReLU, ReLU, Sigmoid, Tanh, fusable_activation,
)
from gradcore.nn.module import Module, Parameter


class Linear(Module):
    """y = x @ weight.T + bias, weight of shape (out_features, in_features) as in PyTorch.

    Default init is PyTorch's: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features))
    (``kaiming_uniform_(a=sqrt(5))``), drawn from gradcore's seeded RNG.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_core.zeros(out_features, in_features, dtype=dtype))
        self.bias = Parameter(_core.zeros(out_features, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias with the default init (see the class docstring)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """``x @ weight.T + bias`` for ``x`` of shape (N, in_features)."""
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        """``in_features=..., out_features=..., bias=...``."""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    """Modules applied in order; children are named "0", "1", ... as in PyTorch.

    A ``Linear`` directly followed by ``ReLU``, ``Sigmoid``, ``Tanh`` or ``GELU`` runs as one
    fused op (GEMM + bias + activation; see ``F.linear``) with the same result, unless either
    of the two has hooks.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not a Module")
            setattr(self, str(i), m)

    def forward(self, x: Any) -> Any:
        """Apply the children in order (fusing Linear + activation pairs)."""
        mods = list(self.children())
        i = 0
        while i < len(mods):
            m = mods[i]
            # A hooked Linear or activation runs on its own, so its hooks see its own input and output.
            fuse = i + 1 < len(mods) and type(m) is Linear and not m._has_hooks and not mods[i + 1]._has_hooks
            act = _fusable_activation(mods[i + 1]) if fuse else None
            if act is not None:
                x = F.linear(x, m.weight, m.bias, activation=act)
                i += 2
            else:
                x = m(x)
                i += 1
        return x

    def __getitem__(self, idx: int) -> Module:
        mods = list(self.children())
        return mods[idx]

    def __len__(self) -> int:
        return len(list(self.children()))

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end (named by its index); returns self."""
        setattr(self, str(len(self)), module)
        return self


def _fusable_activation(m: Module) -> Optional[str]:
    """The fused-epilogue name of an activation module that Sequential can fold into Linear."""
    return fusable_activation(m)


class Softmax(Module):
    """Softmax along ``dim`` (default: the last)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """``F.softmax(x, dim)``."""
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        """``dim=...``."""
        return f"dim={self.dim}"


class Dropout(Module):
    """Zeroes elements with probability p while training; the identity in eval()."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """``F.dropout(x, p, training)``."""
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        """``p=...``."""
        return f"p={self.p}"


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        """``F.flatten(x, start_dim, end_dim)``."""
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        """``start_dim=..., end_dim=...``."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are ignored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        """``x`` itself."""
        return x


class CrossEntropyLoss(Module):
    """Softmax cross-entropy over logits (N, C) and integer labels (N,)."""

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        """``F.cross_entropy(input, target, reduction, label_smoothing)``."""
        return F.cross_entropy(input, target, self.reduction, self.label_smoothing)


class MSELoss(Module):
    """Mean squared error between an input and a target of the same shape."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        """``F.mse_loss(input, target, reduction)``."""
        return F.mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(Module):
    """Sigmoid + binary cross-entropy in one stable formula (see ``F.binary_cross_entropy_with_logits``)."""

    def __init__(self, reduction: str = "mean", pos_weight: Optional[Tensor] = None) -> None:
        super().__init__()
        self.reduction, self.pos_weight = reduction, pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:
        """``F.binary_cross_entropy_with_logits(input, target, reduction, pos_weight)``."""
        return F.binary_cross_entropy_with_logits(input, target, self.reduction, self.pos_weight)


# ---- issue 12: shape ops (Unflatten, padding layers over F.pad) ----
class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (``x.unflatten(dim, unflattened_size)``)."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        """``x.unflatten(dim, unflattened_size)``."""
        from gradcore._shape_ops import unflatten
        return unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        """``dim=..., unflattened_size=...``."""
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class _PadNd(Module):
    """F.pad(x, padding, mode, value) with ``padding`` an int (every side) or a tuple of
    (left, right) pairs from the last dim backwards, as PyTorch's padding layers."""

    _mode = "constant"
    _n = 1
    _check_dims: Optional[Tuple[int, int]] = None  # input ranks the layer accepts (ValueError otherwise)

    def __init__(self, padding: Any, value: Optional[float] = None) -> None:
        super().__init__()
        self.padding = (padding,) * (2 * self._n) if isinstance(padding, int) else tuple(padding)
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        """``F.pad(x, padding, mode)``."""
        if self._check_dims is not None and x.dim() not in self._check_dims:
            lo, hi = self._check_dims
            raise ValueError(f"expected {lo}D or {hi}D input (got {x.dim()}D input)")
        if self._mode == "constant":
            return F.pad(x, self.padding, "constant", 0.0 if self.value is None else self.value)
        return F.pad(x, self.padding, self._mode)

    def extra_repr(self) -> str:
        """The padding (and value for the constant layers)."""
        if self._mode == "constant" and type(self).__name__.startswith("Constant"):
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    """Pad the last dim with ``value``."""

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad2d(_PadNd):
    """Pad the last 2 dims with ``value``."""

    _n = 2

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad3d(_PadNd):
    """Pad the last 3 dims with ``value``."""

    _n = 3

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ZeroPad1d(_PadNd):
    """Pad the last dim with zeros."""


class ZeroPad2d(_PadNd):
    """Pad the last 2 dims with zeros."""

    _n = 2


class ZeroPad3d(_PadNd):
    """Pad the last 3 dims with zeros."""

    _n = 3


class ReflectionPad1d(_PadNd):
    """Pad the last dim with its reflection (the edge not repeated)."""

    _mode = "reflect"


class ReflectionPad2d(_PadNd):
    """Pad the last 2 dims with their reflection."""

    _mode, _n = "reflect", 2


class ReflectionPad3d(_PadNd):
    """Pad the last 3 dims with their reflection."""

    _mode, _n = "reflect", 3


class ReplicationPad1d(_PadNd):
    """Pad the last dim with copies of its edge values."""

    _mode = "replicate"


class ReplicationPad2d(_PadNd):
    """Pad the last 2 dims with copies of their edge values."""

    _mode, _n = "replicate", 2


class ReplicationPad3d(_PadNd):
    """Pad the last 3 dims with copies of their edge values."""

    _mode, _n = "replicate", 3


class CircularPad1d(_PadNd):
    """Pad the last dim by wrapping around (2-D or 3-D input)."""

    _mode, _check_dims = "circular", (2, 3)


class CircularPad2d(_PadNd):
    """Pad the last 2 dims by wrapping around (3-D or 4-D input)."""

    _mode, _n, _check_dims = "circular", 2, (3, 4)


class CircularPad3d(_PadNd):
    """Pad the last 3 dims by wrapping around (4-D or 5-D input)."""

    _mode, _n, _check_dims = "circular", 3, (4, 5)
