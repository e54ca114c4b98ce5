"""``gradcore.random`` (PyTorch's ``torch.random``): the default generator's seed and state,
and ``fork_rng``.

gradcore's generators are counter-based (Philox4x32-10): a state is (seed, offset), a draw's
values depend only on it (and never on the thread count). They do not reproduce PyTorch's
bit stream; see DESIGN.md, "Random numbers".
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

from gradcore._core import (
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state,
)

__all__ = ["Generator", "default_generator", "fork_rng", "get_rng_state", "initial_seed", "manual_seed", "seed",
           "set_rng_state"]


@contextlib.contextmanager
def fork_rng(devices: Any = None, enabled: bool = True, device_type: Optional[str] = None) -> Iterator[None]:
    """Restore the default generator's state on exit (PyTorch's ``torch.random.fork_rng``):
    random draws inside the block do not change what comes after it. ``enabled=False`` does
    nothing. gradcore has only the CPU, whose state is always forked; ``devices`` must be
    empty or None."""
    if devices is not None and len(list(devices)) > 0:
        raise RuntimeError("fork_rng: gradcore runs on the CPU only; there are no accelerator devices to fork")
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
