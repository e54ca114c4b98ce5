"""Optimizers. ``step()`` is ONE C++ call per parameter group (a multi-tensor kernel); with
several groups, a validating call per group comes first, so a step is all or nothing.

Every optimizer is a thin configuration of :class:`Optimizer`: which state buffers it
keeps and which hyper-parameters it passes to ``gradcore._core.optim_step``. The update
rules are PyTorch's (``torch.optim``), written out in each class docstring.
"""
from __future__ import annotations

import copy
import numbers
import operator
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from gradcore import _core
from gradcore._core import Tensor
from gradcore.optim import lr_scheduler  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]

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
                 repeats: Optional[List[List[int]]]) -> None:
        self.key, self.params, self.states, self.steps, self.repeats = key, params, states, steps, repeats
        self.position = {id(p): j for j, p in enumerate(params)}


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``state_dict``.

    Subclasses set ``kind`` (the C++ update), ``state_names`` (their state buffers, in the
    order the kernel expects; a falsy entry in ``_buffers_for(group)`` means unused),
    ``_hyper(group)`` (keyword arguments of the kernel) and ``_validate(group)`` (their
    hyper-parameter rules, checked for every group added or loaded).

    State changes are transactional: a ``step()`` or ``load_state_dict()`` that raises leaves
    every parameter, state buffer, step count and hyper-parameter as it was.
    """

    kind: str = ""
    state_names: Tuple[str, ...] = ()
    # Whether a parameter listed k times in a group advances its step count k times per
    # step (PyTorch's Adam, RMSprop, Adagrad) or once (SGD). See Note [Duplicate parameters].
    _step_per_occurrence = True

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
        return tuple(True for _ in self.state_names)

    def _init_value(self, name: str, group: Dict[str, Any]) -> float:
        return 0.0

    def _hyper(self, group: Dict[str, Any]) -> Dict[str, Any]:
        raise NotImplementedError

    def _cache(self, i: int) -> _GroupCache:
        group = self.param_groups[i]
        cache = self._caches[i]
        key = [id(p) for p in group["params"]]
        if cache is not None and cache.key == key:
            return cache
        if cache is not None:  # the group changed: keep the step counts of its old members
            for p, s in zip(cache.params, cache.steps.detach().numpy()):
                self.state.setdefault(p, {})["step"] = float(s)
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
        cache = _GroupCache(key, params, states, steps, repeats)
        self._caches[i] = cache
        return cache

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
                work.append((cache, self._hyper(group)))
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
        for idx in cache.repeats or []:
            before = np.ascontiguousarray(steps[idx] - (0.0 if self._step_per_occurrence else 1.0))
            sub = _core.from_numpy(before)
            _core.optim_step(self.kind, [cache.params[j] for j in idx], [[s[j] for j in idx] for s in cache.states],
                             sub, **hyper)
            if self._step_per_occurrence:
                steps[idx] = before

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
    state_names = ("momentum_buffer",)
    _step_per_occurrence = False

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _at_least_zero(group, "momentum", "momentum value")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _buffers_for(self, group: Dict[str, Any]) -> Tuple[bool, ...]:
        return (group["momentum"] != 0,)

    def _hyper(self, g: Dict[str, Any]) -> Dict[str, Any]:
        return dict(lr=g["lr"], momentum=g["momentum"], dampening=g["dampening"], weight_decay=g["weight_decay"],
                    nesterov=g["nesterov"], maximize=g["maximize"])


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), PyTorch's rule.

    g = grad + weight_decay * p (L2; AdamW decays p instead: p = p * (1 - lr * weight_decay));
    m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2;
    v_hat = max(v_hat, v) if amsgrad else v;
    p = p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps).
    """

    kind = "adam"
    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _decoupled = False

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        for i, beta in enumerate(group["betas"]):
            if not 0.0 <= float(beta) < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        # torch.optim.Adam(decoupled_weight_decay=True) is AdamW: refuse it rather than ignore it.
        if bool(group.get("decoupled_weight_decay", self._decoupled)) != self._decoupled:
            raise ValueError(f"decoupled_weight_decay={group['decoupled_weight_decay']} does not match "
                             f"{type(self).__name__} (use {'AdamW' if not self._decoupled else 'Adam'})")

    def _buffers_for(self, group: Dict[str, Any]) -> Tuple[bool, ...]:
        return (True, True, bool(group["amsgrad"]))

    def _hyper(self, g: Dict[str, Any]) -> Dict[str, Any]:
        return dict(lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1], eps=g["eps"],
                    weight_decay=g["weight_decay"], amsgrad=g["amsgrad"], decoupled=self._decoupled,
                    maximize=g["maximize"])


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter): p = p * (1 - lr * weight_decay)
    before the Adam update (no L2 term in the gradient). Default weight_decay 1e-2."""

    _decoupled = True

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


class RMSprop(Optimizer):
    r"""RMSprop, PyTorch's rule.

    g = grad + weight_decay * p;  s = alpha s + (1 - alpha) g^2;
    centered: a = alpha a + (1 - alpha) g, avg = sqrt(s - a^2) + eps; else avg = sqrt(s) + eps;
    momentum > 0: buf = momentum buf + g / avg, p = p - lr buf;  else p = p - lr g / avg.
    """

    kind = "rmsprop"
    state_names = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _at_least_zero(group, "momentum", "momentum value")
        _at_least_zero(group, "alpha", "alpha value")

    def _buffers_for(self, group: Dict[str, Any]) -> Tuple[bool, ...]:
        return (True, group["momentum"] > 0, bool(group["centered"]))

    def _hyper(self, g: Dict[str, Any]) -> Dict[str, Any]:
        return dict(lr=g["lr"], alpha=g["alpha"], eps=g["eps"], weight_decay=g["weight_decay"],
                    momentum=g["momentum"], centered=g["centered"], maximize=g["maximize"])


class Adagrad(Optimizer):
    r"""Adagrad, PyTorch's rule.

    g = grad + weight_decay * p;  clr = lr / (1 + (t - 1) lr_decay);
    sum = sum + g^2 (sum starts at initial_accumulator_value);  p = p - clr g / (sqrt(sum) + eps).
    """

    kind = "adagrad"
    state_names = ("sum",)

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _validate(self, group: Dict[str, Any]) -> None:
        super()._validate(group)
        _at_least_zero(group, "lr_decay", "lr_decay value")
        _at_least_zero(group, "initial_accumulator_value", "initial_accumulator_value value")

    def _init_value(self, name: str, group: Dict[str, Any]) -> float:
        return float(group["initial_accumulator_value"])

    def _hyper(self, g: Dict[str, Any]) -> Dict[str, Any]:
        return dict(lr=g["lr"], lr_decay=g["lr_decay"], weight_decay=g["weight_decay"], eps=g["eps"],
                    maximize=g["maximize"])
