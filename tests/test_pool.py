"""Pooling, unpooling, interpolation and pixel shuffle (issue 15) against PyTorch.

* parity grids (values, indices and input gradients of sum(y * w) for a random w) for max,
  average, adaptive and LP pooling, max unpooling, interpolate and pixel (un)shuffle: kernel
  1/2/3/5, strides, paddings, dilations, ceil_mode, non-square inputs, batch 1 and several,
  unbatched inputs, float32 and float64; cases PyTorch refuses are checked to be refused;
* gradcheck in float64 (reverse and forward mode): inputs are random normals, so max
  windows have no ties (a kink there, where the derivative is undefined);
* create_graph double backward and forward-mode AD (dual tensors) against torch;
* bitwise equality for 1 and 2 threads (Note [Pooling planes], kernels/pool.h);
* bad input: PyTorch's exception types and messages.
Blind spots: ties inside max windows (both libraries keep the first, not compared here
beyond one hand case); float16/bfloat16 only through a smoke test.
"""
from __future__ import annotations

import itertools
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _pair(a: np.ndarray, requires_grad: bool = True) -> Tuple[Any, Any]:
    g = gc.from_numpy(np.ascontiguousarray(a).copy())
    g.requires_grad_(requires_grad)
    t = torch.tensor(a, requires_grad=requires_grad)
    return g, t


def _np(t: Any) -> np.ndarray:
    if isinstance(t, gc.Tensor):
        return t.detach().numpy()
    return t.detach().numpy()


def _check_values_and_grad(fn_gc: Callable[[Any], Any], fn_t: Callable[[Any], Any], x: np.ndarray,
                           rng: np.random.Generator, exact: bool = False, indices: bool = False) -> None:
    """Values (and indices) equal, and the gradient of sum(y * w) the same."""
    tol = TOL[x.dtype.type]
    g, t = _pair(x)
    yg, yt = fn_gc(g), fn_t(t)
    if indices:
        (yg, ig), (yt, it) = yg, yt
        np.testing.assert_array_equal(ig.numpy(), it.numpy())
        assert ig.dtype == gc.int64
    assert tuple(yg.shape) == tuple(yt.shape), (yg.shape, yt.shape)
    if exact:
        np.testing.assert_array_equal(_np(yg), _np(yt))
    else:
        np.testing.assert_allclose(_np(yg), _np(yt), **tol)
    w = rng.standard_normal(tuple(yt.shape)).astype(x.dtype)
    (yg * gc.from_numpy(w.copy())).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), **tol)


def _torch_refuses(fn: Callable[[], Any]) -> Optional[BaseException]:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any refusal counts
        return e
    return None


def _shape(nsp: int, batch: Optional[int], c: int = 2) -> Tuple[int, ...]:
    spatial = (7, 6, 5)[3 - nsp:] if nsp < 3 else (6, 5, 7)
    return ((batch,) if batch else ()) + (c,) + tuple(spatial)


# ---- max pooling ------------------------------------------------------------------------

MAX_FN = {1: (F.max_pool1d, TF.max_pool1d), 2: (F.max_pool2d, TF.max_pool2d), 3: (F.max_pool3d, TF.max_pool3d)}


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [None, 1, 3])
def test_max_pool_grid(nsp: int, dtype: Any, batch: Optional[int], rng: np.random.Generator) -> None:
    x = rng.standard_normal(_shape(nsp, batch)).astype(dtype)
    fg, ft = MAX_FN[nsp]
    kernels = [1, 2, 3, 5] if nsp < 3 else [1, 2, 3]
    grid = itertools.product(kernels, [None, 1, 2], [0, 1, 2], [1, 2], [False, True])
    ran = 0
    for k, s, p, d, ceil in grid:
        if nsp == 3 and (d == 2 and k == 3 or p == 2):
            continue  # keep the 3-d grid small
        kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
        if _torch_refuses(lambda: ft(torch.tensor(x), **kw)) is not None:
            with pytest.raises(Exception):
                fg(gc.from_numpy(x.copy()), **kw)
            continue
        _check_values_and_grad(lambda a: fg(a, return_indices=True, **kw),
                               lambda a: ft(a, return_indices=True, **kw), x, rng, exact=True, indices=True)
        ran += 1
    assert ran >= 20


