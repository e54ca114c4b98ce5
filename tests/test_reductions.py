"""Accuracy of long reductions against float64 / long-double references, under every ISA.

Note [Pairwise summation] (kernels_impl.inc) and Note [Blocked column sums] (column_sum.h):
sums over any axis (last, first, middle of 3-D, all), means, and the GEMM-free gradient
reductions (sum_to of a broadcast, Linear's bias gradient, mse_loss, cross_entropy's mean)
must stay accurate over 2**20-2**25 elements (the error grows like log n, not n), and be
bitwise independent of the thread count.

* 2**25 float32 ones along a non-last axis sum to 2**25 exactly (a running float32 sum
  stalls at 2**24);
* the relative error of float32 sums of 2**20 uniform values along every axis is <= 2e-7
  (a plain running sum: ~1e-5; PyTorch: ~1e-7), of float64 sums <= 4e-15 (running: ~5e-14);
* 1, 2 and 3 threads give identical bits.

Blind spots: adversarial (cancelling) data, where only the |x|-relative bound holds, and
sizes beyond 2**25 (memory).
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn.functional as F

N = 2 ** 20
# (shape, reduced axis): last axis, first axis (narrow: widened blocks; wide: column strips
# and many row chunks), the middle axis of 3-D, everything.
CASES = [((3, N), 1), ((N, 3), 0), ((N, 20), 0), ((2 ** 17, 100), 0), ((2, N, 3), 1), ((N,), None)]
RTOL = {np.float32: 2e-7, np.float64: 4e-15}


def _ref_sum(a: np.ndarray, axis: Any) -> np.ndarray:
    """Sums contiguous along the reduced axis (NumPy sums those pairwise) in a wider type:
    float64 for float32 data, long double for float64 data."""
    wide = np.float64 if a.dtype == np.float32 else np.longdouble
    if axis is None:
        return a.astype(wide).reshape(-1).sum()
    return np.ascontiguousarray(np.moveaxis(a, axis, -1)).astype(wide).sum(axis=-1)


def _rel_err(got: Any, ref: Any) -> float:
    got = np.asarray(got, dtype=np.longdouble)
    return float(np.max(np.abs(got - ref) / np.abs(ref)))


@pytest.fixture(scope="module")
def data() -> Dict[Tuple[Any, int], Tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2025)
    out = {}
    for dt in (np.float32, np.float64):
        for i, (shape, axis) in enumerate(CASES):
            a = rng.uniform(0.0, 1.0, shape).astype(dt)
            out[(dt, i)] = (a, _ref_sum(a, axis))
    return out


def test_sum_of_2_pow_25_ones_along_a_non_last_axis_is_exact(isa: str) -> None:
    n = 2 ** 25
    x = gc.ones(n, 2)
    assert x.sum(dim=0).tolist() == [float(n)] * 2          # was 2**24 (a running float32 sum)
    assert x.mean(dim=0).tolist() == [1.0, 1.0]
    assert x.reshape(1, n, 2).sum(dim=1, keepdim=True).tolist() == [[[float(n)] * 2]]  # middle axis
    assert x.sum().item() == float(2 * n)
    assert x.reshape(2, n).sum(dim=1).tolist() == [float(n)] * 2  # last axis


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{s}-dim{a}" for s, a in CASES])
def test_sum_and_mean_accuracy_along_every_axis(data: Any, case: int, dtype: Any, isa: str) -> None:
    a, ref = data[(dtype, case)]
    shape, axis = CASES[case]
    t = gc.from_numpy(a)
    if axis is None:
        got, got_mean, n = t.sum().item(), t.mean().item(), a.size
    else:
        got, got_mean, n = t.sum(dim=axis).detach().numpy(), t.mean(dim=axis, keepdim=True).detach().numpy(), shape[axis]
        got_mean = np.squeeze(got_mean, axis=axis)
    assert _rel_err(got, ref) <= RTOL[dtype], f"sum {shape} dim={axis} ({isa}): rel err {_rel_err(got, ref):.3g}"
    assert _rel_err(got_mean, ref / n) <= 2 * RTOL[dtype], f"mean {shape} dim={axis} ({isa})"


def test_gradient_reductions_are_accurate(isa: str) -> None:
    """sum_to (broadcast backward), Linear's db, mean's backward, mse_loss, cross_entropy's mean."""
    rng = np.random.default_rng(7)
    up = rng.uniform(0.0, 1.0, (N, 3)).astype(np.float32)
    ref_cols = _ref_sum(up, 0)
    # sum_to: d(a + b)/db for b broadcast along the 2**20 rows
    a = gc.zeros(N, 3)
    b = gc.zeros(3, requires_grad=True)
    (gb,) = gc.grad(a + b, [b], gc.from_numpy(up))
    assert _rel_err(gb.detach().numpy(), ref_cols) <= 2e-7
    # Linear's bias gradient, plain and through the fused relu mask (linear_act_backward)
    x = gc.from_numpy(rng.uniform(-1.0, 1.0, (N, 4)).astype(np.float32))
    w = gc.tensor(rng.uniform(-1.0, 1.0, (3, 4)).astype(np.float32))
    bias = gc.tensor(np.array([0.0, 0.5, -0.5], dtype=np.float32), requires_grad=True)
    for act in ("none", "relu"):
        y = F.linear(x, w, bias, activation=act)
        (db,) = gc.grad(y, [bias], gc.from_numpy(up))
        mask = np.ones_like(up) if act == "none" else (y.detach().numpy() > 0)
        assert _rel_err(db.detach().numpy(), _ref_sum(np.where(mask, up, 0.0).astype(np.float32), 0)) <= 2e-7, act
    # mean's backward is exactly 1/n everywhere
    v = gc.ones(N, requires_grad=True)
    (gv,) = gc.grad(v.mean(), [v])
    assert np.all(gv.detach().numpy() == np.float32(1.0 / N))
    # mse_loss (mean of 2**20 squares) and cross_entropy's mean over 2**20 rows
    p = rng.uniform(0.0, 1.0, N).astype(np.float32)
    q = rng.uniform(0.0, 1.0, N).astype(np.float32)
    mse = F.mse_loss(gc.from_numpy(p), gc.from_numpy(q)).item()
    d = p.astype(np.float64) - q.astype(np.float64)
    assert _rel_err(mse, _ref_sum(d * d, None) / N) <= 5e-7
    logits = rng.standard_normal((N, 3)).astype(np.float32)
    labels = rng.integers(0, 3, N)
    ce = F.cross_entropy(gc.from_numpy(logits), labels).item()
    z = logits.astype(np.float64)
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    assert _rel_err(ce, _ref_sum(lse - z[np.arange(N), labels], None) / N) <= 5e-7


