"""``gradcore.backends.cudnn``: cuDNN is not available (no GPU backend); ``enabled``,
``benchmark``, ``deterministic`` and ``allow_tf32`` are plain settable flags with PyTorch's
defaults, read by nothing."""
from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version() -> None:
    """None: no cuDNN (as in a CPU-only PyTorch)."""
    return None