def test_max_pool_tuple_args_and_modules(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 9, 8))
    _check_values_and_grad(lambda a: F.max_pool2d(a, (3, 2), (2, 1), (1, 0), (1, 2), True),
                           lambda a: TF.max_pool2d(a, (3, 2), (2, 1), (1, 0), (1, 2), True), x, rng, exact=True)
    m, tm = nn.MaxPool2d(3, 2, 1, return_indices=True), torch.nn.MaxPool2d(3, 2, 1, return_indices=True)
    assert repr(m) == repr(tm)
    _check_values_and_grad(m, tm, x, rng, exact=True, indices=True)
    for name in ["max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices"]:
        assert hasattr(F, name) and name in F.__all__
    y, i = F.max_pool2d_with_indices(gc.from_numpy(x.copy()), 2)
    ty, ti = TF.max_pool2d_with_indices(torch.tensor(x), 2)
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_max_pool_ties_nan_and_integers() -> None:
    x = np.array([[[1.0, 1.0, 0.0, np.nan], [2.0, 2.0, np.nan, 5.0]]])
    y, i = F.max_pool1d(gc.tensor(x), 2, return_indices=True)
    ty, ti = TF.max_pool1d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    xi = -np.arange(32).reshape(1, 2, 4, 4) - 1
    for dt in [np.int64, np.int32, np.uint8]:
        a = xi.astype(dt) if dt is not np.uint8 else (xi + 40).astype(dt)
        y = F.max_pool2d(gc.tensor(a), 2, 1, 1)
        ty = TF.max_pool2d(torch.tensor(a), 2, 1, 1)
        assert str(y.dtype).split(".")[-1] == str(ty.dtype).split(".")[-1]
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        F.max_pool2d(gc.ones(1, 4, 4, dtype=gc.bool), 2)
    with pytest.raises(NotImplementedError, match="max_pool1d_impl"):
        F.max_pool1d(gc.ones(1, 4, dtype=gc.int64), 2)


def test_half_precision_smoke() -> None:
    x = gc.randn(1, 2, 6, 6).to(gc.float16)
    for y in [F.max_pool2d(x, 2), F.avg_pool2d(x, 2), F.adaptive_avg_pool2d(x, 3),
              F.interpolate(x, scale_factor=2, mode="bilinear")]:
        assert y.dtype == gc.float16


# ---- average pooling --------------------------------------------------------------------

AVG_FN = {1: (F.avg_pool1d, TF.avg_pool1d), 2: (F.avg_pool2d, TF.avg_pool2d), 3: (F.avg_pool3d, TF.avg_pool3d)}


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [None, 2])
def test_avg_pool_grid(nsp: int, dtype: Any, batch: Optional[int], rng: np.random.Generator) -> None:
    x = rng.standard_normal(_shape(nsp, batch)).astype(dtype)
    fg, ft = AVG_FN[nsp]
    ran = 0
    divisors: Sequence[Optional[int]] = [None] if nsp == 1 else [None, 3]
    for k, s, p, ceil, cip, div in itertools.product([1, 2, 3, 5], [None, 1, 2], [0, 1, 2], [False, True],
                                                     [True, False], divisors):
        if nsp == 3 and (k == 5 or s == 1):
            continue
        kw: dict = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip)
        if div is not None:
            kw["divisor_override"] = div
        if _torch_refuses(lambda: ft(torch.tensor(x), **kw)) is not None:
            with pytest.raises(Exception):
                fg(gc.from_numpy(x.copy()), **kw)
            continue
        _check_values_and_grad(lambda a: fg(a, **kw), lambda a: ft(a, **kw), x, rng)
        ran += 1
    assert ran >= 20


def test_avg_pool_integers_and_modules(rng: np.random.Generator) -> None:
    a = rng.integers(-50, 50, (2, 3, 7, 5))
    for fg, ft, arr in [(F.avg_pool2d, TF.avg_pool2d, a), (F.avg_pool1d, TF.avg_pool1d, a[0])]:
        y = fg(gc.tensor(arr), 3, 2, 1)
        np.testing.assert_array_equal(y.numpy(), ft(torch.tensor(arr), 3, 2, 1).numpy())
    x = rng.standard_normal((2, 3, 8, 7))
    for m, tm in [(nn.AvgPool2d(3, 2, 1, divisor_override=4), torch.nn.AvgPool2d(3, 2, 1, divisor_override=4)),
                  (nn.AvgPool2d((2, 3), ceil_mode=True), torch.nn.AvgPool2d((2, 3), ceil_mode=True))]:
        assert repr(m) == repr(tm)
        _check_values_and_grad(m, tm, x, rng)
    m1, tm1 = nn.AvgPool1d(3, 2, 1, count_include_pad=False), torch.nn.AvgPool1d(3, 2, 1, count_include_pad=False)
    assert repr(m1) == repr(tm1)
    _check_values_and_grad(m1, tm1, x[0], rng)


