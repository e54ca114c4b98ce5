"""scaled_dot_product_attention (issue 16): the fused tiled op against torch and against the
unfused composition softmax(q k^T * scale + mask) v, values and gradients, float32 and
float64; masks, GQA, dropout, thread-count independence, bad inputs."""
from __future__ import annotations

import math
from typing import Any, Iterator, Optional

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.fixture
def restore_threads() -> Iterator[int]:
    n = gc.get_num_threads()
    yield n
    gc.set_num_threads(n)


def G(a: np.ndarray, grad: bool = True) -> Any:
    return gc.tensor(a, requires_grad=grad)


def T(a: np.ndarray, grad: bool = True) -> Any:
    t = torch.tensor(a)
    return t.requires_grad_(grad) if grad else t


def check(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: Optional[np.ndarray] = None, tol: float = 1e-5,
          **kw: Any) -> None:
    tq, tk, tv = T(q), T(k), T(v)
    tm = None if mask is None else torch.tensor(mask)
    to = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, **kw)
    g = np.random.default_rng(1).standard_normal(tuple(to.shape)).astype(q.dtype)
    to.backward(torch.tensor(g))
    gq, gk, gv = G(q), G(k), G(v)
    gm = None if mask is None else gc.tensor(mask)
    go = F.scaled_dot_product_attention(gq, gk, gv, attn_mask=gm, **kw)
    go.backward(gc.tensor(g))
    assert go.grad_fn.name() == "ScaledDotProductFlashAttentionForCpuBackward0"
    assert tuple(go.shape) == tuple(to.shape) and go.dtype == (gc.float32 if q.dtype == np.float32 else gc.float64)
    np.testing.assert_allclose(go.detach().numpy(), to.detach().numpy(), rtol=tol, atol=tol)
    for a, b in [(gq, tq), (gk, tk), (gv, tv)]:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol * 10, atol=tol * 10)


