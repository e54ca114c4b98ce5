"""Learning-rate schedules (PyTorch's closed forms): StepLR, CosineAnnealingLR, LambdaLR.

Call ``scheduler.step()`` once per epoch after ``optimizer.step()``.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Sequence, Union

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LambdaLR"]


class LRScheduler:
    """Base: remembers each group's initial lr and sets ``group["lr"] = get_lr()`` on step()."""

    def __init__(self, optimizer: Any, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            if last_epoch == -1:
                g.setdefault("initial_lr", g["lr"])
            elif "initial_lr" not in g:
                raise KeyError("param 'initial_lr' is not specified in param_groups when resuming an optimizer")
        self.base_lrs: List[float] = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> List[float]:
        """The learning rate of each group at ``last_epoch``; subclasses define it."""
        raise NotImplementedError

    def get_last_lr(self) -> List[float]:
        """The learning rates set by the last step()."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and write the new learning rates into the optimizer's groups."""
        self.last_epoch += 1
        lrs = self.get_lr()
        for g, lr in zip(self.optimizer.param_groups, lrs):
            g["lr"] = lr
        self._last_lr = lrs

    def state_dict(self) -> Dict[str, Any]:
        """The scheduler's state (everything but the optimizer and the lambdas)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict` (or by a torch scheduler of the same kind).

        Checked first, then applied, so an error changes nothing: a dict with str keys that
        never replaces the optimizer, ``base_lrs``/``_last_lr`` with one number per parameter
        group, an int ``last_epoch``. ``lr_lambdas`` entries (PyTorch saves None for plain
        functions) are ignored when None: the functions themselves are not saved.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"scheduler state dict must be a dict, got {type(state_dict).__name__}")
        state = dict(state_dict)
        lambdas = state.pop("lr_lambdas", None)
        if lambdas is not None and any(f is not None for f in lambdas):
            raise ValueError("scheduler state dict holds lr_lambdas state, which gradcore does not restore")
        for k in state:
            if not isinstance(k, str):
                raise TypeError(f"scheduler state dict keys must be str, got {type(k).__name__}")
            if k == "optimizer":
                raise ValueError("scheduler state dict cannot replace the optimizer")
        groups = len(self.optimizer.param_groups)
        for k in ("base_lrs", "_last_lr"):
            if k in state:
                v = state[k]
                if not isinstance(v, (list, tuple)) or len(v) != groups:
                    raise ValueError(f"scheduler state dict's {k} must have one entry per parameter group "
                                     f"({groups}), got {v!r}")
                if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v):
                    raise TypeError(f"scheduler state dict's {k} must hold numbers, got {v!r}")
        if "last_epoch" in state and (isinstance(state["last_epoch"], bool) or not isinstance(state["last_epoch"], int)):
            raise TypeError(f"scheduler state dict's last_epoch must be an int, got {state['last_epoch']!r}")
        self.__dict__.update(state)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if step_size <= 0:
            raise ValueError(f"step_size must be positive, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        """base_lr * gamma ** (epoch // step_size) per group."""
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2."""

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if T_max <= 0:
            raise ValueError(f"T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        """eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 per group."""
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(epoch) (one function, or one per parameter group)."""

    def __init__(self, optimizer: Any, lr_lambda: Union[Callable[[int], float], Sequence[Callable[[int], float]]],
                 last_epoch: int = -1) -> None:
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"Expected {n} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        """base_lr * lr_lambda(epoch) per group."""
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]