# ---- adaptive pooling --------------------------------------------------------------------

@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_pools(nsp: int, dtype: Any, rng: np.random.Generator) -> None:
    sizes = {1: [1, 3, 4, 7, 10], 2: [1, (3, 4), (None, 2), (5, None), (9, 11)],
             3: [1, (2, 3, 4), (None, 2, None), (7, 6, 8)]}[nsp]
    avg = {1: (F.adaptive_avg_pool1d, TF.adaptive_avg_pool1d), 2: (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d),
           3: (F.adaptive_avg_pool3d, TF.adaptive_avg_pool3d)}[nsp]
    mx = {1: (F.adaptive_max_pool1d, TF.adaptive_max_pool1d), 2: (F.adaptive_max_pool2d, TF.adaptive_max_pool2d),
          3: (F.adaptive_max_pool3d, TF.adaptive_max_pool3d)}[nsp]
    for batch, size in itertools.product([None, 2], sizes):
        x = rng.standard_normal(_shape(nsp, batch)).astype(dtype)
        _check_values_and_grad(lambda a: avg[0](a, size), lambda a: avg[1](a, size), x, rng)
        _check_values_and_grad(lambda a: mx[0](a, size, True), lambda a: mx[1](a, size, True), x, rng, exact=True,
                               indices=True)


def test_adaptive_modules(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 9, 6))
    for m, tm in [(nn.AdaptiveAvgPool2d((4, None)), torch.nn.AdaptiveAvgPool2d((4, None))),
                  (nn.AdaptiveMaxPool2d(3), torch.nn.AdaptiveMaxPool2d(3)),
                  (nn.AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4))]:
        assert repr(m) == repr(tm)
        _check_values_and_grad(m, tm, x if "1d" not in repr(m) else x[0], rng)
    y = F.adaptive_avg_pool2d(gc.zeros(2, 0, 4, 4), 2)
    assert tuple(y.shape) == (2, 0, 2, 2)


# ---- unpooling, LP pooling, pixel shuffle --------------------------------------------------

@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_max_unpool(nsp: int, rng: np.random.Generator) -> None:
    fp, tp = MAX_FN[nsp]
    fu = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}[nsp]
    tu = {1: TF.max_unpool1d, 2: TF.max_unpool2d, 3: TF.max_unpool3d}[nsp]
    for k, s, out in [(2, 2, None), (3, 2, None), (2, 2, "bigger")]:
        # spatial sizes the default output size reproduces ((in - k) divisible by s)
        x = rng.standard_normal((2, 2) + tuple(k + s * (2 + j) for j in range(nsp)))
        y, i = fp(gc.tensor(x), k, s, return_indices=True)
        ty, ti = tp(torch.tensor(x), k, s, return_indices=True)
        size = None
        if out == "bigger":
            size = [(int(v) - 1) * s + k + 1 for v in ty.shape[2:]]
        _check_values_and_grad(lambda a: fu(a, i, k, s, output_size=size),
                               lambda a: tu(a, ti, k, s, output_size=size), _np(ty), rng)
    m, tm = nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    assert repr(m) == repr(tm)
    with pytest.raises(RuntimeError, match="Found an invalid max index"):
        F.max_unpool1d(gc.ones(1, 1, 2), gc.tensor([[[0, 9]]]), 2)


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_lp_pool(nsp: int, rng: np.random.Generator) -> None:
    x = rng.standard_normal(_shape(nsp, 2))
    fg = {1: F.lp_pool1d, 2: F.lp_pool2d, 3: F.lp_pool3d}[nsp]
    ft = {1: TF.lp_pool1d, 2: TF.lp_pool2d, 3: TF.lp_pool3d}[nsp]
    for p, k, s, ceil in [(2, 2, None, False), (3.0, 3, 2, True), (1.5, 2, 1, False)]:
        a = np.abs(x) + 0.1 if p != 2 else x  # fractional powers of negatives are NaN in both
        _check_values_and_grad(lambda v: fg(v, p, k, s, ceil), lambda v: ft(v, p, k, s, ceil), a, rng)
    m, tm = nn.LPPool2d(2, 3, 2), torch.nn.LPPool2d(2, 3, 2)
    assert repr(m) == repr(tm)


