"""``gradcore.cuda``: what a CPU-only PyTorch build answers, so scripts that ask
``torch.cuda.is_available()`` (and seed CUDA) run unchanged. gradcore has no GPU backend:
anything that needs a device raises PyTorch's AssertionError for a build without CUDA."""
from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["is_available", "device_count", "is_initialized", "manual_seed", "manual_seed_all", "seed", "seed_all",
           "empty_cache", "synchronize", "current_device", "set_device", "get_device_name"]

_NO_CUDA = "Torch not compiled with CUDA enabled (gradcore runs on the CPU only)"


def is_available() -> bool:
    """False: gradcore runs on the CPU."""
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Ignored without CUDA, as in PyTorch (``gradcore.manual_seed`` seeds the CPU generator)."""


def manual_seed_all(seed: int) -> None:
    """Ignored without CUDA, as in PyTorch."""


def seed() -> None:
    """Ignored without CUDA, as in PyTorch."""


def seed_all() -> None:
    """Ignored without CUDA, as in PyTorch."""


def empty_cache() -> None:
    """Nothing to free without CUDA, as in PyTorch."""


def _no_cuda(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError(_NO_CUDA)


synchronize = current_device = set_device = get_device_name = _no_cuda
