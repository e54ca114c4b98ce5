"""Activation modules (``torch.nn.modules.activation``): each a thin shell over ``F``.

Every activation with a fused kernel (the GC_ACTIVATIONS rows of csrc/autograd/ops.h) is
also one that ``nn.Sequential`` folds into a preceding ``Linear``'s GEMM epilogue
(:func:`fusable_activation`). ``inplace=True`` writes the result into the input, recorded
as PyTorch's in-place ops are.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Type

from gradcore._core import Tensor
from gradcore.nn import functional as F
from gradcore.nn.module import Module

__all__ = [
    "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "GELU", "SiLU", "Mish", "ELU", "SELU", "CELU", "Hardtanh", "ReLU6",
    "Hardswish", "Hardsigmoid", "Softsign", "Softplus", "LogSigmoid", "Tanhshrink", "Softshrink", "Hardshrink",
    "Threshold",
]


def _inplace_suffix(inplace: bool, first: bool = False) -> str:
    if not inplace:
        return ""
    return "inplace=True" if first else ", inplace=True"


class _InplaceActivation(Module):
    """An activation whose only argument is ``inplace`` (PyTorch's repr: ``inplace=True`` or nothing)."""

    _fn: Any = None

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """The activation of ``input``."""
        out: Tensor = type(self)._fn(input, inplace=self.inplace)
        return out

    def extra_repr(self) -> str:
        """``inplace=True`` when set."""
        return _inplace_suffix(self.inplace, first=True)


class ReLU(_InplaceActivation):
    """max(x, 0) elementwise."""

    _fn = staticmethod(F.relu)


class SiLU(_InplaceActivation):
    """x * sigmoid(x)."""

    _fn = staticmethod(F.silu)


class Mish(_InplaceActivation):
    """x * tanh(softplus(x))."""

    _fn = staticmethod(F.mish)


class SELU(_InplaceActivation):
    """The self-normalising ELU."""

    _fn = staticmethod(F.selu)


class Hardswish(_InplaceActivation):
    """x * relu6(x + 3) / 6."""

    _fn = staticmethod(F.hardswish)


class Hardsigmoid(_InplaceActivation):
    """relu6(x + 3) / 6."""

    _fn = staticmethod(F.hardsigmoid)


class _NoArgActivation(Module):
    _fn: Any = None

    def forward(self, input: Tensor) -> Tensor:
        """The activation of ``input``."""
        out: Tensor = type(self)._fn(input)
        return out


class Sigmoid(_NoArgActivation):
    """1 / (1 + exp(-x)) elementwise."""

    _fn = staticmethod(F.sigmoid)


class Tanh(_NoArgActivation):
    """Hyperbolic tangent elementwise."""

    _fn = staticmethod(F.tanh)


class Softsign(_NoArgActivation):
    """x / (1 + |x|)."""

    _fn = staticmethod(F.softsign)


class LogSigmoid(_NoArgActivation):
    """log(sigmoid(x))."""

    _fn = staticmethod(F.logsigmoid)


class Tanhshrink(_NoArgActivation):
    """x - tanh(x)."""

    _fn = staticmethod(F.tanhshrink)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """``F.leaky_relu(input, negative_slope, inplace)``."""
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        """``negative_slope=...``."""
        return f"negative_slope={self.negative_slope}{_inplace_suffix(self.inplace)}"


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        """``F.elu(input, alpha, inplace)``."""
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        """``alpha=...``."""
        return f"alpha={self.alpha}{_inplace_suffix(self.inplace)}"


class CELU(ELU):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    def forward(self, input: Tensor) -> Tensor:
        """``F.celu(input, alpha, inplace)``."""
        return F.celu(input, self.alpha, self.inplace)


class Hardtanh(Module):
    """min(max(x, min_val), max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError("max_val must be greater than min_val")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        """``F.hardtanh(input, min_val, max_val, inplace)``."""
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        """``min_val=..., max_val=...``."""
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_suffix(self.inplace)}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input: Tensor) -> Tensor:
        """``F.relu6(input, inplace)``."""
        return F.relu6(input, self.inplace)

    def extra_repr(self) -> str:
        """``inplace=True`` when set."""
        return _inplace_suffix(self.inplace, first=True)


class GELU(Module):
    """x * Phi(x); ``approximate="tanh"`` selects the tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        """``F.gelu(input, approximate)``."""
        return F.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        """``approximate=...``."""
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta; x itself where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        """``F.softplus(input, beta, threshold)``."""
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        """``beta=..., threshold=...``."""
        return f"beta={self.beta}, threshold={self.threshold}"


class Softshrink(Module):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        """``F.softshrink(input, lambd)``."""
        return F.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        """The threshold."""
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x where |x| > lambd, else 0."""

    def forward(self, input: Tensor) -> Tensor:
        """``F.hardshrink(input, lambd)``."""
        return F.hardshrink(input, self.lambd)


class Threshold(Module):
    """x where x > threshold, else value."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        """``F.threshold(input, threshold, value, inplace)``."""
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        """``threshold=..., value=...``."""
        return f"threshold={self.threshold}, value={self.value}{_inplace_suffix(self.inplace)}"


# Module type -> the fused-activation name (a GC_ACTIVATIONS row) nn.Sequential folds into Linear.
_FUSABLE: Dict[Type[Module], str] = {
    ReLU: "relu", Sigmoid: "sigmoid", Tanh: "tanh", SiLU: "silu", Mish: "mish", Hardswish: "hardswish",
    Hardsigmoid: "hardsigmoid", Softsign: "softsign", LogSigmoid: "logsigmoid", SELU: "selu", ReLU6: "relu6",
}


def fusable_activation(m: Module) -> Optional[str]:
    """The fused-epilogue name of an activation module that Sequential can fold into Linear."""
    if type(m) is GELU:
        return "gelu" if m.approximate == "none" else "gelu_tanh"
    return _FUSABLE.get(type(m))
