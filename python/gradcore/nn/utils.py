"""Gradient clipping: one C++ pass for the norm, one for the scale."""
from __future__ import annotations

import math
from typing import Iterable, List, Union

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _params(parameters: Union[Tensor, Iterable[Tensor]]) -> List[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def clip_grad_norm_(
    parameters: Union[Tensor, Iterable[Tensor]],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so their total ``norm_type``-norm is at most ``max_norm``.

    The norm is computed over all gradients as if concatenated; when it exceeds
    ``max_norm`` every gradient is multiplied by ``max_norm / (norm + 1e-6)``.
    Returns the total norm before clipping (a 0-dim float64 tensor).
    """
    params = _params(parameters)
    norm_type = float(norm_type)
    total = _core.grad_norm(params, norm_type)
    value = total.item()
    if error_if_nonfinite and not math.isfinite(value):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients is non-finite, so it cannot be clipped")
    coef = float(max_norm) / (value + 1e-6)
    if coef < 1.0:
        _core.scale_grads(params, coef)
    return total


def clip_grad_value_(parameters: Union[Tensor, Iterable[Tensor]], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    _core.clamp_grads(_params(parameters), float(clip_value))
