"""Random generators, random ops, creation ops and nn.init (issue 12, items 7 and 8).

gradcore's streams are counter-based (Philox) and are not PyTorch's bit stream, so sampled
values are checked statistically (moments, chi-square against the exact pmf or binned CDF,
with fixed seeds: deterministic, loose, but each test fails for a wrong distribution), for
reproducibility (same generator state -> same bits) and for independence of the thread
count (bitwise, 1 vs 2 threads). Everything deterministic (dtypes, shapes, creation values,
exception types, eye_/dirac_/calculate_gain) is compared with torch directly.
"""
from __future__ import annotations

import math
from typing import Any, Callable, List

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gradcore as gc
from gradcore.nn import init

torch = pytest.importorskip("torch")


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t, dtype=np.float64)


def _chi2_ok(observed: np.ndarray, expected: np.ndarray) -> bool:
    """Pearson chi-square below df + 6 sqrt(2 df) (far in the tail for a right distribution)."""
    observed, expected = np.asarray(observed, float), np.asarray(expected, float)
    keep = expected > 0
    stat = float((((observed - expected) ** 2)[keep] / expected[keep]).sum())
    df = max(int(keep.sum()) - 1, 1)
    return stat < df + 6 * math.sqrt(2 * df)


def _ks_ok(sample: np.ndarray, cdf: Callable[[np.ndarray], np.ndarray]) -> bool:
    """Kolmogorov-Smirnov distance below 2 / sqrt(n) (p ~ 1e-3 level is 1.95 / sqrt(n))."""
    x = np.sort(np.asarray(sample, float))
    n = len(x)
    f = cdf(x)
    d = max(float(np.max(np.arange(1, n + 1) / n - f)), float(np.max(f - np.arange(n) / n)))
    return d < 2.0 / math.sqrt(n)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _same_error(fn_gc: Callable[[], Any], fn_torch: Callable[[], Any]) -> None:
    with pytest.raises(Exception) as et:
        fn_torch()
    with pytest.raises(type(et.value)):
        fn_gc()


# --------------------------------------------------------------------------------------
# Generator objects and the default generator
# --------------------------------------------------------------------------------------
def test_generator_api():
    g = gc.Generator()
    assert g.manual_seed(3) is g and g.initial_seed() == 3
    assert g.device.type == "cpu" and gc.Generator(device="cpu").device.type == "cpu"
    assert g.manual_seed(-1).initial_seed() == 2 ** 64 - 1  # as torch: negative seeds wrap
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    state = g.get_state()
    assert state.dtype == gc.uint8 and state.ndim == 1
    a = gc.rand(5, generator=g)
    assert g.set_state(state) is g
    np.testing.assert_array_equal(gc.rand(5, generator=g).numpy(), a.numpy())
    with pytest.raises(RuntimeError):
        gc.Generator(device="cuda")


def test_generator_bad_state_and_seed_errors():
    g, tg = gc.Generator(), torch.Generator()
    _same_error(lambda: g.set_state(gc.zeros(3, dtype=gc.uint8)), lambda: tg.set_state(torch.zeros(3, dtype=torch.uint8)))
    _same_error(lambda: g.set_state(gc.zeros(24)), lambda: tg.set_state(torch.zeros(5056)))
    _same_error(lambda: g.set_state([1, 2]), lambda: tg.set_state([1, 2]))
    _same_error(lambda: g.manual_seed(1.5), lambda: tg.manual_seed(1.5))
    _same_error(lambda: g.manual_seed(2 ** 64), lambda: tg.manual_seed(2 ** 64))
    bad = g.get_state().clone()
    bad[0] = 0  # a state of the right size that is not one
    with pytest.raises(RuntimeError):
        g.set_state(bad)
    with pytest.raises(TypeError):
        gc.rand(2, generator=3)


def test_default_generator_functions():
    assert gc.manual_seed(5) is gc.default_generator and gc.initial_seed() == 5
    assert gc.random.initial_seed() == 5 and gc.random.default_generator is gc.default_generator
    state = gc.get_rng_state()
    a = gc.randn(7)
    gc.set_rng_state(state)
    np.testing.assert_array_equal(gc.randn(7).numpy(), a.numpy())
    s = gc.seed()
    assert gc.initial_seed() == s
    gc.random.manual_seed(9)
    assert gc.initial_seed() == 9
    assert gc.manual_seed(1.5).initial_seed() == torch.manual_seed(1.5).initial_seed() == 1
    assert gc.manual_seed(True).initial_seed() == torch.manual_seed(True).initial_seed() == 1


def test_fork_rng_restores_the_default_stream():
    gc.manual_seed(0)
    first = gc.rand(4).numpy().copy()
    gc.manual_seed(0)
    with gc.random.fork_rng():
        inside = gc.rand(4).numpy().copy()
        gc.randn(100)
    np.testing.assert_array_equal(inside, first)
    np.testing.assert_array_equal(gc.rand(4).numpy(), first)  # as if the block never drew
    gc.manual_seed(0)
    with gc.random.fork_rng(enabled=False):
        gc.rand(4)
    assert not np.array_equal(gc.rand(4).numpy(), first)
    with pytest.raises(RuntimeError):
        with gc.random.fork_rng(devices=[0]):
            pass


