"""``gradcore-bench peak`` runs and reports every ISA and the triad (figures printed, never
asserted: benchmarks are not tests)."""
from __future__ import annotations

import pytest

import gradcore as gc
from gradcore import bench


def test_bench_peak_lists_every_isa_and_the_triad(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["peak", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for isa in gc.backend_info()["supported_isas"]:
        assert f"fma {isa} 1t" in out, out
    assert "triad 64 MiB 1t" in out and "GB/s" in out


def test_peak_probes_reject_bad_thread_counts() -> None:
    with pytest.raises(ValueError):
        gc._core._fma_peak("generic", threads=0)
    with pytest.raises(ValueError):
        gc._core._triad(1024, threads=gc.get_num_threads() + 1)
    with pytest.raises(ValueError):
        gc._core._fma_peak("no-such-isa")
    assert gc._core._fma_peak("generic", threads=1, seconds=0.01) > 0
