"""Forward-mode automatic differentiation with dual tensors (like ``torch.autograd.forward_ad``).

A dual tensor carries a primal value and a tangent. Every op propagates tangents with its
forward-mode rule, declared next to its forward and backward in ``csrc/autograd/ops/``,
so one forward pass computes a Jacobian-vector product J v::

    with gc.autograd.forward_ad.dual_level():
        x = forward_ad.make_dual(primal, v)
        y = f(x)
        value, jv = forward_ad.unpack_dual(y)

One dual level may be active at a time (process-wide, as in PyTorch); tangents stop
counting when it closes. In-place writes to dual tensors raise ``RuntimeError``.
Tangents of tangents are not computed (use reverse mode over forward mode for second order:
the rules are written with ops, so a jvp is differentiable by ``backward``/``gc.grad``).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["dual_level", "make_dual", "unpack_dual", "UnpackedDualTensor", "enter_dual_level", "exit_dual_level"]


class UnpackedDualTensor(NamedTuple):
    """(primal, tangent) of a dual tensor; tangent is None for a plain tensor."""

    primal: Tensor
    tangent: Optional[Tensor]


def enter_dual_level() -> int:
    """Open a dual level; returns its id. Raises RuntimeError if one is already active."""
    return int(_core._fw_enter_level())


def exit_dual_level(level: Optional[int] = None) -> None:
    """Close the active dual level (its tangents stop counting)."""
    _core._fw_exit_level(int(_core._fw_level() if level is None else level))


class dual_level:
    """Context manager: forward-mode AD is available inside the block.

    >>> with gc.autograd.forward_ad.dual_level():
    ...     y = gc.autograd.forward_ad.make_dual(x, v).exp()
    ...     jv = gc.autograd.forward_ad.unpack_dual(y).tangent   # == exp(x) * v
    """

    def __enter__(self) -> int:
        self.level = enter_dual_level()
        return self.level

    def __exit__(self, *exc: object) -> None:
        exit_dual_level(self.level)


def make_dual(tensor: Tensor, tangent: Tensor) -> Tensor:
    """A view of ``tensor`` carrying ``tangent`` (same shape: ``ValueError``; dtype: ``TypeError``).

    Needs an active :class:`dual_level` (``RuntimeError`` otherwise). The view is recorded
    for reverse mode when ``tensor`` requires grad.
    """
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError("make_dual expects two Tensors")
    return _core._make_dual(tensor, tangent)


def unpack_dual(tensor: Tensor) -> UnpackedDualTensor:
    """(primal view without tangent, tangent or None) at the active level."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"unpack_dual expects a Tensor, got {type(tensor).__name__}")
    primal, tangent = _core._unpack_dual(tensor)
    return UnpackedDualTensor(primal, tangent)


def _active_level() -> int:
    return int(_core._fw_level())


def _tangent(t: Tensor) -> Optional[Tensor]:
    tangent: Optional[Tensor] = _core._fw_tangent(t)
    return tangent


def _set_tangent(t: Tensor, tangent: Tensor) -> None:
    _core._fw_set_tangent(t, tangent)
