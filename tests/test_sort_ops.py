"""Reductions with indices, ordering, scans and counts (issue 11, item 5) against torch and NumPy.

Covers max/min in PyTorch's three forms, argmax/argmin, amax/amin, sort/argsort, topk,
kthvalue, median, mode, cummax/cummin, cumsum/cumprod, prod, sum/mean with dtype, any/all,
count_nonzero, unique, bincount and histc: values, indices, output dtypes and shapes for every
dtype, dim and keepdim, with ties, NaN, +-inf and empty tensors; gradients (first and second
order, zeros in products) vs torch; PyTorch's exception types for bad input; the
gradcore.return_types named tuples; thread-count independence; and hypothesis properties of
sort/topk/unique against NumPy. The differentiable rows also sit in op_table.py (gradcheck,
gradgradcheck, forward mode, NaN/inf vs torch).

Blind spots: where PyTorch leaves the choice among equal values unspecified (its unstable sort
of lanes longer than 16, topk, kthvalue and median ties, mode with NaN) only the values and the
validity of the indices are compared; gradcore's own picks (by position) are pinned down by
hand-derived cases instead.
"""
from __future__ import annotations

import pickle
from typing import Any, Callable, List

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import gradcore as gc

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")
DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"]
SHAPES = [(), (5,), (3, 4), (2, 3, 4), (0, 3), (3, 0)]


def _np_dtype(name: str) -> Any:
    return np.float32 if name == "bfloat16" else np.dtype(name)


def _data(name: str, shape: Any, rng: np.random.Generator, specials: bool = True) -> np.ndarray:
    """Values with ties (small integers); floats get a NaN and +-inf when there is room."""
    if name == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    lo = 0 if name == "uint8" else -4
    a = rng.integers(lo, 5, shape).astype(_np_dtype(name))
    if specials and a.dtype.kind == "f" and a.size > 3:
        flat = a.reshape(-1)
        flat[1], flat[-1], flat[2] = NAN, INF, -INF
    return a


def _pair(a: np.ndarray, name: str) -> Any:
    g = gc.tensor(a, dtype=getattr(gc, name))
    t = torch.tensor(a).to(getattr(torch, name))
    return g, t


def _np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return (x.float() if x.dtype is gc.bfloat16 else x).detach().numpy()


def _same(got: Any, want: Any, what: str) -> None:
    """Equal values, shape and dtype (NaN equals NaN)."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), what
        for i, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{what}[{i}]")
        return
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], f"{what}: {got.dtype} vs {want.dtype}"
    a, b = _np(got), _np(want)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_array_equal(a, b, err_msg=what)


def _same_error(fg: Callable[[], Any], ft: Callable[[], Any], what: str) -> None:
    with pytest.raises(Exception) as te:
        ft()
    want = RuntimeError if issubclass(te.type, RuntimeError) else te.type  # NotImplementedError is one
    with pytest.raises(want):
        fg()


def _dims(shape: Any) -> List[int]:
    nd = max(len(shape), 1)
    return list(range(-nd, nd))


# ---------------------------------------------------------------------------------------
# values, indices, dtypes and shapes vs torch
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DTYPES)
def test_dim_reductions_with_indices_match_torch(name: str) -> None:
    """max/min(dim) (first extreme, first NaN), argmax/argmin, median/mode/kthvalue with PyTorch's picks."""
    rng = np.random.default_rng(DTYPES.index(name))
    for shape in SHAPES:
        g0, t0 = _pair(_data(name, shape, rng), name)
        g1, t1 = _pair(_data(name, shape, rng, specials=False), name)  # mode: PyTorch's order of NaN is unspecified
        for d in _dims(shape):
            for kd in (False, True):
                for op in ("max", "min", "argmax", "argmin", "median", "mode", "kthvalue"):
                    g, t = (g1, t1) if op == "mode" else (g0, t0)
                    args = (1, d, kd) if op == "kthvalue" else (d, kd)
                    what = f"{op}{args} of {name} {shape}"
                    try:
                        want = getattr(t, op)(*args)
                    except Exception:  # noqa: BLE001 - PyTorch refuses: so must gradcore
                        _same_error(lambda: getattr(g, op)(*args), lambda: getattr(t, op)(*args), what)
                        continue
                    got = getattr(g, op)(*args)
                    if op in ("median", "kthvalue") or op == "mode" and g.numel() > 16:
                        # PyTorch's pick among equal values is unspecified there (Note [Order, ties and NaN]):
                        # the values must agree and the indices point at them
                        _same(got.values, want.values, what)
                        if g.dim():
                            idx = got.indices.numpy() if kd else np.expand_dims(got.indices.numpy(), d)
                            picked = np.take_along_axis(_np(g), idx, axis=d)
                            np.testing.assert_array_equal(picked.reshape(_np(got.values).shape), _np(got.values), what)
                        continue
                    _same(tuple(got) if isinstance(want, tuple) else got, tuple(want) if isinstance(want, tuple) else want, what)


