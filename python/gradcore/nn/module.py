"""``Module`` and ``Parameter``: the model container, found by walking attributes."""
from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple, Union

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore._interop import from_foreign, is_foreign_tensor
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

    __str__ = __repr__  # print(p) shows it too, as PyTorch's

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Parameter":
        return Parameter(self.detach().clone(), requires_grad=self.requires_grad)


class StateDictError(RuntimeError, KeyError, ValueError):
    """A state dict that does not fit the module (missing, unexpected or mis-shaped keys).

    It is a ``RuntimeError`` (as in PyTorch), and also a ``KeyError`` and a ``ValueError``.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class _IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` returns: the keys it did not match (as in PyTorch)."""

    missing_keys: List[str]
    unexpected_keys: List[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"


IncompatibleKeys = _IncompatibleKeys  # PyTorch's class name is the private one


class Module:
    """Base class of every layer and model.

    As in PyTorch, assigning a :class:`Parameter` or a ``Module`` to an attribute registers
    it (in ``_parameters`` / ``_modules``, buffers in ``_buffers``; ``__getattr__`` finds
    them there); ``parameters()`` and ``state_dict()`` walk those tables in registration
    order, so the keys are the attribute paths (``"0.weight"`` in a ``Sequential``).

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
    _version: int = 1  # recorded in state_dict metadata, as PyTorch's
    _parameters: "OrderedDict[str, Optional[Parameter]]"
    _buffers: "OrderedDict[str, Optional[Tensor]]"
    _modules: "OrderedDict[str, Optional[Module]]"
    _non_persistent_buffers_set: "set[str]"
    _load_state_dict_pre_hooks: "OrderedDict[int, Callable[..., Any]]"
    _load_state_dict_post_hooks: "OrderedDict[int, Callable[..., Any]]"

    def __init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "training", True)
        set_(self, "_parameters", OrderedDict())
        set_(self, "_buffers", OrderedDict())
        set_(self, "_non_persistent_buffers_set", set())
        set_(self, "_modules", OrderedDict())
        set_(self, "_load_state_dict_pre_hooks", OrderedDict())
        set_(self, "_load_state_dict_post_hooks", OrderedDict())

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
    def _check_member_name(self, kind: str, name: Any, table: str) -> None:
        """PyTorch's checks on a new parameter / buffer / module name (types and messages)."""
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f"{kind} name can't contain \".\"" + (f", got: {name}" if kind == "module" else ""))
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in self.__dict__[table]:
            raise KeyError(f"attribute '{name}' already exists")

    def register_buffer(self, name: str, tensor: Optional[Tensor], persistent: bool = True) -> None:
        """A tensor that is module state but not a parameter (e.g. running statistics).

        A persistent buffer is part of :meth:`state_dict`; ``persistent=False`` keeps it out.
        ``None`` reserves the name (the buffer is skipped until a tensor is assigned).
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_member_name("buffer", name, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(gradcore Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        """Add ``param`` (a :class:`Parameter`, or None to reserve the name) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_member_name("parameter", name, "_parameters")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(gradcore.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                             f"created explicitly. To express '{name}' as a function of another Tensor, compute "
                             "the value in the forward() method.")
        self._parameters[name] = param

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        """Add ``module`` (or None) as the child ``name``; same as ``setattr(self, name, module)``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        self._check_member_name("module", name, "_modules")
        self._modules[name] = module

    def register_module(self, name: str, module: Optional["Module"]) -> None:
        """Alias of :meth:`add_module`."""
        self.add_module(name, module)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: parameters, buffers and children live in
        # their three tables (as in PyTorch), not in the instance dict.
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            members = d.get(table)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            _drop(name, d, d["_buffers"], d["_modules"], d["_non_persistent_buffers_set"])
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(gradcore.nn.Parameter or None expected)")
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            _drop(name, d, params, d["_buffers"], d["_non_persistent_buffers_set"])
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                "(gradcore.nn.Module or None expected)")
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                "(gradcore.nn.Buffer, gradcore.Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if name in d.get("_parameters", ()):
            del d["_parameters"][name]
        elif name in d.get("_buffers", ()):
            del d["_buffers"][name]
            d["_non_persistent_buffers_set"].discard(name)
        elif name in d.get("_modules", ()):
            del d["_modules"][name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> List[str]:
        keys = list(super().__dir__())
        for table in ("_parameters", "_buffers", "_modules"):
            keys += list(self.__dict__.get(table, {}))
        return sorted(set(k for k in keys if not k[:1].isdigit()))

    # ---- lookup by dotted name ------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def get_submodule(self, target: str) -> "Module":
        """The sub-module at the dotted path ``target`` ("" is this module)."""
        if target == "":
            return self
        mod: Module = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            nxt = getattr(mod, item)
            if not isinstance(nxt, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
            mod = nxt
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target`` (e.g. ``"0.weight"``)."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        p = getattr(mod, name)
        if not isinstance(p, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return p

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target``."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        if name not in mod._buffers:
            raise AttributeError("`" + name + "` is not a buffer")
        b: Tensor = getattr(mod, name)
        return b

    # ---- traversal ------------------------------------------------------------------
    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        """(name, module) for each direct sub-module, in registration order, each once."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        """The direct sub-modules, in registration order."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo: Optional["set[Module]"] = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[Tuple[str, "Module"]]:
        """(dotted name, module) for this module and every sub-module, depth first.

        A module reachable under several names comes once (its first name) unless
        ``remove_duplicate`` is False; ``memo`` is the set of modules already seen.
        """
        if memo is None:
            memo = set()
        stack: List[Tuple[str, Module]] = [(prefix, self)]
        while stack:  # iterative, in the order of PyTorch's recursion
            name, m = stack.pop()
            if m in memo:
                continue
            if remove_duplicate:
                memo.add(m)
            yield name, m
            kids = [((name + "." if name else "") + n, c) for n, c in m._modules.items() if c is not None]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator["Module"]:
        """This module and every sub-module, each once, depth first."""
        for _, m in self.named_modules():
            yield m

    def _named_members(self, table: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[Tuple[str, Any]]:
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mname, m in mods:
            for name, v in m.__dict__[table].items():
                if v is None or id(v) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield (mname + "." if mname else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[Tuple[str, Parameter]]:
        """(dotted name, parameter) for each parameter; shared ones once unless ``remove_duplicate``
        is False; only this module's own without ``recurse``."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (shared ones once), e.g. for an optimizer."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[Tuple[str, Tensor]]:
        """(dotted name, tensor) for each registered buffer that is not None (persistent or not)."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every registered buffer that is not None."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """``fn(m)`` for every sub-module (children first, recursively) and then this module; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes ----------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (Dropout active) on this module and, recursively, every child."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        object.__setattr__(self, "training", mode)
        for m in self.children():
            m.train(mode)
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

    def _apply_to_tensors(self, fn: Callable[[Tensor], Tensor]) -> "Module":
        """Replace every floating parameter's data and floating buffer by ``fn`` of it
        (parameters stay the same objects, as in PyTorch)."""
        with no_grad():
            for m in self.modules():
                for p in m._parameters.values():
                    if p is not None and p.is_floating_point():
                        p.data = fn(p)
                        if p.grad is not None and p.grad.is_floating_point():
                            p.grad = fn(p.grad)
                for k, b in list(m._buffers.items()):
                    if b is not None and b.is_floating_point():
                        m._buffers[k] = fn(b)
        return self

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """``to(dtype)``, ``to("cpu")``, ``to(tensor)`` (its dtype): convert the floating
        parameters and buffers in place (integer buffers are left alone, as in PyTorch).

        ``non_blocking`` is accepted and ignored; devices other than the CPU raise RuntimeError.
        """
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        fmt = kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, _core.dtype):
                dtype = a
            elif isinstance(a, bool):  # non_blocking passed positionally
                continue
            else:
                device = a
        if device is not None and str(device) not in ("cpu", "cpu:0"):
            raise RuntimeError(f"gradcore runs on the CPU only, cannot move a module to {device!r}")
        if fmt is not None:
            # Accepted and checked, but parameters stay contiguous: gradcore's convolution
            # kernels are NCHW and its fused optimizers update contiguous parameters, so a
            # channels-last weight would only cost a copy per step (values are the same).
            from gradcore._tensor import _check_memory_format
            _check_memory_format(fmt)
        if dtype is None:
            return self
        if not _core.zeros(0, dtype=dtype).is_floating_point():
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
                            f"dtype={dtype}")
        return self._apply_to_tensors(lambda t: t.to(dtype))

    def float(self) -> "Module":
        """Floating parameters and buffers to float32."""
        return self.to(_core.float32)

    def double(self) -> "Module":
        """Floating parameters and buffers to float64."""
        return self.to(_core.float64)

    def half(self) -> "Module":
        """Floating parameters and buffers to float16 (storage; not every op computes in float16)."""
        return self.to(_core.float16)

    def bfloat16(self) -> "Module":
        """Floating parameters and buffers to bfloat16 (storage; not every op computes in bfloat16)."""
        return self.to(_core.bfloat16)

    def cpu(self) -> "Module":
        """A no-op (gradcore runs on the CPU); returns self."""
        return self

    # ---- state ----------------------------------------------------------------------
    def _save_to_state_dict(self, destination: Dict[str, Any], prefix: str, keep_vars: bool) -> None:
        """This module's own parameters and persistent buffers into ``destination``."""
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, *, destination: Optional[Dict[str, Any]] = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Parameters and persistent buffers by dotted name (an OrderedDict, PyTorch's keys and order).

        Values share storage with the module; they are detached unless ``keep_vars``. A
        module reused in two places appears under both names. With ``destination`` the
        entries are added to it (and it is returned).
        """
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()  # type: ignore[attr-defined]
        meta = getattr(destination, "_metadata", None)
        if meta is not None:
            meta[prefix[:-1]] = {"version": self._version}
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination  # type: ignore[return-value]

    def _register_load_state_dict_pre_hook(self, hook: Callable[..., Any], with_module: bool = False) -> RemovableHandle:
        """``hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)`` runs before this module's part of :meth:`load_state_dict` (with the
        module as first argument when ``with_module``); it may edit ``state_dict`` in place."""
        table = self.__dict__["_load_state_dict_pre_hooks"]
        handle = RemovableHandle(table)
        table[handle.id] = functools.partial(hook, self) if with_module else hook
        return handle

    def register_load_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before this module's part of :meth:`load_state_dict`."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def register_load_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, incompatible_keys)`` after :meth:`load_state_dict` loaded this module;
        it may edit ``incompatible_keys`` in place and must return None."""
        table = self.__dict__["_load_state_dict_post_hooks"]
        handle = RemovableHandle(table)
        table[handle.id] = hook
        return handle

    def _load_from_state_dict(self, state_dict: Dict[str, Any], prefix: str, local_metadata: Dict[str, Any],
                              strict: bool, missing_keys: List[str], unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:
        """Load this module's own parameters and persistent buffers from ``state_dict``
        (keys ``prefix + name``), recording problems in the three lists (PyTorch's contract).

        Values may be tensors, NumPy arrays or other libraries' tensors that speak DLPack (a
        PyTorch ``state_dict()``, read without a copy); they are copied into the existing tensors
        (converted to their dtype), or with ``local_metadata["assign_to_params_buffers"]``
        put in their place (a Parameter keeps its ``requires_grad``).
        """
        for hook in list(self._load_state_dict_pre_hooks.values()):
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        local: Dict[str, Tensor] = {k: v for k, v in self._parameters.items() if v is not None}
        local.update((k, v) for k, v in self._buffers.items()
                     if v is not None and k not in self._non_persistent_buffers_set)
        assign = bool(local_metadata.get("assign_to_params_buffers", False))
        for name, param in local.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if is_foreign_tensor(value):  # a PyTorch (or JAX) tensor: read through DLPack, no copy
                try:
                    value = from_foreign(value)
                except (TypeError, ValueError, RuntimeError, BufferError) as ex:
                    error_msgs.append(f'While copying the parameter named "{key}", an exception occurred : {ex}.')
                    continue
            if isinstance(value, np.ndarray):
                try:
                    value = _core.tensor(value, dtype=param.dtype)
                except (TypeError, ValueError, RuntimeError) as ex:
                    error_msgs.append(f'While copying the parameter named "{key}", an exception occurred : {ex}.')
                    continue
            if not isinstance(value, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected torch.Tensor or '
                                  f"Tensor-like object from checkpoint but received {type(value)}")
                continue
            if param.ndim == 0 and value.ndim == 1 and tuple(value.shape) == (1,):
                value = value[0]  # PyTorch's backward compatibility for 0-d parameters saved as (1,)
            if tuple(value.shape) != tuple(param.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from "
                                  f"checkpoint, the shape in current model is {tuple(param.shape)}.")
                continue
            try:
                with no_grad():
                    if assign:
                        if isinstance(param, Parameter) and not isinstance(value, Parameter):
                            value = Parameter(value, requires_grad=param.requires_grad)
                        elif isinstance(param, Parameter):
                            value.requires_grad = param.requires_grad
                        setattr(self, name, value)
                    else:
                        param.copy_(value if value.dtype == param.dtype else value.to(param.dtype))
            except (TypeError, ValueError, RuntimeError) as ex:
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions in the model are '
                                  f"{tuple(param.shape)} and whose dimensions in the checkpoint are "
                                  f"{tuple(value.shape)}, an exception occurred : {ex.args}.")
        if strict:
            for key in state_dict:
                if key.startswith(prefix):
                    first = key[len(prefix):].split(".", 1)[0]
                    if first not in self._modules and first not in local:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> IncompatibleKeys:
        """Copy values into this module's parameters and persistent buffers (PyTorch's semantics).

        Returns ``_IncompatibleKeys(missing_keys, unexpected_keys)``. Shape mismatches and
        unusable values are errors; with ``strict`` (default) missing and unexpected keys
        are too. Errors raise :class:`StateDictError` (a RuntimeError, as in PyTorch, and
        also a KeyError and a ValueError) listing all of them, and, unlike PyTorch, leave
        the module as it was. ``assign=True`` puts the given tensors in place of the
        module's instead of copying into them.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        metadata = getattr(state_dict, "_metadata", None)
        sd: "OrderedDict[str, Any]" = OrderedDict(state_dict)
        missing: List[str] = []
        unexpected: List[str] = []
        errors: List[str] = []
        # A snapshot of every tensor the load may change, restored if the load fails.
        snapshot = [(m, table, k, v, v.detach().clone()) for m in self.modules()
                    for table in ("_parameters", "_buffers") for k, v in m.__dict__[table].items()
                    if v is not None]
        stack: List[Tuple[Module, Dict[str, Any], str]] = [(self, sd, "")]
        loaded: List[Module] = []
        while stack:  # parents before children, as PyTorch's recursion
            m, local_sd, prefix = stack.pop()
            local_meta: Dict[str, Any] = dict(metadata.get(prefix[:-1], {})) if metadata else {}
            if assign:
                local_meta["assign_to_params_buffers"] = True
            m._load_from_state_dict(local_sd, prefix, local_meta, True, missing, unexpected, errors)
            kids = []
            for name, child in m._modules.items():
                if child is not None:
                    cp = prefix + name + "."
                    kids.append((child, {k: v for k, v in local_sd.items() if k.startswith(cp)}, cp))
            stack.extend(reversed(kids))
            loaded.append(m)
        result = _IncompatibleKeys(missing, unexpected)
        for m in reversed(loaded):  # post hooks run children first, as PyTorch's recursion unwinds
            for hook in list(m._load_state_dict_post_hooks.values()):
                if hook(m, result) is not None:
                    raise RuntimeError("Hooks registered with ``register_load_state_dict_post_hook`` are not "
                                       "expected to return new values, if incompatible_keys need to be modified,"
                                       "it should be done inplace.")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
        if errors:
            with no_grad():
                for m, table, k, obj, saved in snapshot:
                    m.__dict__[table][k] = obj
                    obj.copy_(saved)
            raise StateDictError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        return result

    # ---- repr -----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's ``repr`` parentheses; subclasses override it."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = ["(" + k + "): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _drop(name: str, *tables: Any) -> None:
    for t in tables:
        if t is None:
            continue
        if isinstance(t, set):
            t.discard(name)
        elif name in t:
            del t[name]


_TENSOR_TYPES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                 "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
                 "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def _typename(obj: Any) -> str:
    """``torch.typename``: "gradcore.FloatTensor" for a tensor, else the qualified type name."""
    if isinstance(obj, Tensor):
        return "gradcore." + _TENSOR_TYPES.get(str(obj.dtype).split(".")[-1], "Tensor")
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qual = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qual = obj.__name__
    else:
        module, qual = type(obj).__module__ or "", type(obj).__qualname__
    return qual if module in ("", "builtins") else f"{module}.{qual}"
