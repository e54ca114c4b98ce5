"""The elementwise registry ops and activations, from tests/op_table.py's ELEMENTWISE table.

One row per op (Note [One op, one row], csrc/autograd/ops/math.cpp); gradcheck,
gradgradcheck, forward mode and NaN/Inf read the same rows through OPS. Here:

* the table and the live registry (``_core._elementwise_ops``, ``_core._activations``) are
  the same set, and every registry op is exported (``gradcore.__all__``), bound as a Tensor
  method with an in-place form, and in the stub;
* values against torch, float32 and float64, under every ISA (random values of the row's
  domain, plus specials: +-0, +-inf, NaN, large and denormal magnitudes), strided inputs;
* gradients against torch (float64), grad_fn names, integer inputs, 0-size inputs, the
  in-place forms, and random shapes with 0- and 1-size dims (the fuzz);
* float32 accuracy in ulps of the vectorised kernels (rows with ``ulp``), per ISA, on random
  values, specials and denormals.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import gradcore as gc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from op_table import DOMAINS, ELEMENTWISE, Elementwise  # noqa: E402

torch = pytest.importorskip("torch")

ROWS = sorted(ELEMENTWISE)
SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 1e-40, 30.0, -30.0, 100.0, -100.0,
                     0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0, 20.0, 21.0])


def _inputs(row: Elementwise, dtype: str, n: int = 64, specials: bool = True):
    rng = np.random.default_rng(abs(hash(row.name)) % 2**32)
    xs = []
    for i in range(row.arity):
        v = DOMAINS[row.domain](rng, (n,))
        if specials:
            # binary rows without denormals: torch's vectorised fmod flushes them (fmod(100, 1e-40) is NaN)
            sp = SPECIALS if row.arity == 1 else SPECIALS[np.abs(SPECIALS) != 1e-40]
            v = np.concatenate([v, np.roll(sp, 3 * i)])
        xs.append(v.astype(dtype))
    return xs


def _same(got: np.ndarray, want: np.ndarray, rtol: float, atol: float, what: str) -> None:
    assert got.shape == want.shape, what
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: NaN positions differ"
    fin = ~np.isnan(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=atol, err_msg=what)


def test_table_is_the_registry() -> None:
    registry = set(gc._core._elementwise_ops()) | set(gc._core._activations())
    assert registry - set(ELEMENTWISE) == set(), "registry ops without a test row"
    for name in gc._core._elementwise_ops():
        assert name in gc.__all__ and getattr(gc, name) is getattr(gc._core, name), name
        assert hasattr(gc.Tensor, name) and hasattr(gc.Tensor, name + "_"), name
    with open(os.path.join(os.path.dirname(gc.__file__), "_core.pyi"), encoding="utf-8") as fh:
        stub = fh.read()
    for name in registry:
        assert f"def {name}(" in stub, name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ROWS)
def test_values_match_torch(isa, name: str, dtype: str) -> None:
    row = ELEMENTWISE[name]
    xs = _inputs(row, dtype)
    got = row.fn(*[gc.tensor(x) for x in xs]).numpy()
    with torch.no_grad():
        want = row.torch_fn(*[torch.tensor(x) for x in xs]).numpy()
    assert got.dtype == want.dtype, name
    rtol, atol = (2e-6, 1e-6) if dtype == "float32" else (1e-12, 1e-12)
    _same(got, want, rtol, atol, f"{name} {dtype} {isa}")
    # a strided (transposed, sliced) input gives the same values
    if row.arity == 1:
        x2 = np.resize(xs[0], (6, 10))
        t = gc.tensor(x2).t()[:, ::2]
        with torch.no_grad():
            w = row.torch_fn(torch.tensor(x2).t()[:, ::2]).numpy()
        _same(row.fn(t).numpy(), w, rtol, atol, f"{name} strided")


@pytest.mark.parametrize("name", ROWS)
def test_gradients_and_grad_fn_match_torch(name: str) -> None:
    row = ELEMENTWISE[name]
    xs = _inputs(row, "float64", n=12, specials=False)
    g = [gc.tensor(x, requires_grad=True) for x in xs]
    t = [torch.tensor(x, requires_grad=True) for x in xs]
    y, ty = row.fn(*g), row.torch_fn(*t)
    w = np.random.default_rng(0).uniform(0.5, 1.5, ty.shape)
    grads = gc.grad(y, g, gc.tensor(w))
    tgrads = torch.autograd.grad(ty, t, torch.tensor(w), allow_unused=True)
    for a, b in zip(grads, tgrads):
        want = np.zeros(a.shape) if b is None else b.numpy()
        _same(a.numpy(), want, 1e-10, 1e-12, f"{name} gradient")
    if row.method and row.node:
        assert y.grad_fn.name() == ty.grad_fn.name()


@pytest.mark.parametrize("name", ROWS)
def test_integer_and_empty_inputs(name: str) -> None:
    row = ELEMENTWISE[name]
    empty = [gc.zeros(0, 3) for _ in range(row.arity)]
    assert row.fn(*empty).shape == (0, 3)
    ints = [np.array([1, 2, 3], dtype=np.int64) for _ in range(row.arity)]
    try:
        want = row.torch_fn(*[torch.tensor(i) for i in ints])
    except (RuntimeError, NotImplementedError) as e:
        with pytest.raises(type(e)):
            row.fn(*[gc.tensor(i) for i in ints])
        return
    got = row.fn(*[gc.tensor(i) for i in ints])
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], name
    _same(got.numpy(), want.numpy(), 1e-6, 1e-6, f"{name} int")


@pytest.mark.parametrize("name", [n for n in ROWS if ELEMENTWISE[n].method and ELEMENTWISE[n].arity == 1])
def test_in_place_method_equals_out_of_place(name: str) -> None:
    row = ELEMENTWISE[name]
    (x,) = _inputs(row, "float64", n=10, specials=False)
    a = gc.tensor(x)
    want = getattr(a, name)().numpy()
    leafed = gc.tensor(x, requires_grad=True)
    b = leafed * 1.0
    r = getattr(b, name + "_")()
    assert r is b
    np.testing.assert_array_equal(b.detach().numpy(), want)
    (gx,) = gc.grad(b.sum(), leafed)
    tx = torch.tensor(x, requires_grad=True)
    tb = tx * 1.0
    getattr(tb, name + "_")()
    try:
        (tgx,) = torch.autograd.grad(tb.sum(), tx)
    except NotImplementedError:  # torch has no derivative for some in-place forms (asinh_): ours is the op's
        (tgx,) = torch.autograd.grad(getattr(tx, name)().sum(), tx)
    _same(gx.numpy(), tgx.numpy(), 1e-10, 1e-12, f"{name}_ gradient")


@pytest.mark.parametrize("seed", range(3))
def test_random_shapes_fuzz(seed: int) -> None:
    """Every row on random shapes with 0- and 1-size dims, broadcasting binary operands."""
    rng = np.random.default_rng(seed)
    for name in ROWS:
        row = ELEMENTWISE[name]
        shape = tuple(int(d) for d in rng.choice([0, 1, 2, 3, 5], size=rng.integers(0, 4)))
        shapes = [shape] if row.arity == 1 else [shape, tuple(d if rng.random() < 0.5 else 1 for d in shape)]
        xs = [DOMAINS[row.domain](rng, s) for s in shapes]
        got = row.fn(*[gc.tensor(x) for x in xs]).numpy()
        with torch.no_grad():
            want = row.torch_fn(*[torch.tensor(x) for x in xs]).numpy()
        _same(got, want, 1e-12, 1e-12, f"{name} {shapes}")


def _ulps(got: np.ndarray, ref64: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        ref32 = ref64.astype(np.float32)
        same = (got == ref32) | (np.isnan(got) & np.isnan(ref32))
        spacing = np.spacing(np.abs(ref32)).astype(np.float64)
        spacing = np.where(spacing == 0, np.float64(np.float32(1.4e-45)), spacing)
        err = np.abs(got.astype(np.float64) - ref64) / spacing
    return np.where(same, 0.0, err)


@pytest.mark.parametrize("name", [n for n in ROWS if ELEMENTWISE[n].ulp is not None])
def test_float32_kernel_accuracy_in_ulps(isa, name: str) -> None:
    row = ELEMENTWISE[name]
    rng = np.random.default_rng(7)
    lo, hi = {"pos": (0.0, 100.0)}.get(row.domain, (-100.0, 100.0))
    x = np.concatenate([rng.uniform(lo, hi, 40000), rng.uniform(lo / 100, hi / 100, 20000),
                        np.abs(rng.normal(0, 1e-38, 2000)) * (1 if lo == 0 else rng.choice([-1, 1], 2000)),
                        [v for v in SPECIALS if lo == 0 and v >= 0 or lo < 0]]).astype(np.float32)
    ref = row.ref
    if ref is None:  # the torch float64 result as the reference
        ref = lambda v: row.torch_fn(torch.tensor(v)).numpy()  # noqa: E731
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))
    got = row.fn(gc.tensor(x)).numpy()
    err = _ulps(got, want)
    worst = int(np.argmax(err))
    # The generic unit is libm's float functions (the reference twin): glibc's tanhf is 2.04
    # ulp at -0.2488, and sigmoid composes expf with a division, so it gets 1 ulp more.
    bound = row.ulp + (1 if isa == "generic" and row.ulp >= 1 else 0)
    assert err[worst] <= bound, f"{name}({x[worst]!r}) = {got[worst]!r}, expected {want[worst]!r} ({isa})"
