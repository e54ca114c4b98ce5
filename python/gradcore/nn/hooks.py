"""Module hooks: :class:`RemovableHandle` and the machinery behind full backward hooks.

A module's full backward hooks need two gradients from the C++ engine: the gradient
arriving at the module's outputs (``grad_output``) and the one leaving towards its inputs
(``grad_input``). As in PyTorch (``torch.utils.hooks.BackwardHook``), an identity
:class:`gradcore.autograd.Function` is wrapped around the tensor inputs and another around
the tensor outputs of each hooked call. The engine runs the outputs' identity node first
(it sees ``grad_output``, runs the backward pre-hooks, remembers the result) and the
inputs' identity node last (it sees ``grad_input``, runs the full backward hooks, which
may replace it before it flows on upstream).

Nothing here runs for a module without hooks: ``Module.__call__`` checks one flag.
"""
from __future__ import annotations

import itertools
import weakref
from collections import OrderedDict
from typing import Any, Callable, List, Optional, Sequence, Tuple

from gradcore import _core
from gradcore._core import Tensor
from gradcore.autograd.function import Function, FunctionCtx

__all__ = ["RemovableHandle"]

Grads = Tuple[Optional[Tensor], ...]


class RemovableHandle:
    """What every ``register_*_hook`` returns: ``.remove()`` unregisters the hook.

    Removing twice (or after the module is gone) does nothing. Also a context manager:
    ``with m.register_forward_hook(h): ...`` removes the hook when the block ends.
    """

    _ids = itertools.count()

    def __init__(self, hooks_dict: "OrderedDict[int, Any]", owner: Any = None) -> None:
        self.id = next(RemovableHandle._ids)
        self._hooks_ref = weakref.ref(hooks_dict)
        # The owner (a Module) is told so it can drop back to its no-hook fast path.
        self._owner_ref = weakref.ref(owner) if owner is not None else None

    def remove(self) -> None:
        """Unregister the hook (idempotent)."""
        hooks = self._hooks_ref()
        if hooks is not None:
            hooks.pop(self.id, None)
        owner = self._owner_ref() if self._owner_ref is not None else None
        if owner is not None:
            owner._refresh_hooks()

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"RemovableHandle(id={self.id})"


class _BackwardHookFunction(Function):
    """Identity on its tensor arguments; its backward hands the incoming gradients to ``hook``.

    Arguments that do not require grad come back as outputs that do not either
    (non-differentiable), so wrapping never makes a constant input require grad.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, hook: Callable[[Grads], Grads], *tensors: Tensor) -> Tuple[Tensor, ...]:
        ctx.hook = hook  # type: ignore[attr-defined]
        ctx.mark_non_differentiable(*[t for t in tensors if not t.requires_grad])
        ctx.set_materialize_grads(False)  # a gradient that did not arrive stays None
        return tensors

    @staticmethod
    def backward(ctx: FunctionCtx, *grads: Optional[Tensor]) -> Tuple[Optional[Tensor], ...]:
        return (None,) + tuple(ctx.hook(grads))  # type: ignore[attr-defined]

    @staticmethod
    def jvp(ctx: FunctionCtx, *tangents: Optional[Tensor]) -> Tuple[Optional[Tensor], ...]:
        return tuple(tangents[1:])  # identity in forward mode too


def _pack_with_none(indices: Sequence[int], values: Sequence[Optional[Tensor]], size: int) -> Grads:
    out: List[Optional[Tensor]] = [None] * size
    for i, v in zip(indices, values):
        out[i] = v
    return tuple(out)


def _check_count(what: str, got: Any, expected: int) -> Tuple[Any, ...]:
    got_t = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    if len(got_t) != expected:
        raise RuntimeError(f"{what} returned {len(got_t)} gradients, but expected {expected}")
    return got_t


class BackwardHook:
    """One hooked module call: wraps its inputs and outputs, then runs the user's hooks.

    A new one is made per call (its state, ``grad_outputs``, belongs to that call's graph).
    """

    def __init__(self, module: Any, hooks: List[Callable[..., Any]], pre_hooks: List[Callable[..., Any]]) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs: Optional[Grads] = None
        self.n_inputs = 0
        self.input_idx: Optional[List[int]] = None
        self.n_outputs = 0
        self.output_idx: Optional[List[int]] = None

    @staticmethod
    def _wrap(hook: Callable[[Grads], Grads], args: Tuple[Any, ...]) -> Tuple[Tuple[Any, ...], Optional[List[int]]]:
        """Pass the tensors in ``args`` through the identity node; None when nothing is recorded."""
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in idx]
        if not (_core.is_grad_enabled() and any(t.requires_grad for t in tensors)):
            return args, None
        new = _BackwardHookFunction.apply(hook, *tensors)
        out = list(args)
        for i, t in zip(idx, new):
            out[i] = t
        return tuple(out), idx

    def setup_input_hook(self, args: Tuple[Any, ...]) -> Tuple[Any, ...]:
        """Wrap the tensor positional inputs; their node runs the full backward hooks."""
        res, self.input_idx = self._wrap(self._input_hook, args)
        self.n_inputs = len(args)
        return res

    def setup_output_hook(self, result: Any) -> Any:
        """Wrap the tensor output(s); their node runs the backward pre-hooks."""
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        res, self.output_idx = self._wrap(self._output_hook, outs)
        self.n_outputs = len(outs)
        return res[0] if single else res

    def _output_hook(self, grads: Grads) -> Grads:
        assert self.output_idx is not None
        grad_outputs = _pack_with_none(self.output_idx, grads, self.n_outputs)
        for hook in self.pre_hooks:
            r = hook(self.module, grad_outputs)
            if r is not None:
                grad_outputs = _check_count("a backward pre-hook", r, self.n_outputs)
        self.grad_outputs = grad_outputs
        if self.input_idx is None:
            # No input requires grad: the input node never runs, so the full hooks run here
            # with grad_input all None (and may not replace it).
            grad_inputs: Grads = (None,) * self.n_inputs
            for hook in self.hooks:
                r = hook(self.module, grad_inputs, grad_outputs)
                if r is not None and not all(g is None for g in _check_count("a backward hook", r, self.n_inputs)):
                    raise RuntimeError("a backward hook of a module whose inputs do not require grad must "
                                       "return None (or None for every gradient)")
            self.grad_outputs = None
        return tuple(grad_outputs[i] for i in self.output_idx)

    def _input_hook(self, grads: Grads) -> Grads:
        assert self.input_idx is not None
        if self.grad_outputs is None:
            # The gradient reached the inputs without passing through the outputs (e.g. a
            # tensor from inside the forward used elsewhere): nothing to report.
            return grads
        grad_inputs = _pack_with_none(self.input_idx, grads, self.n_inputs)
        for hook in self.hooks:
            r = hook(self.module, grad_inputs, self.grad_outputs)
            if r is not None:
                grad_inputs = _check_count("a backward hook", r, self.n_inputs)
        self.grad_outputs = None
        return tuple(grad_inputs[i] for i in self.input_idx)