def test_generator_streams_are_independent_of_the_default():
    gc.manual_seed(1)
    ref = gc.rand(6).numpy().copy()
    gc.manual_seed(1)
    g = gc.Generator().manual_seed(1)
    from_g = gc.rand(6, generator=g).numpy().copy()
    np.testing.assert_array_equal(from_g, ref)  # same seed, same stream
    gc.randn(3, generator=g)  # g's draws leave the default stream alone
    np.testing.assert_array_equal(gc.rand(6).numpy(), ref)
    assert not np.array_equal(gc.rand(6, generator=g).numpy(), from_g)


SAMPLERS: List[Any] = [
    ("rand", lambda g: gc.rand(70001, generator=g)),
    ("randn", lambda g: gc.randn(70001, generator=g, dtype=gc.float64)),
    ("randint", lambda g: gc.randint(-5, 9, (70001,), generator=g)),
    ("randperm", lambda g: gc.randperm(5000, generator=g)),
    ("uniform_", lambda g: gc.empty(70001).uniform_(-2, 3, generator=g)),
    ("normal_", lambda g: gc.empty(70001).normal_(1, 2, generator=g)),
    ("exponential_", lambda g: gc.empty(70001).exponential_(2.0, generator=g)),
    ("cauchy_", lambda g: gc.empty(70001).cauchy_(generator=g)),
    ("log_normal_", lambda g: gc.empty(70001).log_normal_(generator=g)),
    ("geometric_", lambda g: gc.empty(70001).geometric_(0.3, generator=g)),
    ("random_", lambda g: gc.empty(70001, dtype=gc.int64).random_(generator=g)),
    ("bernoulli_", lambda g: gc.empty(70001).bernoulli_(0.3, generator=g)),
    ("bernoulli", lambda g: gc.bernoulli(gc.full((70001,), 0.4), generator=g)),
    ("poisson", lambda g: gc.poisson(gc.linspace(0, 60, 9001), generator=g)),
    ("multinomial", lambda g: gc.multinomial(gc.rand(3000, 7, generator=g), 5, generator=g)),
    ("multinomial_r", lambda g: gc.multinomial(gc.rand(3000, 7, generator=g), 9, True, generator=g)),
    ("normal", lambda g: gc.normal(gc.zeros(70001), 2.0, generator=g)),
    ("rand_like", lambda g: gc.rand_like(gc.zeros(70001), generator=g)),
]


@pytest.mark.parametrize("name,fn", SAMPLERS, ids=[s[0] for s in SAMPLERS])
def test_reproducible_and_thread_count_independent(name, fn, restore_threads):
    got = []
    for threads in (1, 2):
        gc.set_num_threads(threads)
        got.append(_np(fn(gc.Generator().manual_seed(2024))))
    np.testing.assert_array_equal(got[0], got[1])
    other = _np(fn(gc.Generator().manual_seed(2025)))
    assert not np.array_equal(got[0], other)
    gc.manual_seed(2024)  # the default generator with the same seed gives the same stream
    np.testing.assert_array_equal(_np(fn(None)), got[0])


def test_draws_advance_the_stream():
    g = gc.Generator().manual_seed(0)
    a, b = gc.rand(5, generator=g), gc.rand(5, generator=g)
    assert not np.array_equal(a.numpy(), b.numpy())
    g.manual_seed(0)
    np.testing.assert_array_equal(gc.rand(5, generator=g).numpy(), a.numpy())


# --------------------------------------------------------------------------------------
# Distributions (statistics with fixed seeds)
# --------------------------------------------------------------------------------------
N = 60000


def test_uniform_and_normal_statistics():
    g = gc.Generator().manual_seed(11)
    u = _np(gc.empty(N, dtype=gc.float64).uniform_(-2, 3, generator=g))
    assert u.min() >= -2 and u.max() < 3
    assert _ks_ok(u, lambda x: (x + 2) / 5)
    z = _np(gc.empty(N).normal_(1.5, 2.0, generator=g))
    assert abs(z.mean() - 1.5) < 0.05 and abs(z.std() - 2.0) < 0.05
    assert _ks_ok(z, lambda x: _normal_cdf((x - 1.5) / 2.0))
    r = _np(gc.rand(N, generator=g, dtype=gc.float64))
    assert _ks_ok(r, lambda x: x)
    assert _ks_ok(_np(gc.randn(N, generator=g)), _normal_cdf)


