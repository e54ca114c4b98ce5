"""The GEMM planner (``gc._core._gemm_plan``): shape class -> path, blocking from the caches,
threads only when they pay, and the GRADCORE_GEMM_BLOCKING override. Plans only: no kernel
runs here (the products themselves are checked in test_gemm.py under simulated caches).
"""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict, Tuple

import pytest

import gradcore as gc

plan = gc._core._gemm_plan
ZEN4 = (32 << 10, 1 << 20, 16 << 20)
ZEN5 = (48 << 10, 1 << 20, 32 << 20)
SMALL = (16 << 10, 256 << 10, 2 << 20)


def path(m: int, n: int, k: int, ta: bool = False, tb: bool = False, caches: Tuple[int, int, int] = ZEN4,
         dtype: str = "float32") -> str:
    return plan(m, n, k, trans_a=ta, trans_b=tb, dtype=dtype, threads=1, caches=caches)["path"]


# (m, n, k, trans_a, trans_b, caches) -> path with the avx512 float32 micro-kernels (6x64
# main tile with a direct form, 12x16 narrow tile reading rows, vectorised transpose).
AVX512_F32 = [
    ((5, 5, 0, False, False, ZEN4), "scale"),                 # K = 0: C = beta C
    ((64, 64, 64, False, False, ZEN4), "direct"),             # small: no packing
    ((64, 64, 64, True, False, ZEN4), "direct"),              # A^T read in place too
    ((64, 64, 64, False, True, ZEN4), "transpose"),           # x @ W^T: transpose B, then direct
    ((4, 64, 64, False, True, ZEN4), "small"),                # too few rows to pay the transpose
    ((1, 1000, 1000, False, False, ZEN4), "direct"),          # batch-1 GEMV, B not transposed
    ((128, 10, 256, False, False, ZEN4), "rowdot"),           # 10-class layer: K along the lanes
    ((128, 10, 256, False, True, ZEN4), "rowdot"),            # ... with W^T
    ((128, 16, 256, False, False, ZEN4), "narrow_rows"),      # N within the narrow tile
    ((512, 10, 16, False, False, ZEN4), "narrow_rows"),       # K too short for the lanes
    ((1, 1, 784, False, False, ZEN4), "rowdot"),              # a GEMV
    ((128, 10, 256, True, False, ZEN4), "direct"),            # A^T: the narrow tile reads rows only
    ((4, 16, 256, False, False, ZEN4), "direct"),             # too few rows for the narrow tile
    ((2048, 2048, 2048, False, False, ZEN4), "packed"),       # operands far beyond L2
    ((256, 1024, 1024, False, False, ZEN4), "direct"),        # re-read operand (1 MiB) within L2
    ((256, 1024, 1024, False, False, SMALL), "packed"),       # ... but not within 256 KiB
    ((512, 1024, 1024, False, False, ZEN4), "packed"),        # 2 MiB: beyond one L2
    ((1024, 1024, 1024, False, True, ZEN4), "packed"),
    ((2048, 10, 2048, True, False, ZEN4), "direct"),          # dW of a skinny layer
    ((512, 784, 512, False, False, ZEN4), "direct"),          # K <= 512: direct whatever the size
]


@pytest.fixture
def avx512():
    if "avx512" not in gc.backend_info()["supported_isas"]:
        pytest.skip("this CPU has no AVX-512 (the other tables: test_paths_without_optional_tiles)")
    original = gc.backend_info()["isa"]
    gc._core._set_isa("avx512")
    yield
    gc._core._set_isa(original)


def test_paths_avx512_float32(avx512: None) -> None:
    for (m, n, k, ta, tb, c), want in AVX512_F32:
        assert path(m, n, k, ta, tb, c) == want, ((m, n, k, ta, tb, c), want)


def test_paths_without_optional_tiles(isa: str) -> None:
    # Tables with only the main packed micro-kernel (generic and avx2 float32/float64, and
    # avx512 float64 has no narrow tile).
    dtypes = ["float32", "float64"] if isa != "avx512" else ["float64"]
    for dt in dtypes:
        assert path(32, 32, 32, dtype=dt) in ("small", "direct")
        assert path(4, 300, 300, tb=True, dtype=dt) == "small"
        assert path(2048, 2048, 2048, dtype=dt) == "packed"
        if isa != "avx512":
            assert path(64, 64, 64, dtype=dt) == "packed"
            assert path(128, 10, 256, dtype=dt) == "packed"
        else:
            assert path(128, 10, 256, dtype=dt) == "direct"


def blocking(caches: Tuple[int, int, int], dt: str) -> Dict[str, int]:
    gc._core._set_gemm_caches(*caches)
    try:
        return gc.backend_info()["gemm_blocking"][dt]
    finally:
        gc._core._set_gemm_caches(0, 0, 0)