def test_pixel_shuffle(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 8, 4, 5))
    _check_values_and_grad(lambda a: F.pixel_shuffle(a, 2), lambda a: TF.pixel_shuffle(a, 2), x, rng, exact=True)
    y = rng.standard_normal((3, 6, 4))
    _check_values_and_grad(lambda a: F.pixel_unshuffle(a, 2), lambda a: TF.pixel_unshuffle(a, 2), y, rng, exact=True)
    m, tm = nn.PixelShuffle(2), torch.nn.PixelShuffle(2)
    assert repr(m) == repr(tm) and repr(nn.PixelUnshuffle(3)) == repr(torch.nn.PixelUnshuffle(3))
    for call in [lambda f: f.pixel_shuffle(gc_or_t(f, (1, 5, 2, 2)), 2), lambda f: f.pixel_shuffle(gc_or_t(f, (5, 2)), 2),
                 lambda f: f.pixel_unshuffle(gc_or_t(f, (1, 5, 3, 2)), 2), lambda f: f.pixel_shuffle(gc_or_t(f, (1, 4, 2, 2)), 0)]:
        _same_error(lambda: call(F), lambda: call(TF))


def gc_or_t(f: Any, shape: Tuple[int, ...]) -> Any:
    return gc.zeros(*shape) if f is F else torch.zeros(*shape)


# ---- interpolate --------------------------------------------------------------------------

@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_interpolate_grid(nsp: int, dtype: Any, rng: np.random.Generator) -> None:
    x = rng.standard_normal(_shape(nsp, 2)).astype(dtype)
    linear = {1: "linear", 2: "bilinear", 3: "trilinear"}[nsp]
    sizes: List[Any] = [4, 13, tuple([9, 3, 5][:nsp])] if nsp > 1 else [4, 13, (9,)]
    scales: List[Any] = [2, 0.5, 1.7, 3.0] + ([tuple([1.5, 2.5, 0.75][:nsp])] if nsp > 1 else [])
    ran = 0
    for mode in ["nearest", "nearest-exact", linear, "area"]:
        corners = [None] if mode in ("nearest", "nearest-exact", "area") else [False, True]
        for ac in corners:
            for size in sizes:
                kw = dict(size=size, mode=mode, align_corners=ac)
                _check_values_and_grad(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), x, rng)
                ran += 1
            for sf, rec in itertools.product(scales, [None, True, False]):
                if mode == "area" and rec is False:
                    continue
                kw = dict(scale_factor=sf, mode=mode, align_corners=ac, recompute_scale_factor=rec)
                _check_values_and_grad(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), x, rng)
                ran += 1
    assert ran >= 60


def test_upsample_modules(rng: np.random.Generator) -> None:
    x = rng.standard_normal((1, 2, 5, 4))
    for m, tm in [(nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
                  (nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True),
                   torch.nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True)),
                  (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
                  (nn.UpsamplingBilinear2d(size=8), torch.nn.UpsamplingBilinear2d(size=8))]:
        assert repr(m) == repr(tm)
        _check_values_and_grad(m, tm, x, rng)
    u8 = rng.integers(0, 255, (1, 1, 3, 4)).astype(np.uint8)
    np.testing.assert_array_equal(F.interpolate(gc.tensor(u8), scale_factor=1.5).numpy(),
                                  TF.interpolate(torch.tensor(u8), scale_factor=1.5).numpy())


# ---- gradcheck, double backward, forward mode ------------------------------------------------

def _f64(shape: Tuple[int, ...], rng: np.random.Generator) -> Any:
    t = gc.from_numpy(rng.standard_normal(shape))
    t.requires_grad_(True)
    return t