def test_exponential_cauchy_log_normal_geometric_statistics():
    g = gc.Generator().manual_seed(12)
    e = _np(gc.empty(N, dtype=gc.float64).exponential_(2.5, generator=g))
    assert e.min() >= 0 and abs(e.mean() - 0.4) < 0.01
    assert _ks_ok(e, lambda x: 1 - np.exp(-2.5 * x))
    c = _np(gc.empty(N).cauchy_(1.0, 0.5, generator=g))
    assert _ks_ok(c, lambda x: 0.5 + np.arctan((x - 1.0) / 0.5) / math.pi)
    ln = _np(gc.empty(N).log_normal_(0.5, 0.75, generator=g))
    assert ln.min() > 0 and _ks_ok(np.log(ln), lambda x: _normal_cdf((x - 0.5) / 0.75))
    geo = _np(gc.empty(N, dtype=gc.int64).geometric_(0.3, generator=g))
    assert geo.min() >= 1 and np.all(geo == np.round(geo))
    ks = np.arange(1, 30)
    observed = np.array([(geo == k).sum() for k in ks])
    assert _chi2_ok(observed, N * 0.3 * 0.7 ** (ks - 1))


def test_random_randint_randperm_statistics():
    g = gc.Generator().manual_seed(13)
    r = _np(gc.empty(N, dtype=gc.int32).random_(-3, 7, generator=g))
    assert r.min() == -3 and r.max() == 6
    assert _chi2_ok(np.bincount((r + 3).astype(int), minlength=10), np.full(10, N / 10))
    r5 = _np(gc.empty(N).random_(5, generator=g))
    assert set(np.unique(r5)) == {0, 1, 2, 3, 4}
    full = gc.empty(N, dtype=gc.uint8).random_(generator=g)
    assert _chi2_ok(np.bincount(full.numpy(), minlength=256), np.full(256, N / 256))
    big = _np(gc.empty(N).random_(generator=g))  # [0, 2**24] for float32
    assert big.min() >= 0 and big.max() <= 2 ** 24 and abs(big.mean() / 2 ** 23 - 1) < 0.02
    ri = gc.randint(10, 20, (N,), generator=g)
    assert ri.dtype == gc.int64
    assert _chi2_ok(np.bincount(ri.numpy() - 10, minlength=10), np.full(10, N / 10))
    perms = np.stack([gc.randperm(6, generator=g).numpy() for _ in range(3000)])
    assert all(sorted(p) == list(range(6)) for p in perms)
    for pos in range(6):  # each value lands at each position with probability 1/6
        assert _chi2_ok(np.bincount(perms[:, pos], minlength=6), np.full(6, 500.0))
    assert sorted(gc.randperm(100000, generator=g).tolist()) == list(range(100000))


