"""GEMM (``gc._core.mm(a, b, trans_a, trans_b)`` = op(a) @ op(b)) against NumPy.

Shapes straddle every tile edge of the ISA's blocking (mr, nr, mc, kc, nc as reported by
``gc.backend_info()['gemm_blocking']``, +-1), plus the fixed list 1, 5, 6, 7, 15, 16, 17,
31, 32, 33, 257, primes (97, 131) and zero sizes, for all four transpose combinations, in
float32 and float64, under every ISA the machine supports and under three simulated cache
hierarchies (``gc._core._set_gemm_caches``: the blocking is derived from them, so each
gives other block edges and other paths).

Oracles: (1) NumPy float64 with a forward-error bound |C - C_ref| <= 4 u K (|A| |B|), where
u is the unit roundoff of the dtype; (2) small-integer inputs, for which every partial sum is
exact in both dtypes, so the result must equal NumPy's bit for bit.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pytest

import gradcore as gc

DTYPES = {"f32": (gc.float32, np.float32), "f64": (gc.float64, np.float64)}
TRANS = [(False, False), (True, False), (False, True), (True, True)]
EDGES = [1, 5, 6, 7, 15, 16, 17, 31, 32, 33, 97, 131, 257]


# One core's (L1d, L2, L3 share) in bytes: a small old core, Zen 4-like, Zen 5-like.
CACHES = {"small": (16 << 10, 256 << 10, 2 << 20), "zen4": (32 << 10, 1 << 20, 16 << 20),
          "zen5": (48 << 10, 1 << 20, 32 << 20)}


@pytest.fixture(params=list(CACHES))
def caches(request: pytest.FixtureRequest):
    gc._core._set_gemm_caches(*CACHES[request.param])
    try:
        info = gc.backend_info()
        assert info["caches"]["simulated"] == dict(zip(("l1d", "l2", "l3"), CACHES[request.param]))
        yield request.param
    finally:
        gc._core._set_gemm_caches(0, 0, 0)
    assert gc.backend_info()["caches"]["simulated"] is None


def blocking(dtype_name: str) -> Dict[str, int]:
    return gc.backend_info()["gemm_blocking"]["float32" if dtype_name == "f32" else "float64"]


def shapes_for(dtype_name: str) -> List[Tuple[int, int, int]]:
    """(M, N, K) triples: one-dimension sweeps over edge values, with the other two at edges too."""
    b = blocking(dtype_name)
    mr, nr, mc, kc = b["mr"], b["nr"], b["mc"], b["kc"]
    m_vals = sorted({0, *EDGES[:-1], mr - 1, mr, mr + 1, 2 * mr + 1, mc - 1, mc, mc + 1})
    n_vals = sorted({0, *EDGES[:-1], nr - 1, nr, nr + 1, 2 * nr + 1})
    k_vals = sorted({0, *EDGES, kc - 1, kc, kc + 1, 2 * kc + 1})
    m_vals = [v for v in m_vals if v >= 0]
    n_vals = [v for v in n_vals if v >= 0]
    shapes = set()
    for m in m_vals:
        shapes.add((m, 17, 33))
        shapes.add((m, nr + 1, kc + 1))
    for n in n_vals:
        shapes.add((7, n, 33))
        shapes.add((mr + 1, n, kc + 1))
    for k in k_vals:
        shapes.add((7, 17, k))
        shapes.add((mc + 1, nr + 1, k))
    shapes |= {
        (97, 131, 257), (131, 97, 131), (257, 33, 97), (33, 257, 1),
        (0, 0, 0), (0, 5, 3), (5, 0, 3), (5, 3, 0), (0, 0, 7), (1, 1, 1),
        (3, b["nc"] + 1, 5),  # past the NC block
    }
    shapes |= {(130, n, 47) for n in range(1, 11)} | {(3, 10, 1000), (1, 1, 64)}  # the row-dot tile (N <= 10)
    return sorted(shapes)


def stored(x: np.ndarray, trans: bool) -> np.ndarray:
    """The array to pass so that op(stored) == x."""
    return np.ascontiguousarray(x.T) if trans else x


@pytest.mark.parametrize("trans_a,trans_b", TRANS, ids=["NN", "TN", "NT", "TT"])
@pytest.mark.parametrize("dname", list(DTYPES))
def test_mm_matches_numpy(dname: str, trans_a: bool, trans_b: bool, isa: str, caches: str) -> None:
    dtype, np_dtype = DTYPES[dname]
    u = float(np.finfo(np_dtype).eps) / 2
    rng = np.random.default_rng(1)
    for m, n, k in shapes_for(dname):
        A = rng.standard_normal((m, k)).astype(np_dtype)
        B = rng.standard_normal((k, n)).astype(np_dtype)
        C = gc._core.mm(gc.tensor(stored(A, trans_a), dtype=dtype), gc.tensor(stored(B, trans_b), dtype=dtype),
                        trans_a=trans_a, trans_b=trans_b)
        where = f"{dname} {isa} caches={caches} trans=({trans_a},{trans_b}) M,N,K=({m},{n},{k})"
        assert C.shape == (m, n), where
        assert C.dtype == dtype, where
        got = C.detach().numpy().astype(np.float64)
        A64, B64 = A.astype(np.float64), B.astype(np.float64)
        ref = A64 @ B64
        bound = 4 * u * max(k, 1) * (np.abs(A64) @ np.abs(B64)) + 1e-300
        err = np.abs(got - ref)
        assert np.all(np.isfinite(got)), where
        assert np.all(err <= bound), f"{where}: max excess {np.max(err - bound)} at {np.unravel_index(np.argmax(err - bound), err.shape)}"

        # small integers: exact in both dtypes, so bitwise equality with NumPy
        Ai = rng.integers(-4, 5, (m, k)).astype(np_dtype)
        Bi = rng.integers(-4, 5, (k, n)).astype(np_dtype)
        Ci = gc._core.mm(gc.tensor(stored(Ai, trans_a), dtype=dtype), gc.tensor(stored(Bi, trans_b), dtype=dtype),
                         trans_a=trans_a, trans_b=trans_b)
        np.testing.assert_array_equal(Ci.detach().numpy(), Ai @ Bi, err_msg=where)


@pytest.mark.parametrize("dname", list(DTYPES))
def test_mm_zero_k_gives_zeros_even_in_recycled_memory(dname: str, isa: str) -> None:
    # K = 0 means C = 0 exactly. The output buffer may come from the caching allocator full of
    # NaNs; C = 0 * C + ... would then leak NaN, so fill same-sized blocks with NaN first.
    dtype, _ = DTYPES[dname]
    for m, n in [(7, 17), (64, 64), (1, 1)]:
        junk = [gc.full((m, n), float("nan"), dtype=dtype) for _ in range(8)]
        del junk
        C = gc._core.mm(gc.zeros(m, 0, dtype=dtype), gc.zeros(0, n, dtype=dtype))
        np.testing.assert_array_equal(C.detach().numpy(), np.zeros((m, n)))
        junk = [gc.full((m, n), float("nan"), dtype=dtype) for _ in range(8)]
        del junk
        a = gc.ones(m, 3, dtype=dtype)
        b = gc.ones(3, n, dtype=dtype)
        np.testing.assert_array_equal(gc._core.mm(a, b).detach().numpy(), np.full((m, n), 3.0))


@pytest.mark.parametrize("dname", list(DTYPES))
def test_mm_matches_matmul_operator(dname: str) -> None:
    dtype, np_dtype = DTYPES[dname]
    rng = np.random.default_rng(5)
    A = gc.tensor(rng.standard_normal((33, 65)), dtype=dtype)
    B = gc.tensor(rng.standard_normal((65, 17)), dtype=dtype)
    np.testing.assert_array_equal(gc._core.mm(A, B).detach().numpy(), (A @ B).detach().numpy())
    np.testing.assert_array_equal(gc._core.mm(A.T, B, trans_a=True).detach().numpy(), (A @ B).detach().numpy())


@pytest.mark.parametrize("dname", list(DTYPES))
def test_mm_bitwise_identical_for_1_and_2_threads(dname: str, isa: str, caches: str, restore_threads: int) -> None:
    dtype, np_dtype = DTYPES[dname]
    rng = np.random.default_rng(2)
    b = blocking(dname)
    cases = [(301, 299, 257), (b["mc"] * 2 + 1, 2 * b["nr"] + 3, b["kc"] * 2 + 1), (1000, 64, 513), (64, 1000, 100), (1000, 10, 300)]
    results: Dict[int, List[np.ndarray]] = {}
    for nthreads in (1, 2):
        gc.set_num_threads(nthreads)
        out = []
        for m, n, k in cases:
            for ta, tb in TRANS:
                A = gc.tensor(stored(rng.standard_normal((m, k)), ta), dtype=dtype)
                B = gc.tensor(stored(rng.standard_normal((k, n)), tb), dtype=dtype)
                out.append(gc._core.mm(A, B, trans_a=ta, trans_b=tb).detach().numpy().copy())
        results[nthreads] = out
        rng = np.random.default_rng(2)  # same inputs for the second pass
    for i, (one, two) in enumerate(zip(results[1], results[2])):
        np.testing.assert_array_equal(one, two, err_msg=f"case {i}")
