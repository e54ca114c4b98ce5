"""Optimizers. ``step()`` is ONE C++ call per parameter group (a multi-tensor kernel); with
several groups, a validating call per group comes first, so a step is all or nothing.

Every optimizer is a thin configuration of :class:`Optimizer`: which state buffers it
keeps and which hyper-parameters it passes to ``gradcore._core.optim_step``. The update
rules are PyTorch's (``torch.optim``), written out in each class docstring.
"""
from __future__ import annotations

import copy
import math
import numbers
import operator
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore.optim import lr_scheduler  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler",
           # issue 12
           "Adamax", "NAdam", "RAdam", "Adadelta", "ASGD", "LBFGS"]

ParamsT = Union[Iterable[Tensor], Iterable[Dict[str, Any]]]


_DUPLICATE_WARNING = ("optimizer contains a parameter group with duplicate parameters; in future, this will cause "
                      "an error; see github.com/pytorch/pytorch/issues/40967 for more information")


class _GroupCache:
    """The flat lists one group hands to C++, rebuilt only when the group changes.

    ``params`` lists each parameter of the group once (in first-occurrence order), with its
    state buffers and step count at the same position. ``repeats`` is None, or, for a group
    that lists some parameter several times, the positions updated again in each extra
    round (see Note [Duplicate parameters] in Optimizer.step).
    """

    def __init__(self, key: List[int], params: List[Tensor], states: List[List[Optional[Tensor]]], steps: Tensor,
                 repeats: Optional[List[List[int]]], scalars: Optional[Tensor] = None) -> None:
        self.key, self.params, self.states, self.steps, self.repeats = key, params, states, steps, repeats
        # Per-parameter scalar state (Optimizer.scalar_names), float64 of shape (len(params), k).
        self.scalars = scalars
        self.position = {id(p): j for j, p in enumerate(params)}