def test_bernoulli_statistics():
    g = gc.Generator().manual_seed(14)
    b = _np(gc.empty(N).bernoulli_(0.3, generator=g))
    assert set(np.unique(b)) == {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01
    probs = np.repeat(np.linspace(0, 1, 11), 5000)
    bt = _np(gc.bernoulli(gc.tensor(probs), generator=g)).reshape(11, 5000)
    assert np.all(np.abs(bt.mean(axis=1) - np.linspace(0, 1, 11)) < 0.025)
    assert bt[0].sum() == 0 and bt[-1].sum() == 5000
    into = gc.zeros(11, 5000, dtype=gc.int64).bernoulli_(gc.tensor(np.linspace(0, 1, 11)).reshape(11, 1), generator=g)
    assert into.dtype == gc.int64 and np.all(np.abs(into.numpy().mean(axis=1) - np.linspace(0, 1, 11)) < 0.025)


@pytest.mark.parametrize("lam", [0.7, 3.0, 25.0, 400.0])
def test_poisson_statistics(lam):
    g = gc.Generator().manual_seed(15)
    s = _np(gc.poisson(gc.full((40000,), lam, dtype=gc.float64), generator=g))
    assert s.min() >= 0 and np.all(s == np.round(s))
    assert abs(s.mean() - lam) < 4 * math.sqrt(lam / 40000) and abs(s.var() / lam - 1) < 0.05
    ks = np.arange(int(max(0, lam - 4 * math.sqrt(lam))), int(lam + 4 * math.sqrt(lam)) + 1)
    pmf = np.exp(ks * math.log(lam) - lam - np.array([math.lgamma(k + 1) for k in ks]))
    observed = np.array([(s == k).sum() for k in ks])
    assert _chi2_ok(observed, 40000 * pmf)
    assert _np(gc.poisson(gc.zeros(5), generator=g)).sum() == 0


def test_multinomial_statistics():
    g = gc.Generator().manual_seed(16)
    p = np.array([0.1, 0.0, 0.3, 0.6])
    draws = gc.multinomial(gc.tensor(p), 40000, replacement=True, generator=g).numpy()
    assert _chi2_ok(np.bincount(draws, minlength=4), 40000 * p) and not np.any(draws == 1)
    # Unnormalised weights, 2-D: each row its own distribution.
    w = np.array([[1.0, 3.0, 0.0], [5.0, 0.0, 5.0]])
    d2 = gc.multinomial(gc.tensor(w), 20000, True, generator=g).numpy()
    for r in range(2):
        assert _chi2_ok(np.bincount(d2[r], minlength=3), 20000 * w[r] / w[r].sum())
    # Without replacement: distinct indices; the first pick follows p, the second the rest.
    rows = gc.multinomial(gc.tensor(np.tile([0.5, 0.25, 0.125, 0.125], (20000, 1))), 3, generator=g).numpy()
    assert all(len(set(r)) == 3 for r in rows[:2000])
    assert _chi2_ok(np.bincount(rows[:, 0], minlength=4), 20000 * np.array([0.5, 0.25, 0.125, 0.125]))
    # P(second = j) = sum_i p_i p_j / (1 - p_i)
    q = np.array([0.5, 0.25, 0.125, 0.125])
    p2 = np.array([sum(q[i] * q[j] / (1 - q[i]) for i in range(4) if i != j) for j in range(4)])
    assert _chi2_ok(np.bincount(rows[:, 1], minlength=4), 20000 * p2)
    # Fewer positive categories than samples: zero-weight ones fill the rest (as torch).
    z = gc.multinomial(gc.tensor([1.0, 0.0, 0.0]), 3, generator=g).tolist()
    assert z[0] == 0 and sorted(z) == [0, 1, 2]


def test_multinomial_shapes_and_dtypes_like_torch():
    for shape, k, rep in [((5,), 3, False), ((4, 6), 6, False), ((4, 6), 10, True), ((0, 3), 2, False)]:
        x = np.random.default_rng(0).random(shape) + 0.1
        a = gc.multinomial(gc.tensor(x), k, rep)
        b = torch.multinomial(torch.tensor(x), k, rep)
        assert tuple(a.shape) == tuple(b.shape) and str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    assert gc.tensor([1.0, 2.0]).multinomial(1).shape == (1,)


MULTINOMIAL_ERRORS = [
    ([0.1, -0.1], 1, False), ([0.0, 0.0], 1, False), ([1.0, 1.0], 3, False), ([1.0, float("nan")], 1, False),
    ([1.0, float("inf")], 1, False), ([[[1.0]]], 1, False), ([1.0, 2.0], 0, False), ([1.0, 2.0], -1, True),
    ([], 1, False), ([[0.0, 0.0], [1.0, 1.0]], 1, True),
]


@pytest.mark.parametrize("p,k,rep", MULTINOMIAL_ERRORS)
def test_multinomial_errors_like_torch(p, k, rep):
    _same_error(lambda: gc.multinomial(gc.tensor(p, dtype=gc.float32), k, rep),
                lambda: torch.multinomial(torch.tensor(p, dtype=torch.float32), k, rep))


def test_multinomial_integer_input_error_like_torch():
    _same_error(lambda: gc.multinomial(gc.tensor([1, 2]), 1), lambda: torch.multinomial(torch.tensor([1, 2]), 1))


# --------------------------------------------------------------------------------------
# Errors, dtypes and signatures against torch
# --------------------------------------------------------------------------------------
ERROR_CASES = [
    "torch.zeros(2, dtype=torch.int64).exponential_()", "torch.zeros(2).exponential_(-1)",
    "torch.zeros(2).exponential_(0)", "torch.zeros(2).geometric_(0)", "torch.zeros(2).geometric_(1.5)",
    "torch.zeros(2, dtype=torch.bool).geometric_(0.5)", "torch.zeros(2).cauchy_(0, -1)",
    "torch.zeros(2, dtype=torch.int32).cauchy_()", "torch.zeros(2).log_normal_(0, -1)",
    "torch.zeros(2, dtype=torch.int64).log_normal_()", "torch.zeros(2).random_(3, 2)",
    "torch.zeros(2).uniform_(2, 1)", "torch.zeros(2, dtype=torch.int64).uniform_()",
    "torch.zeros(2, dtype=torch.int64).normal_()", "torch.zeros(2).normal_(0, -1)",
    "torch.zeros(2, dtype=torch.uint8).random_(-1, 3)", "torch.zeros(2, dtype=torch.uint8).random_(0, 300)",
    "torch.zeros(2, dtype=torch.bool).random_(0, 3)", "torch.zeros(3).bernoulli_(1.5)",
    "torch.zeros(3).bernoulli_(torch.tensor([1.5]))", "torch.bernoulli(torch.tensor([1, 0]))",
    "torch.poisson(torch.tensor([-1.]))", "torch.poisson(torch.tensor([float('nan')]))",
    "torch.poisson(torch.tensor([1]))", "torch.randperm(-1)", "torch.rand(2, dtype=torch.int64)",
    "torch.randn(2, dtype=torch.int64)", "torch.randint(3, 2, (2,))", "torch.randint(3, 3, (2,))",
    "torch.randint(2.5, 5, (3,))", "torch.randint(5, (3,), requires_grad=True)", "torch.zeros(-1)",
    "torch.rand(-2)", "torch.eye(-1)", "torch.eye(2, -1)", "torch.linspace(0, 1, -1)", "torch.linspace(0, 1, 2.5)",
    "torch.arange(0, 1, 0)", "torch.arange(0, 1, -1)", "torch.arange(0, float('inf'))",
    "torch.arange(0, 3, 0.5, dtype=torch.int64)", "torch.arange(0, 3, dtype=torch.bool)",
    "torch.normal(torch.zeros(2), -1.0)", "torch.normal(0.0, -1.0, (2,))", "torch.normal(torch.zeros(2), torch.ones(3))",
    "torch.normal(torch.zeros(2, dtype=torch.int64), 1.)", "torch.normal(0., 1.)",
    "torch.normal(0.0, torch.tensor([1.0, -1.0]))", "torch.zeros(2, requires_grad=True).uniform_()",
    "torch.randn_like(torch.zeros(2, dtype=torch.int64))", "torch.zeros(2).uniform_(0, float('inf'))",
    "torch.zeros(2).uniform_(float('nan'), 1)", "torch.zeros(2).uniform_(-3e38, 3e38)",
    "torch.zeros(2, dtype=torch.float16).uniform_(0, 1e5)", "torch.randint(5, 3)",
    "torch.linspace(torch.zeros(2), 1, 3)",
]


@pytest.mark.parametrize("src", ERROR_CASES)
def test_error_types_like_torch(src):
    gsrc = src.replace("torch.", "gc.")
    _same_error(lambda: eval(gsrc, {"gc": gc}), lambda: eval(src, {"torch": torch}))  # noqa: S307


DTYPE_CASES = [
    "torch.randint(3, (2,))", "torch.randint(1, 3, (2,), dtype=torch.float32)", "torch.randint(5, size=(3,))",
    "torch.randint(low=2, high=5, size=(3,))", "torch.randint(2, high=5, size=(3,))",
    "torch.randint_like(torch.zeros(2, dtype=torch.int32), 5)", "torch.randint_like(torch.zeros(2), 2, 5)",
    "torch.randperm(4)", "torch.randperm(4, dtype=torch.float32)", "torch.multinomial(torch.ones(2, 3), 2)",
    "torch.rand_like(torch.zeros(2, dtype=torch.float64))", "torch.rand_like(torch.zeros(2, dtype=torch.int64), dtype=torch.float64)",
    "torch.randn_like(torch.zeros(2, 3))", "torch.poisson(torch.ones(2, dtype=torch.float64))",
    "torch.bernoulli(torch.ones(2, dtype=torch.float64))", "torch.bernoulli(torch.ones(2), 0.5)",
    "torch.normal(torch.zeros(2, dtype=torch.float64), torch.ones(2))", "torch.normal(0., torch.ones(2, dtype=torch.float64))",
    "torch.normal(0., 1., size=(2,), dtype=torch.float64)", "torch.normal(2, 3, (2,))",
    "torch.normal(torch.zeros(2, 1), torch.ones(3))", "torch.normal(mean=torch.zeros(2), std=torch.ones(2))",
    "torch.zeros(2, dtype=torch.int64).random_()", "torch.zeros(2, dtype=torch.int64).geometric_(0.5)",
    "torch.zeros(3, dtype=torch.int64).bernoulli_(torch.tensor([1., 0, 1]))", "torch.zeros(2, 2).t().normal_()",
    "torch.rand(2, 3, generator=torch.Generator())", "torch.randn(size=(2, 3))", "torch.rand(torch.Size([2, 3]))",
    "torch.rand([2, 3])", "torch.zeros(size=(2, 3))", "torch.ones(size=[2])", "torch.empty(size=(2,))",
    "torch.full(size=(2,), fill_value=3.)", "torch.full((2,), True)", "torch.full([2], 1)", "torch.full((2,), 1.5)",
    "torch.zeros(torch.Size([2, 3]))", "torch.ones([2, 3])", "torch.empty(2, 3)", "torch.zeros_like(torch.ones(2), dtype=torch.int32)",
    "torch.ones_like(torch.ones(2, dtype=torch.int64))", "torch.empty_like(torch.ones(2), dtype=torch.float64)",
    "torch.full_like(torch.ones(2), 7)", "torch.full_like(torch.ones(2, dtype=torch.int64), 7, dtype=torch.float64)",
    "torch.linspace(0, 1, 5, requires_grad=True)", "torch.randn(3, requires_grad=True)",
]


@pytest.mark.parametrize("src", DTYPE_CASES)
def test_result_dtype_shape_and_requires_grad_like_torch(src):
    a = eval(src.replace("torch.", "gc."), {"gc": gc})  # noqa: S307
    b = eval(src, {"torch": torch})  # noqa: S307
    assert tuple(a.shape) == tuple(b.shape)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    assert a.requires_grad == b.requires_grad


def test_normal_forms_statistics_and_zero_gradients():
    g = gc.Generator().manual_seed(17)
    mean = gc.tensor(np.repeat([-1.0, 4.0], 20000))
    std = gc.tensor(np.repeat([0.5, 2.0], 20000))
    s = _np(gc.normal(mean, std, generator=g)).reshape(2, 20000)
    assert np.allclose(s.mean(axis=1), [-1, 4], atol=0.05) and np.allclose(s.std(axis=1), [0.5, 2], rtol=0.03)
    s2 = _np(gc.normal(3.0, std, generator=g)).reshape(2, 20000)
    assert np.allclose(s2.mean(axis=1), [3, 3], atol=0.05) and np.allclose(s2.std(axis=1), [0.5, 2], rtol=0.03)
    s3 = _np(gc.normal(mean, generator=g)).reshape(2, 20000)
    assert np.allclose(s3.std(axis=1), [1, 1], rtol=0.03)
    s4 = _np(gc.normal(2.0, 3.0, (40000,), generator=g))
    assert abs(s4.mean() - 2) < 0.06 and abs(s4.std() - 3) < 0.06
    # As torch: the result takes part in autograd, with zero gradients to mean and std.
    m = gc.zeros(3, requires_grad=True)
    sd = gc.ones(3, requires_grad=True)
    out = gc.normal(m, sd)
    assert out.requires_grad
    out.sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), np.zeros(3))
    np.testing.assert_array_equal(sd.grad.numpy(), np.zeros(3))


