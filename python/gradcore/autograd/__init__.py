"""Grad-mode switches, gradient computation and finite-difference gradient checking.

The engine itself is C++ (``csrc/autograd/engine.cpp``); this module only adds the Python
conveniences: ``no_grad`` / ``enable_grad`` as context managers and decorators, ``grad``
and ``gradcheck``.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, List, Optional, Sequence, Tuple, TypeVar, Union

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


_inference = threading.local()


class inference_mode(_GradMode):
    """Like :class:`no_grad` (PyTorch's ``torch.inference_mode``): no operation is recorded
    inside it. Usable as ``with gc.inference_mode():``, ``@gc.inference_mode()``,
    ``@gc.inference_mode`` and ``inference_mode(False)`` (which changes nothing).
    NOTE: gradcore keeps no separate "inference tensor" kind; tensors made inside work
    outside it like any tensor made under no_grad."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # used as @inference_mode without parentheses
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: Any = True) -> None:
        self.mode = bool(mode)
        self.enabled = not self.mode

    def __enter__(self) -> None:
        self._prev_inference = getattr(_inference, "on", False)
        self._prev = _core.is_grad_enabled()
        if self.mode:
            _core.set_grad_enabled(False)
            _inference.on = True

    def __exit__(self, *exc: object) -> None:
        _core.set_grad_enabled(self._prev)
        _inference.on = self._prev_inference

    def __call__(self, fn: F) -> F:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()`` on this thread."""
    return bool(getattr(_inference, "on", False))


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
    grads: Tuple[Optional[Tensor], ...] = _core.grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                                                     allow_unused)
    return grads


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


def _jacobians_reverse(fn: Callable[..., Any], args: List[Any], diff_inputs: List[Tensor],
                       outputs: Tuple[Tensor, ...]) -> List[List[np.ndarray]]:
    """Per output, per differentiable input: the (out_numel, in_numel) Jacobian, one backward per row."""
    analytic = []
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
                        rows[k][r, :] = np.asarray(g.detach().numpy(), dtype=np.float64).reshape(-1)
        analytic.append(rows)
    return analytic


def _jacobians_forward(fn: Callable[..., Any], args: List[Any], diff: List[int],
                       outputs: Tuple[Tensor, ...]) -> List[List[np.ndarray]]:
    """The same Jacobians by forward mode: one dual-tensor forward pass per input element."""
    from gradcore.autograd import forward_ad

    cols = [[np.zeros((o.numel(), args[i].numel())) for i in diff] for o in outputs]
    with forward_ad.dual_level():
        for k, i in enumerate(diff):
            x = args[i]
            for c in range(x.numel()):
                seed = np.zeros(x.numel())
                seed[c] = 1.0
                dual_args = list(args)
                dual_args[i] = forward_ad.make_dual(x, _core.tensor(seed.reshape(x.shape), dtype=x.dtype))
                outs = _flat_outputs(fn, dual_args)
                for oi, o in enumerate(outs):
                    t = forward_ad.unpack_dual(o).tangent
                    if t is not None:
                        cols[oi][k][:, c] = np.asarray(t.detach().numpy(), dtype=np.float64).reshape(-1)
    return cols


def _compare(analytic: List[List[np.ndarray]], numeric: List[List[np.ndarray]], diff: List[int], atol: float,
             rtol: float, mode: str) -> None:
    worst = None  # (excess, output, input, row, col, analytical, numerical)
    for oi in range(len(analytic)):
        for k in range(len(diff)):
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
            f"gradcheck failed ({mode} mode): d(output {oi})[{r}] / d(input {ii})[{c}]: analytical {a_val!r} vs "
            f"numerical {n_val!r} (|diff| {abs(a_val - n_val):.3g} > atol={atol} + rtol={rtol} * |numerical|)"
        )


def _promote(inputs: Union[Tensor, Sequence[Any]]) -> List[Any]:
    args = list(_as_tuple(inputs))
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a.dtype != _core.float64:
            args[i] = _core.tensor(a, dtype=_core.float64, requires_grad=a.requires_grad)
    return args


def gradcheck(
    fn: Callable[..., Any],
    inputs: Union[Tensor, Sequence[Any]],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    check_forward_ad: Optional[bool] = None,
) -> bool:
    """Check the engine's gradients of ``fn`` against float64 central differences, in both modes.

    ``inputs`` is a tensor or a sequence of arguments; tensors with ``requires_grad`` are
    checked (float32 ones are promoted to float64 copies). Reverse mode: for every output
    element the engine's gradient row (one backward pass) is compared with
    ``(f(x + eps) - f(x - eps)) / (2 eps)``. Forward mode: every Jacobian column from one
    dual-tensor forward pass (:mod:`gradcore.autograd.forward_ad`) is compared the same way.
    An entry passes when ``|analytical - numerical| <= atol + rtol * |numerical|``.

    ``check_forward_ad``: ``None`` (default) checks forward mode wherever it is available
    (skipped only for a custom Function without a ``jvp``); ``True`` requires it (such a
    Function raises ``NotImplementedError``); ``False`` checks reverse mode only.

    Returns ``True``, or raises :class:`GradcheckError` naming the mode and the worst element.
    Avoid inputs at kinks (relu at 0, ties in max): there the derivative is undefined.
    """
    args = _promote(inputs)
    diff = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input tensor has requires_grad=True")
    diff_inputs = [args[i] for i in diff]

    outputs = _flat_outputs(fn, args)
    analytic = _jacobians_reverse(fn, args, diff_inputs, outputs)

    # Numerical Jacobians by central differences, perturbing the inputs' storage in place.
    numeric = [[np.zeros_like(rows[k]) for k in range(len(diff_inputs))] for rows in analytic]
    with no_grad():
        for k, x in enumerate(diff_inputs):
            flat = x.detach().numpy().reshape(-1)
            for c in range(flat.size):
                orig = flat[c]
                flat[c] = orig + eps
                plus = [np.array(o.detach().numpy(), dtype=np.float64).reshape(-1) for o in _flat_outputs(fn, args)]
                flat[c] = orig - eps
                minus = [np.array(o.detach().numpy(), dtype=np.float64).reshape(-1) for o in _flat_outputs(fn, args)]
                flat[c] = orig
                for oi in range(len(outputs)):
                    numeric[oi][k][:, c] = (plus[oi] - minus[oi]) / (2.0 * eps)

    _compare(analytic, numeric, diff, atol, rtol, "reverse")
    if check_forward_ad is not False:
        try:
            forward = _jacobians_forward(fn, args, diff, outputs)
        except NotImplementedError:
            if check_forward_ad:
                raise
            return True
        _compare(forward, numeric, diff, atol, rtol, "forward")
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Union[Tensor, Sequence[Any]],
    grad_outputs: Optional[TensorOrTensors] = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    check_forward_ad: Optional[bool] = None,
) -> bool:
    """Check second derivatives: :func:`gradcheck` of the first derivative.

    The first derivative ``(x, v) -> v^T J(x)`` is computed with ``gc.grad(...,
    create_graph=True)``; its analytical derivatives (a double backward, and forward mode
    over the recorded backward) are compared with central differences of the first
    derivative, w.r.t. both the inputs and ``grad_outputs`` (random float64 values from a
    fixed seed when not given).
    """
    args = _promote(inputs)
    diff = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not diff:
        raise ValueError("gradgradcheck: no input tensor has requires_grad=True")
    outputs = [o for o in _flat_outputs(fn, args) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        gos = [_core.tensor(rng.standard_normal(tuple(o.shape)), dtype=_core.float64, requires_grad=True)
               for o in outputs]
    else:
        gos = _promote(grad_outputs)
        if len(gos) != len(outputs):
            raise ValueError(f"gradgradcheck: {len(gos)} grad_outputs for {len(outputs)} differentiable outputs")
    n_args = len(args)

    def first_derivative(*all_args: Any) -> Tuple[Tensor, ...]:
        a, g = list(all_args[:n_args]), list(all_args[n_args:])
        dins = [a[i] for i in diff]
        with enable_grad():  # gradcheck evaluates the finite differences under no_grad
            outs = [o for o in _flat_outputs(fn, a) if o.requires_grad]
            if not outs:
                return tuple(_core.zeros_like(x) for x in dins)
            grads = _core.grad(outs, dins, g, True, True, True)
        return tuple(gi if gi is not None else _core.zeros_like(x) for gi, x in zip(grads, dins))

    return gradcheck(first_derivative, args + list(gos), eps, atol, rtol, check_forward_ad)


from gradcore.autograd import forward_ad, functional  # noqa: E402  (they import this module)
from gradcore.autograd.function import Function, FunctionCtx, GradientShapeError, once_differentiable  # noqa: E402
