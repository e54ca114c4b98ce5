"""Grad-mode switches, gradient computation and finite-difference gradient checking.

The engine itself is C++ (``csrc/autograd/engine.cpp``); this module only adds the Python
conveniences: ``no_grad`` / ``enable_grad`` as context managers and decorators, ``grad``
and ``gradcheck``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np

from gradcore import _core
from gradcore._core import Tensor

F = TypeVar("F", bound=Callable[..., Any])
TensorOrTensors = Union[Tensor, Sequence[Tensor]]


class _GradMode:
    """Base of the grad-mode context managers; also usable as a decorator."""

    enabled: bool = True

    def __enter__(self) -> None:
        self._prev = _core.is_grad_enabled()
        _core.set_grad_enabled(self.enabled)

    def __exit__(self, *exc: object) -> None:
        _core.set_grad_enabled(self._prev)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Context manager (and decorator) that stops recording operations on this thread.

    >>> with gc.no_grad():
    ...     y = x * 2          # y.requires_grad is False
    """

    enabled = False


class enable_grad(_GradMode):
    """Context manager (and decorator) that turns recording back on inside ``no_grad``."""

    enabled = True


class set_grad_enabled(_GradMode):
    """``with gc.set_grad_enabled(False): ...`` — sets grad mode for the block."""

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._prev = _core.is_grad_enabled()
        _core.set_grad_enabled(self.enabled)  # also works as a plain call, like PyTorch

    def __enter__(self) -> None:
        pass

    def __call__(self, fn: F) -> F:  # pragma: no cover - mirrors PyTorch
        mode = self.enabled

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = _core.is_grad_enabled()
            _core.set_grad_enabled(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _core.set_grad_enabled(prev)

        return wrapper  # type: ignore[return-value]


def grad(
    outputs: TensorOrTensors,
    inputs: TensorOrTensors,
    grad_outputs: Optional[TensorOrTensors] = None,
    retain_graph: Optional[bool] = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> Tuple[Optional[Tensor], ...]:
    """Gradients of ``outputs`` w.r.t. ``inputs`` as a tuple, like ``torch.autograd.grad``.

    No ``.grad`` attribute is touched. ``retain_graph`` defaults to ``create_graph``.
    An input the outputs do not depend on raises ``RuntimeError`` unless ``allow_unused``
    (then its entry is ``None``).
    """
    return _core.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)


def backward(
    tensors: TensorOrTensors,
    grad_tensors: Optional[TensorOrTensors] = None,
    retain_graph: Optional[bool] = None,
    create_graph: bool = False,
) -> None:
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad`` (``torch.autograd.backward``)."""
    _core.backward(tensors, grad_tensors, retain_graph, create_graph)


class detect_anomaly:
    """Context manager that turns on anomaly detection for the backward passes inside it.

    While active, every op records where it was created (the Python file:line that called
    it, captured at op creation, in this mode only) and the engine checks every gradient
    it computes: the first one with a NaN or an infinity raises ``RuntimeError`` naming
    the op and its creation site. Run the forward pass inside the block too.

    >>> with gc.autograd.detect_anomaly():
    ...     loss = model(x).log().sum()
    ...     loss.backward()          # RuntimeError: Function 'LogBackward' returned nan/inf ...
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._prev = _core.is_anomaly_enabled()
        _core.set_anomaly_enabled(self.check_nan)

    def __exit__(self, *exc: object) -> None:
        _core.set_anomaly_enabled(self._prev)


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off globally (see :class:`detect_anomaly`)."""
    _core.set_anomaly_enabled(bool(mode))


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on (see :class:`detect_anomaly`)."""
    return bool(_core.is_anomaly_enabled())


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when analytical and numerical gradients disagree."""


def _as_tuple(x: Any) -> Tuple[Any, ...]:
    if isinstance(x, (tuple, list)):
        return tuple(x)
    return (x,)


def _flat_outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> Tuple[Tensor, ...]:
    outs = _as_tuple(fn(*inputs))
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
    return outs


def gradcheck(
    fn: Callable[..., Any],
    inputs: Union[Tensor, Sequence[Any]],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Check the engine's gradients of ``fn`` against float64 central differences.

    ``inputs`` is a tensor or a sequence of arguments; tensors with ``requires_grad`` are
    checked (float32 ones are promoted to float64 copies). For every output element the
    engine's gradient row is compared with ``(f(x + eps) - f(x - eps)) / (2 eps)`` and an
    entry passes when ``|analytical - numerical| <= atol + rtol * |numerical|``.

    Returns ``True``, or raises :class:`GradcheckError` naming the worst element.
    Avoid inputs at kinks (relu at 0, ties in max): there the derivative is undefined.
    """
    args = list(_as_tuple(inputs))
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a.dtype != _core.float64:
            args[i] = _core.tensor(a, dtype=_core.float64, requires_grad=a.requires_grad)
    diff = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input tensor has requires_grad=True")
    diff_inputs = [args[i] for i in diff]

    outputs = _flat_outputs(fn, args)
    # Analytical Jacobians, one backward pass per output element.
    analytic = []  # per output: list over diff inputs of (out_numel, in_numel) arrays
    for o in outputs:
        rows = [np.zeros((o.numel(), x.numel())) for x in diff_inputs]
        if o.requires_grad:
            for r in range(o.numel()):
                seed = np.zeros(o.numel())
                seed[r] = 1.0
                g_out = _core.tensor(seed.reshape(o.shape), dtype=o.dtype)
                grads = _core.grad([o], diff_inputs, [g_out], True, False, True)
                for k, g in enumerate(grads):
                    if g is not None:
                        rows[k][r, :] = np.asarray(g.numpy(), dtype=np.float64).reshape(-1)
        analytic.append(rows)

    # Numerical Jacobians by central differences, perturbing the inputs' storage in place.
    numeric = [[np.zeros_like(rows[k]) for k in range(len(diff_inputs))] for rows in analytic]
    with no_grad():
        for k, x in enumerate(diff_inputs):
            flat = x.numpy().reshape(-1)
            for c in range(flat.size):
                orig = flat[c]
                flat[c] = orig + eps
                plus = [np.array(o.numpy(), dtype=np.float64).reshape(-1) for o in _flat_outputs(fn, args)]
                flat[c] = orig - eps
                minus = [np.array(o.numpy(), dtype=np.float64).reshape(-1) for o in _flat_outputs(fn, args)]
                flat[c] = orig
                for oi in range(len(outputs)):
                    numeric[oi][k][:, c] = (plus[oi] - minus[oi]) / (2.0 * eps)

    worst = None  # (excess, output, input, row, col, analytical, numerical)
    for oi in range(len(outputs)):
        for k in range(len(diff_inputs)):
            ana, num = analytic[oi][k], numeric[oi][k]
            if ana.size == 0:
                continue
            excess = np.abs(ana - num) - (atol + rtol * np.abs(num))
            excess = np.where(np.isnan(excess), np.inf, excess)
            idx = np.unravel_index(int(np.argmax(excess)), excess.shape)
            if excess[idx] > 0 and (worst is None or excess[idx] > worst[0]):
                worst = (excess[idx], oi, diff[k], int(idx[0]), int(idx[1]), ana[idx], num[idx])
    if worst is not None:
        _, oi, ii, r, c, a_val, n_val = worst
        raise GradcheckError(
            f"gradcheck failed: d(output {oi})[{r}] / d(input {ii})[{c}]: analytical {a_val!r} vs numerical "
            f"{n_val!r} (|diff| {abs(a_val - n_val):.3g} > atol={atol} + rtol={rtol} * |numerical|)"
        )
    return True