def test_inplace_fills_on_views_and_other_dtypes():
    g = gc.Generator().manual_seed(18)
    base = gc.zeros(300, 200)
    view = base.t()
    view.normal_(generator=g)
    assert abs(base.numpy().std() - 1) < 0.02 and np.all(base.numpy() != 0)
    # A strided float64 tensor gets float64 samples (same values as a contiguous one), not rounded float32 ones.
    d = gc.zeros(40, 30, dtype=gc.float64).t().uniform_(generator=gc.Generator().manual_seed(4))
    c = gc.zeros(30, 40, dtype=gc.float64).uniform_(generator=gc.Generator().manual_seed(4))
    np.testing.assert_array_equal(d.contiguous().numpy().ravel(), c.numpy().ravel())
    assert np.any(d.numpy().astype(np.float32).astype(np.float64) != d.numpy())
    h = gc.zeros(20000, dtype=gc.float16).uniform_(1, 2, generator=g)
    assert h.dtype == gc.float16 and 1 <= float(h.min()) and float(h.max()) <= 2
    e = gc.zeros(4).exponential_()  # default generator, default lambd
    assert e.dtype == gc.float32 and float(e.min()) > 0
    empty = gc.zeros(0)
    for fill in (empty.uniform_, empty.normal_, empty.exponential_, empty.cauchy_, empty.log_normal_):
        assert fill() is empty
    for fn in (lambda t: t.geometric_(0.5), lambda t: t.random_(), lambda t: t.bernoulli_()):
        assert fn(empty) is empty