@pytest.mark.parametrize("name", DTYPES)
def test_sorts_scans_and_topk_match_torch(name: str) -> None:
    rng = np.random.default_rng(20 + DTYPES.index(name))
    for shape in SHAPES:
        g, t = _pair(_data(name, shape, rng), name)
        for d in _dims(shape):
            for desc in (False, True):
                what = f"sort(dim={d}, descending={desc}) of {name} {shape}"
                _same(tuple(g.sort(d, desc, stable=True)), tuple(t.sort(dim=d, descending=desc, stable=True)), what)
                _same(gc.argsort(g, d, desc, stable=True), torch.argsort(t, dim=d, descending=desc, stable=True), what)
                if g.numel() <= 16:  # PyTorch's default sort is stable on short lanes too
                    _same(tuple(g.sort(d, desc)), tuple(t.sort(d, desc)), what)
            for op in ("cumsum", "cumprod"):
                _same(getattr(g, op)(d), getattr(t, op)(d), f"{op}({d}) of {name} {shape}")
            for op in ("cummax", "cummin"):
                _same(tuple(getattr(g, op)(d)), tuple(getattr(t, op)(d)), f"{op}({d}) of {name} {shape}")
            n = shape[d] if shape else 1
            for k in range(n + 1):
                for largest in (True, False):
                    what = f"topk({k}, {d}, largest={largest}) of {name} {shape}"
                    try:
                        want = t.topk(k, d, largest)
                    except RuntimeError:
                        with pytest.raises(RuntimeError):
                            g.topk(k, d, largest)
                        continue
                    got = g.topk(k, d, largest)
                    _same(got.values, want.values, what)  # indices of ties: unspecified in PyTorch
                    if g.dim():
                        picked = np.take_along_axis(_np(g), got.indices.numpy(), axis=d)
                        np.testing.assert_array_equal(picked, _np(got.values), what)


def test_topk_indices_point_at_the_values() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(-3, 4, (4, 37)).astype(np.float64)
    a[0, 5] = NAN
    x = gc.tensor(a)
    for largest in (True, False):
        v, i = x.topk(7, dim=1, largest=largest)
        picked = np.take_along_axis(a, i.numpy(), axis=1)
        np.testing.assert_array_equal(picked, v.numpy())
        want = torch.tensor(a).topk(7, dim=1, largest=largest).values.numpy()
        np.testing.assert_array_equal(v.numpy(), want)
    # ties are picked by position (gradcore's choice; PyTorch's is unspecified)
    v, i = gc.tensor([3.0, 1.0, 3.0, 3.0, 2.0]).topk(2)
    assert i.tolist() == [0, 2] and v.tolist() == [3.0, 3.0]
    assert gc.tensor([3.0, 1.0, 3.0, 3.0]).kthvalue(3).indices.item() == 2
    assert gc.tensor([2.0, 2.0, 2.0, 2.0, 2.0]).median(0).indices.item() == 2


@pytest.mark.parametrize("name", DTYPES)
def test_whole_tensor_reductions_match_torch(name: str) -> None:
    rng = np.random.default_rng(40 + DTYPES.index(name))
    for shape in SHAPES:
        g, t = _pair(_data(name, shape, rng), name)
        for op in ("max", "min", "amax", "amin", "argmax", "argmin", "median", "prod", "sum", "any", "all",
                   "count_nonzero"):
            what = f"{op}() of {name} {shape}"
            try:
                want = getattr(t, op)()
            except Exception:  # noqa: BLE001
                _same_error(lambda: getattr(g, op)(), lambda: getattr(t, op)(), what)
                continue
            _same(getattr(g, op)(), want, what)
        for d in _dims(shape):
            for kd in (False, True):
                for op in ("prod", "any", "all", "amax", "amin", "sum"):
                    what = f"{op}({d}, {kd}) of {name} {shape}"
                    try:
                        want = getattr(t, op)(d, kd)
                    except Exception:  # noqa: BLE001
                        _same_error(lambda: getattr(g, op)(d, kd), lambda: getattr(t, op)(d, kd), what)
                        continue
                    _same(getattr(g, op)(d, kd), want, what)
            _same(g.count_nonzero(d), t.count_nonzero(d), f"count_nonzero({d}) of {name} {shape}")
        if len(shape) >= 2:
            for op in ("any", "all", "amax", "amin", "count_nonzero"):
                if op in ("amax", "amin") and 0 in shape:
                    continue
                _same(getattr(g, op)((0, -1)), getattr(t, op)((0, -1)), f"{op}((0, -1)) of {name} {shape}")
        _same(tuple(g.unique(return_inverse=True, return_counts=True)),
              tuple(t.unique(return_inverse=True, return_counts=True)), f"unique of {name} {shape}")