def rnd(*shape: int, dtype: Any = np.float32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("T_", [1, 7, 64, 100, 257, 1024])
@pytest.mark.parametrize("causal", [False, True])
def test_against_torch_lengths(T_: int, causal: bool) -> None:
    H = 1 if T_ == 1024 else 2
    D = 8 if T_ == 1024 else 16
    check(rnd(1, H, T_, D), rnd(1, H, T_, D, seed=1), rnd(1, H, T_, D, seed=2), is_causal=causal)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("L,S,E,Ev", [(7, 130, 8, 5), (130, 7, 16, 16), (65, 129, 4, 12)])
@pytest.mark.parametrize("causal", [False, True])
def test_shapes(dtype: Any, tol: float, L: int, S: int, E: int, Ev: int, causal: bool) -> None:
    check(rnd(2, 3, L, E, dtype=dtype), rnd(2, 3, S, E, dtype=dtype, seed=1), rnd(2, 3, S, Ev, dtype=dtype, seed=2),
          tol=tol, is_causal=causal)


@pytest.mark.parametrize("mshape", [(70, 130), (2, 1, 70, 130), (2, 3, 70, 130), (1, 130), (2, 1, 1, 130),
                                    (70, 1)])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_masks(mshape: tuple, kind: str) -> None:
    r = np.random.default_rng(3)
    if kind == "bool":
        m = r.random(mshape) > 0.3
    else:
        m = r.standard_normal(mshape).astype(np.float32)
        m[r.random(mshape) > 0.8] = -np.inf
    check(rnd(2, 3, 70, 16), rnd(2, 3, 130, 16, seed=1), rnd(2, 3, 130, 8, seed=2), mask=m)


def test_fully_masked_rows_are_zero_like_torch() -> None:
    m = np.ones((70, 130), dtype=bool)
    m[3] = False
    m[69] = False
    check(rnd(2, 3, 70, 16), rnd(2, 3, 130, 16, seed=1), rnd(2, 3, 130, 8, seed=2), mask=m)
    fm = np.zeros((70, 130), dtype=np.float32)
    fm[5] = -np.inf
    check(rnd(1, 2, 70, 16), rnd(1, 2, 130, 16, seed=1), rnd(1, 2, 130, 8, seed=2), mask=fm)
    # no keys at all
    out = F.scaled_dot_product_attention(gc.randn(2, 4, 8), gc.randn(2, 0, 8), gc.randn(2, 0, 3))
    assert tuple(out.shape) == (2, 4, 3) and float(out.abs().sum()) == 0.0


def test_broadcast_batch_gqa_scale() -> None:
    check(rnd(2, 4, 33, 16), rnd(2, 2, 40, 16, seed=1), rnd(2, 1, 40, 8, seed=2), enable_gqa=True)
    check(rnd(2, 4, 33, 16), rnd(2, 2, 40, 16, seed=1), rnd(2, 2, 40, 8, seed=2), enable_gqa=True, is_causal=True)
    check(rnd(3, 2, 9, 8), rnd(1, 2, 11, 8, seed=1), rnd(3, 1, 11, 8, seed=2), scale=0.3)
    check(rnd(2, 9, 8), rnd(2, 11, 8, seed=1), rnd(2, 11, 8, seed=2))
    check(rnd(9, 8), rnd(11, 8, seed=1), rnd(11, 8, seed=2), is_causal=True)
    check(rnd(1, 2, 3, 9, 8), rnd(2, 3, 11, 8, seed=1), rnd(2, 3, 11, 8, seed=2))


def composed(q: Any, k: Any, v: Any, mask: Any = None, causal: bool = False, z: Any = None) -> Any:
    s = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is not None:
        s = s + mask
    if causal:
        L, S = s.shape[-2], s.shape[-1]
        s = s + gc.tensor(np.triu(np.full((L, S), -np.inf), 1).astype(np.float64)).to(s.dtype)
    p = s.softmax(-1)
    if z is not None:
        p = p * z
    return p @ v


def test_against_composition_and_float64_gradcheck() -> None:
    q, k, v = (gc.randn(2, 2, 70, 8, dtype=gc.float64, requires_grad=True) for _ in range(3))
    m = gc.randn(70, 70, dtype=gc.float64)
    for kw, ref in [(dict(attn_mask=m), dict(mask=m)), (dict(is_causal=True), dict(causal=True))]:
        a = F.scaled_dot_product_attention(q, k, v, **kw)
        b = composed(q, k, v, **ref)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
        ga = gc.autograd.grad(a.sum(), [q, k, v])
        gb = gc.autograd.grad(b.sum(), [q, k, v])
        for x, y in zip(ga, gb):
            np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-10, atol=1e-10)
    qs, ks, vs = (gc.randn(1, 2, 5, 3, dtype=gc.float64, requires_grad=True) for _ in range(3))
    bm = gc.tensor(np.random.default_rng(0).random((5, 5)) > 0.3)
    assert gc.autograd.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True),
                                 (qs, ks, vs))
    assert gc.autograd.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=bm),
                                 (qs, ks, vs))


def test_double_backward_matches_composition() -> None:
    q, k, v = (gc.randn(1, 2, 6, 4, dtype=gc.float64, requires_grad=True) for _ in range(3))
    outs = []
    for f in [lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), lambda: composed(q, k, v, causal=True)]:
        y = f()
        gq, = gc.autograd.grad((y * y).sum(), [q], create_graph=True)
        outs.append(gc.autograd.grad(gq.sum(), [q, k, v]))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("p", [0.3, 1.0])