def test_dropout_consumes_the_default_generator():
    x = gc.ones(1000)
    gc.manual_seed(3)
    a = gc.nn.functional.dropout(x, 0.5).numpy().copy()
    gc.manual_seed(3)
    b = gc.nn.Dropout(0.5)(x).numpy().copy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) == {0.0, 2.0} and 400 < (a == 0).sum() < 600
    gc.manual_seed(3)
    with gc.random.fork_rng():
        gc.nn.functional.dropout(x, 0.5)
    np.testing.assert_array_equal(gc.nn.functional.dropout(x, 0.5).numpy(), a)


# --------------------------------------------------------------------------------------
# Creation ops against torch
# --------------------------------------------------------------------------------------
CREATION_CASES = [
    "torch.eye(3)", "torch.eye(2, 4)", "torch.eye(4, 2, dtype=torch.int64)", "torch.eye(0)", "torch.eye(3, 0)",
    "torch.eye(3, dtype=torch.bool)", "torch.eye(n=2, m=3)",
    "torch.linspace(0, 1, 5)", "torch.linspace(-3, 7, 11, dtype=torch.float64)", "torch.linspace(0, 1, 1)",
    "torch.linspace(0, 1, 0)", "torch.linspace(0, 10, 5, dtype=torch.int64)", "torch.linspace(5, -5, 7)",
    "torch.linspace(0.1, 0.9, 33, dtype=torch.float64)", "torch.linspace(-10, 10, 6, dtype=torch.int32)",
    "torch.logspace(0, 2, 3)", "torch.logspace(0, 2, 3, base=2)", "torch.logspace(0, 3, 4, dtype=torch.int64)",
    "torch.logspace(-1, 1, 5, 3.0, dtype=torch.float64)", "torch.logspace(0, 1, 0)",
    "torch.arange(0, 1, 0.3)", "torch.arange(1, 2.5, 0.5)", "torch.arange(5, dtype=torch.float64)",
    "torch.arange(0, 10, 3)", "torch.arange(10, 0, -3)", "torch.arange(0., 1., 0.1)", "torch.arange(-1.0, 1.0, 0.2)",
    "torch.arange(5)", "torch.arange(2, 7)", "torch.arange(1, 4, dtype=torch.int32)", "torch.arange(0.5, 3)",
    "torch.arange(3, 3)", "torch.arange(-3, 3, 1.5, dtype=torch.int32)", "torch.arange(0, 3.7, 1.0, dtype=torch.int64)",
    "torch.arange(0.5, 3.2, 1, dtype=torch.int64)", "torch.arange(10, 1, -2.5, dtype=torch.int16)",
    "torch.zeros(2, 3)", "torch.ones((2, 3), dtype=torch.int64)", "torch.full((2, 2), 7)", "torch.full((2,), -1.5)",
    "torch.full((3,), False)", "torch.zeros_like(torch.ones(2, 2), dtype=torch.float64)",
    "torch.ones_like(torch.ones(3, dtype=torch.int32))", "torch.full_like(torch.ones(2), 2.5)",
    "torch.tensor([1, 2])", "torch.as_tensor([1.5, 2])", "torch.linspace(torch.tensor(0.), torch.tensor(2.), 5)",
    "torch.logspace(torch.tensor(1), 2, 3)",
]


