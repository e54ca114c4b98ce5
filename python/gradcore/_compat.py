"""PyTorch's process-wide switches that CPU training scripts call, with what they mean here.

* ``set_float32_matmul_precision`` / ``get_float32_matmul_precision``: gradcore's float32
  products always accumulate in float32 ("highest"); "high" and "medium" only permit lower
  internal precision in PyTorch, so honouring them by computing in float32 is allowed.
* ``use_deterministic_algorithms``: every gradcore kernel already gives the same bits run to
  run and for any thread count, so the switch only records the setting.
* ``compile``: returns the module or function unchanged. gradcore has no graph compiler; its
  eager ops are already the fused C++ kernels ``torch.compile`` would generate (Linear +
  bias + activation, fused optimizers), and compilation does not change results.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Optional

__all__ = ["set_float32_matmul_precision", "get_float32_matmul_precision", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled", "compile"]

_state = {"precision": "highest", "deterministic": False, "warn_only": False}


def set_float32_matmul_precision(precision: str) -> None:
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"setFloat32MatmulPrecision call has no effect.", stacklevel=2)
        return
    _state["precision"] = precision


def get_float32_matmul_precision() -> str:
    return str(_state["precision"])


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not {type(mode).__name__}")
    _state["deterministic"], _state["warn_only"] = mode, bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return bool(_state["deterministic"])


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return bool(_state["warn_only"])


def compile(model: Optional[Callable[..., Any]] = None, *, fullgraph: bool = False, dynamic: Optional[bool] = None,
            backend: Any = "inductor", mode: Optional[str] = None, options: Optional[dict[str, Any]] = None,
            disable: bool = False) -> Any:
    """``model`` itself (see the module docstring); without ``model``, a decorator that
    returns the function it decorates."""
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise RuntimeError("compile: model must be a callable (a Module or a function)")
    return model
