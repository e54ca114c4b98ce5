"""Comparisons of gradcore results with PyTorch's, shared by the test modules."""
from __future__ import annotations

from typing import Any

import numpy as np


def same(g: Any, t: Any) -> None:
    """g (gradcore) equals t (torch): values, shape and dtype (tuples element by element)."""
    if isinstance(t, (tuple, list)):
        assert isinstance(g, (tuple, list)) and len(g) == len(t)
        for a, b in zip(g, t):
            same(a, b)
        return
    assert str(g.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (g.dtype, t.dtype)
    assert tuple(g.shape) == tuple(t.shape), (tuple(g.shape), tuple(t.shape))
    np.testing.assert_array_equal(g.detach().numpy(), t.detach().numpy())