def test_dtype_arguments_and_integer_accumulation() -> None:
    a = np.full((3, 70000), 40000, dtype=np.int32)  # 2.8e9 per row: beyond int32
    g, t = gc.tensor(a), torch.tensor(a)
    _same(g.sum(1), t.sum(1), "int32 sum")
    _same(g.cumsum(1), t.cumsum(1), "int32 cumsum")
    _same(g.sum(dtype=gc.int32), t.sum(dtype=torch.int32), "sum(dtype=int32) wraps as PyTorch")
    b = np.array([[3, -2, 5], [7, 1, -1]], dtype=np.int8)
    g, t = gc.tensor(b), torch.tensor(b)
    for dt in ("float64", "float32", "int16", "int64"):
        _same(g.prod(1, dtype=getattr(gc, dt)), t.prod(1, dtype=getattr(torch, dt)), f"prod dtype {dt}")
        _same(g.cumsum(0, dtype=getattr(gc, dt)), t.cumsum(0, dtype=getattr(torch, dt)), f"cumsum dtype {dt}")
        _same(g.cumprod(1, dtype=getattr(gc, dt)), t.cumprod(1, dtype=getattr(torch, dt)), f"cumprod dtype {dt}")
        _same(g.sum((0, 1), dtype=getattr(gc, dt)), t.sum((0, 1), dtype=getattr(torch, dt)), f"sum dtype {dt}")
    _same(g.mean(dtype=gc.float64), t.mean(dtype=torch.float64), "mean(dtype=float64) of int8")
    _same(gc.tensor([1.5, 2.5]).prod(dtype=gc.float64), torch.tensor([1.5, 2.5]).prod(dtype=torch.float64), "prod f->d")
    with pytest.raises(RuntimeError):
        g.mean(dtype=gc.int64)
    # float32 scans accumulate in double (PyTorch's CPU accumulation type): bitwise equal
    rng = np.random.default_rng(5)
    f = rng.standard_normal((4, 3000)).astype(np.float32)
    _same(gc.tensor(f).cumsum(1), torch.tensor(f).cumsum(1), "float32 cumsum")
    _same(gc.tensor(f * 0.01 + 1).cumprod(1), torch.tensor(f * 0.01 + 1).cumprod(1), "float32 cumprod")