GRADCHECK_CASES = [
    ("max_pool2d", (1, 2, 5, 4), lambda x: F.max_pool2d(x, 3, 2, 1, 2, True)),
    ("max_pool1d", (2, 6), lambda x: F.max_pool1d(x, 2, 1)),
    ("max_pool3d", (1, 1, 3, 4, 3), lambda x: F.max_pool3d(x, 2, 1, 1)),
    ("avg_pool2d", (1, 2, 5, 4), lambda x: F.avg_pool2d(x, 3, 2, 1, True, False)),
    ("avg_pool3d", (1, 1, 3, 4, 3), lambda x: F.avg_pool3d(x, 2, 1, divisor_override=3)),
    ("adaptive_avg_pool2d", (2, 5, 4), lambda x: F.adaptive_avg_pool2d(x, (3, 3))),
    ("adaptive_max_pool2d", (1, 2, 5, 4), lambda x: F.adaptive_max_pool2d(x, (2, 3))),
    ("interp_bilinear", (1, 1, 3, 4), lambda x: F.interpolate(x, scale_factor=1.6, mode="bilinear")),
    ("interp_trilinear_ac", (1, 1, 2, 3, 2), lambda x: F.interpolate(x, size=(3, 4, 3), mode="trilinear",
                                                                      align_corners=True)),
    ("interp_nearest", (1, 2, 4), lambda x: F.interpolate(x, scale_factor=2.5)),
    ("lp_pool2d", (1, 1, 4, 4), lambda x: F.lp_pool2d(x, 2, 2)),
    ("pixel_shuffle", (1, 4, 2, 3), lambda x: F.pixel_shuffle(x, 2)),
]


@pytest.mark.parametrize("name,shape,fn", GRADCHECK_CASES, ids=[c[0] for c in GRADCHECK_CASES])
def test_gradcheck(name: str, shape: Tuple[int, ...], fn: Callable[[Any], Any], rng: np.random.Generator) -> None:
    assert gc.gradcheck(fn, [_f64(shape, rng)])


def test_max_unpool_gradcheck(rng: np.random.Generator) -> None:
    x = rng.standard_normal((1, 2, 4, 4))
    y, i = F.max_pool2d(gc.tensor(x), 2, return_indices=True)
    assert gc.gradcheck(lambda v: F.max_unpool2d(v, i, 2), [_f64(tuple(y.shape), rng)])


DOUBLE_CASES = [
    ("max_pool2d", lambda m, x: m.max_pool2d(x, 3, 2, 1)),
    ("avg_pool2d", lambda m, x: m.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
    ("adaptive_avg", lambda m, x: m.adaptive_avg_pool2d(x, (2, 3))),
    ("adaptive_max", lambda m, x: m.adaptive_max_pool2d(x, (2, 3))),
    ("bilinear", lambda m, x: m.interpolate(x, scale_factor=1.5, mode="bilinear")),
    ("nearest", lambda m, x: m.interpolate(x, size=(7, 3))),
]


@pytest.mark.parametrize("name,fn", DOUBLE_CASES, ids=[c[0] for c in DOUBLE_CASES])
def test_double_backward(name: str, fn: Callable[[Any, Any], Any], rng: np.random.Generator) -> None:
    """x.grad of sum(dL/dx ** 2) with L = sum(f(x) ** 3): second derivatives through the
    recorded backward (max: the recorded scatter; linear maps: the adjoint's adjoint)."""
    x = rng.standard_normal((2, 2, 5, 6))
    g, t = _pair(x)
    (gx,) = gc.grad((fn(F, g) ** 3).sum(), [g], create_graph=True)
    (tx,) = torch.autograd.grad((fn(TF, t) ** 3).sum(), [t], create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), tx.detach().numpy(), rtol=1e-10, atol=1e-10)
    (gx * gx).sum().backward()
    (tx * tx).sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name,fn", DOUBLE_CASES, ids=[c[0] for c in DOUBLE_CASES])
def test_forward_ad(name: str, fn: Callable[[Any, Any], Any], rng: np.random.Generator) -> None:
    with warnings.catch_warnings():  # importing it scripts a function: torch.jit's DeprecationWarning
        warnings.simplefilter("ignore", DeprecationWarning)
        import torch.autograd.forward_ad as tfw

    from gradcore.autograd import forward_ad as fw
    x, v = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((2, 2, 5, 6))
    with fw.dual_level():
        y = fn(F, fw.make_dual(gc.from_numpy(x.copy()), gc.from_numpy(v.copy())))
        gt = fw.unpack_dual(y).tangent.numpy()
    with warnings.catch_warnings(), tfw.dual_level():  # make_dual scripts its decompositions on first use
        warnings.simplefilter("ignore", DeprecationWarning)
        ty = fn(TF, tfw.make_dual(torch.tensor(x), torch.tensor(v)))
        tt = tfw.unpack_dual(ty).tangent.numpy()
    np.testing.assert_allclose(gt, tt, rtol=1e-12, atol=1e-12)


# ---- threads ----------------------------------------------------------------------------------

