"""``gradcore.backends``: PyTorch's switches that CPU training scripts set (``cudnn.benchmark``,
``cudnn.deterministic``) or query (``mps.is_available()``). gradcore has neither backend; the
flags are kept so scripts run, and change nothing (gradcore's kernels are deterministic)."""
from __future__ import annotations

from gradcore.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