@pytest.mark.parametrize("src", CREATION_CASES)
def test_creation_values_like_torch(src):
    a = eval(src.replace("torch.", "gc."), {"gc": gc})  # noqa: S307
    b = eval(src, {"torch": torch})  # noqa: S307
    assert tuple(a.shape) == tuple(b.shape)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    np.testing.assert_allclose(np.asarray(a.tolist(), dtype=float), np.asarray(b.tolist(), dtype=float),
                               rtol=1e-6, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(start=st.floats(-50, 50), span=st.floats(0.01, 100), step=st.floats(0.05, 10), down=st.booleans(),
       f64=st.booleans())
def test_arange_float_length_rule_like_torch(start, span, step, down, f64):
    end = start - span if down else start + span
    step = -step if down else step
    dt = "float64" if f64 else "float32"
    a = gc.arange(start, end, step, dtype=getattr(gc, dt))
    b = torch.arange(start, end, step, dtype=getattr(torch, dt))
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(start=st.floats(-100, 100), end=st.floats(-100, 100), steps=st.integers(0, 40))
def test_linspace_like_torch(start, end, steps):
    a = gc.linspace(start, end, steps, dtype=gc.float64)
    b = torch.linspace(start, end, steps, dtype=torch.float64)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    if steps:
        assert a.numpy()[0] == start and a.numpy()[-1] == (end if steps > 1 else start)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3))
def test_factories_take_every_size_form(shape):
    t = tuple(shape)
    for fn in ("zeros", "ones", "empty", "rand", "randn"):
        forms = [getattr(gc, fn)(t), getattr(gc, fn)(list(t)), getattr(gc, fn)(gc.Size(t)), getattr(gc, fn)(size=t)]
        if t:
            forms.append(getattr(gc, fn)(*t))
        assert all(tuple(f.shape) == t for f in forms)
    assert tuple(gc.full(t, 2.0).shape) == tuple(torch.full(t, 2.0).shape)
    assert tuple(gc.randint(3, t).shape) == t


# --------------------------------------------------------------------------------------
# nn.init
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
    ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu", None)])
def test_calculate_gain_like_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


@pytest.mark.parametrize("args", [("gelu",), ("leaky_relu", True), ("leaky_relu", "x"), ("Relu",)])
def test_calculate_gain_errors_like_torch(args):
    _same_error(lambda: init.calculate_gain(*args), lambda: torch.nn.init.calculate_gain(*args))


@pytest.mark.parametrize("shape", [(5,), (), (3, 4), (2, 3, 5), (4, 3, 2, 2)])
def test_fans_like_torch(shape):
    if len(shape) < 2:
        _same_error(lambda: init._calculate_fan_in_and_fan_out(gc.zeros(shape)),
                    lambda: torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape)))
        for name in ("xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"):
            _same_error(lambda: getattr(init, name)(gc.zeros(shape)), lambda: getattr(torch.nn.init, name)(torch.zeros(shape)))
    else:
        assert init._calculate_fan_in_and_fan_out(gc.zeros(shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_init_errors_like_torch():
    cases = [
        ("eye_", (gc.zeros(2, 2, 2),), (torch.zeros(2, 2, 2),)),
        ("dirac_", (gc.zeros(2, 2),), (torch.zeros(2, 2),)),
        ("dirac_", (gc.zeros(3, 2, 3), 2), (torch.zeros(3, 2, 3), 2)),
        ("sparse_", (gc.zeros(2, 2, 2), 0.5), (torch.zeros(2, 2, 2), 0.5)),
        ("kaiming_normal_", (gc.zeros(3, 3), 0, "fan_avg"), (torch.zeros(3, 3), 0, "fan_avg")),
        ("kaiming_uniform_", (gc.zeros(3, 3), 0, "fan_in", "gelu"), (torch.zeros(3, 3), 0, "fan_in", "gelu")),
    ]
    for name, ga, ta in cases:
        _same_error(lambda: getattr(init, name)(*ga), lambda: getattr(torch.nn.init, name)(*ta))


@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((4, 2, 3, 3, 3), 1), ((2, 5, 3), 1),
                                          ((8, 2, 5), 4)])
def test_dirac_and_eye_like_torch(shape, groups):
    a = init.dirac_(gc.randn(*shape), groups)
    b = torch.nn.init.dirac_(torch.randn(*shape), groups)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    for s in [(3, 5), (5, 3), (4, 4)]:
        np.testing.assert_array_equal(init.eye_(gc.randn(*s)).numpy(), torch.nn.init.eye_(torch.randn(*s)).numpy())