def test_bitwise_identical_for_any_thread_count(restore_threads: int, rng: np.random.Generator) -> None:
    x = rng.standard_normal((8, 16, 40, 40)).astype(np.float32)
    w = gc.from_numpy(rng.standard_normal((8, 16, 20, 20)).astype(np.float32))
    ops = [lambda a: F.max_pool2d(a, 3, 2, 1), lambda a: F.avg_pool2d(a, 3, 2, 1),
           lambda a: F.adaptive_avg_pool2d(a, 20), lambda a: F.interpolate(a, size=20, mode="bilinear")]
    results = []
    for threads in [1, 2]:
        gc.set_num_threads(threads)
        out = []
        for op in ops:
            a = gc.from_numpy(x.copy())
            a.requires_grad_(True)
            y = op(a)
            (y * w).sum().backward()
            out.append((y.detach().numpy().copy(), a.grad.numpy().copy()))
        results.append(out)
    for (y1, g1), (y2, g2) in zip(*results):
        assert np.array_equal(y1, y2) and np.array_equal(g1, g2)


# ---- bad input ----------------------------------------------------------------------------------

def _same_error(gc_call: Callable[[], Any], torch_call: Callable[[], Any], match_message: bool = True) -> None:
    with pytest.raises(Exception) as te:
        torch_call()
    with pytest.raises(type(te.value)) as ge:
        gc_call()
    if match_message:
        assert str(ge.value) == str(te.value), (str(ge.value), str(te.value))


def _z(f: Any, *shape: int) -> Any:
    return gc.zeros(*shape) if f is F else torch.zeros(*shape)


BAD = [
    ("pad", lambda f: f.max_pool2d(_z(f, 1, 2, 5, 5), 3, padding=2)),
    ("pad3d", lambda f: f.max_pool3d(_z(f, 1, 2, 5, 5, 5), 2, padding=2)),
    ("avg_pad", lambda f: f.avg_pool2d(_z(f, 1, 2, 5, 5), 2, padding=2)),
    ("too_small", lambda f: f.max_pool2d(_z(f, 1, 2, 5, 5), 7)),
    ("too_small_avg", lambda f: f.avg_pool2d(_z(f, 2, 5, 5), 7)),
    ("too_small3d", lambda f: f.max_pool3d(_z(f, 2, 4, 4, 4), 5)),
    ("too_small_avg3d", lambda f: f.avg_pool3d(_z(f, 1, 1, 4, 4, 4), 5, padding=2)),
    ("rank2d", lambda f: f.max_pool2d(_z(f, 5, 5), 2)),
    ("rank2d_5", lambda f: f.max_pool2d(_z(f, 1, 1, 1, 5, 5), 2)),
    ("rank1d", lambda f: f.max_pool1d(_z(f, 5), 2)),
    ("rank3d", lambda f: f.max_pool3d(_z(f, 5, 5), 2)),
    ("rank_avg1d", lambda f: f.avg_pool1d(_z(f, 1, 2, 5, 5), 2)),
    ("rank_avg3d", lambda f: f.avg_pool3d(_z(f, 5, 5), 2)),
    ("rank_adaptive_avg1d", lambda f: f.adaptive_avg_pool1d(_z(f, 5), 2)),
    ("rank_adaptive_max2d", lambda f: f.adaptive_max_pool2d(_z(f, 5, 5), 2)),
    ("empty_c", lambda f: f.max_pool2d(_z(f, 2, 0, 4, 4), 2)),
    ("empty_adaptive_max", lambda f: f.adaptive_max_pool2d(_z(f, 2, 0, 4, 4), 2)),
    ("empty_adaptive_avg", lambda f: f.adaptive_avg_pool2d(_z(f, 2, 2, 0, 4), 2)),
    ("stride0", lambda f: f.max_pool2d(_z(f, 1, 1, 4, 4), 2, stride=0)),
    ("kernel0", lambda f: f.max_pool2d(_z(f, 1, 1, 4, 4), 0, 1)),
    ("kernel0_3d", lambda f: f.avg_pool3d(_z(f, 1, 1, 4, 4, 4), 0, 1)),
    ("stride_neg", lambda f: f.max_pool2d(_z(f, 1, 1, 4, 4), 2, -1)),
    ("dilation0", lambda f: f.max_pool2d(_z(f, 1, 1, 4, 4), 2, dilation=0)),
    ("pad_neg", lambda f: f.avg_pool2d(_z(f, 1, 1, 4, 4), 2, 1, -1)),
    ("divisor0", lambda f: f.avg_pool2d(_z(f, 1, 1, 4, 4), 2, divisor_override=0)),
    ("1d_kernel0", lambda f: f.max_pool1d(_z(f, 1, 1, 4), 0)),
    ("1d_pad", lambda f: f.max_pool1d(_z(f, 1, 1, 4), 2, 1, 2)),
    ("1d_dilation", lambda f: f.max_pool1d(_z(f, 1, 1, 4), 2, dilation=0)),
    ("1d_too_small", lambda f: f.max_pool1d(_z(f, 1, 1, 4), 5)),
    ("1d_kernel_len", lambda f: f.max_pool1d(_z(f, 1, 1, 4), (2, 2, 2, 2))),
    ("2d_kernel_len", lambda f: f.max_pool2d(_z(f, 1, 1, 4, 4), (2, 2, 2))),
    ("avg1d_kernel_len", lambda f: f.avg_pool1d(_z(f, 1, 1, 4), (2, 2))),
    ("adaptive_neg", lambda f: f.adaptive_avg_pool2d(_z(f, 1, 1, 4, 4), (-1, -1))),
    ("bool", lambda f: f.max_pool2d(_z(f, 1, 4, 4).bool(), 2)),
    ("int_adaptive", lambda f: f.adaptive_avg_pool2d(_z(f, 1, 4, 4).long(), 2)),
    ("interp_both", lambda f: f.interpolate(_z(f, 1, 1, 4, 4), size=2, scale_factor=2)),
    ("interp_none", lambda f: f.interpolate(_z(f, 1, 1, 4, 4))),
    ("interp_ac_nearest", lambda f: f.interpolate(_z(f, 1, 1, 4, 4), size=2, align_corners=True)),
    ("interp_bilinear_3d", lambda f: f.interpolate(_z(f, 1, 1, 4), size=2, mode="bilinear")),
    ("interp_2d_input", lambda f: f.interpolate(_z(f, 4, 4), size=2)),
    ("interp_size_len", lambda f: f.interpolate(_z(f, 1, 1, 4, 4), size=(2, 2, 2))),
    ("interp_recompute_size", lambda f: f.interpolate(_z(f, 1, 1, 4, 4), size=2, recompute_scale_factor=True)),
]


