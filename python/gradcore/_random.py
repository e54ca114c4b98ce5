"""The random samplers that are compositions (issue 12): ``normal`` in PyTorch's four forms and
the ``*_like`` samplers. The sampling itself is C++ (``gradcore._core``: randn, rand, randint,
from gradcore's counter-based generators, see Note [Generators] in csrc/core/tensor.h)."""
from __future__ import annotations

import builtins
from typing import Any, Optional

from gradcore import _core
from gradcore._core import Generator, Tensor
from gradcore.autograd import no_grad

__all__ = ["normal", "rand_like", "randn_like", "randint_like"]


def _float_dtype(t: Tensor) -> Any:
    if not t.is_floating_point():
        names = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
        name = names.get(str(t.dtype).split(".")[-1], str(t.dtype))
        raise NotImplementedError(f"\"normal_kernel_cpu\" not implemented for '{name}'")
    return t.dtype


def _check_std(std: Any) -> None:
    if isinstance(std, Tensor):
        if std.numel() and not builtins.bool((std.detach() >= 0).all()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif not std >= 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")


def normal(mean: Any, std: Any = 1.0, size: Any = None, *, generator: Optional[Generator] = None,
           dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False) -> Tensor:
    """Normal samples (PyTorch's ``torch.normal``): ``normal(mean_tensor, std_tensor)`` (broadcast),
    ``normal(mean_tensor, std=1.0)``, ``normal(mean, std_tensor)``, or
    ``normal(mean, std, size, dtype=None)`` with two numbers. As in PyTorch, the result takes
    part in autograd when mean or std do, with zero gradients (no reparameterisation)."""
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not tm and not ts:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments: with a number mean and std, "
                            "give size (normal(mean, std, size))")
        _check_std(std)
        out = _core.randn(size, generator=generator, dtype=dtype, device=device)
        with no_grad():
            out.mul_(std).add_(mean)
        return out.requires_grad_(requires_grad) if requires_grad else out
    if size is not None:
        raise TypeError("normal() received an invalid combination of arguments: size is only for a number mean "
                        "and std")
    if tm and ts:
        dt = _core.promote_types(_float_dtype(mean), _float_dtype(std))
        shape = (mean.detach() + std.detach()).shape  # broadcast (RuntimeError when the shapes do not fit)
    else:
        t = mean if tm else std
        dt, shape = _float_dtype(t), t.shape
    _check_std(std)
    z: Tensor = _core.randn(shape, generator=generator, dtype=dt)
    with no_grad():
        res: Tensor = z * (std.detach() if ts else std) + (mean.detach() if tm else mean)
    needs = [t for t in (mean, std) if isinstance(t, Tensor) and t.requires_grad]
    if needs and _core.is_grad_enabled():
        # Zero gradients to mean and std, as PyTorch's: where() with an all-false mask passes none.
        off = _core.zeros(shape, dtype=_core.bool)
        for t in needs:
            res = res + _core.where(off, t, 0.0)
    return res


def rand_like(input: Tensor, *, generator: Optional[Generator] = None, dtype: Any = None, device: Any = None,
              requires_grad: builtins.bool = False, **_ignored: Any) -> Tensor:
    """``rand(input.shape)`` with input's dtype unless given."""
    return _core.rand(input.shape, generator=generator, dtype=input.dtype if dtype is None else dtype,
                      device=device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, generator: Optional[Generator] = None, dtype: Any = None, device: Any = None,
               requires_grad: builtins.bool = False, **_ignored: Any) -> Tensor:
    """``randn(input.shape)`` with input's dtype unless given."""
    return _core.randn(input.shape, generator=generator, dtype=input.dtype if dtype is None else dtype,
                       device=device, requires_grad=requires_grad)


def randint_like(input: Tensor, low: Any = 0, high: Any = None, *, generator: Optional[Generator] = None,
                 dtype: Any = None, device: Any = None, requires_grad: builtins.bool = False,
                 **_ignored: Any) -> Tensor:
    """``randint(low, high, input.shape)`` (``randint_like(input, high)``: low = 0), input's dtype unless given."""
    if high is None:
        low, high = 0, low
    return _core.randint(low, high, input.shape, generator=generator,
                         dtype=input.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)
