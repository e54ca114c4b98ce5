"""Custom differentiable functions: ``gc.autograd.Function``, as in PyTorch.

Subclass it with static ``forward(ctx, *inputs)`` and ``backward(ctx, *grad_outputs)``
(and optionally ``jvp(ctx, *tangents)`` for forward mode), then call ``MyFn.apply(...)``.
``apply`` runs ``forward`` with recording off and records one node in the C++ graph; the
engine calls back into Python for that node only, holding the GIL just for the call.

>>> class MulLayer(gc.autograd.Function):
...     @staticmethod
...     def forward(ctx, x, y):
...         ctx.save_for_backward(x, y)
...         return x * y
...     @staticmethod
...     def backward(ctx, dout):
...         x, y = ctx.saved_tensors
...         return dout * y, dout * x
>>> z = MulLayer.apply(a, b)

Rules (checked, each with a clear exception):
- ``backward`` returns one gradient per ``forward`` argument (``None`` for arguments that
  are not tensors or need no gradient); a wrong count raises ``RuntimeError``, a gradient
  of the wrong shape raises :class:`GradientShapeError` (a ``ValueError`` and a
  ``RuntimeError``), the wrong dtype ``TypeError``.
- Output gradients that did not arrive are passed as zeros (``ctx.set_materialize_grads(False)``
  passes ``None`` instead).
- ``ctx.saved_tensors`` raises ``RuntimeError`` after the graph was freed (a second backward
  without ``retain_graph=True``) or when a saved tensor was modified in place.
- With ``create_graph=True`` the backward runs with recording on, so a backward written with
  gradcore ops is itself differentiable.
- Forward mode (:mod:`gradcore.autograd.forward_ad`, ``functional.jvp``) calls
  ``jvp(ctx, *tangents)`` (one tangent per argument, zeros for inputs without one), which
  returns one tangent per output; a Function without ``jvp`` raises ``NotImplementedError``
  when an input carries a tangent.
"""
from __future__ import annotations

from typing import Any, List, Optional, Set, Tuple

from gradcore import _core
from gradcore._core import Tensor

__all__ = ["Function", "FunctionCtx", "GradientShapeError", "once_differentiable"]


class GradientShapeError(ValueError, RuntimeError):
    """A custom Function's backward (or jvp) returned a gradient of the wrong shape."""