@pytest.mark.parametrize("name,call", BAD, ids=[b[0] for b in BAD])
def test_bad_input_like_torch(name: str, call: Callable[[Any], Any]) -> None:
    _same_error(lambda: call(F), lambda: call(TF))


def test_bad_input_no_crash() -> None:
    x = gc.randn(1, 2, 4, 4)
    for call in [lambda: F.max_pool2d(x, 2 ** 40), lambda: F.max_pool2d(x, 2, dilation=2 ** 40),
                 lambda: F.avg_pool2d(x, 2, 2 ** 62), lambda: F.adaptive_avg_pool2d(x, 2 ** 62),
                 lambda: F.interpolate(x, scale_factor=1e300), lambda: F.interpolate(x, scale_factor=-2.0),
                 lambda: F.interpolate(x, scale_factor=float("nan")), lambda: F.max_pool2d(x, 2.5),
                 lambda: F.max_unpool2d(x, gc.zeros(1, 2, 4, 4), 2), lambda: F.max_unpool2d(x, gc.zeros(1, 2, 3, 4).long(), 2),
                 lambda: F.max_pool2d("x", 2), lambda: F.pixel_shuffle(x, -1)]:
        with pytest.raises(Exception):
            call()


def test_strided_views_as_input(rng: np.random.Generator) -> None:
    """A transposed view is read through its strides (copied dense once), gradients flow back."""
    x = rng.standard_normal((2, 3, 6, 5))
    for fg, ft in [(lambda a: F.max_pool2d(a, 2, 1), lambda a: TF.max_pool2d(a, 2, 1)),
                   (lambda a: F.avg_pool2d(a, 3, 2, 1), lambda a: TF.avg_pool2d(a, 3, 2, 1)),
                   (lambda a: F.interpolate(a, scale_factor=1.3, mode="bilinear"),
                    lambda a: TF.interpolate(a, scale_factor=1.3, mode="bilinear"))]:
        _check_values_and_grad(lambda a: fg(a.transpose(2, 3)), lambda a: ft(a.transpose(2, 3)), x, rng)
