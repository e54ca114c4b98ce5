"""SIMD kernels against their oracles, under every ISA the machine supports.

* float32 exp / log / tanh / sigmoid / erf vs float64 NumPy, in ulps, over ranges that include
  large magnitudes, zeros, denormal arguments and results, +-inf and NaN;
* the fused Linear (GEMM epilogue: bias + activation; backward: activation derivative and
  db in one pass) equals the unfused composition, values and gradients;
* the fused optimizer kernels equal hand-computed single steps (no torch needed);
* results do not depend on the number of threads (bitwise).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import gradcore as gc
import gradcore.nn as nn
import gradcore.nn.functional as F


def ulps(got: np.ndarray, ref64: np.ndarray) -> np.ndarray:
    """|got - ref| in units of the float32 spacing at ref; exact matches (NaN/inf included) are 0."""
    with np.errstate(all="ignore"):  # values beyond float32 range round to inf, as they should
        ref32 = ref64.astype(np.float32)
        same = (got == ref32) | (np.isnan(got) & np.isnan(ref32))
        spacing = np.spacing(np.abs(ref32)).astype(np.float64)
        spacing = np.where(spacing == 0, np.float64(np.float32(1.4e-45)), spacing)
        err = np.abs(got.astype(np.float64) - ref64) / spacing
    return np.where(same, 0.0, err)


@pytest.fixture(scope="module")
def wide_inputs():
    rng = np.random.default_rng(0)
    specials = [0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40, 88.72, 88.73, 89.0, -87.3, -103.9, -104.0, -200.0,
                1e30, -1e30, np.inf, -np.inf, np.nan]
    x = np.concatenate([rng.uniform(-110, 90, 50000), rng.uniform(-1, 1, 20000), specials]).astype(np.float32)
    pos = np.concatenate([np.abs(x), rng.uniform(0, 1e-37, 5000), [1e-45, 1e-40, 3.4e38, 0.0, -1.0, -np.inf]])
    return x, pos.astype(np.float32)


# max_ulp: the bound of the vectorised kernels (csrc/kernels/vmath.inc; tools/ulp_check.sh
# checks every float32 argument); generic_ulp: the generic unit's, which runs libm (glibc's
# tanhf is above 2 ulp).
@pytest.mark.parametrize("name,max_ulp,generic_ulp", [
    ("exp", 2.0, 2.0), ("log", 2.0, 2.0), ("tanh", 2.0, 3.0), ("sigmoid", 4.0, 4.0), ("erf", 2.0, 2.0)])
def test_float32_transcendentals_ulp(isa, wide_inputs, name, max_ulp, generic_ulp):
    max_ulp = generic_ulp if isa == "generic" else max_ulp
    x, pos = wide_inputs
    inp = pos if name == "log" else x
    ref_fn = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
              "erf": np.vectorize(math.erf, otypes=[np.float64])}[name]
    with np.errstate(all="ignore"):
        ref = ref_fn(inp.astype(np.float64))
    got = getattr(gc, name)(gc.tensor(inp)).detach().numpy()
    err = ulps(got, ref)
    worst = int(np.argmax(err))
    assert err[worst] <= max_ulp, f"{name}({inp[worst]!r}) = {got[worst]!r}, expected {ref[worst]!r}"
    # special values exactly
    assert np.array_equal(np.isnan(got), np.isnan(ref))


@pytest.mark.parametrize("act,ref", [
    ("relu", lambda t: t.relu()), ("sigmoid", lambda t: t.sigmoid()), ("tanh", lambda t: t.tanh()),
    ("gelu", lambda t: F.gelu(t)), ("gelu_tanh", lambda t: F.gelu(t, "tanh")), ("none", lambda t: t)])
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 5), (130, 5), (5,), (1, 5)])
def test_fused_linear_equals_unfused(isa, act, ref, shape):
    gc.manual_seed(1)
    x = gc.randn(*shape, dtype=gc.float64, requires_grad=True)
    w = gc.randn(70, 5, dtype=gc.float64, requires_grad=True)
    b = gc.randn(70, dtype=gc.float64, requires_grad=True)
    fused = F.linear(x, w, b, activation=act)
    plain = ref(F.linear(x, w, b))
    np.testing.assert_allclose(fused.detach().numpy(), plain.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = gc.randn(*fused.shape, dtype=gc.float64)
    for a, c in zip(gc.grad(fused, [x, w, b], g), gc.grad(plain, [x, w, b], g)):
        np.testing.assert_allclose(a.detach().numpy(), c.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_sequential_fuses_and_matches_layer_by_layer():
    gc.manual_seed(2)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 8), nn.Tanh(),
                          nn.Linear(8, 3), nn.Sigmoid())
    x = gc.randn(4, 6)
    y = model(x)
    h = x
    for m in model:
        h = m(h)
    assert y.grad_fn.name() == "LinearBackward0"  # the last Linear + Sigmoid ran as one op
    np.testing.assert_array_equal(y.detach().numpy(), h.detach().numpy())


def test_fused_linear_gradcheck():
    gc.manual_seed(3)
    x = gc.randn(4, 5, dtype=gc.float64, requires_grad=True)
    w = gc.randn(3, 5, dtype=gc.float64, requires_grad=True)
    b = gc.randn(3, dtype=gc.float64, requires_grad=True)
    for act in ("sigmoid", "tanh", "gelu", "gelu_tanh"):
        assert gc.gradcheck(lambda x, w, b: F.linear(x, w, b, activation=act), (x, w, b))


def _one_param(value, grad):
    p = nn.Parameter(gc.tensor(np.array(value, dtype=np.float64), dtype=gc.float64))
    p.grad = gc.tensor(np.array(grad, dtype=np.float64), dtype=gc.float64)
    return p


def test_optimizer_single_steps_by_hand(isa):
    """One or two steps of each optimizer against the update rule computed by hand."""
    w, g = np.array([1.0, -2.0, 0.5]), np.array([0.1, -0.3, 0.2])
    # SGD with momentum 0.9, weight decay 0.1: d = g + 0.1 w; step 1: buf = d
    p = _one_param(w, g)
    opt = gc.optim.SGD([p], lr=0.5, momentum=0.9, weight_decay=0.1)
    opt.step()
    d = g + 0.1 * w
    np.testing.assert_allclose(p.detach().numpy(), w - 0.5 * d, rtol=1e-14)
    # step 2 with the same gradient: buf = 0.9 d + d1
    w1 = w - 0.5 * d
    opt.step()
    d1 = g + 0.1 * w1
    np.testing.assert_allclose(p.detach().numpy(), w1 - 0.5 * (0.9 * d + d1), rtol=1e-14)
    # Adam, step 1: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2 -> p -= lr * g / (|g| + eps)
    p = _one_param(w, g)
    gc.optim.Adam([p], lr=0.01, eps=1e-8).step()
    np.testing.assert_allclose(p.detach().numpy(), w - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    # AdamW decays first: p = p (1 - lr wd), then the same Adam step
    p = _one_param(w, g)
    gc.optim.AdamW([p], lr=0.01, weight_decay=0.5).step()
    np.testing.assert_allclose(p.detach().numpy(), w * (1 - 0.005) - 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    # RMSprop step 1: s = 0.01 g^2 -> p -= lr g / (sqrt(s) + eps)
    p = _one_param(w, g)
    gc.optim.RMSprop([p], lr=0.01, alpha=0.99, eps=1e-8).step()
    np.testing.assert_allclose(p.detach().numpy(), w - 0.01 * g / (np.sqrt(0.01 * g * g) + 1e-8), rtol=1e-12)
    # Adagrad step 1 with initial accumulator 0.5: sum = 0.5 + g^2
    p = _one_param(w, g)
    gc.optim.Adagrad([p], lr=0.1, initial_accumulator_value=0.5, eps=1e-10).step()
    np.testing.assert_allclose(p.detach().numpy(), w - 0.1 * g / (np.sqrt(0.5 + g * g) + 1e-10), rtol=1e-12)


def test_results_do_not_depend_on_thread_count(restore_threads):
    rng = np.random.default_rng(5)
    a = gc.tensor(rng.standard_normal((300, 700)).astype(np.float32))
    b = gc.tensor(rng.standard_normal((700, 500)).astype(np.float32))
    big = gc.tensor(rng.standard_normal(3_000_001).astype(np.float32))
    outs = []
    for threads in (1, 2, 3):
        gc.set_num_threads(threads)
        outs.append([(a @ b).detach().numpy().copy(), big.sum().detach().numpy().copy(), a.softmax(1).detach().numpy().copy(),
                     big.exp().detach().numpy().copy(), a.sum(0).detach().numpy().copy()])
    for other in outs[1:]:
        for x, y in zip(outs[0], other):
            np.testing.assert_array_equal(x, y)


def test_steady_state_training_step_allocates_nothing():
    """After warm-up the caching allocator serves every request (no new system allocations)."""
    gc.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = gc.optim.Adam(model.parameters())
    x, y = gc.randn(16, 64), np.arange(16) % 10

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    before = gc._core._allocator_stats()
    for _ in range(20):
        step()
    after = gc._core._allocator_stats()
    assert after["system_allocs"] == before["system_allocs"]
    assert after["live_bytes"] == before["live_bytes"]


# ---------------------------------------------------------------------------------------
# NaN and +-inf through the SIMD kernels (long vectors: specials land in vector bodies and
# tails alike), against torch. See Note [NaN through compares] (kernels_impl.inc).
# ---------------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")


def _specials(n: int, seed: int = 0) -> np.ndarray:
    """n values: NaN, +-inf, +-0 and ordinary values shuffled together."""
    base = np.array([NAN, INF, -INF, 0.0, -0.0, 1.5, -1.5, 30.0, -30.0, 1e-3, -0.7, 4.0, -4.0])
    return np.random.default_rng(seed).permutation(np.resize(base, n))


def _same_nonfinite(got: np.ndarray, want: np.ndarray, what: str, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    for kind in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(kind(got), kind(want), err_msg=f"{what}: {kind.__name__} positions")
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=atol, err_msg=what)


def _torch_gelu(z, approximate="none"):
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from op_table import _torch_gelu as tg
    return tg(z, approximate)


_ACTS = {
    "relu": (lambda t: t.relu(), lambda t: t.relu()),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.1), lambda t: __import__("torch").nn.functional.leaky_relu(t, 0.1)),
    "gelu": (lambda t: F.gelu(t), lambda t: _torch_gelu(t)),
    "gelu_tanh": (lambda t: F.gelu(t, "tanh"), lambda t: _torch_gelu(t, "tanh")),
    "sigmoid": (lambda t: t.sigmoid(), lambda t: t.sigmoid()),
    "tanh": (lambda t: t.tanh(), lambda t: t.tanh()),
    "abs": (lambda t: t.abs(), lambda t: t.abs()),
    "softplus": (lambda t: F.softplus(t), lambda t: __import__("torch").nn.functional.softplus(t)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", sorted(_ACTS))
def test_activation_nonfinite_long_vectors_match_torch(isa, act, dtype):
    torch = pytest.importorskip("torch")
    x = _specials(1037).astype(dtype)
    g = np.random.default_rng(1).uniform(0.5, 1.5, x.shape).astype(dtype)
    fn, tfn = _ACTS[act]
    gdt = gc.float32 if dtype == "float32" else gc.float64
    t = gc.tensor(x, dtype=gdt, requires_grad=True)
    tt = torch.tensor(x, requires_grad=True)
    y, ty = fn(t), tfn(tt)
    _same_nonfinite(y.detach().numpy(), ty.detach().numpy(), f"{act} forward ({isa})")
    # the fused backward kernel, and the composed formula recorded under create_graph
    for create_graph in (False, True):
        (gx,) = gc.grad(y, [t], gc.tensor(g, dtype=gdt), retain_graph=True, create_graph=create_graph)
        (tgx,) = torch.autograd.grad(ty, [tt], torch.tensor(g), retain_graph=True)
        _same_nonfinite(gx.detach().numpy(), tgx.detach().numpy(), f"{act} backward create_graph={create_graph} ({isa})")


def test_relu_gelu_abs_exact_values_at_specials(isa):
    x = gc.tensor(np.resize([NAN, -0.0, -INF, INF], 101), requires_grad=True)
    r = x.relu().detach().numpy()
    assert np.isnan(r[::4]).all() and np.signbit(r[1::4]).all()   # relu(NaN) = NaN, relu(-0.0) = -0.0
    assert (r[2::4] == 0).all() and (r[3::4] == INF).all()
    y = F.gelu(x).detach().numpy()
    assert (y[2::4] == 0).all() and (y[3::4] == INF).all()        # the limits (torch: NaN at -inf)
    assert (F.gelu(x, "tanh").detach().numpy()[2::4] == 0).all()
    (g,) = gc.grad(x.abs(), [x], gc.ones(101, dtype=x.dtype))
    assert (g.detach().numpy()[::4] == 0).all()                             # abs'(NaN) = sign(NaN) = 0, as torch


# (M, K, N) reaching each GEMM path of Linear (x @ w^T): GEMV-like small rows, the skinny
# narrow tile, the transpose + direct tile, and the packed macro-kernel (K > 512, large).
_LINEAR_SHAPES = [(3, 5, 7), (40, 33, 10), (37, 70, 130), (70, 700, 200)]


@pytest.mark.parametrize("act", ["none", "relu", "sigmoid", "tanh", "gelu", "gelu_tanh"])
def test_fused_linear_nonfinite_match_torch(isa, act):
    torch = pytest.importorskip("torch")
    tacts = {"none": lambda z: z, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
             "gelu": _torch_gelu, "gelu_tanh": lambda z: _torch_gelu(z, "tanh")}
    rng = np.random.default_rng(2)
    for m, k, n in _LINEAR_SHAPES:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        x[0, 1], x[m - 1, k // 2] = NAN, INF   # NaN row 0, +-inf row m-1
        b[n // 3] = -INF                       # a column of -inf pre-activations
        ts = [gc.tensor(a, requires_grad=True) for a in (x, w, b)]
        tts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = F.linear(*ts, activation=act)
        ty = tacts[act](torch.nn.functional.linear(*tts))
        what = f"linear {act} {(m, k, n)} ({isa})"
        _same_nonfinite(y.detach().numpy(), ty.detach().numpy(), what + " forward", rtol=1e-4, atol=1e-4)
        up = rng.uniform(0.5, 1.5, (m, n)).astype(np.float32)
        grads = gc.grad(y, ts, gc.tensor(up))
        tgrads = torch.autograd.grad(ty, tts, torch.tensor(up))
        for i, (a, ta) in enumerate(zip(grads, tgrads)):
            _same_nonfinite(a.detach().numpy(), ta.detach().numpy(), f"{what} d/d(input {i})", rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("dtype", [gc.float32, gc.float64], ids=["f32", "f64"])
def test_gemm_nan_and_inf_reach_c_and_beta0_never_reads_c(isa, dtype):
    np_dtype = np.float32 if dtype == gc.float32 else np.float64
    rng = np.random.default_rng(3)
    for (m, k, n) in [(2, 3, 4), (7, 33, 17), (40, 64, 10), (70, 300, 130), (130, 700, 97), (5, 40, 300)]:
        for ta, tb in [(False, False), (True, False), (False, True), (True, True)]:
            a = rng.standard_normal((m, k))
            bm = rng.standard_normal((k, n))
            a[m // 2, k // 3] = NAN          # row m//2 of C is NaN
            bm[k - 1, n - 1] = INF           # column n-1: +-inf, NaN where a[:, k-1] is 0
            a[0, k - 1] = 0.0
            ref = np.einsum("ik,kj->ij", a, bm)   # IEEE loops (no BLAS)
            ga = gc.tensor((a.T if ta else a).astype(np_dtype), dtype=dtype)
            gb = gc.tensor((bm.T if tb else bm).astype(np_dtype), dtype=dtype)
            # Fill the block the caching allocator will hand to C with NaN, so that a C read
            # despite beta = 0 would show up as NaN where the reference is finite.
            junk = gc.full((m, n), NAN, dtype=dtype)
            junk_ptr = junk.detach().numpy().__array_interface__["data"][0]
            del junk
            got = gc.mm(ga, gb, trans_a=ta, trans_b=tb).detach().numpy()
            # not vacuous: C really lands on the NaN-filled block
            assert got.__array_interface__["data"][0] == junk_ptr
            _same_nonfinite(got.astype(np.float64), ref, f"gemm {(m, k, n)} ta={ta} tb={tb} ({isa})",
                            rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_reductions_propagate_nan_from_any_position(isa, dtype):
    rng = np.random.default_rng(4)
    for shape in [(37,), (70001,), (5, 37), (37, 5), (3, 37, 4), (2, 70001)]:
        n = int(np.prod(shape))
        for pos in sorted({0, n // 2, n - 1, min(17, n - 1)}):
            x = rng.standard_normal(shape).astype(dtype)
            x.reshape(-1)[pos] = NAN
            t = gc.tensor(x)
            got = t.max().item()
            assert np.isnan(got), f"max over all of {shape} with NaN at {pos} ({isa}): {got}"
            for d in range(len(shape)):
                np.testing.assert_array_equal(t.amax(dim=d).detach().numpy(), np.max(x, axis=d),
                                              err_msg=f"max dim {d} of {shape}, NaN at {pos} ({isa})")


def test_max_gradient_at_nan_and_tied_inf_matches_torch():
    """Note [max gradient at ties and NaN] (reduce.cpp): torch.max() shares among NaNs; amax(dim) is NaN."""
    torch = pytest.importorskip("torch")
    rows = np.array([[1.0, NAN, 3.0, NAN], [2.0, INF, INF, -1.0], [-INF, -INF, -INF, -INF], [5.0, 5.0, 0.0, 1.0]])
    for fn, tfn in [(lambda t: t.max(), lambda t: t.max()), (lambda t: t.amax(dim=1), lambda t: t.amax(dim=1)),
                    (lambda t: t.amax(dim=0, keepdim=True), lambda t: t.amax(dim=0, keepdim=True))]:
        for data in (rows, rows[1:], rows[3:]):
            t = gc.tensor(data, requires_grad=True)
            tt = torch.tensor(data, requires_grad=True)
            y, ty = fn(t), tfn(tt)
            _same_nonfinite(y.detach().numpy(), ty.detach().numpy(), "max forward")
            up = np.arange(1.0, 1.0 + y.numel()).reshape(tuple(y.shape))
            (g,) = gc.grad(y, [t], gc.tensor(up))
            (tg,) = torch.autograd.grad(ty, [tt], torch.tensor(up))
            _same_nonfinite(g.detach().numpy(), tg.detach().numpy(), f"max gradient of {data.tolist()}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_and_cross_entropy_nonfinite_rows_match_torch(isa, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    c = 37
    x = rng.standard_normal((8, c))
    x[0, 3] = INF                  # +inf: torch gives a NaN row
    x[1, [0, 5, 36]] = -INF        # -inf: probability 0, log-probability -inf
    x[2, :] = -INF                 # all -inf: NaN row
    x[3, 7] = NAN
    x[4, [2, 9]] = INF             # two +inf
    x[5, 1] = -INF                 # -inf at the label (row 5 label 1): loss +inf, finite gradient
    x = x.astype(dtype)
    labels = np.array([3, 2, 0, 1, 9, 1, 4, 30])
    gdt = gc.float32 if dtype == "float32" else gc.float64
    up = rng.uniform(0.5, 1.5, x.shape).astype(dtype)
    for dim in (1, 0):   # rows (contiguous) and columns (the strided path)
        for log in (False, True):
            t = gc.tensor(x, dtype=gdt, requires_grad=True)
            tt = torch.tensor(x, requires_grad=True)
            y = gc.log_softmax(t, dim) if log else gc.softmax(t, dim)
            ty = torch.log_softmax(tt, dim) if log else torch.softmax(tt, dim)
            what = f"{'log_' if log else ''}softmax dim={dim} {dtype} ({isa})"
            _same_nonfinite(y.detach().numpy(), ty.detach().numpy(), what)
            (g,) = gc.grad(y, [t], gc.tensor(up, dtype=gdt))
            (tg,) = torch.autograd.grad(ty, [tt], torch.tensor(up))
            _same_nonfinite(g.detach().numpy(), tg.detach().numpy(), what + " backward")
    sel = [1, 5, 6, 7]   # the rows torch keeps finite gradients for, plus two ordinary ones
    for rows in (sel, list(range(8))):
        for reduction in ("none", "mean", "sum"):
            for smoothing in (0.0, 0.1):
                t = gc.tensor(x[rows], dtype=gdt, requires_grad=True)
                tt = torch.tensor(x[rows], requires_grad=True)
                loss = F.cross_entropy(t, labels[rows], reduction=reduction, label_smoothing=smoothing)
                tloss = torch.nn.functional.cross_entropy(tt, torch.from_numpy(labels[rows]), reduction=reduction,
                                                          label_smoothing=smoothing)
                what = f"cross_entropy rows={rows} {reduction} smoothing={smoothing} {dtype} ({isa})"
                _same_nonfinite(loss.detach().numpy(), tloss.detach().numpy(), what)
                upl = np.ones(tuple(loss.shape), dtype=dtype)
                (g,) = gc.grad(loss, [t], gc.tensor(upl, dtype=gdt))
                (tg,) = torch.autograd.grad(tloss, [tt], torch.tensor(upl))
                _same_nonfinite(g.detach().numpy(), tg.detach().numpy(), what + " backward")