class FunctionCtx:
    """The ``ctx`` passed to a Function's ``forward``, ``backward`` and ``jvp``.

    Store non-tensor values as attributes (``ctx.k = 3``); store tensors with
    :meth:`save_for_backward` so the graph keeps them safely (version-checked, freed after
    backward, no reference cycle through the outputs).
    """

    def __init__(self, needs_input_grad: Tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._to_save: Tuple[Optional[Tensor], ...] = ()
        self._non_differentiable: List[Tensor] = []
        self._saved: Optional[Tuple[Optional[Tensor], ...]] = None
        self._output_meta: List[Tuple[Tuple[int, ...], Any]] = []

    def save_for_backward(self, *tensors: Optional[Tensor]) -> None:
        """Save tensors (inputs or outputs of forward, or None) for backward."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward takes Tensors or None, got {type(t).__name__}")
        self._to_save = tuple(tensors)

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """Mark outputs that get no gradient (integer-like results, masks)."""
        self._non_differentiable.extend(outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """With False, output gradients that did not arrive reach backward as None."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> Tuple[Optional[Tensor], ...]:
        """The tensors given to save_for_backward (in backward: unpacked from the graph)."""
        if self._saved is not None:
            return self._saved
        return self._to_save


def _needs_grad(a: Any) -> bool:
    return isinstance(a, Tensor) and a.requires_grad


class Function:
    """Base class of user-defined differentiable operations (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{type(self).__name__}: call {type(self).__name__}.apply(...), do not instantiate a Function")

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise NotImplementedError("a Function subclass must define a static forward(ctx, *inputs)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("a Function subclass must define a static backward(ctx, *grad_outputs)")

    jvp: Any = None  # optional: staticmethod jvp(ctx, *tangents) -> tangent(s) of the output(s)

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run forward and, when recording and an input requires grad, record the node."""
        from gradcore.autograd import forward_ad

        record = _core.is_grad_enabled() and any(_needs_grad(a) for a in args)
        ctx = FunctionCtx(tuple(_needs_grad(a) for a in args))
        # Forward runs on the plain values: no recording, no tangents.
        with _no_record():
            raw = cls.forward(ctx, *args)
        single = not isinstance(raw, tuple)
        outs = (raw,) if single else raw
        for o in outs:
            if not isinstance(o, Tensor):
                raise TypeError(f"{cls.__name__}.forward must return a Tensor or a tuple of Tensors, "
                                f"got {type(o).__name__}")
        # Outputs that are inputs (or views holding history) become fresh aliases, so the
        # node can own their history without touching the caller's tensors.
        input_ids = {id(a) for a in args if isinstance(a, Tensor)}
        fresh = []
        for o in outs:
            if id(o) in input_ids or o.requires_grad:
                alias = o.detach()
                fresh.append(alias)
            else:
                fresh.append(o)
        remap = {id(o): f for o, f in zip(outs, fresh)}
        non_diff = {id(remap.get(id(o), o)) for o in ctx._non_differentiable}
        ctx._output_meta = [(tuple(f.shape), f.dtype) for f in fresh]
        ctx._cls = cls  # type: ignore[attr-defined]
        ctx._input_meta = [(tuple(a.shape), a.dtype) if isinstance(a, Tensor) else None  # type: ignore[attr-defined]
                           for a in args]
        saved = tuple(remap.get(id(t), t) if t is not None else None for t in ctx._to_save)

        if forward_ad._active_level() and any(
                isinstance(a, Tensor) and forward_ad._tangent(a) is not None for a in args):
            _run_jvp(cls, ctx, args, fresh, non_diff, saved)
        if record:
            ctx._to_save = ()  # the node owns them now (no cycle through the outputs)
            # Outputs kept as ctx attributes (the tutorials' `self.out = out`) would form a
            # cycle output -> node -> ctx -> output that Python's collector cannot see
            # through the C++ node: they move into the node's saved slots too and come back
            # as attributes for the duration of backward.
            recorded = {id(f) for f in fresh if id(f) not in non_diff}
            extra: List[Tensor] = []
            slots = {}
            for name, val in list(vars(ctx).items()):
                if not name.startswith("_") and isinstance(val, Tensor) and id(val) in recorded:
                    slots[name] = len(saved) + len(extra)
                    extra.append(val)
                    delattr(ctx, name)
            ctx._attr_slots = slots  # type: ignore[attr-defined]
            ctx._n_saved = len(saved)  # type: ignore[attr-defined]
            _core._record_function(
                cls.__name__ + "Backward", ctx, _run_backward,
                [a if isinstance(a, Tensor) else None for a in args],
                [None if id(f) in non_diff else f for f in fresh],
                [*saved, *extra],
            )
        return fresh[0] if single else tuple(fresh)


class _no_record:
    """Recording and forward-mode tangents off (for Function.forward)."""

    def __enter__(self) -> None:
        self._grad = _core.is_grad_enabled()
        _core.set_grad_enabled(False)
        self._fw = _core._fw_set_enabled(False)

    def __exit__(self, *exc: object) -> None:
        _core.set_grad_enabled(self._grad)
        _core._fw_set_enabled(self._fw)


def _check_grad(cls_name: str, what: str, i: int, g: Any, shape: Tuple[int, ...], dtype: Any) -> None:
    if not isinstance(g, Tensor):
        raise TypeError(f"{cls_name}.{what} returned a {type(g).__name__} at index {i}; expected a Tensor or None")
    if tuple(g.shape) != tuple(shape):
        raise GradientShapeError(f"{cls_name}.{what} returned a gradient of shape {tuple(g.shape)} at index {i}, "
                                 f"but the input has shape {tuple(shape)}")
    if g.dtype != dtype:
        raise TypeError(f"{cls_name}.{what} returned a gradient of dtype {g.dtype} at index {i}, "
                        f"but the input has dtype {dtype}")


def _run_backward(ctx: FunctionCtx, saved: Tuple[Optional[Tensor], ...],
                  grads: Tuple[Optional[Tensor], ...]) -> List[Optional[Tensor]]:
    """Called by the engine (with the GIL) for a Function's node; returns one grad per input."""
    fn_cls = ctx._cls  # type: ignore[attr-defined]
    if ctx.materialize_grads:
        grads = tuple(g if g is not None else _core.zeros(shape, dtype=dtype)
                      for g, (shape, dtype) in zip(grads, ctx._output_meta))
    slots = ctx._attr_slots  # type: ignore[attr-defined]
    ctx._saved = saved[:ctx._n_saved]  # type: ignore[attr-defined]
    for name, idx in slots.items():
        setattr(ctx, name, saved[idx])
    try:
        res = fn_cls.backward(ctx, *grads)
    finally:
        ctx._saved = None
        for name in slots:
            ctx.__dict__.pop(name, None)
    res_t = res if isinstance(res, tuple) else (res,)
    n_in = len(ctx._input_meta)  # type: ignore[attr-defined]
    # Trailing Nones may be left out (as PyTorch allows for extra non-tensor args).
    if len(res_t) > n_in or (len(res_t) < n_in and any(m is not None for m in ctx._input_meta[len(res_t):])):  # type: ignore[attr-defined]
        raise RuntimeError(f"function {fn_cls.__name__}Backward returned an incorrect number of gradients "
                           f"(expected {n_in}, got {len(res_t)})")
    out: List[Optional[Tensor]] = []
    for i, meta in enumerate(ctx._input_meta):  # type: ignore[attr-defined]
        g = res_t[i] if i < len(res_t) else None
        if meta is None:  # not a tensor argument
            if g is not None and not isinstance(g, Tensor):
                raise TypeError(f"{fn_cls.__name__}.backward returned a {type(g).__name__} at index {i}")
            out.append(None)
            continue
        if g is not None:
            _check_grad(fn_cls.__name__, "backward", i, g, meta[0], meta[1])
        out.append(g)
    return out


def _run_jvp(cls: Any, ctx: FunctionCtx, args: Tuple[Any, ...], outs: List[Tensor], non_diff: Set[int],
             saved: Tuple[Optional[Tensor], ...]) -> None:
    from gradcore.autograd import forward_ad

    if cls.jvp is None:
        raise NotImplementedError(f"{cls.__name__}: an input carries a forward-mode tangent; define a static "
                                  f"jvp(ctx, *tangents) to use this Function with forward-mode AD")
    tangents: List[Optional[Tensor]] = []
    for a in args:
        if isinstance(a, Tensor):
            t = forward_ad._tangent(a)
            tangents.append(t if t is not None else _core.zeros_like(a))
        else:
            tangents.append(None)
    ctx._saved = saved
    try:
        with _core_fw_off():
            res = cls.jvp(ctx, *tangents)
    finally:
        ctx._saved = None
    res_t = res if isinstance(res, tuple) else (res,)
    if len(res_t) != len(outs):
        raise RuntimeError(f"{cls.__name__}.jvp returned {len(res_t)} tangents for {len(outs)} outputs")
    for i, (o, t) in enumerate(zip(outs, res_t)):
        if t is None or id(o) in non_diff:
            continue
        _check_grad(cls.__name__, "jvp", i, t, tuple(o.shape), o.dtype)
        forward_ad._set_tangent(o, t)


class _core_fw_off:
    def __enter__(self) -> None:
        self._fw = _core._fw_set_enabled(False)

    def __exit__(self, *exc: object) -> None:
        _core._fw_set_enabled(self._fw)


def once_differentiable(fn: Any) -> Any:
    """Decorator for a backward that is not itself differentiable: runs it with recording off."""
    import functools

    @functools.wraps(fn)
    def wrapper(ctx: Any, *grads: Any) -> Any:
        with _no_record():
            return fn(ctx, *grads)

    return wrapper
