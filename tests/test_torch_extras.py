"""ravel, msort, diff, tril/triu_indices, searchsorted, bucketize, isin, fmax/fmin, heaviside,
take, trapezoid (gradcore/_torch_extras.py) against torch 2.13: values, dtypes, gradients."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import gradcore as gc

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)


def _both(a: np.ndarray, grad: bool = False) -> Any:
    return (gc.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad))


def _check(g: Any, t: Any) -> None:
    assert str(g.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name, fn", [
    ("ravel", lambda L, x: L.ravel(x.transpose(0, 1))),
    ("msort", lambda L, x: L.msort(x)),
    ("diff", lambda L, x: L.diff(x)),
    ("diff2", lambda L, x: L.diff(x, n=2, dim=0)),
    ("diff_pp", lambda L, x: L.diff(x, dim=1, prepend=x[:, :1] * 2, append=x[:, -1:])),
    ("take", lambda L, x: L.take(x, L.tensor([[0, 5], [11, 3]]))),
    ("trapz", lambda L, x: L.trapezoid(x)),
    ("trapz_dx", lambda L, x: L.trapezoid(x, dx=0.5, dim=0)),
    ("trapz_x", lambda L, x: L.trapezoid(x, L.tensor([0.0, 0.5, 2.0, 2.5], dtype=L.float64))),
    ("fmax", lambda L, x: L.fmax(x, x.flip(0))),
    ("fmin", lambda L, x: L.fmin(x, x.flip(1))),
])
def test_differentiable_functions_match_torch(name: str, fn: Callable[..., Any]) -> None:
    a = rng.standard_normal((3, 4))
    g, t = _both(a, grad=True)
    og, ot = fn(gc, g), fn(torch, t)
    _check(og, ot)
    w = rng.standard_normal(tuple(ot.shape))
    (og * gc.tensor(w)).sum().backward()
    (ot * torch.tensor(w)).sum().backward()
    _check(g.grad, t.grad)


def test_nan_and_bool_cases() -> None:
    a = np.array([1.0, np.nan, 3.0, np.nan]); b = np.array([np.nan, 2.0, 1.0, np.nan])
    for f in ("fmax", "fmin"):
        _check(getattr(gc, f)(gc.tensor(a), gc.tensor(b)), getattr(torch, f)(torch.tensor(a), torch.tensor(b)))
    m = np.array([True, True, False, True])
    _check(gc.diff(gc.tensor(m)), torch.diff(torch.tensor(m)))
    x, v = np.array([-1.5, 0.0, 2.0, 0.0]), np.array([0.5, 0.25, 0.5, 0.75])
    _check(gc.heaviside(gc.tensor(x), gc.tensor(v)), torch.heaviside(torch.tensor(x), torch.tensor(v)))
    with pytest.raises(RuntimeError, match="order must be non-negative"):
        gc.diff(gc.tensor(x), n=-1)


@pytest.mark.parametrize("row, col, offset", [(3, 3, 0), (4, 3, 1), (3, 5, -1), (1, 1, 0), (0, 3, 0)])
def test_tri_indices(row: int, col: int, offset: int) -> None:
    for f in ("tril_indices", "triu_indices"):
        _check(getattr(gc, f)(row, col, offset), getattr(torch, f)(row, col, offset))


def test_searchsorted_bucketize_isin() -> None:
    seq = np.array([1.0, 3.0, 3.0, 5.0, 7.0])
    vals = np.array([[0.0, 3.0, 6.0], [7.0, 8.0, 3.0]])
    for kw in ({}, {"right": True}, {"side": "right"}, {"out_int32": True}):
        _check(gc.searchsorted(gc.tensor(seq), gc.tensor(vals), **kw),
               torch.searchsorted(torch.tensor(seq), torch.tensor(vals), **kw))
        if "side" not in kw:
            _check(gc.bucketize(gc.tensor(vals), gc.tensor(seq), **kw),
                   torch.bucketize(torch.tensor(vals), torch.tensor(seq), **kw))
    seq2 = np.sort(rng.standard_normal((2, 6)), axis=1)
    v2 = rng.standard_normal((2, 3))
    _check(gc.searchsorted(gc.tensor(seq2), gc.tensor(v2)), torch.searchsorted(torch.tensor(seq2), torch.tensor(v2)))
    unsorted = np.array([5.0, 1.0, 3.0]); order = np.argsort(unsorted)
    _check(gc.searchsorted(gc.tensor(unsorted), gc.tensor([2.0, 4.0]), sorter=gc.tensor(order)),
           torch.searchsorted(torch.tensor(unsorted), torch.tensor([2.0, 4.0]), sorter=torch.tensor(order)))
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        gc.searchsorted(gc.tensor(seq), gc.tensor(vals), right=True, side="left")
    e, te = np.array([[1, 2], [3, 4]]), np.array([2, 3, 9])
    for kw in ({}, {"invert": True}):
        _check(gc.isin(gc.tensor(e), gc.tensor(te), **kw), torch.isin(torch.tensor(e), torch.tensor(te), **kw))


def test_heaviside_dtype_mismatch_message_is_torchs() -> None:
    with pytest.raises(RuntimeError) as t:
        torch.heaviside(torch.tensor([1.0]), torch.tensor([1]))
    with pytest.raises(RuntimeError) as g:
        gc.heaviside(gc.tensor([1.0]), gc.tensor([1]))
    assert str(g.value) == str(t.value)
