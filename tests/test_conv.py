"""Convolutions (issue 15) against PyTorch: F.conv1d/2d/3d, F.conv_transpose1d/2d/3d,
F.unfold/fold and the nn layers.

* parity grids: values and the input, weight and bias gradients of sum(y * g) for a random
  g, over kernel sizes 1/3/5/7, strides, paddings (ints, tuples, "same", "valid"),
  dilations, groups (depthwise too), non-square inputs, batch 1 and several, float32 and
  float64; a subset on every ISA and under a tiny simulated L2 (column tiles split the
  output positions, Note [Convolution on GEMM]);
* gradcheck in float64 (reverse and forward mode), create_graph double backward and
  forward-mode AD against torch;
* bitwise equality for 1 and 2 threads;
* layers: padding modes, state_dict keys and shapes, torch's weights loaded give torch's
  outputs, the default init's bounds, repr, ConvTranspose's output_size;
* bad input: PyTorch's exception types and messages.
"""
from __future__ import annotations

import itertools
import math
import warnings
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _run(name: str, x: np.ndarray, w: np.ndarray, b: Any, kw: Dict[str, Any], rng: np.random.Generator) -> None:
    """Values and all three gradients of getattr(F, name) against torch's."""
    tol = TOL[x.dtype.type]
    gx, gw = gc.tensor(x, requires_grad=True), gc.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    gb = gc.tensor(b, requires_grad=True) if b is not None else None
    tb = torch.tensor(b, requires_grad=True) if b is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: 'same' with an even kernel copies the input
        ty = getattr(TF, name)(tx, tw, tb, **kw)
    y = getattr(F, name)(gx, gw, gb, **kw)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    g = rng.standard_normal(tuple(ty.shape)).astype(x.dtype)
    y.backward(gc.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(gw.grad.numpy(), tw.grad.numpy(), **tol)
    if b is not None:
        np.testing.assert_allclose(gb.grad.numpy(), tb.grad.numpy(), **tol)


def _conv2d_grid() -> List[Tuple[Any, ...]]:
    cases = []
    for k, s, p, d, groups in itertools.product([1, 3, 5, 7], [1, 2], [0, 1, "same"], [1, 2], ["1", "2", "dw"]):
        if p == "same" and s != 1:
            continue
        cases.append((k, s, p, d, groups))
    return cases


@pytest.mark.parametrize("k,s,p,d,groups", _conv2d_grid())
def test_conv2d_grid(k: int, s: int, p: Any, d: int, groups: str, rng: np.random.Generator) -> None:
    C = 4
    G = {"1": 1, "2": 2, "dw": C}[groups]
    K = 2 * C if groups == "dw" else 6
    # batch and dtype vary along the grid (every combination would be 4x the cases)
    i = hash((k, s, str(p), d, groups)) % 4
    n = [1, 3][i % 2]
    dtype = [np.float32, np.float64][i // 2]
    H, W = 9 + d * (k - 1), 11 + d * (k - 1)  # non-square, large enough for any kernel here
    x = rng.standard_normal((n, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // G, k, k)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if k != 5 else None
    _run("conv2d", x, w, b, dict(stride=s, padding=p, dilation=d, groups=G), rng)


@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 3, 10), (5, 3, 3), dict(padding=1)),
    ((1, 4, 17), (4, 1, 5), dict(stride=2, groups=4, dilation=2)),
    ((3, 4, 12), (6, 2, 4), dict(padding="same", groups=2)),
    ((2, 3, 9), (2, 3, 1), dict(stride=3)),
    ((2, 2, 5, 6, 7), (3, 2, 3, 2, 3), dict(padding=1, stride=(1, 2, 1))),
    ((1, 4, 6, 5, 4), (4, 1, 3, 3, 3), dict(groups=4, padding=(1, 0, 1))),
    ((2, 2, 4, 5, 6), (4, 2, 1, 1, 1), {}),
    ((2, 2, 7, 5, 6), (4, 1, 2, 3, 2), dict(groups=2, dilation=(2, 1, 1), padding="valid")),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv1d_conv3d(xs: Tuple[int, ...], ws: Tuple[int, ...], kw: Dict[str, Any], dtype: Any,
                       rng: np.random.Generator) -> None:
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    _run(f"conv{len(xs) - 2}d", x, w, b, kw, rng)


TRANSPOSED = [
    ((2, 3, 8, 8), (3, 4, 3, 3), {}),
    ((2, 4, 5, 6), (4, 2, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((1, 4, 5, 6), (4, 1, 3, 3), dict(stride=2, groups=4, dilation=2)),
    ((3, 2, 4, 7), (2, 3, 5, 2), dict(stride=(3, 1), padding=(2, 0), output_padding=(2, 0))),
    ((2, 3, 6, 6), (3, 5, 1, 1), dict(stride=2, output_padding=1)),
    ((2, 4, 7), (4, 3, 5), dict(stride=3, padding=2, output_padding=2)),
    ((1, 4, 3, 4, 5), (4, 2, 2, 3, 2), dict(stride=2)),
]


@pytest.mark.parametrize("xs,ws,kw", TRANSPOSED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_transpose(xs: Tuple[int, ...], ws: Tuple[int, ...], kw: Dict[str, Any], dtype: Any,
                        rng: np.random.Generator) -> None:
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1)).astype(dtype)
    _run(f"conv_transpose{len(xs) - 2}d", x, w, b, kw, rng)


ISA_CASES = [
    ((2, 8, 12, 10), (16, 8, 3, 3), dict(padding=1)),
    ((3, 8, 12, 10), (8, 1, 3, 3), dict(padding=1, groups=8)),
    ((2, 8, 12, 10), (16, 8, 1, 1), {}),
    ((2, 6, 13, 11), (4, 3, 5, 3), dict(stride=2, groups=2, dilation=(1, 2))),
]


@pytest.mark.parametrize("xs,ws,kw", ISA_CASES)
def test_every_isa(isa: str, xs: Tuple[int, ...], ws: Tuple[int, ...], kw: Dict[str, Any],
                   rng: np.random.Generator) -> None:
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        _run("conv2d", x, w, rng.standard_normal(ws[0]).astype(dtype), kw, rng)
        wt = rng.standard_normal((xs[1], ws[0] // kw.get("groups", 1)) + ws[2:]).astype(dtype)
        kt = {k: v for k, v in kw.items() if k != "padding"}
        _run("conv_transpose2d", x, wt, None, kt, rng)


@pytest.fixture
def tiny_l2():
    """GEMM and the convolution tiles planned for a 2 KiB L1 / 8 KiB L2: the column tile holds
    a few dozen output positions, so every image is several tiles."""
    gc._core._set_gemm_caches(2048, 8192, 65536)
    try:
        yield
    finally:
        gc._core._set_gemm_caches(0, 0, 0)


@pytest.mark.parametrize("xs,ws,kw", ISA_CASES + [((2, 5, 19, 23), (7, 5, 3, 3), dict(stride=(2, 1), padding=2))])
def test_split_column_tiles(tiny_l2: None, xs: Tuple[int, ...], ws: Tuple[int, ...], kw: Dict[str, Any],
                            rng: np.random.Generator) -> None:
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    _run("conv2d", x, w, rng.standard_normal(ws[0]), kw, rng)


def test_bitwise_identical_for_any_thread_count(restore_threads: int, rng: np.random.Generator) -> None:
    cases = [((16, 8, 20, 20), (16, 8, 3, 3), dict(padding=1)), ((16, 8, 20, 20), (8, 1, 3, 3), dict(groups=8)),
             ((16, 8, 20, 20), (16, 8, 1, 1), {}), ((1, 16, 40, 40), (32, 16, 3, 3), dict(stride=2))]
    for xs, ws, kw in cases:
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        g = rng.standard_normal((xs[0], ws[0], 1, 1)).astype(np.float32)
        results = []
        for threads in [1, 2]:
            gc.set_num_threads(threads)
            gx, gw = gc.tensor(x, requires_grad=True), gc.tensor(w, requires_grad=True)
            y = F.conv2d(gx, gw, **kw)
            (y * gc.tensor(g)).sum().backward()
            results.append([y.detach().numpy(), gx.grad.numpy(), gw.grad.numpy()])
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)


def test_unbatched_and_integer_inputs(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    np.testing.assert_allclose(F.conv2d(gc.tensor(x), gc.tensor(w), padding=1).numpy(),
                               TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy(), rtol=1e-12, atol=1e-12)
    xi = rng.integers(-5, 5, (2, 3, 6, 6))
    wi = rng.integers(-3, 3, (2, 3, 3, 3))
    y = F.conv2d(gc.tensor(xi), gc.tensor(wi))
    assert y.dtype == gc.int64
    np.testing.assert_array_equal(y.numpy(), TF.conv2d(torch.tensor(xi), torch.tensor(wi)).numpy())
    y0 = F.conv2d(gc.zeros(0, 3, 6, 6), gc.zeros(4, 3, 3, 3))
    assert tuple(y0.shape) == (0, 4, 4, 4)


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=2),
                                dict(kernel_size=1, stride=3)])
def test_unfold_fold(kw: Dict[str, Any], rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 9, 8))
    gx, tx = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    u, tu = F.unfold(gx, **kw), TF.unfold(tx, **kw)
    np.testing.assert_allclose(u.detach().numpy(), tu.detach().numpy(), rtol=1e-12, atol=1e-12)
    c = rng.standard_normal(tuple(tu.shape))
    gc_c, t_c = gc.tensor(c, requires_grad=True), torch.tensor(c, requires_grad=True)
    f, tf = F.fold(gc_c, (9, 8), **kw), TF.fold(t_c, (9, 8), **kw)
    np.testing.assert_allclose(f.detach().numpy(), tf.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal((2, 3, 9, 8))
    (u.sum() + (f * gc.tensor(g)).sum()).backward()
    (tu.sum() + (tf * torch.tensor(g)).sum()).backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gc_c.grad.numpy(), t_c.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert tuple(nn.Unfold(**kw)(gc.tensor(x[0])).shape) == tuple(TF.unfold(torch.tensor(x[0]), **kw).shape)


GRADCHECK = [
    ("conv2d", (2, 4, 6, 5), (4, 2, 3, 2), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
    ("conv2d", (1, 3, 5, 5), (3, 1, 3, 3), dict(groups=3, padding=1)),
    ("conv1d", (2, 2, 7), (3, 2, 3), dict(padding="same")),
    ("conv3d", (1, 2, 4, 4, 3), (2, 2, 2, 3, 2), dict(padding=(1, 0, 1))),
    ("conv_transpose2d", (2, 2, 3, 4), (2, 3, 3, 2), dict(stride=2, output_padding=1)),
    ("conv_transpose1d", (1, 4, 4), (4, 1, 3), dict(groups=4, dilation=2)),
]


@pytest.mark.parametrize("name,xs,ws,kw", GRADCHECK)
def test_gradcheck(name: str, xs: Tuple[int, ...], ws: Tuple[int, ...], kw: Dict[str, Any],
                   rng: np.random.Generator) -> None:
    x = gc.tensor(rng.standard_normal(xs), requires_grad=True)
    w = gc.tensor(rng.standard_normal(ws), requires_grad=True)
    nb = ws[1] * kw.get("groups", 1) if "transpose" in name else ws[0]
    b = gc.tensor(rng.standard_normal(nb), requires_grad=True)
    assert gc.autograd.gradcheck(lambda a, c, d: getattr(F, name)(a, c, d, **kw), (x, w, b), atol=1e-6, rtol=1e-5)


def test_gradcheck_unfold_fold_and_padding_modes(rng: np.random.Generator) -> None:
    x = gc.tensor(rng.standard_normal((1, 2, 5, 4)), requires_grad=True)
    assert gc.autograd.gradcheck(lambda a: F.unfold(a, (2, 3), padding=1, stride=(1, 2)), (x,))
    c = gc.tensor(rng.standard_normal((1, 8, 8)), requires_grad=True)
    assert gc.autograd.gradcheck(lambda a: F.fold(a, (4, 5), 2, stride=(2, 1)), (c,))
    for mode in ["reflect", "replicate", "circular"]:
        conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode, dtype=gc.float64)
        assert gc.autograd.gradcheck(lambda a: conv(a), (x,))


@pytest.mark.parametrize("name,xs,ws,kw", GRADCHECK[:1] + GRADCHECK[4:5])
def test_double_backward(name: str, xs: Tuple[int, ...], ws: Tuple[int, ...], kw: Dict[str, Any],
                         rng: np.random.Generator) -> None:
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    out = []
    for lib, f in ((gc, F), (torch, TF)):
        tx, tw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = getattr(f, name)(tx, tw, None, **kw)
        gx, gw = lib.autograd.grad((y * y).sum(), (tx, tw), create_graph=True)
        ((gx * gx).sum() + (gw * gw * gw).sum()).backward()
        out.append([tx.grad.detach().numpy(), tw.grad.detach().numpy()])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_forward_ad(rng: np.random.Generator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import torch.autograd.forward_ad as tfw
    from gradcore.autograd import forward_ad as fw
    x, vx = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((2, 4, 6, 5))
    w, vw = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal((4, 2, 3, 3))
    b, vb = rng.standard_normal(4), rng.standard_normal(4)
    res = []
    for lib, f, mod in ((gc, F, fw), (torch, TF, tfw)):
        with warnings.catch_warnings(), mod.dual_level():
            warnings.simplefilter("ignore", DeprecationWarning)
            duals = [mod.make_dual(lib.tensor(a), lib.tensor(v)) for a, v in ((x, vx), (w, vw), (b, vb))]
            y = f.conv2d(duals[0], duals[1], duals[2], padding=1, groups=2)
            yt = f.conv_transpose2d(duals[0], duals[1], None, stride=2)
            res.append([mod.unpack_dual(y).tangent.numpy(), mod.unpack_dual(yt).tangent.numpy()])
    for a, c in zip(*res):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-10)


# ---- layers ------------------------------------------------------------------------------------

LAYERS = [
    ("Conv1d", (3, 5, 3), dict(padding=1, padding_mode="circular"), (2, 3, 11)),
    ("Conv2d", (4, 6, 3), dict(stride=2, padding=(1, 2), padding_mode="reflect", groups=2), (2, 4, 9, 10)),
    ("Conv2d", (3, 8, (3, 5)), dict(padding="same", padding_mode="replicate", bias=False), (1, 3, 7, 9)),
    ("Conv2d", (4, 4, 3), dict(padding="same", dilation=2, groups=4), (2, 4, 8, 8)),
    ("Conv3d", (2, 4, 3), dict(padding=1, padding_mode="zeros"), (1, 2, 5, 4, 6)),
    ("ConvTranspose1d", (3, 4, 4), dict(stride=2, padding=1), (2, 3, 6)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, output_padding=1, groups=2, dilation=1), (2, 4, 5, 5)),
    ("ConvTranspose3d", (2, 3, 2), dict(stride=(1, 2, 2), bias=False), (1, 2, 3, 4, 3)),
]


@pytest.mark.parametrize("cls,args,kw,xs", LAYERS)
def test_layers_match_torch(cls: str, args: Tuple[Any, ...], kw: Dict[str, Any], xs: Tuple[int, ...],
                            rng: np.random.Generator) -> None:
    tm = getattr(torch.nn, cls)(*args, **kw).double()
    gm = getattr(nn, cls)(*args, **kw, dtype=gc.float64)
    assert repr(gm) == repr(tm)
    ts = tm.state_dict()
    gs = gm.state_dict()
    assert list(gs) == list(ts)
    for k in ts:
        assert tuple(gs[k].shape) == tuple(ts[k].shape)
    gm.load_state_dict({k: gc.tensor(v.numpy()) for k, v in ts.items()})
    x = rng.standard_normal(xs)
    gx, tx = gc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = gm(gx), tm(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-10, atol=1e-10)
    # unbatched input
    np.testing.assert_allclose(gm(gc.tensor(x[0])).detach().numpy(), tm(torch.tensor(x[0])).detach().numpy(),
                               rtol=1e-10, atol=1e-10)


def test_default_init_bounds() -> None:
    gc.manual_seed(0)
    m = nn.Conv2d(16, 32, 3, groups=2)
    fan_in = 8 * 9
    w = m.weight.detach().numpy()
    assert m.weight.shape == (32, 8, 3, 3) and m.bias.shape == (32,)
    # kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), for the weight and the bias
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    t = nn.ConvTranspose2d(6, 4, 3)
    assert t.weight.shape == (6, 4, 3, 3)
    assert np.abs(t.weight.detach().numpy()).max() <= 1 / math.sqrt(4 * 9)


def test_conv_transpose_output_size(rng: np.random.Generator) -> None:
    tm = torch.nn.ConvTranspose2d(3, 2, 3, stride=2).double()
    gm = nn.ConvTranspose2d(3, 2, 3, stride=2, dtype=gc.float64)
    gm.load_state_dict({k: gc.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((1, 3, 4, 4))
    for size in [(9, 9), (10, 10), (9, 10), [1, 2, 10, 9]]:
        np.testing.assert_allclose(gm(gc.tensor(x), output_size=size).detach().numpy(),
                                   tm(torch.tensor(x), output_size=size).detach().numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"requested an output size of \(12, 12\), but valid sizes range from "
                                         r"\[9, 9\] to \[10, 10\]"):
        gm(gc.tensor(x), output_size=(12, 12))


# ---- bad input ---------------------------------------------------------------------------------

def _bad_cases() -> List[Tuple[str, Any]]:
    def r(*shape: int) -> np.ndarray:
        return np.ones(shape, dtype=np.float32)

    x = r(1, 3, 8, 8)
    return [
        ("channels", lambda f, t: f.conv2d(t(x), t(r(6, 1, 3, 3)))),
        ("kernel too big", lambda f, t: f.conv2d(t(x), t(r(6, 3, 9, 9)))),
        ("groups divide", lambda f, t: f.conv2d(t(x), t(r(5, 1, 3, 3)), groups=3)),
        ("bias", lambda f, t: f.conv2d(t(x), t(r(6, 3, 3, 3)), t(r(5)))),
        ("stride 0", lambda f, t: f.conv2d(t(x), t(r(6, 3, 3, 3)), stride=0)),
        ("negative padding", lambda f, t: f.conv2d(t(x), t(r(6, 3, 3, 3)), padding=-1)),
        ("dilation 0", lambda f, t: f.conv2d(t(x), t(r(6, 3, 3, 3)), dilation=0)),
        ("groups 0", lambda f, t: f.conv2d(t(x), t(r(6, 3, 3, 3)), groups=0)),
        ("rank 2", lambda f, t: f.conv2d(t(r(8, 8)), t(r(6, 3, 3, 3)))),
        ("rank 5", lambda f, t: f.conv2d(t(r(1, 1, 3, 8, 8)), t(r(6, 3, 3, 3)))),
        ("weight rank", lambda f, t: f.conv2d(t(x), t(r(6, 3, 3)))),
        ("strided same", lambda f, t: f.conv2d(t(x), t(r(6, 3, 3, 3)), stride=2, padding="same")),
        ("bad padding string", lambda f, t: f.conv2d(t(x), t(r(6, 3, 3, 3)), padding="foo")),
        ("stride length", lambda f, t: f.conv2d(t(x), t(r(6, 3, 3, 3)), stride=(1, 1, 1))),
        ("empty weight", lambda f, t: f.conv2d(t(x), t(r(0, 3, 3, 3)))),
        ("transposed channels", lambda f, t: f.conv_transpose2d(t(x), t(r(4, 6, 3, 3)))),
        ("output padding", lambda f, t: f.conv_transpose2d(t(x), t(r(3, 6, 3, 3)), stride=2, output_padding=2)),
        ("transposed too small", lambda f, t: f.conv_transpose2d(t(r(1, 3, 1, 1)), t(r(3, 6, 3, 3)), padding=3)),
        ("transposed groups", lambda f, t: f.conv_transpose2d(t(x), t(r(3, 6, 3, 3)), groups=2)),
        ("transposed bias", lambda f, t: f.conv_transpose2d(t(x), t(r(3, 6, 3, 3)), t(r(5)))),
        ("unfold blocks", lambda f, t: f.unfold(t(x), 9)),
        ("unfold rank", lambda f, t: f.unfold(t(r(2, 3, 8, 8, 8)), 3)),
        ("fold divisible", lambda f, t: f.fold(t(r(1, 26, 36)), (8, 8), 3)),
        ("fold blocks", lambda f, t: f.fold(t(r(1, 27, 30)), (8, 8), 3)),
        ("fold rank", lambda f, t: f.fold(t(r(2, 3, 8, 8)), (3, 3), 1)),
    ]


@pytest.mark.parametrize("name,fn", _bad_cases(), ids=[c[0] for c in _bad_cases()])
def test_bad_input_as_torch(name: str, fn: Any) -> None:
    with pytest.raises(Exception) as te:
        fn(TF, torch.tensor)
    with pytest.raises(Exception) as ge:
        fn(F, gc.tensor)
    assert type(ge.value).__name__ == type(te.value).__name__, (ge.value, te.value)
    assert str(ge.value) == str(te.value)


def test_dtype_mismatch_and_layer_arguments() -> None:
    x = gc.ones(1, 3, 8, 8)
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        F.conv2d(x.double(), gc.ones(6, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"Input type \(float32\) and bias type \(float64\) should be the same"):
        F.conv2d(x, gc.ones(6, 3, 3, 3), gc.ones(6).double())
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 4, 3, padding_mode="foo")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(4, 4, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(3, 2, 3, padding_mode="reflect")


def test_cnn_training_step_allocates_nothing_in_steady_state() -> None:
    """A CNN step (conv, BatchNorm, pooling, depthwise and 1x1 convs, Linear, Adam): after
    warm-up the caching allocator and the kernels' per-thread tiles serve every request."""
    gc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 16, 1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    opt = gc.optim.Adam(model.parameters())
    x, y = gc.randn(8, 1, 28, 28), np.arange(8) % 10

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    before = gc._core._allocator_stats()
    for _ in range(10):
        step()
    after = gc._core._allocator_stats()
    assert after["system_allocs"] == before["system_allocs"]
    assert after["live_bytes"] == before["live_bytes"]