def test_trunc_normal_statistics():
    g = gc.Generator().manual_seed(19)
    for mean, std, a, b in [(0.0, 1.0, -2.0, 2.0), (0.5, 0.02, -2.0, 2.0), (0.0, 1.0, 1.0, 3.0), (1.0, 2.0, -1.0, 0.5)]:
        t = init.trunc_normal_(gc.empty(40000, dtype=gc.float64), mean, std, a, b, generator=g)
        x = _np(t)
        assert x.min() >= a and x.max() <= b
        lo, hi = _normal_cdf(np.array([(a - mean) / std, (b - mean) / std]))

        def cdf(v: np.ndarray, mean: float = mean, std: float = std, lo: float = lo, hi: float = hi) -> np.ndarray:
            return (_normal_cdf((v - mean) / std) - lo) / (hi - lo)

        assert _ks_ok(x, cdf)
    torch.manual_seed(0)
    ref = torch.nn.init.trunc_normal_(torch.empty(40000), 0.0, 1.0, -2.0, 2.0).numpy()
    ours = _np(init.trunc_normal_(gc.empty(40000), 0.0, 1.0, -2.0, 2.0))
    assert abs(ours.std() - ref.std()) < 0.02 and abs(ours.mean() - ref.mean()) < 0.03


@pytest.mark.parametrize("shape,gain", [((6, 4), 1.0), ((4, 6), 2.0), ((5, 2, 3), 0.5), ((7, 7), 1.0)])
def test_orthogonal_(shape, gain):
    t = init.orthogonal_(gc.empty(*shape, dtype=gc.float64), gain, generator=gc.Generator().manual_seed(20))
    m = t.numpy().reshape(shape[0], -1)
    rows, cols = m.shape
    gram = m @ m.T if rows <= cols else m.T @ m
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=1e-10)
    a = init.orthogonal_(gc.empty(*shape), generator=gc.Generator().manual_seed(1)).numpy()
    b = init.orthogonal_(gc.empty(*shape), generator=gc.Generator().manual_seed(1)).numpy()
    np.testing.assert_array_equal(a, b)


def test_orthogonal_is_haar():
    # The sign fix makes Q Haar-distributed: entries have mean 0 and variance 1/n.
    g = gc.Generator().manual_seed(21)
    # (torch's orthogonal_ is the same construction; its Haar law is the oracle here.)
    entries = np.concatenate([init.orthogonal_(gc.empty(4, 4), generator=g).numpy().ravel() for _ in range(400)])
    assert abs(entries.mean()) < 0.02 and abs(entries.var() - 0.25) < 0.02
    assert abs(np.mean(entries > 0) - 0.5) < 0.03
    # Without the sign fix the diagonal of Q would be biased (R's diagonal positive): check it is not.
    diag = np.stack([np.diag(init.orthogonal_(gc.empty(4, 4), generator=g).numpy()) for _ in range(400)])
    assert abs(diag.mean()) < 0.05


def test_sparse_():
    g = gc.Generator().manual_seed(22)
    t = init.sparse_(gc.empty(50, 400), 0.3, std=0.5, generator=g)
    zeros_per_col = (t.numpy() == 0).sum(axis=0)
    assert np.all(zeros_per_col == math.ceil(0.3 * 50))
    nz = t.numpy()[t.numpy() != 0]
    assert abs(nz.std() - 0.5) < 0.02
    # Which rows are zeroed is uniform over rows.
    assert _chi2_ok((t.numpy() == 0).sum(axis=1), np.full(50, 400 * 15 / 50))
    torch.manual_seed(0)
    r = torch.nn.init.sparse_(torch.empty(50, 400), 0.3, std=0.5)
    assert np.array_equal((r.numpy() == 0).sum(axis=0), zeros_per_col)


@pytest.mark.parametrize("name,kwargs,std", [
    ("xavier_uniform_", {"gain": 2.0}, 2.0 * math.sqrt(2.0 / 500)),
    ("xavier_normal_", {"gain": 0.5}, 0.5 * math.sqrt(2.0 / 500)),
    ("kaiming_uniform_", {"a": 0.0, "nonlinearity": "relu"}, math.sqrt(2.0) / math.sqrt(200)),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}, 5 / 3 / math.sqrt(300)),
    ("uniform_", {"a": -1.0, "b": 1.0}, 1 / math.sqrt(3)),
    ("normal_", {"mean": 0.0, "std": 0.3}, 0.3),
])
def test_init_generator_and_std_like_torch(name, kwargs, std):
    a = getattr(init, name)(gc.empty(300, 200), **kwargs, generator=gc.Generator().manual_seed(7)).numpy()
    b = getattr(init, name)(gc.empty(300, 200), **kwargs, generator=gc.Generator().manual_seed(7)).numpy()
    np.testing.assert_array_equal(a, b)
    torch.manual_seed(0)
    ref = getattr(torch.nn.init, name)(torch.empty(300, 200), **kwargs).numpy()
    assert abs(a.std() - std) < 0.02 * std and abs(ref.std() - a.std()) < 0.03 * std


def test_kaiming_zero_element_warns_like_torch():
    with pytest.warns(UserWarning):
        torch.nn.init.kaiming_uniform_(torch.empty(0, 3))
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_uniform_(gc.empty(0, 3)).shape == (0, 3)
