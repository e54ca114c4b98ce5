"""SIMD kernels against their oracles, under every ISA the machine supports.

* float32 exp / log / tanh / sigmoid vs float64 NumPy, in ulps, over ranges that include
  large magnitudes, zeros, denormal arguments and results, +-inf and NaN;
* the fused Linear (GEMM epilogue: bias + activation; backward: activation derivative and
  db in one pass) equals the unfused composition, values and gradients;
* the fused optimizer kernels equal hand-computed single steps (no torch needed);
* results do not depend on the number of threads (bitwise).
"""
from __future__ import annotations

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


@pytest.mark.parametrize("name,max_ulp", [("exp", 2.0), ("log", 2.0), ("tanh", 3.0), ("sigmoid", 4.0)])
def test_float32_transcendentals_ulp(isa, wide_inputs, name, max_ulp):
    x, pos = wide_inputs
    inp = pos if name == "log" else x
    ref_fn = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v))}[name]
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
    assert y.grad_fn.name() == "LinearBackward"  # the last Linear + Sigmoid ran as one op
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
