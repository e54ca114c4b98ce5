"""NaN and +-inf inputs for every op of the shared table (``tests/op_table.py``), against torch.

Each row's own inputs get special values written into them (``PATTERNS``: a NaN, a +inf, a
-inf, two of each kind together, and all three kinds at once), in float64 and float32, under
every ISA the machine supports; then the forward value and the gradient of every input (for
a random finite upstream gradient) must equal torch's, NaN for NaN and inf for inf of the
same sign (``assert_allclose`` with ``equal_nan``). Where gradcore deliberately differs from
torch, the row's ``torch_fn`` says so (gelu at +-inf: ``op_table._torch_gelu``).

Blind spots: the table's shapes are small (the special values mostly land in scalar loop
tails, not SIMD bodies: ``test_kernels.py`` sprinkles them over long vectors), and only the
first few positions of each input are overwritten.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import gradcore as gc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # op_table.py sits next to this file
from op_table import OPS  # noqa: E402

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")
# name -> values written at flat positions 0, 1, ... of every input (each input from a
# different start, so broadcast partners do not all line up on the same element).
PATTERNS: Dict[str, List[float]] = {
    "nan": [NAN], "posinf": [INF], "neginf": [-INF],
    "nan2": [NAN, NAN], "posinf2": [INF, INF], "neginf2": [-INF, -INF],  # ties of specials (max)
    "mixed": [NAN, INF, -INF],
}
DTYPES = {"f64": (gc.float64, np.float64, torch.float64, 1e-10, 1e-12),
          "f32": (gc.float32, np.float32, torch.float32, 2e-5, 2e-5)}
# Rows whose forward is not defined in float32 inputs as written (they cast on purpose).
F64_ONLY = {"to_float32_and_back"}
# linalg12: factorizations run in LAPACK (NumPy's here, torch's own there); where a NaN or inf
# spreads inside a factorization is up to the LAPACK build, and torch raises for some (eigh,
# cholesky), so these rows are checked on finite inputs only (test_linalg.py, op_table).
LAPACK_ROWS = {n for n in OPS if n.startswith("linalg_") and n != "linalg_matmul"}


def _inject(a: np.ndarray, values: List[float], start: int) -> np.ndarray:
    a = a.copy()
    flat = a.reshape(-1)
    for k, v in enumerate(values):
        if flat.size:
            flat[(start + 2 * k) % flat.size] = v
    return a


def _compare(got: np.ndarray, want: np.ndarray, what: str, rtol: float, atol: float) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch {want.shape}"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN positions differ")
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want), err_msg=f"{what}: +inf positions differ")
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want), err_msg=f"{what}: -inf positions differ")
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=atol, err_msg=what)


def _run(name: str, pattern: str, dkey: str) -> Tuple[bool, bool]:
    """Checks one (row, pattern, dtype); returns (any non-finite output, any non-finite gradient)."""
    gdt, ndt, tdt, rtol, atol = DTYPES[dkey]
    case = OPS[name]
    arrays = [_inject(t.detach().numpy(), PATTERNS[pattern], 3 * i).astype(ndt) for i, t in enumerate(case.make())]
    xs = [gc.tensor(a, dtype=gdt, requires_grad=True) for a in arrays]
    txs = [torch.tensor(a, dtype=tdt, requires_grad=True) for a in arrays]
    with np.errstate(all="ignore"):
        out = case.fn(*xs)
        tout = (case.torch_fn or case.fn)(*txs)
        what = f"{name} [{pattern}, {dkey}, {gc.backend_info()['isa']}]"
        _compare(out.detach().numpy(), tout.detach().numpy(), f"{what} forward", rtol, atol)
        rng = np.random.default_rng(5)
        up = rng.uniform(0.5, 1.5, tuple(out.shape)) * rng.choice([-1.0, 1.0], tuple(out.shape))
        grads = gc.grad([out], xs, [gc.tensor(up, dtype=out.dtype)], allow_unused=True)
        tgrads = torch.autograd.grad([tout], txs, [torch.tensor(up, dtype=tout.dtype)], allow_unused=True)
        bad_grad = False
        for i, (g, tg) in enumerate(zip(grads, tgrads)):
            gn = np.zeros(arrays[i].shape, ndt) if g is None else g.detach().numpy()
            tn = np.zeros(arrays[i].shape, ndt) if tg is None else tg.detach().numpy()
            _compare(gn, tn, f"{what} d/d(input {i})", 10 * rtol, 10 * atol)
            bad_grad |= not np.all(np.isfinite(tn))
    return not np.all(np.isfinite(tout.detach().numpy())), bad_grad


# issue 12 (nn12): rows whose first input must lie in a range that both libraries check
# (binary_cross_entropy refuses probabilities outside [0, 1], NaN included): there the special
# values must raise the same exception type in both.
RANGE_CHECKED = {"bce12_mean", "bce12_sum", "bce12_none"}


def _run_range_checked(name: str, pattern: str, dkey: str) -> None:
    gdt, ndt, tdt = DTYPES[dkey][:3]
    case = OPS[name]
    arrays = [_inject(t.detach().numpy(), PATTERNS[pattern], 3 * i).astype(ndt) for i, t in enumerate(case.make())]
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        case.fn(*[gc.tensor(a, dtype=gdt, requires_grad=True) for a in arrays])
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        (case.torch_fn or case.fn)(*[torch.tensor(a, dtype=tdt, requires_grad=True) for a in arrays])


@pytest.mark.parametrize("pattern", list(PATTERNS))
@pytest.mark.parametrize("name", [n for n in OPS if n not in LAPACK_ROWS])
def test_nonfinite_inputs_match_torch(name: str, pattern: str, isa: str) -> None:
    for dkey in DTYPES:
        if dkey == "f32" and name in F64_ONLY:
            continue
        if name in RANGE_CHECKED:
            _run_range_checked(name, pattern, dkey)
            continue
        _run(name, pattern, dkey)


def test_nonfinite_patterns_reach_the_outputs() -> None:
    """Not vacuous: for most rows some pattern makes the output non-finite (the specials get through)."""
    rows = [n for n in OPS if n not in LAPACK_ROWS and n not in RANGE_CHECKED]
    reached = [n for n in rows if any(_run(n, p, "f64")[0] for p in ("nan", "mixed"))]
    assert len(reached) >= 0.9 * len(rows), sorted(set(rows) - set(reached))