def test_dropout_mask_is_regenerated(p: float) -> None:
    q, k, v = (gc.randn(2, 3, 70, 8, requires_grad=True) for _ in range(3))
    gc.manual_seed(5)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
    ga = gc.autograd.grad((a * a).sum(), [q, k, v])
    gc.manual_seed(5)
    u = gc.rand(2, 3, 70, 70)
    z = (u >= p).float() * (0.0 if p == 1.0 else 1.0 / (1.0 - p))
    b = composed(q, k, v, causal=True, z=z)
    gb = gc.autograd.grad((b * b).sum(), [q, k, v])
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-5)
    for x, y in zip(ga, gb):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-4, atol=1e-4)
    # statistics: mean output over many draws ~ the undropped output
    if p < 1:
        gc.manual_seed(6)
        qq, kk = gc.zeros(1, 1, 4, 8), gc.zeros(1, 1, 4000, 8)
        vv = gc.ones(1, 1, 4000, 1)
        o = F.scaled_dot_product_attention(qq, kk, vv, dropout_p=p)
        assert abs(float(o.mean()) - 1.0) < 0.05


def test_bitwise_identical_for_any_thread_count(restore_threads: int) -> None:
    cases = [((8, 4, 256, 32), dict(is_causal=True)), ((1, 1, 300, 16), {}), ((1, 2, 200, 16), dict(dropout_p=0.2))]
    for shape, kw in cases:
        q, k, v = (rnd(*shape, seed=i) for i in range(3))
        results = []
        for threads in [1, 2]:
            gc.set_num_threads(threads)
            gq, gk, gv = G(q), G(k), G(v)
            gc.manual_seed(0)
            y = F.scaled_dot_product_attention(gq, gk, gv, **kw)
            (y * y).sum().backward()
            results.append([y.detach().numpy(), gq.grad.numpy(), gk.grad.numpy(), gv.grad.numpy()])
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)


def test_float16_and_integer_inputs() -> None:
    q = gc.randn(1, 2, 5, 8)
    out = F.scaled_dot_product_attention(q.half(), q.half(), q.half())
    assert out.dtype == gc.float16
    tq = torch.tensor(q.numpy())
    ref = TF.scaled_dot_product_attention(tq, tq, tq)
    np.testing.assert_allclose(out.float().numpy(), ref.numpy(), atol=5e-3)


def errors(f: Any) -> tuple:
    try:
        f()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e).split("\n")[0]
    return ("OK", "")


@pytest.mark.parametrize("case", range(13))
def test_bad_inputs_match_torch(case: int) -> None:
    r = np.random.default_rng(0)
    q, k, v = rnd(2, 3, 4, 8), rnd(2, 3, 5, 8), rnd(2, 3, 5, 6)
    m = np.ones((4, 5), dtype=bool)
    cases: list = [
        lambda lib, t: lib(t(q), t(k), t(v), attn_mask=t(m), is_causal=True),
        lambda lib, t: lib(t(q), t(k[..., :7]), t(v)),
        lambda lib, t: lib(t(q), t(k), t(v[:, :, :4])),
        lambda lib, t: lib(t(q), t(k), t(v), dropout_p=1.5),
        lambda lib, t: lib(t(q), t(k), t(v), attn_mask=t(np.ones((3, 5), dtype=bool))),
        lambda lib, t: lib(t(q), t(k), t(v), attn_mask=t(np.ones((4, 5), dtype=np.int64))),
        lambda lib, t: lib(t(q), t(k), t(v), attn_mask=t(np.ones((4, 5), dtype=np.float64))),
        lambda lib, t: lib(t(q), t(k.astype(np.float64)), t(v)),
        lambda lib, t: lib(t(q[0, 0, 0]), t(k[0, 0]), t(v[0, 0])),
        lambda lib, t: lib(t(q), t(k[:, :2]), t(v[:, :2])),
        lambda lib, t: lib(t(q), t(k[:, :2]), t(v[:, :2]), enable_gqa=True),
        lambda lib, t: lib(t(q), t(k), t(v), attn_mask=t(np.ones((5,), dtype=bool))),
        lambda lib, t: lib(t(q), t(k), t(v), attn_mask=t(np.ones((2, 3, 4, 5, 1), dtype=bool))),
    ]
    del r
    f = cases[case]
    want = errors(lambda: f(TF.scaled_dot_product_attention, lambda a: torch.tensor(a)))
    got = errors(lambda: f(F.scaled_dot_product_attention, lambda a: gc.tensor(a)))
    assert want[0] != "OK"
    assert got == want