@pytest.mark.parametrize("dt,size", [("float32", 4), ("float64", 8)])
def test_blocking_follows_the_model(dt: str, size: int, isa: str) -> None:
    sizes = [SMALL, ZEN4, ZEN5, (64 << 10, 2 << 20, 64 << 20), (8 << 10, 128 << 10, 1 << 20)]
    prev = None
    for l1, l2, l3 in sizes:
        b = blocking((l1, l2, l3), dt)
        mr, nr, mc, kc, nc = b["mr"], b["nr"], b["mc"], b["kc"], b["nc"]
        assert kc % 16 == 0 and mc % mr == 0 and nc % nr == 0, b
        assert 64 <= kc <= 1024 and mr <= mc <= 1024 and 4 * nr <= nc <= 4096, b
        if kc > 64:   # the A micro-panel in 3/4 of L1d, the B micro-panel in 1/4 of L2
            assert mr * kc * size <= l1 * 3 // 4 and kc * nr * size <= l2 // 4, (b, l1, l2)
        if mc > mr:   # the A block and a B micro-panel in 5/8 of L2
            assert (mc * kc + kc * nr) * size <= l2 * 5 // 8, (b, l2)
        if nc > 4 * nr:  # the B panel in half the L3 share
            assert kc * nc * size <= l3 // 2, (b, l3)
        if prev is not None and l1 >= prev[0] and l2 >= prev[1]:
            assert kc >= prev[2]["kc"], (b, prev)
        prev = (l1, l2, b)


def test_blocking_reproduces_the_zen5_tuning(avx512: None) -> None:
    b = blocking(ZEN5, "float32")
    assert (b["mc"], b["kc"], b["nc"]) == (96, 1024, 4096)


def test_threads_only_when_they_pay() -> None:
    cost = (300.0, 0.05)  # ns per job, ns per moved byte
    def threads(m: int, n: int, k: int, nt: int = 2, c: Tuple[float, float] = cost) -> int:
        return plan(m, n, k, threads=nt, pool_cost=c, fma_per_ns=50.0)["threads"]
    assert threads(512, 512, 512) == 2          # 2.7 ms of work: split
    assert threads(2048, 2048, 2048, nt=8) == 8
    assert threads(64, 64, 64) == 1             # 5 us: the job's cost eats the gain
    assert threads(8, 8, 8) == 1
    assert threads(512, 512, 512, nt=1) == 1
    assert threads(64, 64, 64, c=(20000.0, 0.0)) == 1
    assert threads(512, 512, 512, c=(1e6, 0.0)) == 1     # a pool that costs 1 ms per job
    # more work never gets fewer threads
    counts = [threads(s, s, s, nt=8) for s in (16, 32, 64, 96, 128, 256, 512, 1024)]
    assert counts == sorted(counts) and counts[0] == 1 and counts[-1] == 8, counts
    assert threads(1024, 1024, 1024, nt=8, c=(300.0, 12.0)) == 1  # moving 8 MB costs more than it saves
    # nothing measured (a 1-thread pool, or inside a pool task): every thread
    assert threads(64, 64, 64, c=(0.0, 0.0)) == 2
    # the packed path's blocks follow the thread count
    p = plan(2048, 2048, 2048, threads=2, pool_cost=cost, fma_per_ns=50.0, caches=ZEN4)
    assert p["path"] == "packed" and p["threads"] == 2 and (2048 // p["block_mc"]) >= 2


def test_backend_info_reports_caches_and_blocking() -> None:
    info = gc.backend_info()
    c = info["caches"]
    assert c["source"] in ("cpuid", "sysfs", "default")
    assert 1024 <= c["l1d"] <= c["l2"] and c["l3_sharing"] >= 1 and c["simulated"] is None
    assert "threads" not in info  # the old alias of num_threads
    assert info["gemm_blocking"]["override"] is None or os.environ.get("GRADCORE_GEMM_BLOCKING")
    assert set(info["pool_cost"]) == {"fixed_ns", "per_byte_ns"}


def run_py(code: str, **env: str) -> subprocess.CompletedProcess:
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=120)


def test_blocking_override_env() -> None:
    code = ("import gradcore as gc, numpy as np\n"
            "b = gc.backend_info()['gemm_blocking']\n"
            "f = b['float32']; print(f['mc'] % f['mr'], f['kc'], b['override'])\n"
            "r = np.random.default_rng(0); A = r.standard_normal((300, 700)); B = r.standard_normal((700, 250))\n"
            "C = gc._core.mm(gc.tensor(A), gc.tensor(B)).numpy()\n"
            "print(np.abs(C - A @ B).max() < 1e-9)\n")
    r = run_py(code, GRADCORE_GEMM_BLOCKING="kc=128,mc=50")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["0 128 {'mc': 50, 'kc': 128, 'nc': 0}", "True"]


@pytest.mark.parametrize("bad", ["kc", "kc=", "kc=-5", "kc=12x", "mk=5", "kc=5,,mc=3", "kc=99999999"])
def test_blocking_override_malformed_is_a_valueerror(bad: str) -> None:
    r = run_py("import gradcore", GRADCORE_GEMM_BLOCKING=bad)
    assert r.returncode != 0
    assert "ValueError" in r.stderr and "GRADCORE_GEMM_BLOCKING" in r.stderr, r.stderr


def test_set_gemm_caches_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        gc._core._set_gemm_caches(100, 0, 0)
    with pytest.raises(ValueError):
        gc._core._set_gemm_caches(1 << 15, 1 << 10, 0)
    assert gc.backend_info()["caches"]["simulated"] is None