def test_strided_and_long_lanes_match_numpy() -> None:
    """Transposed, sliced and expanded inputs; lanes longer than the 256-lane blocks (lanes.h)."""
    rng = np.random.default_rng(6)
    base = rng.standard_normal((300, 517))
    x = gc.tensor(base)
    for v, nv in [(x.t(), base.T), (x[::3, 1::2], base[::3, 1::2]), (x[:1].expand(5, 517), np.broadcast_to(base[:1], (5, 517)))]:
        for d in (0, 1):
            np.testing.assert_array_equal(v.max(d).values.numpy(), nv.max(axis=d))
            np.testing.assert_array_equal(v.max(d).indices.numpy(), nv.argmax(axis=d))
            np.testing.assert_array_equal(v.argmin(d).numpy(), nv.argmin(axis=d))
            np.testing.assert_array_equal(v.sort(d).values.numpy(), np.sort(nv, axis=d))
            np.testing.assert_array_equal(v.sort(d, stable=True).indices.numpy(), np.argsort(nv, axis=d, kind="stable"))
            np.testing.assert_allclose(v.cumsum(d).numpy(), np.cumsum(nv, axis=d), rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(v.cummax(d).values.numpy(), np.maximum.accumulate(nv, axis=d))
            np.testing.assert_array_equal(v.amin(d).numpy(), nv.min(axis=d))
            np.testing.assert_array_equal(v.median(d).values.numpy(),
                                          np.sort(nv, axis=d).take((nv.shape[d] - 1) // 2, axis=d))
            np.testing.assert_array_equal(v.topk(3, d).values.numpy(), -np.sort(-nv, axis=d).take(range(3), axis=d))
        assert v.argmax().item() == int(nv.argmax())


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int8])
def test_contiguous_lane_extremes_find_nan_and_first_index(dtype: Any) -> None:
    """Long contiguous lanes (lanes.h's 32-wide lane_extreme, its tail and the index search)."""
    rng = np.random.default_rng(10)
    for n in (1, 31, 32, 33, 95, 70001):
        a = rng.integers(-100, 100, (2, n)).astype(dtype)
        for pos in sorted({0, n // 2, n - 1, min(33, n - 1)}):
            b = a.copy()
            if b.dtype.kind == "f":
                b[1, pos] = NAN
            else:
                b[1, pos] = np.iinfo(dtype).max  # the maximum occurs here first (maybe also later)
                b[1, -1] = np.iinfo(dtype).max
            x = gc.tensor(b)
            for is_max in (True, False):
                r = x.max(1) if is_max else x.min(1)
                want_v = b.max(axis=1) if is_max else b.min(axis=1)
                want_i = b.argmax(axis=1) if is_max else b.argmin(axis=1)  # NumPy: the first NaN / extreme too
                np.testing.assert_array_equal(r.values.numpy(), want_v, err_msg=f"n={n} pos={pos}")
                np.testing.assert_array_equal(r.indices.numpy(), want_i, err_msg=f"n={n} pos={pos}")
                np.testing.assert_array_equal((x.amax(1) if is_max else x.amin(1)).numpy(), want_v)
            np.testing.assert_array_equal(x.argmax().item(), b.argmax())


def test_results_do_not_depend_on_the_thread_count() -> None:
    rng = np.random.default_rng(7)
    a = gc.tensor(rng.integers(-50, 50, (64, 3000)).astype(np.float32))
    fns = [lambda t: t.sort(1).indices, lambda t: t.sort(0, descending=True).indices, lambda t: t.topk(5, 1).indices,
           lambda t: t.max(0).indices, lambda t: t.cumsum(1), lambda t: t.cumprod(0), lambda t: t.median(1).indices,
           lambda t: t.mode(0).indices, lambda t: t.cummin(1).indices, lambda t: t.prod(0), lambda t: t.amin(1)]
    old = gc.get_num_threads()
    try:
        gc.set_num_threads(1)
        one = [f(a).numpy().copy() for f in fns]
        gc.set_num_threads(2)
        two = [f(a).numpy().copy() for f in fns]
    finally:
        gc.set_num_threads(old)
    for i, (p, q) in enumerate(zip(one, two)):
        np.testing.assert_array_equal(p, q, err_msg=f"fn {i}")


# ---------------------------------------------------------------------------------------
# NaN, ties and the conventions pinned down by hand
# ---------------------------------------------------------------------------------------

def test_nan_and_tie_conventions() -> None:
    x = gc.tensor([2.0, NAN, 1.0, NAN, 3.0])
    assert x.sort().indices.tolist() == [2, 0, 4, 1, 3]                   # NaN last, ties in order
    assert x.sort(descending=True).indices.tolist() == [1, 3, 4, 0, 2]    # NaN first
    assert x.topk(2).indices.tolist() == [1, 3]                           # NaN counts as the largest
    assert x.topk(2, largest=False).indices.tolist() == [2, 0]
    assert x.max(0).indices.item() == 1 and x.min(0).indices.item() == 1  # the first NaN
    assert x.argmax().item() == 1 and x.argmin().item() == 1
    assert x.median(0).indices.item() == 1 and np.isnan(x.median().item())
    assert x.kthvalue(4).indices.item() == 1                              # NaN sorts after every number
    assert x.cummax(0).indices.tolist() == [0, 1, 1, 3, 3]                # every new NaN is taken
    assert gc.tensor([1.0, 3.0, 3.0, 2.0]).cummax(0).indices.tolist() == [0, 1, 2, 2]  # the latest equal value
    assert gc.tensor([1.0, 3.0, 3.0, 1.0]).max(0).indices.item() == 1     # the first maximum
    m = gc.tensor([1.0, 3.0, 3.0, 2.0, 3.0, 1.0, 1.0]).mode()
    assert m.values.item() == 1.0 and m.indices.item() == 6               # smallest most frequent, last index
    v, inv, c = gc.tensor([NAN, 1.0, NAN]).unique(return_inverse=True, return_counts=True)
    assert np.isnan(v.numpy()[1:]).all() and inv.tolist() == [1, 0, 2] and c.tolist() == [1, 1, 1]


# ---------------------------------------------------------------------------------------
# gradients vs torch (first and second order)
# ---------------------------------------------------------------------------------------

GRAD_CASES = {
    "max_dim": lambda x: x.max(1).values, "max_dim_keep": lambda x: x.max(-1, keepdim=True)[0],
    "min_dim": lambda x: x.min(0).values, "amax": lambda x: x.amax((0, 2)), "amin": lambda x: x.amin(),
    "max": lambda x: x.max(), "min": lambda x: x.min(),
    "sort": lambda x: x.sort(1).values, "sort_desc": lambda x: x.sort(dim=0, descending=True).values,
    "topk": lambda x: x.topk(2, 1).values, "topk_small": lambda x: x.topk(2, 0, largest=False).values,
    "kthvalue": lambda x: x.kthvalue(2, 2).values, "median_dim": lambda x: x.median(1).values,
    "median": lambda x: x.median(), "mode": lambda x: x.mode(1).values,
    "cummax": lambda x: x.cummax(1).values, "cummin": lambda x: x.cummin(2).values,
    "cumsum": lambda x: x.cumsum(1), "cumprod": lambda x: x.cumprod(1), "cumprod_last": lambda x: x.cumprod(2),
    "prod": lambda x: x.prod(), "prod_dim": lambda x: x.prod(1), "prod_keep": lambda x: x.prod(2, keepdim=True),
    "sorted_view": lambda x: x.transpose(0, 2).sort(1).values,
}


def _grads(fn: Callable[[Any], Any], lib: Any, a: np.ndarray, up: np.ndarray, v: np.ndarray, second: bool) -> Any:
    x = lib.tensor(a, requires_grad=True)
    y = fn(x)
    grad = gc.grad if lib is gc else torch.autograd.grad
    (g,) = grad([y], [x], [lib.tensor(up)], create_graph=second)
    out = [y.detach().numpy().copy(), g.detach().numpy().copy(), type(y.grad_fn).__name__ if lib is torch else y.grad_fn.name()]
    if second and g.requires_grad:
        (h,) = grad([(g * lib.tensor(v)).sum()], [x])
        out.append(h.detach().numpy().copy())
    return out


# Which inputs each case gets. Not compared: ties where PyTorch's pick among equal values (so
# its gradient) is unspecified; mode with NaN/inf (PyTorch orders NaN with `<`: op_table.py
# has a mode row with one special per lane); zeros only matter for products.
_UNSPECIFIED_TIES = {"sort", "sort_desc", "topk", "topk_small", "kthvalue", "median_dim", "mode", "sorted_view"}
GRAD_PARAMS = [(n, k) for n in sorted(GRAD_CASES) for k in ("distinct", "ties", "nan", "inf", "zeros1", "zeros2")
               if not (k == "ties" and n in _UNSPECIFIED_TIES) and not (k in ("nan", "inf") and n == "mode")
               and not (k.startswith("zeros") and not n.startswith(("cumprod", "prod")))]


@pytest.mark.parametrize("name,kind", GRAD_PARAMS)
def test_gradients_match_torch(name: str, kind: str) -> None:
    fn = GRAD_CASES[name]
    rng = np.random.default_rng(sorted(GRAD_CASES).index(name) * 10 + len(kind))
    if kind == "distinct":
        # distinct and away from 0 (a product with a tiny factor cancels in the second order)
        a = (rng.permutation(24).reshape(2, 3, 4) * 0.05 + 0.5) * np.where(np.arange(24) % 3, 1.0, -1.0).reshape(2, 3, 4)
    elif kind == "ties":
        a = np.round(rng.normal(size=(2, 3, 4)))
    else:
        a = rng.normal(size=(2, 3, 4))
        if kind == "nan":
            a.flat[[1, 5, 7]] = NAN
        elif kind == "inf":
            a.flat[[1, 6]] = INF
            a.flat[9] = -INF
        else:
            a.flat[rng.choice(24, 1 if kind == "zeros1" else 3, replace=False)] = 0.0
    up = rng.normal(size=tuple(fn(torch.tensor(a)).shape))
    v = rng.normal(size=a.shape)
    finite = kind in ("distinct", "ties", "zeros1", "zeros2")
    got = _grads(fn, gc, a, up, v, finite)
    want = _grads(fn, torch, a, up, v, finite)
    assert got[2] == want[2], f"node name {got[2]} vs {want[2]}"
    for g, w, what in zip(got[:2] + got[3:], want[:2] + want[3:], ["forward", "gradient", "second order"]):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=f"{name} {kind} {what}")
    assert len(got) == len(want), "second-order gradient exists in one library only"


def test_gradients_of_float32_and_float16_inputs() -> None:
    rng = np.random.default_rng(8)
    a = (rng.permutation(12).reshape(3, 4) * 0.25).astype(np.float32)
    for dt, tdt in [(gc.float32, torch.float32), (gc.float16, torch.float16), (gc.bfloat16, torch.bfloat16)]:
        for fn in (lambda x: x.max(1).values, lambda x: x.sort(0).values, lambda x: x.cumsum(1), lambda x: x.prod(1)):
            x = gc.tensor(a, dtype=dt, requires_grad=True)
            tx = torch.tensor(a, dtype=tdt, requires_grad=True)
            y, ty = fn(x), fn(tx)
            assert y.dtype is dt
            (g,) = gc.grad(y.sum(), [x])
            (tg,) = torch.autograd.grad(ty.sum(), [tx])
            np.testing.assert_allclose(_np(g), _np(tg), rtol=1e-2 if dt is not gc.float32 else 1e-6)


def test_indices_modified_in_place_are_detected_in_backward() -> None:
    x = gc.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
    values, indices = x.sort(1)
    indices.add_(0)  # bumps the version of the saved indices
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        values.sum().backward()


def test_integer_results_do_not_require_grad() -> None:
    x = gc.tensor([[3.0, 1.0], [2.0, 5.0]], requires_grad=True)
    r = x.max(1)
    assert r.values.requires_grad and not r.indices.requires_grad and r.indices.dtype is gc.int64
    for t in (x.argmax(), x.argsort(), x.unique(), x.any(), x.count_nonzero(), x.histc(4)):
        assert not t.requires_grad
    assert not gc.tensor([3, 1]).cumsum(0).requires_grad


# ---------------------------------------------------------------------------------------
# forms, arguments and errors
# ---------------------------------------------------------------------------------------

def test_named_tuples_behave_like_torch_return_types() -> None:
    a = [[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]
    calls = {"max": lambda m, x: x.max(1), "min": lambda m, x: m.min(x, 0), "sort": lambda m, x: x.sort(),
             "topk": lambda m, x: x.topk(2), "kthvalue": lambda m, x: x.kthvalue(1), "median": lambda m, x: x.median(1),
             "mode": lambda m, x: x.mode(), "cummax": lambda m, x: x.cummax(1), "cummin": lambda m, x: m.cummin(x, 0)}
    for name, f in calls.items():
        r, tr = f(gc, gc.tensor(a)), f(torch, torch.tensor(a))
        assert type(r) is getattr(gc.return_types, name) and isinstance(r, tuple) and len(r) == 2
        values, indices = r
        assert values is r.values is r[0] and indices is r.indices is r[1] and r[-1] is indices
        assert repr(r).startswith(f"gradcore.return_types.{name}(\nvalues=tensor(") and "\nindices=tensor(" in repr(r)
        assert repr(r).replace("gradcore", "torch") == repr(tr)
        back = pickle.loads(pickle.dumps(getattr(gc.return_types, name)((values.tolist(), indices.tolist()))))
        assert type(back) is type(r) and back.values == values.tolist() and back.indices == indices.tolist()
    assert gc.return_types.max([gc.tensor(1.0), gc.tensor(0)]).indices.item() == 0
    with pytest.raises(TypeError):
        gc.return_types.max([gc.tensor(1.0)])


def test_max_min_three_forms() -> None:
    a = gc.tensor([[1.0, 5.0], [7.0, 0.0]])
    b = gc.tensor([[2.0, 2.0], [2.0, 2.0]])
    assert a.max().item() == 7.0 and gc.min(a).item() == 0.0 and a.max().dim() == 0
    assert gc.max(a, 1).indices.tolist() == [1, 0] and gc.max(a, dim=1, keepdim=True).values.shape == (2, 1)
    assert gc.max(input=a, dim=0).values.tolist() == [7.0, 5.0]
    for m in (a.max(b), gc.max(a, b), gc.max(a, other=b), a.max(other=b)):
        assert m.tolist() == [[2.0, 5.0], [7.0, 2.0]]
    assert a.min(b).tolist() == gc.minimum(a, b).tolist()
    assert gc.max(a, gc.tensor([3, 1])).dtype is gc.float32  # promoted as torch.maximum
    with pytest.raises(TypeError):
        a.max(keepdim=True)       # PyTorch: no keepdim without dim (use amax)
    with pytest.raises(TypeError):
        a.max((0, 1))             # several dims: amax
    with pytest.raises(TypeError):
        a.max(1.0)
    with pytest.raises(TypeError):
        a.max(b, 1)
    with pytest.raises(TypeError):
        gc.max(a, 2.0)
    with pytest.raises(IndexError):
        a.max(2)
    assert gc.argmax(a, keepdim=True).shape == (1, 1) and a.argmax(dim=1, keepdim=True).tolist() == [[1], [0]]


@pytest.mark.parametrize("case", [
    "max_all_empty", "max_dim_empty", "amax_all_empty", "argmax_empty", "argmax_bool", "topk_k", "topk_neg",
    "topk_bool", "kth_0", "kth_big", "kth_empty", "median_bool", "mode_empty", "bincount_2d", "bincount_neg",
    "bincount_float", "bincount_bool", "bincount_weights", "bincount_minlength", "histc_int", "histc_bins",
    "histc_range", "histc_nan", "histc_inf", "mean_int", "mean_dtype_int", "dim_range", "prod_tuple", "cumsum_no_dim",
    "median_dim_none_keepdim"])
def test_bad_input_raises_pytorchs_exception(case: str) -> None:
    calls = {
        "max_all_empty": lambda m: m.zeros(0, 3).max(), "max_dim_empty": lambda m: m.zeros(0, 3).max(0),
        "amax_all_empty": lambda m: m.zeros(0, 3).amin(), "argmax_empty": lambda m: m.zeros(0).argmax(),
        "argmax_bool": lambda m: m.zeros(3).bool().argmax(), "topk_k": lambda m: m.zeros(2, 3).topk(4),
        "topk_neg": lambda m: m.zeros(2, 3).topk(-1), "topk_bool": lambda m: m.zeros(3).bool().topk(1),
        "kth_0": lambda m: m.zeros(2, 3).kthvalue(0), "kth_big": lambda m: m.zeros(2, 3).kthvalue(4),
        "kth_empty": lambda m: m.zeros(0).kthvalue(1), "median_bool": lambda m: m.zeros(3).bool().median(0),
        "mode_empty": lambda m: m.zeros(2, 0).mode(1), "bincount_2d": lambda m: m.zeros(2, 2).long().bincount(),
        "bincount_neg": lambda m: m.tensor([1, -1]).bincount(), "bincount_float": lambda m: m.tensor([1.0]).bincount(),
        "bincount_bool": lambda m: m.tensor([True]).bincount(),
        "bincount_weights": lambda m: m.tensor([1, 2]).bincount(m.tensor([1.0])),
        "bincount_minlength": lambda m: m.tensor([1, 2]).bincount(minlength=-1),
        "histc_int": lambda m: m.tensor([1, 2]).histc(), "histc_bins": lambda m: m.zeros(3).histc(bins=0),
        "histc_range": lambda m: m.zeros(3).histc(min=2, max=1),
        "histc_nan": lambda m: m.tensor([NAN, 1.0]).histc(), "histc_inf": lambda m: m.tensor([INF, 1.0]).histc(),
        "mean_int": lambda m: m.zeros(3).long().mean(), "mean_dtype_int": lambda m: m.zeros(3).mean(dtype=m.int64),
        "dim_range": lambda m: m.zeros(2, 3).sort(2), "prod_tuple": lambda m: m.zeros(2, 3).prod((0, 1)),
        "cumsum_no_dim": lambda m: m.zeros(2, 3).cumsum(),
        "median_dim_none_keepdim": lambda m: m.zeros(2, 3).mode(None),
    }
    _same_error(lambda: calls[case](gc), lambda: calls[case](torch), case)


def test_empty_and_zero_dim_results_match_torch() -> None:
    for fn in [lambda m: m.zeros(0, 3).max(1), lambda m: m.zeros(0, 3).sort(0), lambda m: m.zeros(2, 0).topk(0),
               lambda m: m.zeros(2, 0).median(0), lambda m: m.zeros(0).cummax(0), lambda m: m.tensor(3.0).max(0),
               lambda m: m.tensor(3.0).sort(), lambda m: m.tensor(3.0).topk(1), lambda m: m.tensor(3.0).topk(0),
               lambda m: m.tensor(3.0).kthvalue(1), lambda m: m.tensor(3.0).mode(), lambda m: m.tensor(3.0).median(-1)]:
        _same(tuple(fn(gc)), tuple(fn(torch)), "empty / 0-dim")
    for fn in [lambda m: m.zeros(0).median(), lambda m: m.zeros(0).prod(), lambda m: m.zeros(0, 2).any(0),
               lambda m: m.zeros(0, 2).all(1), lambda m: m.zeros(0, 2).prod(0), lambda m: m.zeros(0, 2).cumsum(1),
               lambda m: m.zeros(0).unique(), lambda m: m.tensor([], dtype=m.int64).bincount(minlength=3),
               lambda m: m.zeros(0).histc(bins=4), lambda m: m.tensor(2.0).histc(bins=3),
               lambda m: m.zeros(2, 0).argmax(0), lambda m: m.tensor(5).count_nonzero()]:
        _same(fn(gc), fn(torch), "empty / 0-dim")
    with pytest.raises(NotImplementedError):
        gc.zeros(2, 3).unique(dim=0)


def test_bincount_and_histc_match_torch() -> None:
    rng = np.random.default_rng(9)
    for trial in range(60):
        n = int(rng.integers(0, 40))
        x = rng.integers(0, 12, n)
        w = [None, rng.standard_normal(n).astype(np.float32), rng.standard_normal(n), rng.integers(-3, 3, n)][trial % 4]
        ml = int(rng.integers(0, 15))
        _same(gc.bincount(gc.tensor(x), None if w is None else gc.tensor(w), ml),
              torch.bincount(torch.tensor(x), None if w is None else torch.tensor(w), ml), "bincount")
        dt = (np.float32, np.float64)[trial % 2]
        a = (rng.integers(-20, 20, n) * rng.choice([0.1, 0.25, 1 / 3])).astype(dt)
        bins = int(rng.integers(1, 12))
        lo, hi = [(0.0, 0.0), (-1.0, 1.0), (-0.7, 1.3), (0.3, 0.3)][trial % 4]
        if trial % 5 == 0 and n:
            a[0] = NAN
            lo, hi = -1.0, 1.0  # NaN is not counted in a given range
        _same(gc.histc(gc.tensor(a), bins, lo, hi), torch.histc(torch.tensor(a), bins, lo, hi), f"histc {bins} {lo} {hi}")
    _same(gc.tensor(np.arange(6.0)).half().histc(3), torch.arange(6.0).half().histc(3), "histc float16")


# ---------------------------------------------------------------------------------------
# properties vs NumPy (hypothesis)
# ---------------------------------------------------------------------------------------

_FLOATS = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6),
                     elements=st.one_of(st.integers(-3, 3).map(float), st.floats(-1e3, 1e3), st.just(NAN), st.just(INF)))


@settings(max_examples=60, deadline=None)
@given(a=_FLOATS, data=st.data())
def test_property_sort_is_numpys_stable_sort(a: np.ndarray, data: Any) -> None:
    d = data.draw(st.integers(-a.ndim, a.ndim - 1), label="dim")
    r = gc.tensor(a).sort(d, stable=True)
    np.testing.assert_array_equal(r.values.numpy(), np.sort(a, axis=d))  # NumPy also puts NaN last
    np.testing.assert_array_equal(r.indices.numpy(), np.argsort(a, axis=d, kind="stable"))
    rd = gc.tensor(a).sort(d, descending=True)
    np.testing.assert_array_equal(rd.values.numpy(), np.flip(np.sort(a, axis=d), axis=d))  # NaN first
    np.testing.assert_array_equal(np.take_along_axis(a, rd.indices.numpy(), axis=d), rd.values.numpy())


@settings(max_examples=60, deadline=None)
@given(a=_FLOATS, data=st.data())
def test_property_topk_is_a_prefix_of_the_sorted_order(a: np.ndarray, data: Any) -> None:
    d = data.draw(st.integers(-a.ndim, a.ndim - 1), label="dim")
    k = data.draw(st.integers(0, a.shape[d]), label="k")
    largest = data.draw(st.booleans(), label="largest")
    r = gc.tensor(a).topk(k, d, largest=largest)
    # NaN counts as the largest; ties by position (a stable sort of (NaN last / first, value))
    nan = np.isnan(a)
    order = (np.lexsort((-np.where(nan, 0.0, a), ~nan), axis=d) if largest
             else np.argsort(a, axis=d, kind="stable"))
    want = np.take_along_axis(a, np.take(order, range(k), axis=d), axis=d)
    np.testing.assert_array_equal(r.values.numpy(), want)
    np.testing.assert_array_equal(np.take_along_axis(a, r.indices.numpy(), axis=d), want)


@settings(max_examples=60, deadline=None)
@given(a=hnp.arrays(st.sampled_from([np.int64, np.int8, np.float32, np.bool_]),
                    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)))
def test_property_unique_is_numpys(a: np.ndarray) -> None:
    v, inv, c = gc.tensor(a).unique(return_inverse=True, return_counts=True)
    nv, ninv, nc = np.unique(a, return_inverse=True, return_counts=True, equal_nan=False)  # NaNs each distinct
    np.testing.assert_array_equal(v.numpy(), nv)
    np.testing.assert_array_equal(c.numpy(), nc)
    nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    # Which NaN slot each NaN maps to is the order of an unstable sort (NumPy's and torch's
    # agree by coincidence of implementation); elsewhere the inverse is exact.
    np.testing.assert_array_equal(inv.numpy()[~nan], ninv.reshape(a.shape)[~nan])
    np.testing.assert_array_equal(v.numpy()[inv.numpy()], a)  # v[inv] rebuilds a (NaN included)
    assert sorted(inv.numpy()[nan].tolist()) == sorted(ninv.reshape(a.shape)[nan].tolist())
    assert inv.shape == tuple(a.shape)