def test_reductions_do_not_depend_on_the_thread_count(data: Any, restore_threads: Any) -> None:
    rng = np.random.default_rng(9)
    up = gc.from_numpy(rng.standard_normal((2 ** 17, 70)).astype(np.float32))
    x = gc.from_numpy(rng.standard_normal((2 ** 17, 5)).astype(np.float32))
    w = gc.tensor(rng.standard_normal((70, 5)).astype(np.float32))
    bias = gc.zeros(70, requires_grad=True)
    results = []
    for threads in (1, 2, 3):
        gc.set_num_threads(threads)
        r = []
        for (dt, case), (a, _) in sorted(data.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
            axis = CASES[case][1]
            t = gc.from_numpy(a)
            r.append((t.sum() if axis is None else t.sum(dim=axis)).detach().numpy().copy())
        for act in ("none", "gelu"):
            (db,) = gc.grad(F.linear(x, w, bias, activation=act), [bias], up)
            r.append(db.detach().numpy().copy())
        (gb,) = gc.grad(gc.zeros(2 ** 17, 70) * bias, [bias], up)  # sum_to
        r.append(gb.detach().numpy().copy())
        results.append(r)
    for other in results[1:]:
        for u, v in zip(results[0], other):
            np.testing.assert_array_equal(u, v)
