"""``Module`` and ``Parameter``: the model container, found by walking attributes."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple, Union

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore.autograd import no_grad
from gradcore.nn.hooks import BackwardHook, RemovableHandle


class Parameter(Tensor):
    """A tensor that is a model parameter: ``Module.parameters()`` finds it.

    ``Parameter(t)`` shares ``t``'s storage; ``requires_grad`` defaults to True.
    """

    def __init__(self, data: Optional[Any] = None, requires_grad: bool = True) -> None:
        if data is None:
            data = _core.zeros(0)
        super().__init__(data)
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Parameter":
        return Parameter(self.detach().clone(), requires_grad=self.requires_grad)


class StateDictError(RuntimeError, KeyError, ValueError):
    """A state dict that does not fit the module (missing, unexpected or mis-shaped keys).

    It is a ``RuntimeError`` (as in PyTorch), and also a ``KeyError`` and a ``ValueError``.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` returns: the keys it did not match (as in PyTorch)."""

    missing_keys: List[str]
    unexpected_keys: List[str]


class Module:
    """Base class of every layer and model.

    Parameters, buffers and sub-modules are plain attributes; ``parameters()`` and
    ``state_dict()`` find them by walking the attributes in assignment order, so the keys
    are the attribute paths (``"0.weight"`` in a ``Sequential``), exactly as in PyTorch.

    Hooks (PyTorch's names and semantics; each ``register_*`` returns a
    :class:`~gradcore.nn.hooks.RemovableHandle`):

    - ``register_forward_pre_hook(hook)``: ``hook(module, args)`` before ``forward``; may
      return new positional args (a tuple, or one value meaning a 1-tuple).
    - ``register_forward_hook(hook)``: ``hook(module, args, output)`` after ``forward``;
      may return a replacement output.
    - ``register_full_backward_pre_hook(hook)``: ``hook(module, grad_output)`` when the
      gradients w.r.t. the outputs are known; may return a replacement ``grad_output``.
    - ``register_full_backward_hook(hook)``: ``hook(module, grad_input, grad_output)`` when
      the gradients w.r.t. the tensor positional inputs are known (None for inputs that do
      not require grad); may return a replacement ``grad_input``, which is what flows on
      to the inputs. See :mod:`gradcore.nn.hooks` for how.

    A module without hooks pays one flag check per call. A hooked ``Linear`` or activation
    inside a ``Sequential`` runs unfused, so that its hooks see its own input and output.
    """

    training: bool
    _has_hooks: bool = False  # set on the instance while any hook is registered

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_buffers", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses override it and call the module itself (``m(x)``)."""
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._has_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        hooks = self.__dict__["_hooks"]
        for hook in list(hooks["_forward_pre_hooks"].values()):
            r = hook(self, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
        bw: Optional[BackwardHook] = None
        if hooks["_backward_hooks"] or hooks["_backward_pre_hooks"]:
            bw = BackwardHook(self, list(hooks["_backward_hooks"].values()),
                              list(hooks["_backward_pre_hooks"].values()))
            args = bw.setup_input_hook(args)
        result = self.forward(*args, **kwargs)
        for hook in list(hooks["_forward_hooks"].values()):
            r = hook(self, args, result)
            if r is not None:
                result = r
        if bw is not None:
            result = bw.setup_output_hook(result)
        return result

    # ---- hooks ----------------------------------------------------------------------
    def _add_hook(self, kind: str, hook: Callable[..., Any], prepend: bool) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
        hooks = self.__dict__.get("_hooks")
        if hooks is None:
            hooks = {k: OrderedDict() for k in
                     ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")}
            object.__setattr__(self, "_hooks", hooks)
        table = hooks[kind]
        handle = RemovableHandle(table, owner=self)
        table[handle.id] = hook
        if prepend:
            table.move_to_end(handle.id, last=False)
        object.__setattr__(self, "_has_hooks", True)
        return handle

    def _refresh_hooks(self) -> None:
        """Back to the fast path of ``__call__`` once the last hook is removed."""
        hooks: Optional[Dict[str, "OrderedDict[int, Callable[..., Any]]"]] = self.__dict__.get("_hooks")
        object.__setattr__(self, "_has_hooks", hooks is not None and any(hooks.values()))

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, args) -> None or new args`` runs before each ``forward``.

        ``args`` is the tuple of positional arguments (keyword arguments are not passed);
        a non-tuple return value is taken as the single argument. ``prepend`` runs it
        before the hooks already registered.
        """
        return self._add_hook("_forward_pre_hooks", hook, prepend)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, args, output) -> None or new output`` runs after each ``forward``."""
        return self._add_hook("_forward_hooks", hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output) -> None or new grad_output`` runs when the gradients
        w.r.t. this call's outputs are computed, before they flow into the module.

        ``grad_output`` has one entry per output (None for outputs that are not tensors,
        need no grad or received no gradient).
        """
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook: Callable[..., Any], *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output) -> None or new grad_input`` runs when the
        gradients w.r.t. this call's tensor positional inputs are computed.

        ``grad_input`` has one entry per positional argument (None for arguments that are
        not tensors or do not require grad); a returned tuple of the same length replaces
        the gradients that flow on to the inputs. When no input requires grad the hook
        runs with ``grad_input`` all None once ``grad_output`` is known, and must return
        None. Like PyTorch, inputs and outputs are passed through an identity node, so
        they are not the very tensor objects the caller passed in (or gets back).
        """
        return self._add_hook("_backward_hooks", hook, prepend)

    # ---- registration ---------------------------------------------------------------
    def register_buffer(self, name: str, tensor: Optional[Tensor]) -> None:
        """A tensor that is part of the state dict but not a parameter."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("call Module.__init__() before register_buffer()")
        self._buffers[name] = tensor

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        """Same as ``setattr(self, name, param)`` (PyTorch compatibility)."""
        setattr(self, name, param)

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        """Same as ``setattr(self, name, module)`` (PyTorch compatibility)."""
        setattr(self, name, module)

    def __getattr__(self, name: str) -> Any:
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            return buffers[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    # ---- traversal ------------------------------------------------------------------
    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        """(attribute name, module) for each direct sub-module, in assignment order."""
        for name, value in self.__dict__.items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator["Module"]:
        """The direct sub-modules, in assignment order."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[Tuple[str, "Module"]]:
        """(dotted name, module) for this module and every sub-module, each once, depth first."""
        seen = set()
        stack: List[Tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, m = stack.pop(0)
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            stack[0:0] = [((name + "." if name else "") + n, c) for n, c in m.named_children()]

    def modules(self) -> Iterator["Module"]:
        """This module and every sub-module, each once, depth first."""
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[Tuple[str, Parameter]]:
        """(dotted name, parameter) for each parameter, shared ones once; only this module's without ``recurse``."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, m in mods:
            for name, value in m.__dict__.items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (mname + "." if mname else "") + name, value

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (shared ones once), e.g. for an optimizer."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[Tuple[str, Tensor]]:
        """(dotted name, tensor) for each registered buffer that is not None."""
        for mname, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                if b is not None:
                    yield (mname + "." if mname else "") + name, b

    def buffers(self) -> Iterator[Tensor]:
        """Every registered buffer that is not None."""
        for _, b in self.named_buffers():
            yield b

    # ---- modes ----------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (Dropout active) on this module and every sub-module."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set ``requires_grad`` on every parameter (freeze with False); returns self."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient (to None by default, else to zeros in place)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.zero_()

    def to(self, dtype: Any) -> "Module":
        """Convert every parameter and buffer to ``dtype`` in place (same Parameter objects)."""
        with no_grad():
            for p in self.parameters():
                p.data = p.to(dtype)
            for m in self.modules():
                for k, b in list(m._buffers.items()):
                    if b is not None:
                        m._buffers[k] = b.to(dtype)
        return self

    def float(self) -> "Module":
        """Convert parameters and buffers to float32 (``to(gc.float32)``)."""
        return self.to(_core.float32)

    def double(self) -> "Module":
        """Convert parameters and buffers to float64 (``to(gc.float64)``)."""
        return self.to(_core.float64)

    # ---- state ----------------------------------------------------------------------
    def _state_items(self, prefix: str = "") -> Iterator[Tuple[str, Tensor]]:
        """(key, tensor) for every parameter and buffer, module by module, WITHOUT removing
        shared ones: a module used twice appears under both names, as in PyTorch."""
        stack: List[Tuple[str, Module]] = [(prefix, self)]
        while stack:
            pre, m = stack.pop(0)
            children = []
            for name, value in m.__dict__.items():
                if isinstance(value, Parameter):
                    yield pre + name, value
                elif isinstance(value, Module):
                    children.append((pre + name + ".", value))
            for name, b in m._buffers.items():
                if b is not None:
                    yield pre + name, b
            stack[0:0] = children

    def state_dict(self) -> "OrderedDict[str, Tensor]":
        """Parameters and buffers by dotted name, as tensors sharing their storage.

        Keys are exactly PyTorch's (a module reused in two places appears under both names).
        """
        sd: "OrderedDict[str, Tensor]" = OrderedDict()
        for name, t in self._state_items():
            sd[name] = t.detach()
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values into this module's parameters and buffers.

        With ``strict`` (default) every key must match: missing keys, unexpected keys and
        shape mismatches raise :class:`StateDictError` (a RuntimeError, KeyError and
        ValueError) listing all of them. Values may be tensors or NumPy arrays; they are
        copied (and converted to the parameter's dtype).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a mapping, got {type(state_dict).__name__}")
        own: Dict[str, Tensor] = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        values: Dict[str, Tensor] = {}
        for k, target in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            if not isinstance(v, Tensor):
                if not isinstance(v, np.ndarray):
                    raise TypeError(f"state_dict['{k}'] is a {type(v).__name__}, expected a Tensor or ndarray")
                v = _core.tensor(v, dtype=target.dtype)
            if tuple(v.shape) != tuple(target.shape):
                mismatched.append(f"size mismatch for {k}: copying a value of shape {tuple(v.shape)}, "
                                  f"the parameter has shape {tuple(target.shape)}")
            values[k] = v
        errors = []
        if strict and missing:
            errors.append("Missing key(s): " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            errors.append("Unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
        errors.extend(mismatched)
        if errors:
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for k, v in values.items():
                own[k].copy_(v.to(own[k].dtype) if v.dtype != own[k].dtype else v)
        return IncompatibleKeys(missing, unexpected)

    # ---- repr -----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's ``repr`` parentheses; subclasses override it."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self.named_children():
            sub = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"
