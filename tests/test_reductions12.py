"""Statistics reductions (issue 12, reduce12) against PyTorch: var/std/var_mean/std_mean,
logsumexp, logcumsumexp, nansum, nanmean, aminmax, quantile/nanquantile, cov, corrcoef, norm,
gradcore.linalg.vector_norm/matrix_norm/norm, dist, cdist.

Each check runs the same call on gradcore and torch tensors built from one NumPy array and
compares values, dtypes and shapes (and gradients where named); hypothesis draws shapes and
dims. Gradients of smooth points are in tests/op_table.py (gradcheck, gradgradcheck, forward
mode, NaN/inf); here the special points: zero variance, zero norms, zero distances.
Blind spots: float16/bfloat16 are only spot-checked.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gradcore as gc

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")


def _to(lib: Any, a: Any, grad: bool = False) -> Any:
    if lib is gc:
        return gc.tensor(a, requires_grad=grad)
    return torch.tensor(a, requires_grad=grad)


def same(fn: Callable[..., Any], *arrays: np.ndarray, rtol: float = 1e-6, atol: float = 1e-6,
         grad: bool = False, tfn: Any = None) -> None:
    """fn(gc tensors) equals (tfn or fn)(torch tensors): values, shape, dtype (and gradients)."""
    gx = [_to(gc, a, grad) for a in arrays]
    tx = [_to(torch, a, grad) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g, t = fn(*gx), (tfn or fn)(*tx)
    gs = g if isinstance(g, tuple) else (g,)
    ts = t if isinstance(t, tuple) else (t,)
    assert len(gs) == len(ts)
    for a, b in zip(gs, ts):
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], (a.dtype, b.dtype)
        np.testing.assert_allclose(a.detach().numpy().astype(np.float64), b.detach().numpy().astype(np.float64),
                                   rtol=rtol, atol=atol, equal_nan=True)
    if grad:
        up = np.random.default_rng(1).uniform(0.5, 1.5, tuple(gs[0].shape))
        gg = gc.grad([gs[0]], gx, [gc.tensor(up, dtype=gs[0].dtype)], allow_unused=True)
        tg = torch.autograd.grad([ts[0]], tx, [torch.tensor(up, dtype=ts[0].dtype)], allow_unused=True)
        for a, b in zip(gg, tg):
            if b is None:
                assert a is None or not np.any(a.numpy())
                continue
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=atol, equal_nan=True)


def raises_like(fn: Callable[..., Any], *arrays: np.ndarray) -> None:
    """fn raises on torch; gradcore raises an exception of the same type."""
    with pytest.raises(Exception) as te:
        fn(*[_to(torch, a) for a in arrays])
    with pytest.raises(type(te.value)):
        fn(*[_to(gc, a) for a in arrays])


RNG = np.random.default_rng(12)
X32 = RNG.standard_normal((3, 4, 5)).astype(np.float32)
X64 = RNG.standard_normal((3, 4, 5))
DIMS: Sequence[Any] = [None, 0, -1, (0, 2), (2, 0), [1], (0, 1, 2)]


# ---- var / std ----

@pytest.mark.parametrize("x", [X32, X64], ids=["f32", "f64"])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_var_std_values_and_gradients(x: np.ndarray, dim: Any, keepdim: bool) -> None:
    rtol = 1e-5 if x.dtype == np.float32 else 1e-12
    same(lambda t: t.var(dim, keepdim=keepdim), x, rtol=rtol, grad=True)
    same(lambda t: t.std(dim, keepdim=keepdim, correction=0), x, rtol=rtol, grad=True)
    lib = lambda t: gc if isinstance(t, gc.Tensor) else torch  # noqa: E731
    same(lambda t: lib(t).var_mean(t, dim, keepdim=keepdim, correction=2), x, rtol=rtol)
    same(lambda t: lib(t).std_mean(t, dim, unbiased=False, keepdim=keepdim), x, rtol=rtol)


def test_var_argument_forms() -> None:
    x = X64[0]
    same(lambda t: t.var(False), x)                     # var(input, unbiased)
    same(lambda t: t.var(1, False, True), x)            # var(input, dim, unbiased, keepdim)
    same(lambda t: t.std(0, True), x)
    same(lambda t: t.var(correction=0.5), x)            # float correction
    assert isinstance(gc.var_mean(gc.tensor(x)), tuple)
    raises_like(lambda t: t.var(0.5), x)                # not a dim
    raises_like(lambda t: t.var(unbiased=False, correction=1), x)
    raises_like(lambda t: t.var(5), x)                  # IndexError
    raises_like(lambda t: t.var((0, 0)), x)             # repeated dim
    raises_like(lambda t: t.var(), np.arange(6))        # integers refused (RuntimeError)


def test_var_is_stable_for_a_large_mean_with_a_small_spread() -> None:
    base = np.array([0.0, 1.0, 2.0, 3.0, 4.0] * 200)
    for dt, mean, tol in ((np.float64, 1e9, 1e-9), (np.float32, 1e4, 1e-4)):
        x = (base * 1e-3 + mean).astype(dt)
        want = np.var(x.astype(np.float64), ddof=1)        # float64 reference on the rounded inputs
        got = gc.tensor(x).var().item()
        assert abs(got - want) <= tol * want, (dt, got, want)
        np.testing.assert_allclose(gc.tensor(x).std(0).item(), np.sqrt(want), rtol=tol)


def test_var_degrees_of_freedom_warn_and_give_nan_or_inf_as_torch() -> None:
    for shape, kw in (((1,), {}), ((0,), {}), ((0, 3), {"dim": 0}), ((2,), {"correction": 2}), ((3,), {"correction": 5})):
        x = np.ones(shape)
        with pytest.warns(UserWarning, match="degrees of freedom"):
            g = gc.tensor(x).var(**kw)
        with pytest.warns(UserWarning):
            t = torch.tensor(x).var(**kw)
        np.testing.assert_array_equal(g.numpy(), t.numpy())
    with pytest.warns(UserWarning, match="std_mean"):
        gc.std_mean(gc.ones(1))


def test_std_gradient_at_zero_variance_is_zero_as_torch() -> None:
    same(lambda t: t.std(), np.zeros(3), grad=True)
    same(lambda t: t.std(0), np.array([[2.5, 1.0], [2.5, 2.0], [2.5, 3.0]]), grad=True)
    lib = lambda t: gc if isinstance(t, gc.Tensor) else torch  # noqa: E731
    same(lambda t: lib(t).std_mean(t, 1)[0], np.full((2, 3), -1.0), grad=True)


def test_var_half_precision_computes_in_float32() -> None:
    x = RNG.standard_normal((4, 6))
    g = gc.tensor(x).to(gc.float16).var(1)
    t = torch.tensor(x).to(torch.float16).var(1)
    assert g.dtype == gc.float16
    np.testing.assert_allclose(g.to(gc.float32).numpy(), t.float().numpy(), rtol=2e-3)


# ---- logsumexp / logcumsumexp ----

@pytest.mark.parametrize("x", [X32, X64], ids=["f32", "f64"])
@pytest.mark.parametrize("dim", [0, -1, (0, 2), [1, 2]])
def test_logsumexp_values_and_gradients(x: np.ndarray, dim: Any) -> None:
    rtol = 1e-5 if x.dtype == np.float32 else 1e-12
    same(lambda t: t.logsumexp(dim), x, rtol=rtol, grad=True)
    same(lambda t: t.logsumexp(dim, keepdim=True), x, rtol=rtol)


def test_logsumexp_is_stable_and_handles_infinities_as_torch() -> None:
    same(lambda t: t.logsumexp(1), np.array([[1000.0, 1000.0, 999.0], [-1000.0, -1001.0, -1000.0]]), grad=True)
    special = np.array([[INF, 1.0], [-INF, -INF], [INF, -INF], [NAN, 1.0], [-INF, 2.0], [INF, INF]])
    same(lambda t: t.logsumexp(1), special)
    same(lambda t: t.logsumexp(0), np.zeros((0, 3)))     # -inf
    same(lambda t: t.logsumexp(1), np.zeros((0, 3)))     # empty result
    same(lambda t: t.logsumexp(0), np.arange(6).reshape(2, 3))   # integers: the default dtype
    same(lambda t: t.logsumexp(0), np.array(2.5))        # 0-dim
    raises_like(lambda t: t.logsumexp(2), X64[0])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_logcumsumexp_values_gradients_and_errors(dim: int) -> None:
    same(lambda t: t.logcumsumexp(dim), X64[0], rtol=1e-12, grad=True)
    same(lambda t: t.logcumsumexp(dim), X32[0], rtol=1e-5)
    same(lambda t: t.logcumsumexp(1), np.array([[-INF, 0.0, INF, 1.0], [NAN, 1.0, 2.0, 3.0], [900.0, 1000.0, -INF, 5]]))
    same(lambda t: t.logcumsumexp(0), np.zeros((0, 2)))
    raises_like(lambda t: t.logcumsumexp(0), np.arange(3))  # NotImplementedError as torch
    raises_like(lambda t: t.logcumsumexp(3), X64[0])


# ---- nan* / aminmax ----

NANX = np.array([[1.0, NAN, 3.0], [NAN, NAN, NAN], [0.5, -2.0, 4.0]])


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_nansum_nanmean(dim: Any) -> None:
    lib = lambda t: gc if isinstance(t, gc.Tensor) else torch  # noqa: E731
    same(lambda t: lib(t).nansum(t, dim), NANX, grad=True)
    same(lambda t: t.nanmean(dim, keepdim=True), NANX, grad=True)
    same(lambda t: t.nansum(dim), np.arange(6).reshape(2, 3))  # integers: int64
    raises_like(lambda t: t.nanmean(), np.arange(6))


def test_aminmax_namedtuple_dims_and_errors() -> None:
    x = X64[0]
    r = gc.aminmax(gc.tensor(x), dim=1, keepdim=True)
    assert type(r).__name__ == "aminmax" and r.min is r[0] and r.max is r[1]
    same(lambda t: tuple(t.aminmax(dim=1, keepdim=True)), x, grad=True)
    same(lambda t: tuple(t.aminmax()), x, grad=True)
    same(lambda t: tuple(t.aminmax(dim=-1)), np.arange(6).reshape(2, 3))
    same(lambda t: tuple(t.aminmax(dim=0)), NANX)
    raises_like(lambda t: t.aminmax(), np.zeros((0, 2)))
    raises_like(lambda t: t.aminmax(dim=0), np.zeros((0, 2)))
    raises_like(lambda t: t.aminmax(dim=(0, 1)), x)
    raises_like(lambda t: t.aminmax(dim=2), x)


# ---- quantile ----

@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_quantile_all_forms(interpolation: str, dim: Any, keepdim: bool) -> None:
    x = RNG.standard_normal((4, 5))
    for q in (0.0, 0.37, 0.5, 1.0, [0.1, 0.5, 0.9], 0.625):
        def f(t: Any) -> Any:
            qq = q if not isinstance(q, list) else (gc.tensor(q, dtype=t.dtype) if isinstance(t, gc.Tensor)
                                                    else torch.tensor(q, dtype=t.dtype))
            return t.quantile(qq, dim, keepdim, interpolation=interpolation)
        same(f, x, rtol=1e-12, grad=True)


def test_quantile_nan_handling_and_nanquantile() -> None:
    for dim in (None, 0, 1):
        same(lambda t: t.quantile(0.4, dim), NANX)
        same(lambda t: t.nanquantile(0.4, dim), NANX, grad=dim is not None)
        same(lambda t: t.nanquantile(0.9, dim, interpolation="nearest"), NANX)
    same(lambda t: t.quantile(0.5), np.array(3.0))       # 0-dim
    same(lambda t: t.quantile(0.25, 0), np.array([3.0, 1.0]).astype(np.float32))


def test_quantile_errors() -> None:
    x = X64[0]
    raises_like(lambda t: t.quantile(0.5, interpolation="bad"), x)
    raises_like(lambda t: t.quantile(1.5), x)
    raises_like(lambda t: t.quantile(0.5), np.arange(4))
    raises_like(lambda t: t.quantile(0.5), np.zeros(0))
    raises_like(lambda t: t.quantile(0.5, 3), x)
    raises_like(lambda t: t.quantile(t[:2, :2]), x)      # q 2-D
    raises_like(lambda t: t.quantile(t[0].float() if hasattr(t, "float") else t), x)  # q of another dtype


# ---- cov / corrcoef ----

def test_cov_corrcoef() -> None:
    x = RNG.standard_normal((3, 6))
    lib = lambda t: gc if isinstance(t, gc.Tensor) else torch  # noqa: E731
    same(lambda t: lib(t).cov(t), x, rtol=1e-12, grad=True)
    same(lambda t: t.cov(correction=0), x[0], rtol=1e-12)  # 1-D: a 0-dim variance
    same(lambda t: lib(t).corrcoef(t), x, rtol=1e-12, grad=True)
    same(lambda t: t.corrcoef(), x[0], rtol=1e-12)
    same(lambda t: t.cov(), np.arange(12).reshape(3, 4))  # integers: the default dtype
    fw = np.array([1, 2, 0, 3, 1, 1])
    aw = np.array([0.5, 1.0, 2.0, 0.25, 1.5, 1.0])

    def weighted(t: Any) -> Any:
        L = lib(t)
        return L.cov(t, correction=1, fweights=L.tensor(fw), aweights=L.tensor(aw))
    same(weighted, x, rtol=1e-12, grad=True)
    same(lambda t: lib(t).cov(t, fweights=lib(t).tensor(fw)), x, rtol=1e-12)
    raises_like(lambda t: t.cov(), np.zeros((2, 2, 2)))
    raises_like(lambda t: lib(t).cov(t, fweights=lib(t).tensor([1.0] * 6)), x)
    raises_like(lambda t: lib(t).cov(t, fweights=lib(t).tensor([1, 2])), x)
    raises_like(lambda t: lib(t).cov(t, aweights=lib(t).tensor([-1.0] * 6)), x)


# ---- norms ----

ORDS = [2, 1, 3, 0.5, 0, INF, -INF, -1.5]


@pytest.mark.parametrize("ord", ORDS)
@pytest.mark.parametrize("dim", [None, 0, (0, 2), -1])
def test_vector_norm_values_and_gradients(ord: float, dim: Any) -> None:
    def f(t: Any) -> Any:
        L = gc if isinstance(t, gc.Tensor) else torch
        return L.linalg.vector_norm(t, ord, dim)
    same(f, X64, rtol=1e-11, grad=True)
    same(f, X32, rtol=1e-5)


def test_vector_norm_zero_and_special_inputs_as_torch() -> None:
    for ord in ORDS:
        def f(t: Any, o: float = ord) -> Any:
            L = gc if isinstance(t, gc.Tensor) else torch
            return L.linalg.vector_norm(t, o, 1)
        same(f, np.array([[0.0, 0.0, 0.0], [0.0, 1.5, -2.0]]), grad=True)   # subgradient 0 at 0
        same(f, np.array([[NAN, 1.0, 0.0], [INF, -INF, 1.0]]))
        same(f, np.zeros((2, 0)) if 0 <= ord < INF else np.zeros((0, 2)))  # no identity: raises on (2, 0)
        if not 0 <= ord < INF:
            raises_like(f, np.zeros((2, 0)))
    lib = lambda t: gc if isinstance(t, gc.Tensor) else torch  # noqa: E731
    same(lambda t: lib(t).linalg.vector_norm(t, dtype=lib(t).float64), X32, rtol=1e-12)
    same(lambda t: lib(t).linalg.vector_norm(t, 2, (), keepdim=True), X64, rtol=1e-12)
    raises_like(lambda t: lib(t).linalg.vector_norm(t, "fro"), X64)
    raises_like(lambda t: lib(t).linalg.vector_norm(t), np.arange(3))
    raises_like(lambda t: lib(t).linalg.vector_norm(t, INF), np.zeros(0))
    raises_like(lambda t: lib(t).linalg.vector_norm(t, dim=3), X64)
    raises_like(lambda t: lib(t).linalg.vector_norm(t, dtype=lib(t).float32), X64)  # narrowing


@pytest.mark.parametrize("ord", ["fro", INF, -INF, 1, -1])
@pytest.mark.parametrize("dim", [(-2, -1), (0, 2), (2, 0)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm(ord: Any, dim: Any, keepdim: bool) -> None:
    def f(t: Any) -> Any:
        L = gc if isinstance(t, gc.Tensor) else torch
        return L.linalg.matrix_norm(t, ord, dim, keepdim)
    same(f, X64, rtol=1e-12, grad=True)


def test_matrix_and_linalg_norm_forms_and_errors() -> None:
    lib = lambda t: gc if isinstance(t, gc.Tensor) else torch  # noqa: E731
    m = X64[0]
    for ord in (None, "fro", 1, -1, INF, -INF):
        same(lambda t: lib(t).linalg.norm(t, ord), m, rtol=1e-12)
    for ord in (None, 1, 3, INF, 0):
        same(lambda t: lib(t).linalg.norm(t, ord), m[0], rtol=1e-12)
    same(lambda t: lib(t).linalg.norm(t), X64, rtol=1e-12)
    same(lambda t: lib(t).linalg.norm(t, 3, dim=1, keepdim=True), X64, rtol=1e-12)
    same(lambda t: lib(t).linalg.norm(t, INF, dim=(0, 1)), X64, rtol=1e-12)
    raises_like(lambda t: lib(t).linalg.norm(t, 1), X64)                 # ord without dim on 3-D
    raises_like(lambda t: lib(t).linalg.matrix_norm(t), m[0])            # 1-D
    raises_like(lambda t: lib(t).linalg.matrix_norm(t, 3), m)
    raises_like(lambda t: lib(t).linalg.matrix_norm(t, dim=(1, 1)), m)
    for ord in (2, -2, "nuc"):  # from the singular values (svdvals), values and gradients
        same(lambda t: lib(t).linalg.matrix_norm(t, ord), m, rtol=1e-10, grad=True)
        same(lambda t: lib(t).linalg.matrix_norm(t, ord, dim=(0, 2), keepdim=True), X64, rtol=1e-10)
    same(lambda t: t.norm("nuc"), m, rtol=1e-10)


@pytest.mark.parametrize("p", ["fro", 2, 1, 3.5, INF, 0])
@pytest.mark.parametrize("dim", [None, 1, (0, 1), (0, 2)])
def test_torch_norm(p: Any, dim: Any) -> None:
    same(lambda t: t.norm(p, dim), X64, rtol=1e-11, grad=True)
    same(lambda t: t.norm(p, dim, keepdim=True), X32, rtol=1e-5)
    raises_like(lambda t: t.norm(), np.arange(4))


def test_dist() -> None:
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4,))
    lib = lambda t: gc if isinstance(t, gc.Tensor) else torch  # noqa: E731
    for p in (2, 1, 0, 3.5, INF, -INF):
        same(lambda x, y: lib(x).dist(x, y, p), a, b, rtol=1e-12, grad=p != 0)  # torch: no p=0 gradient
    same(lambda x, y: x.dist(y), a, a, grad=True)                     # zero distance: gradient 0
    raises_like(lambda x, y: x.dist(y), np.arange(3), np.arange(3))


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 3.0, 0.5, INF])
@pytest.mark.parametrize("shapes", [((3, 2), (4, 2)), ((2, 3, 4), (2, 5, 4)), ((1, 3, 2), (2, 4, 2)), ((30, 3), (28, 3))])
def test_cdist(p: float, shapes: Any) -> None:
    a, b = (RNG.standard_normal(s) for s in shapes)
    lib = lambda t: gc if isinstance(t, gc.Tensor) else torch  # noqa: E731
    same(lambda x, y: lib(x).cdist(x, y, p), a, b, rtol=1e-9, atol=1e-9, grad=True)


def test_cdist_gemm_path_zero_distances_and_errors() -> None:
    lib = lambda t: gc if isinstance(t, gc.Tensor) else torch  # noqa: E731
    a = RNG.standard_normal((30, 4))
    b = np.concatenate([a[:3], RNG.standard_normal((27, 4))])       # three coincident pairs
    for mode in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
        same(lambda x, y: lib(x).cdist(x, y, compute_mode=mode), a, b, rtol=1e-6, atol=1e-6, grad=True)
    for p in (2.0, 1.0, 3.0):   # the direct path at zero distance: gradient 0
        same(lambda x, y: lib(x).cdist(x, y, p), a[:4], a[:4], grad=True)
    same(lambda x, y: lib(x).cdist(x, y), np.zeros((0, 3)), np.ones((2, 3)))
    same(lambda x, y: lib(x).cdist(x, y), np.ones((2, 0)), np.ones((3, 0)))
    raises_like(lambda x, y: lib(x).cdist(x, y), np.arange(6).reshape(2, 3), np.arange(6).reshape(2, 3))
    raises_like(lambda x, y: lib(x).cdist(x, y), np.ones(3), np.ones((2, 3)))
    raises_like(lambda x, y: lib(x).cdist(x, y), np.ones((2, 3)), np.ones((2, 4)))
    raises_like(lambda x, y: lib(x).cdist(x, y, -1.0), np.ones((2, 3)), np.ones((2, 3)))


# ---- hypothesis: shapes and dims ----

@st.composite
def array_and_dims(draw: Any) -> Any:
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=4)))
    x = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal(shape)
    nd = len(shape)
    if nd == 0:
        return x, draw(st.sampled_from([None, 0, -1]))
    dims = draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd, unique_by=lambda d: d % nd))
    return x, draw(st.sampled_from([None, tuple(dims), dims[0]]))


@settings(max_examples=60, deadline=None)
@given(array_and_dims(), st.booleans())
def test_reductions_match_torch_for_any_shape_and_dims(xd: Any, keepdim: bool) -> None:
    x, dim = xd
    lib = lambda t: gc if isinstance(t, gc.Tensor) else torch  # noqa: E731
    same(lambda t: t.var(dim, keepdim=keepdim), x, rtol=1e-10, atol=1e-12)
    same(lambda t: t.std(dim, keepdim=keepdim, correction=0), x, rtol=1e-10, atol=1e-12)
    same(lambda t: lib(t).nansum(t, dim, keepdim), x, rtol=1e-10, atol=1e-12)
    same(lambda t: t.nanmean(dim, keepdim), x, rtol=1e-10, atol=1e-12)
    for ord in (2, 1, 0, 3):
        same(lambda t: lib(t).linalg.vector_norm(t, ord, dim, keepdim), x, rtol=1e-10, atol=1e-12)
    if dim is not None:
        same(lambda t: t.logsumexp(dim, keepdim), x, rtol=1e-10, atol=1e-12)
    if x.size and (dim is None or isinstance(dim, int)):
        same(lambda t: t.quantile(0.3, dim, keepdim), x, rtol=1e-10, atol=1e-12)
        if dim is not None and x.ndim and x.shape[dim]:
            same(lambda t: tuple(t.aminmax(dim=dim, keepdim=keepdim)), x)
