"""Optimizers. ``step()`` is ONE C++ call per parameter group (a multi-tensor kernel).

Every optimizer is a thin configuration of :class:`Optimizer`: which state buffers it
keeps and which hyper-parameters it passes to ``gradcore._core.optim_step``. The update
rules are PyTorch's (``torch.optim``), written out in each class docstring.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from gradcore import _core
from gradcore._core import Tensor
from gradcore.optim import lr_scheduler  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]

ParamsT = Union[Iterable[Tensor], Iterable[Dict[str, Any]]]


class _GroupCache:
    """The flat lists one group hands to C++, rebuilt only when the group changes."""

    def __init__(self, params: List[Tensor], states: List[List[Optional[Tensor]]], steps: Tensor) -> None:
        self.params, self.states, self.steps = params, states, steps
        self.key = [id(p) for p in params]


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``state_dict``.

    Subclasses set ``kind`` (the C++ update), ``state_names`` (their state buffers, in the
    order the kernel expects; a falsy entry in ``_buffers_for(group)`` means unused) and
    ``_hyper(group)`` (keyword arguments of the kernel).
    """

    kind: str = ""
    state_names: Tuple[str, ...] = ()

    def __init__(self, params: ParamsT, defaults: Dict[str, Any]) -> None:
        self.defaults = defaults
        self.param_groups: List[Dict[str, Any]] = []
        self.state: Dict[Tensor, Dict[str, Any]] = {}
        self._caches: List[Optional[_GroupCache]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got a Tensor")
        groups: List[Any] = list(params)  # Tensors, or param-group dicts
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
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = dict(self.defaults)
        group.update(param_group)
        group["params"] = params
        self._validate(group)
        self.param_groups.append(group)
        self._caches.append(None)

    def _validate(self, group: Dict[str, Any]) -> None:
        if group["lr"] < 0.0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if group.get("weight_decay", 0.0) < 0.0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if group.get("eps", 0.0) < 0.0:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")

    def _buffers_for(self, group: Dict[str, Any]) -> Tuple[bool, ...]:
        return tuple(True for _ in self.state_names)

    def _init_value(self, name: str, group: Dict[str, Any]) -> float:
        return 0.0

    def _hyper(self, group: Dict[str, Any]) -> Dict[str, Any]:
        raise NotImplementedError

    def _cache(self, i: int) -> _GroupCache:
        group = self.param_groups[i]
        cache = self._caches[i]
        if cache is not None and cache.key == [id(p) for p in group["params"]]:
            return cache
        if cache is not None:  # the group changed: keep the step counts of its old members
            for p, s in zip(cache.params, cache.steps.detach().numpy()):
                self.state.setdefault(p, {})["step"] = float(s)
        used = self._buffers_for(group)
        params = group["params"]
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
        cache = _GroupCache(params, states, steps)
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
        """Update every parameter that has a gradient: one C++ call per group."""
        loss = None
        if closure is not None:
            with _core_enable_grad():
                loss = closure()
        for i, group in enumerate(self.param_groups):
            cache = self._cache(i)
            if cache.params:
                _core.optim_step(self.kind, cache.params, cache.states, cache.steps, **self._hyper(group))
        return loss

    # ---- state dict -----------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [...]}`` with parameters as indices (PyTorch's layout)."""
        index: Dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = ids
            groups.append(packed)
        state: Dict[int, Dict[str, Any]] = {}
        for i, g in enumerate(self.param_groups):
            cache = self._caches[i]
            for j, p in enumerate(g["params"]):
                st = self.state.get(p)
                if not st:
                    continue
                entry = {k: (v.clone() if isinstance(v, Tensor) else v) for k, v in st.items()}
                if cache is not None:
                    entry["step"] = float(cache.steps.detach().numpy()[j])
                if entry.get("step", 0.0) == 0.0:
                    continue
                state[index[id(p)]] = entry
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict`."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for mine, theirs in zip(self.param_groups, groups):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
        by_index = {}
        for mine, theirs in zip(self.param_groups, groups):
            for p, idx in zip(mine["params"], theirs["params"]):
                by_index[idx] = p
            for k, v in theirs.items():
                if k != "params":
                    mine[k] = v
        self.state = {}
        for idx, entry in state_dict["state"].items():
            p = by_index[int(idx)]
            st: Dict[str, Any] = {}
            for k, v in entry.items():
                if isinstance(v, Tensor):
                    if tuple(v.shape) != tuple(p.shape):
                        raise ValueError(f"state {k!r} of shape {tuple(v.shape)} for a parameter of shape "
                                         f"{tuple(p.shape)}")
                    st[k] = v.to(p.dtype).clone()
                elif k == "step":
                    st[k] = float(v.item() if hasattr(v, "item") else v)
                else:
                    st[k] = v
            self.state[p] = st
        self._caches = [None] * len(self.param_groups)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"


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

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

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
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameters: {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

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
        if alpha < 0.0:
            raise ValueError(f"Invalid alpha value: {alpha}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

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
        if lr_decay < 0.0:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if initial_accumulator_value < 0.0:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _init_value(self, name: str, group: Dict[str, Any]) -> float:
        return float(group["initial_accumulator_value"])

    def _hyper(self, g: Dict[str, Any]) -> Dict[str, Any]:
        return dict(lr=g["lr"], lr_decay=g["lr_decay"], weight_decay=g["weight_decay"], eps=g["eps"],
                    maximize=g["maximize"])