# Kernel hyper-parameters that PyTorch's param groups spell differently.
_GROUP_KEYS: Dict[str, Callable[[Dict[str, Any]], Any]] = {
    "beta1": lambda g: g["betas"][0],
    "beta2": lambda g: g["betas"][1],
    "decoupled": lambda g: bool(g.get("decoupled_weight_decay", False)),
}


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``state_dict``.

    Subclasses set ``kind`` (the C++ update) and ``_validate(group)`` (their hyper-parameter
    rules, checked for every group added or loaded). What the update reads and keeps is
    declared once, in C++ (Note [Optimizer declarations], csrc/autograd/ops/optim.cpp):
    ``state_names`` (the state buffers, in the kernel's slot order), ``scalar_names`` and the
    hyper-parameters, read from ``_core.optimizer_specs()`` when the subclass is defined;
    which buffers a group uses comes from ``_core.optim_slots``.

    State changes are transactional: a ``step()`` or ``load_state_dict()`` that raises leaves
    every parameter, state buffer, step count and hyper-parameter as it was.
    """

    kind: str = ""
    # From the kind's C++ declaration (__init_subclass__).
    state_names: Tuple[str, ...] = ()
    hyper_names: Tuple[str, ...] = ()
    # Per-parameter scalar state the C++ step keeps (NAdam's mu_product, ASGD's eta and mu),
    # shown in state_dict as 0-dim tensors of PyTorch's scalar dtype (float32 unless the
    # default dtype is float64) and rounded to it after every update, as PyTorch's are.
    scalar_names: Tuple[str, ...] = ()
    # Whether a parameter listed k times in a group advances its step count k times per
    # step (PyTorch's Adam, RMSprop, Adagrad) or once (SGD). See Note [Duplicate parameters].
    _step_per_occurrence = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind and "kind" in cls.__dict__:
            spec = _core.optimizer_specs()[cls.kind]
            cls.state_names, cls.scalar_names = spec["states"], spec["scalars"]
            # round_scalars follows the default dtype, not the group (_core_args).
            cls.hyper_names = tuple(n for n in spec["hyper"] if n != "round_scalars")

    def __init__(self, params: ParamsT, defaults: Dict[str, Any]) -> None:
        self.defaults = defaults
        self.param_groups: List[Dict[str, Any]] = []
        self.state: Dict[Tensor, Dict[str, Any]] = {}
        self._caches: List[Optional[_GroupCache]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got a Tensor")
        groups: List[Any] = list(params)  # Tensors, or param-group dicts (a set too, as in PyTorch)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        """Add a group (``{"params": [...], **hyper-parameters}``); missing settings come from the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        _check_ordered(params)
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(self.defaults)
        group.update(param_group)
        group["params"] = params
        self._validate(group)
        if len({id(p) for p in params}) != len(params):
            warnings.warn(_DUPLICATE_WARNING, UserWarning, stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)
        self._caches.append(None)

    def _validate(self, group: Dict[str, Any]) -> None:
        """Check a group's hyper-parameters: the type of each one the defaults name (a number
        where the default is a number, a tuple of as many numbers where it is a tuple), then
        PyTorch's range rules with PyTorch's messages (NaN is out of every range). Subclasses
        extend it with their own rules."""
        for name, default in self.defaults.items():
            value = group[name]
            if isinstance(default, bool):
                continue  # any truth value, as in PyTorch
            if isinstance(default, tuple):
                if not isinstance(value, (tuple, list)) or len(value) != len(default):
                    raise TypeError(f"{name} must be a tuple of {len(default)} numbers, got {value!r}")
                for v in value:
                    _as_float(name, v)
            elif isinstance(default, (int, float)):
                _as_float(name, value)
        _at_least_zero(group, "lr", "learning rate")
        _at_least_zero(group, "weight_decay", "weight_decay value")
        _at_least_zero(group, "eps", "epsilon value")

    def _buffers_for(self, group: Dict[str, Any]) -> Tuple[bool, ...]:
        return tuple(_core.optim_slots(self.kind, **self._hyper(group)))

    def _init_value(self, name: str, group: Dict[str, Any]) -> float:
        return 0.0

    def _scalar_init(self, name: str, group: Dict[str, Any]) -> float:
        return 1.0

    def _hyper(self, group: Dict[str, Any]) -> Dict[str, Any]:
        """The keyword arguments of the C++ step: each declared hyper-parameter from the group
        (the kernel's beta1 / beta2 are PyTorch's ``betas``, its ``decoupled`` is
        ``decoupled_weight_decay``)."""
        return {name: _GROUP_KEYS[name](group) if name in _GROUP_KEYS else group[name] for name in self.hyper_names}

    def _cache(self, i: int) -> _GroupCache:
        group = self.param_groups[i]
        cache = self._caches[i]
        key = [id(p) for p in group["params"]]
        if cache is not None and cache.key == key:
            return cache
        if cache is not None:  # the group changed: keep the step counts of its old members
            for p, s in zip(cache.params, cache.steps.detach().numpy()):
                self.state.setdefault(p, {})["step"] = float(s)
            if cache.scalars is not None:
                for p, row in zip(cache.params, cache.scalars.detach().numpy()):
                    self.state[p].update({name: float(v) for name, v in zip(self.scalar_names, row)})
        used = self._buffers_for(group)
        params = list({id(p): p for p in group["params"]}.values())  # each once, first-occurrence order
        repeats = None
        if len(params) != len(key):
            counts: Dict[int, int] = {}
            for k in key:
                counts[k] = counts.get(k, 0) + 1
            repeats = [[j for j, p in enumerate(params) if counts[id(p)] > r] for r in range(1, max(counts.values()))]
        states: List[List[Optional[Tensor]]] = [[] for _ in self.state_names]
        steps = _core.zeros(len(params), dtype=_core.float64)
        steps_np = steps.detach().numpy()
        for j, p in enumerate(params):
            st = self.state.setdefault(p, {})
            # A state loaded without a step count (PyTorch's SGD keeps none) but with buffers
            # is not a first step: the buffers must be used, not re-initialised.
            has_buffers = any(st.get(name) is not None for name in self.state_names)
            steps_np[j] = float(st.get("step", 1.0 if has_buffers else 0.0))
            for k, name in enumerate(self.state_names):
                buf = st.get(name)
                if used[k] and buf is None:
                    buf = _core.full(tuple(p.shape), self._init_value(name, group), dtype=p.dtype)
                    st[name] = buf
                states[k].append(buf if used[k] else None)
        scalars = None
        if self.scalar_names:
            scalars = _core.zeros((len(params), len(self.scalar_names)), dtype=_core.float64)
            sc_np = scalars.detach().numpy()
            for j, p in enumerate(params):
                st = self.state[p]
                for k, name in enumerate(self.scalar_names):
                    if name not in st:
                        st[name] = _scalar_round(self._scalar_init(name, group))
                    sc_np[j, k] = st[name]
        cache = _GroupCache(key, params, states, steps, repeats, scalars)
        self._caches[i] = cache
        return cache

    def _core_args(self, cache: _GroupCache) -> Dict[str, Any]:
        """The scalar-state arguments of the C++ step (none for optimizers without one)."""
        if cache.scalars is None:
            return {}
        return dict(scalars=cache.scalars, round_scalars=_core.get_default_dtype() != _core.float64)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient (to None by default, as in PyTorch)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.zero_()

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Update every parameter that has a gradient: one C++ call per group.

        All or nothing: if any group is invalid (a gradient or state buffer of the wrong
        shape or dtype, a hyper-parameter of the wrong type), the error is raised before any
        parameter, state buffer or step count changes. One call validates before it writes
        (Note [Transactional optimizer step], csrc/autograd/ops/optim.cpp); with several
        groups, every group is checked (check_only) before the first is updated.
        """
        loss = None
        if closure is not None:
            with _core_enable_grad():
                loss = closure()
        work = []
        for i, group in enumerate(self.param_groups):
            cache = self._cache(i)
            if cache.params:
                work.append((cache, dict(self._hyper(group), **self._core_args(cache))))
        if len(work) > 1:
            for cache, hyper in work:
                _core.optim_step(self.kind, cache.params, cache.states, cache.steps, check_only=True, **hyper)
        for cache, hyper in work:
            _core.optim_step(self.kind, cache.params, cache.states, cache.steps, **hyper)
            if cache.repeats:
                self._repeat(cache, hyper)
        return loss

    def _repeat(self, cache: _GroupCache, hyper: Dict[str, Any]) -> None:
        """Note [Duplicate parameters]
        PyTorch (which warns about it) updates a parameter listed k times in one group k times
        per step, one update after the other, with the same gradient and shared state; its
        step count advances k times, except SGD's: SGD reads every momentum buffer before the
        loop, so on the first step each occurrence starts its buffer from the gradient. The
        first round is the group's ordinary call; here each extra round updates the
        parameters listed more than that many times (a subset of a validated call, so it
        cannot fail). SGD's rounds get the step count before the step, so that the C++
        first-step rule (count == 1) sees the same thing in every round, and it advances once."""
        steps = cache.steps.detach().numpy()
        scalars = cache.scalars.detach().numpy() if cache.scalars is not None else None
        for idx in cache.repeats or []:
            before = np.ascontiguousarray(steps[idx] - (0.0 if self._step_per_occurrence else 1.0))
            sub = _core.from_numpy(before)
            extra = dict(hyper)
            if scalars is not None:
                sub_scalars = np.ascontiguousarray(scalars[idx])
                extra["scalars"] = _core.from_numpy(sub_scalars)
            _core.optim_step(self.kind, [cache.params[j] for j in idx], [[s[j] for j in idx] for s in cache.states],
                             sub, **extra)
            if self._step_per_occurrence:
                steps[idx] = before
            if scalars is not None:
                scalars[idx] = sub_scalars

    # ---- state dict -----------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [...]}`` with parameters as indices (PyTorch's layout).

        Indices are PyTorch's: a parameter's position in the concatenated groups (the last one
        when a group lists it several times), so the numbering equals torch.optim's."""
        index: Dict[int, int] = {}
        groups = []
        start = 0
        for g in self.param_groups:
            index.update({id(p): i for i, p in enumerate(g["params"], start)})  # no parameter is in two groups
            start += len(g["params"])
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in g["params"]]
            groups.append(packed)
        state: Dict[int, Dict[str, Any]] = {}
        for i, g in enumerate(self.param_groups):
            cache = self._caches[i]
            for p in g["params"]:
                st = self.state.get(p)
                if not st:
                    continue
                entry = {k: (v.clone() if isinstance(v, Tensor) else v) for k, v in st.items()}
                if cache is not None and id(p) in cache.position:  # the live count (the group may have changed since)
                    entry["step"] = float(cache.steps.detach().numpy()[cache.position[id(p)]])
                    if cache.scalars is not None:
                        row = cache.scalars.detach().numpy()[cache.position[id(p)]]
                        entry.update({name: float(v) for name, v in zip(self.scalar_names, row)})
                for name in self.scalar_names:  # PyTorch's 0-dim tensors of its scalar dtype
                    if name in entry:
                        entry[name] = _core.tensor(entry[name], dtype=_scalar_dtype())
                if entry.get("step", 0.0) == 0.0:
                    continue
                state[index[id(p)]] = entry
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict` (or by ``torch.optim``,
        tensors converted).

        Transactional: the whole dict is checked first (its structure, the group count and
        sizes, every group's hyper-parameters, every state entry's step and buffers), then
        applied; on any error the optimizer is left exactly as it was. KeyError for a missing
        ``"state"``, ``"param_groups"`` or ``"params"`` and ValueError for groups that do not
        match (PyTorch's types and messages); TypeError/ValueError naming a bad entry.
        Hyper-parameters the dict does not mention keep their current values.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"optimizer state dict must be a dict, got {type(state_dict).__name__}")
        for name in ("param_groups", "state"):
            if name not in state_dict:
                raise KeyError(f"loaded state dict has no {name!r} entry")
        groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, dict) for g in groups):
            raise TypeError("loaded state dict's 'param_groups' must be a list of dicts")
        if not isinstance(saved_state, dict):
            raise TypeError(f"loaded state dict's 'state' must be a dict, got {type(saved_state).__name__}")
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for theirs in groups:
            if "params" not in theirs:
                raise KeyError("a parameter group of the loaded state dict has no 'params' entry")
            if not isinstance(theirs["params"], (list, tuple)):
                raise TypeError("a parameter group's 'params' must be a list of parameter ids")
        if any(len(mine["params"]) != len(theirs["params"]) for mine, theirs in zip(self.param_groups, groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        by_index: Dict[int, Tensor] = {}
        index_of: Dict[int, int] = {}
        for mine, theirs in zip(self.param_groups, groups):
            for p, raw in zip(mine["params"], theirs["params"]):
                idx = _param_id(raw)
                if by_index.setdefault(idx, p) is not p or index_of.setdefault(id(p), idx) != idx:
                    raise ValueError(f"loaded state dict's parameter ids do not match the optimizer's parameters "
                                     f"(id {idx} for two parameters, or two ids for one)")
        new_groups = []
        for mine, theirs in zip(self.param_groups, groups):
            group = dict(mine)
            group.update({k: copy.deepcopy(v) for k, v in theirs.items() if k != "params"})
            group["params"] = mine["params"]
            self._validate(group)
            new_groups.append(group)
        new_state: Dict[Tensor, Dict[str, Any]] = {}
        for raw, entry in saved_state.items():
            idx = _param_id(raw)
            if idx not in by_index:
                raise ValueError(f"loaded state dict has state for parameter id {idx}, which no parameter group lists")
            if not isinstance(entry, dict):
                raise TypeError(f"state of parameter {idx} must be a dict, got {type(entry).__name__}")
            new_state[by_index[idx]] = self._load_entry(idx, entry, by_index[idx])
        # Everything is valid: apply (group dicts are updated in place, so references stay valid).
        for mine, group in zip(self.param_groups, new_groups):
            mine.clear()
            mine.update(group)
        self.state = new_state
        self._caches = [None] * len(self.param_groups)

    def _load_entry(self, idx: int, entry: Dict[str, Any], p: Tensor) -> Dict[str, Any]:
        """A checked copy of one parameter's saved state: an integral step >= 0, and buffers
        (the names in ``state_names``) that are tensors of the parameter's shape, converted
        to its dtype. Other entries are copied as they are (PyTorch keeps them too)."""
        st: Dict[str, Any] = {}
        for k, v in entry.items():
            if k == "step":
                try:
                    step = v.item() if isinstance(v, Tensor) or hasattr(v, "item") else v
                except Exception as e:
                    raise ValueError(f"state 'step' of parameter {idx} must be one number, got {v!r}") from e
                if isinstance(step, bool) or not isinstance(step, numbers.Real):
                    raise TypeError(f"state 'step' of parameter {idx} must be a number, got {type(step).__name__}")
                step = float(step)
                if not (0.0 <= step < 2.0 ** 53 and step == int(step)):
                    raise ValueError(f"state 'step' of parameter {idx} must be a non-negative integer, got {step}")
                st[k] = step
            elif k in self.scalar_names:
                try:
                    value = v.item() if isinstance(v, Tensor) or hasattr(v, "item") else v
                except Exception as e:
                    raise ValueError(f"state {k!r} of parameter {idx} must be one number, got {v!r}") from e
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise TypeError(f"state {k!r} of parameter {idx} must be a number, got {type(value).__name__}")
                st[k] = _scalar_round(float(value))
            elif k in self.state_names and v is not None:
                if not isinstance(v, Tensor):
                    raise TypeError(f"state {k!r} of parameter {idx} must be a Tensor, got {type(v).__name__}")
                if tuple(v.shape) != tuple(p.shape):
                    raise ValueError(f"state {k!r} of shape {tuple(v.shape)} for parameter {idx} of shape "
                                     f"{tuple(p.shape)}")
                st[k] = v.to(p.dtype).clone()
            elif k not in self.state_names:
                st[k] = v.clone() if isinstance(v, Tensor) else copy.deepcopy(v)
        return st

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"


def _check_ordered(params: Any) -> None:
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                        "tensors in sets will change between runs. Please use a list instead.")


def _as_float(name: str, value: Any) -> float:
    """A hyper-parameter as a float (what the C++ step takes); TypeError naming it otherwise."""
    if isinstance(value, (str, bytes)) or not hasattr(type(value), "__float__"):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    try:
        return float(value)
    except Exception as e:
        raise TypeError(f"{name} must be a number, got {value!r}") from e


def _at_least_zero(group: Dict[str, Any], name: str, what: str) -> None:
    if name in group and not 0.0 <= _as_float(name, group[name]):
        raise ValueError(f"Invalid {what}: {group[name]}")


def _param_id(raw: Any) -> int:
    """A parameter id of a state dict: an int (a str of digits too, as a JSON round trip may leave it)."""
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    if isinstance(raw, bool):
        raise TypeError(f"parameter ids must be ints, got {raw!r}")
    try:
        return operator.index(raw)
    except TypeError:
        raise TypeError(f"parameter ids must be ints, got {type(raw).__name__} ({raw!r})") from None


def _scalar_dtype() -> Any:
    """PyTorch's dtype for optimizer scalar state: float64 when it is the default, else float32."""
    return _core.float64 if _core.get_default_dtype() == _core.float64 else _core.float32


def _scalar_round(x: float) -> float:
    return x if _scalar_dtype() == _core.float64 else float(np.float32(x))


def _core_enable_grad() -> Any:
    from gradcore.autograd import enable_grad

    return enable_grad()


class SGD(Optimizer):
    r"""Stochastic gradient descent with momentum (PyTorch's rule).

    g = grad (negated if maximize) + weight_decay * p;
    if momentum: buf = g on the first step, else buf = momentum * buf + (1 - dampening) * g;
    g = g + momentum * buf if nesterov else buf;  p = p - lr * g.
    """

    kind = "sgd"
    _step_per_occurrence = False

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: Optional[bool] = None, differentiable: bool = False, fused: Optional[bool] = None) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _check_not_differentiable(group, "SGD")
        _at_least_zero(group, "momentum", "momentum value")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")




class Adam(Optimizer):
    r"""Adam (Kingma & Ba), PyTorch's rule.

    g = grad + weight_decay * p (L2; AdamW decays p instead: p = p * (1 - lr * weight_decay));
    m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
    v_hat = max(v_hat, v) if amsgrad else v;
    p = p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps).
    ``decoupled_weight_decay=True`` is AdamW's rule. foreach / fused / capturable are accepted
    no-ops (see the issue-12 note below); differentiable=True raises NotImplementedError.
    """

    kind = "adam"

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 foreach: Optional[bool] = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None,
                 decoupled_weight_decay: bool = False) -> None:
        # decoupled_weight_decay=True is AdamW's rule (as in PyTorch, where AdamW is this Adam).
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _check_not_differentiable(group, type(self).__name__)
        for i, beta in enumerate(group["betas"]):
            if not 0.0 <= float(beta) < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")




class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter): p = p * (1 - lr * weight_decay)
    before the Adam update (no L2 term in the gradient). Default weight_decay 1e-2."""

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: Optional[bool] = None, capturable: bool = False,
                 differentiable: bool = False, fused: Optional[bool] = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


class RMSprop(Optimizer):
    r"""RMSprop, PyTorch's rule.

    g = grad + weight_decay * p;  s = alpha s + (1 - alpha) g^2;
    centered: a = alpha a + (1 - alpha) g, avg = sqrt(s - a^2) + eps; else avg = sqrt(s) + eps;
    momentum > 0: buf = momentum buf + g / avg, p = p - lr buf;  else p = p - lr g / avg.
    """

    kind = "rmsprop"

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: Optional[bool] = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize, capturable=capturable, foreach=foreach,
                                      differentiable=differentiable))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _check_not_differentiable(group, "RMSprop")
        _at_least_zero(group, "momentum", "momentum value")
        _at_least_zero(group, "alpha", "alpha value")




class Adagrad(Optimizer):
    r"""Adagrad, PyTorch's rule.

    g = grad + weight_decay * p;  clr = lr / (1 + (t - 1) lr_decay);
    sum = sum + g^2 (sum starts at initial_accumulator_value);  p = p - clr g / (sqrt(sum) + eps).
    """

    kind = "adagrad"

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: Optional[bool] = None) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      fused=fused))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _check_not_differentiable(group, "Adagrad")
        _at_least_zero(group, "lr_decay", "lr_decay value")
        _at_least_zero(group, "initial_accumulator_value", "initial_accumulator_value value")

    def _init_value(self, name: str, group: Dict[str, Any]) -> float:
        return float(group["initial_accumulator_value"])



# ---- issue 12: Adamax, NAdam, RAdam, Adadelta, ASGD, LBFGS ----------------------------
# Signatures, defaults, param_group keys and state names are torch.optim's (2.13). For every
# optimizer of this module, options that only select a PyTorch implementation are accepted
# and ignored: ``foreach`` and ``fused`` (every update here is one fused multi-tensor C++
# call anyway) and ``capturable`` (CUDA graphs; no meaning on the CPU).
# ``differentiable=True`` (autograd through the step) raises NotImplementedError.

def _check_betas(group: Dict[str, Any]) -> None:
    for i, beta in enumerate(group["betas"]):
        if not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def _check_not_differentiable(group: Dict[str, Any], name: str) -> None:
    if group.get("differentiable"):
        raise NotImplementedError(f"{name}(differentiable=True) is not supported by gradcore: the fused step "
                                  "is not recorded by autograd")


class _Issue12Optimizer(Optimizer):
    """Shared validation of the issue-12 optimizers (lr, eps, weight_decay, differentiable)."""

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _check_not_differentiable(group, type(self).__name__)


class Adamax(_Issue12Optimizer):
    r"""Adamax (Adam with the infinity norm), PyTorch's rule.

    g = grad (negated if maximize) + weight_decay * p;  m = lerp(m, g, 1 - beta1);
    u = max(beta2 * u, |g| + eps);  p = p - lr / (1 - beta1^t) * m / u.
    """

    kind = "adamax"

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: Optional[bool] = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _check_betas(group)



class NAdam(_Issue12Optimizer):
    r"""NAdam (Adam with Nesterov momentum, Dozat), PyTorch's rule.

    g = grad (negated if maximize) + weight_decay * p (decoupled_weight_decay: p = p (1 - lr wd)
    instead);  mu_t = beta1 (1 - 0.96^(t momentum_decay) / 2);  mu_product = mu_product * mu_t;
    m = lerp(m, g, 1 - beta1);  v = beta2 v + (1 - beta2) g^2;  d = sqrt(v / (1 - beta2^t)) + eps;
    p = p - lr (1 - mu_t) / (1 - mu_product) g / d - lr mu_{t+1} / (1 - mu_product mu_{t+1}) m / d.
    """

    kind = "nadam"

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: Optional[bool] = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _check_betas(group)
        _at_least_zero(group, "momentum_decay", "momentum_decay value")



class RAdam(_Issue12Optimizer):
    r"""RAdam (rectified Adam, Liu et al.), PyTorch's rule.

    g = grad (negated if maximize) + weight_decay * p (decoupled_weight_decay: p = p (1 - lr wd)
    instead);  m = lerp(m, g, 1 - beta1);  v = beta2 v + (1 - beta2) g^2;
    rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t);
    rho_t > 5: p = p - lr m / (1 - beta1^t) * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r_t with
    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t));
    else p = p - lr m / (1 - beta1^t).
    """

    kind = "radam"

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: Optional[bool] = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      differentiable=differentiable))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _check_betas(group)



class Adadelta(_Issue12Optimizer):
    r"""Adadelta (Zeiler), PyTorch's rule.

    g = grad (negated if maximize) + weight_decay * p;  s = rho s + (1 - rho) g^2;
    delta = sqrt(acc + eps) / sqrt(s + eps) * g;  acc = rho acc + (1 - rho) delta^2;  p = p - lr delta.
    """

    kind = "adadelta"

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: Optional[bool] = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        if not 0.0 <= _as_float("rho", group["rho"]) <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")



class ASGD(_Issue12Optimizer):
    r"""Averaged SGD (Polyak & Juditsky), PyTorch's rule.

    g = grad (negated if maximize) + weight_decay * p;  p = p (1 - lambd eta) - eta g;
    ax = p while mu == 1, else ax = ax + mu (p - ax);  then, with t the step count,
    eta = lr / (1 + lambd lr t)^alpha and mu = 1 / max(1, t - t0) for the next step
    (eta starts at lr, mu at 1; both are state, in PyTorch's scalar dtype).
    """

    kind = "asgd"

    def __init__(self, params: ParamsT, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: Optional[bool] = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _scalar_init(self, name: str, group: Dict[str, Any]) -> float:
        return float(group["lr"]) if name == "eta" else 1.0



def _dot(a: Tensor, b: Tensor) -> Tensor:
    """The inner product of two 1-D tensors, a 0-dim tensor (torch.dot; gradcore has no dot op yet)."""
    return (a * b).sum()


def _scalar(x: Any) -> float:
    """A Python float from a number or a one-element tensor (as PyTorch reads ``alpha=``)."""
    return float(x.item()) if isinstance(x, Tensor) else float(x)


def _cubic_min(x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any, bounds: Optional[Tuple[Any, Any]] = None) -> Any:
    """The minimiser of the cubic through (x1, f1, slope g1) and (x2, f2, slope g2), clamped
    to ``bounds`` (default: the interval between x1 and x2); the interval's middle when the
    cubic has no real minimiser. Arguments may be 0-dim tensors (then so is the result), so
    float32 problems round as in PyTorch."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 ** 2 - g1 * g2
    if disc >= 0:
        d2 = disc.sqrt() if isinstance(disc, Tensor) else math.sqrt(disc)
        if x1 <= x2:
            x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(x, lo), hi)
    return (lo + hi) / 2.0


def _wolfe_search(evaluate: Callable[[Any], Tuple[float, Tensor]], t: Any, d: Tensor, f: float, g: Tensor, gtd: Any,
                  c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> Tuple[float, Tensor, Any, int]:
    """A line search for a step t along d meeting the strong Wolfe conditions (sufficient
    decrease c1, curvature c2), as PyTorch's LBFGS does it (minFunc's bracketing then
    zoom with cubic interpolation). ``evaluate(t)`` gives (loss, flat gradient) at x + t d.
    Returns (loss, gradient, t, evaluations)."""
    d_norm = d.abs().max()
    g = g.clone()
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    it = 0
    # Phase 1: grow the step until an interval [t_prev, t] brackets a Wolfe point.
    br: List[Any] = []
    br_f: List[Any] = []
    br_g: List[Any] = []
    br_gtd: List[Any] = []
    while it < max_ls:
        if f_new > (f + c1 * t * gtd) or (it > 1 and f_new >= f_prev):
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.clone()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, br_f, br_g, done = [t], [f_new], [g_new], True
            break
        if gtd_new >= 0:
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.clone()], [gtd_prev, gtd_new]
            break
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.clone(), gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        it += 1
    if it == max_ls:
        br, br_f, br_g = [0, t], [f, f_new], [g, g_new]
    # Phase 2: shrink the bracket (zoom) until a point meets both conditions.
    stalled = False
    lo_i, hi_i = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    while not done and it < max_ls:
        if abs(br[1] - br[0]) * d_norm < tolerance_change:
            break
        t = _cubic_min(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])
        top, bottom = max(br), min(br)
        margin = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < margin:  # too close to an end: move inside, or note the stall
            if stalled or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = _dot(g_new, d)
        it += 1
        if f_new > (f + c1 * t * gtd) or f_new >= br_f[lo_i]:
            br[hi_i], br_f[hi_i], br_g[hi_i], br_gtd[hi_i] = t, f_new, g_new.clone(), gtd_new
            lo_i, hi_i = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[hi_i] - br[lo_i]) >= 0:
                br[hi_i], br_f[hi_i], br_g[hi_i], br_gtd[hi_i] = br[lo_i], br_f[lo_i], br_g[lo_i], br_gtd[lo_i]
            br[lo_i], br_f[lo_i], br_g[lo_i], br_gtd[lo_i] = t, f_new, g_new.clone(), gtd_new
    return br_f[lo_i], br_g[lo_i], br[lo_i], evals


class LBFGS(Optimizer):
    r"""L-BFGS (limited-memory BFGS), PyTorch's algorithm step by step: each ``step(closure)``
    runs up to ``max_iter`` iterations (``max_eval`` closure calls, default max_iter * 5 // 4)
    over the parameters flattened into one vector; the direction is the two-loop recursion
    over the last ``history_size`` curvature pairs, the step ``lr`` (the first one scaled by
    min(1, 1 / |g|_1)), or a strong-Wolfe line search with ``line_search_fn="strong_wolfe"``.
    Stops early when max|g| <= tolerance_grad, or when the step or the loss change falls below
    tolerance_change. One parameter group only. The vector math is gradcore tensor ops (0-dim
    tensors for the scalars, so float32 problems round as in PyTorch)."""

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20, max_eval: Optional[int] = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: Optional[str] = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params: List[Tensor] = self.param_groups[0]["params"]

    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ---- the flat vector view of the parameters ----
    def _flat_grad(self) -> Tensor:
        """Every parameter's gradient (zeros where None) as one new 1-D tensor."""
        total = sum(p.numel() for p in self._params)
        out = _core.zeros(total, dtype=self._params[0].dtype)
        offset = 0
        for p in self._params:
            n = p.numel()
            if p.grad is not None:
                out.narrow(0, offset, n).copy_(p.grad.reshape(-1))
            offset += n
        return out

    def _move(self, step: Any, direction: Tensor) -> None:
        """p += step * direction (the direction's slice for each parameter), in place."""
        alpha = _scalar(step)
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(direction.narrow(0, offset, n).view_as(p), alpha=alpha)
            offset += n

    def _evaluate_at(self, closure: Callable[[], Any], x: List[Tensor], t: Any, d: Tensor) -> Tuple[float, Tensor]:
        """(loss, flat gradient) at x + t d; the parameters are put back to x afterwards."""
        self._move(t, d)
        loss = float(closure())
        g = self._flat_grad()
        for p, saved in zip(self._params, x):
            p.copy_(saved)
        return loss, g

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Run up to max_iter L-BFGS iterations; returns the loss of the first closure call."""
        if closure is None:
            raise TypeError("LBFGS.step() requires a closure that reevaluates the model and returns the loss")
        from gradcore.autograd import no_grad

        def grad_closure() -> Any:
            with _core_enable_grad():
                return closure()

        with no_grad():
            return self._run(grad_closure)

    def _run(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        line_search, history = group["line_search_fn"], group["history_size"]
        if line_search is not None and line_search != "strong_wolfe":
            raise RuntimeError("only 'strong_wolfe' is supported")
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss = closure()
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if g.abs().max() <= tol_grad:
            return first_loss
        d, t = state.get("d"), state.get("t")
        dirs, steps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, g_prev, loss_prev = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = g.neg()
                dirs, steps, ro, h_diag = [], [], [], 1
            else:
                assert dirs is not None and steps is not None and ro is not None and d is not None
                y = g.sub(g_prev)
                s = d.mul(t)
                ys = _dot(y, s)
                if ys > 1e-10:  # a curvature pair that keeps the approximation positive definite
                    if len(dirs) == history:
                        dirs.pop(0)
                        steps.pop(0)
                        ro.pop(0)
                    dirs.append(y)
                    steps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / _dot(y, y)
                # The two-loop recursion: d = -H g.
                if "al" not in state:
                    state["al"] = [None] * history
                al = state["al"]
                q = g.neg()
                for i in range(len(dirs) - 1, -1, -1):
                    al[i] = _dot(steps[i], q) * ro[i]
                    q.add_(dirs[i], alpha=-_scalar(al[i]))
                d = r = _core.mul(q, h_diag)
                for i in range(len(dirs)):
                    be_i = _dot(dirs[i], r) * ro[i]
                    r.add_(steps[i], alpha=_scalar(al[i] - be_i))
            if g_prev is None:
                g_prev = g.clone()
            else:
                g_prev.copy_(g)
            loss_prev = loss
            t = min(1.0, 1.0 / g.abs().sum()) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(g, d)
            if gtd > -tol_change:  # not a descent direction
                break
            used = 0
            if line_search is not None:
                x0 = [p.clone() for p in self._params]
                loss, g, t, used = _wolfe_search(lambda step: self._evaluate_at(closure, x0, step, d), t, d, loss, g,
                                                 gtd, max_ls=max_eval - evals)
                self._move(t, d)
                converged = bool(g.abs().max() <= tol_grad)
            else:
                self._move(t, d)
                converged = False
                if n_iter != max_iter:  # the last iteration's loss is the next step's first
                    loss = float(closure())
                    g = self._flat_grad()
                    converged = bool(g.abs().max() <= tol_grad)
                    used = 1
            evals += used
            state["func_evals"] += used
            if n_iter == max_iter or evals >= max_eval or converged:
                break
            if d.mul(t).abs().max() <= tol_change or abs(loss - loss_prev) < tol_change:
                break
        state.update(d=d, t=t, old_dirs=dirs, old_stps=steps, ro=ro, H_diag=h_diag, prev_flat_grad=g_prev,
                     prev_loss=loss_prev)
        return first_loss

    def state_dict(self) -> Dict[str, Any]:
        """PyTorch's layout: the algorithm state under the first parameter's index (0)."""
        out = super().state_dict()
        st = self.state.get(self._params[0])
        out["state"] = {0: _copy_state(st)} if st else {}
        return out

    def _load_entry(self, idx: int, entry: Dict[str, Any], p: Tensor) -> Dict[str, Any]:
        return _copy_state(entry)


def _copy_state(st: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of LBFGS state: tensors cloned, lists of tensors copied element-wise."""
    def one(v: Any) -> Any:
        if isinstance(v, Tensor):
            return v.clone()
        if isinstance(v, list):
            return [one(x) for x in v]
        return copy.deepcopy(v)

    return {k: one(v) for k, v in st.items()}
