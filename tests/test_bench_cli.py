"""``gradcore-bench``: ``peak`` runs and reports every ISA and the triad; the compiled peers
are skipped with a note when missing; pinning, result-file names and render.py's tables
(figures printed, never asserted: benchmarks are not tests)."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
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


# ---- the compiled peers, pinning, result names, render.py (no timing asserted) ------------------
def test_missing_peers_are_skipped_with_a_note(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("jax", "torch", "micrograd"):  # None in sys.modules: `import name` raises ImportError
        monkeypatch.setitem(sys.modules, name, None)
    out_json = tmp_path / "run.json"
    assert bench.main(["tiny-step", "--batch", "1", "--repeat", "1", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "note: jax.jit skipped for tiny-step batch 1: ModuleNotFoundError" in out, out
    assert "note: torch.compile skipped for tiny-step batch 1: ImportError: torch not installed" in out, out
    (row,) = json.loads(out_json.read_text())["rows"]
    assert set(row["skipped"]) == {"jax.jit", "torch.compile"}
    assert set(row["results"]) == {"gradcore"}


def test_a_peer_that_fails_to_compile_is_skipped() -> None:
    def compiles_badly() -> bench.Timer:
        def first_call() -> None:
            raise RuntimeError("backend compiler failed\nsecond line")
        return first_call

    fns: Dict[str, bench.Timer] = {"gradcore": lambda: None}
    skipped: Dict[str, str] = {}
    bench._add_peer(fns, skipped, "torch.compile", compiles_badly)
    bench._add_peer(fns, skipped, "ok", lambda: lambda: None)
    assert skipped == {"torch.compile": "RuntimeError: backend compiler failed"}
    assert set(fns) == {"gradcore", "ok"}


ZEN4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n\n" \
       "processor\t: 1\ncpu family\t: 99\nmodel\t\t: 1\nmodel name\t: other\n"
ZEN5 = "processor\t: 0\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n"


def test_cpu_slug_tells_same_named_cpus_apart() -> None:
    assert bench.cpu_model(ZEN4) == {"cpu": "AMD EPYC", "cpu_family": 25, "cpu_model": 17}
    assert bench.cpu_slug(ZEN4) == "amd-epyc-f25m17"
    assert bench.cpu_slug(ZEN5) == "amd-epyc-f26m2"
    assert bench.cpu_slug("model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\ncpu family\t: 6\nmodel\t: 106\n") \
        == "intel-r-xeon-r-gold-6338-cpu-2-00ghz-f6m106"
    assert re.fullmatch(r"[a-z0-9-]+", bench.cpu_slug(""))  # no /proc/cpuinfo fields: still a file name
    assert re.fullmatch(r"[a-z0-9-]+", bench.cpu_slug())  # this machine


def test_pinning_and_xla_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: List[Tuple[int, List[int]]] = []
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {7, 3, 5}, raising=False)
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: calls.append((pid, list(cpus))), raising=False)
    assert bench.pin_threads(2) == [3, 5]
    assert calls and all(cpus == [3, 5] for _, cpus in calls)  # every thread of the process
    pids = {pid for pid, _ in calls}
    assert threading.get_native_id() in pids or pids == {0}  # this thread, by id (or 0 without /proc)
    assert bench.xla_flags(1) == "--xla_cpu_multi_thread_eigen=false"
    assert bench.xla_flags(2) == ""
    assert bench.xla_flags(1, "--xla_dump_to=/tmp/x ") == "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false"


def _render() -> Any:
    spec = importlib.util.spec_from_file_location("bench_render", Path(__file__).parents[1] / "bench" / "render.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(threads: int, cases: Dict[str, Tuple[float, float, float]]) -> Dict[str, Any]:
    machine = {"machine": "x86_64", "cpus": 2, "cpu": "AMD EPYC", "cpu_family": 26, "cpu_model": 2,
               "affinity": list(range(threads)), "fma_peak_gflops": 250.0 * threads, "numpy": "2", "torch": None,
               "jax": "0.10.2", "blas": "threadpoolctl not installed",
               "backend": {"isa": "avx512", "num_threads": threads}}
    rows = [{"workload": "mlp-step", "case": case, "unit": "ms",
             "results": {"gradcore": {"median": med, "min": lo, "max": hi},
                         "jax.jit": {"median": 2 * med, "min": 2 * lo, "max": 2 * hi, "ratio": 2.0}},
             "skipped": {"torch.compile": "ImportError: torch not installed"}}
            for case, (med, lo, hi) in cases.items()]
    rows.append({"workload": "peak", "case": "fma avx512 1t", "unit": "ms",
                 "results": {"gradcore": {"median": 0.0, "min": 0.0, "max": 0.0, "gflops": 250.0}}})
    return {"machine": machine, "rows": rows}


def test_render_flags_two_threads_slower_beyond_noise() -> None:
    render = _render()
    t1 = _run(1, {"batch 128": (4.0, 3.9, 4.2), "batch 1": (0.10, 0.09, 0.11), "batch 16": (1.0, 0.8, 1.5),
                  "batch 512": (9.0, 8.5, 9.5)})
    t2 = _run(2, {"batch 128": (2.0, 1.9, 2.2), "batch 1": (0.20, 0.19, 0.21), "batch 16": (1.2, 1.1, 1.3)})
    md = render.markdown([t1, t2])
    lines = {line.split(" | ")[1]: line for line in md.splitlines() if line.startswith("| mlp-step |") and
             line.count("|") == 6}
    assert set(lines) == {"batch 128", "batch 1", "batch 16"}  # batch 512 only in the 1-thread run
    assert "2.00×" in lines["batch 128"] and "⚠" not in lines["batch 128"]  # faster
    assert "0.50×" in lines["batch 1"] and "⚠" in lines["batch 1"]  # slower, ranges apart
    assert "⚠" not in lines["batch 16"]  # slower median, but within the min-max noise
    assert "fma" not in md.split("## 2 threads / 1 thread")[1]  # the peak rows have no time
    assert "Machine: AMD EPYC (family 26, model 2)" in md and "FMA peak 250 GFLOP/s on 1T, 500 GFLOP/s on 2T" in md
    assert "| torch.compile | jax.jit | micrograd |" in md
    assert "| batch 128 | 1 | 4 ms | – | – | – | – | 8 ms (2.00×) | – |" in md  # jax.jit in its column
    assert "- torch.compile skipped (mlp-step batch 128, 2T): ImportError: torch not installed" in md
    assert "## 2 threads / 1 thread" not in render.markdown([t1])


# ---- conv and cnn-step (peers eager and jax.jit; torch.compile is masked: it compiles for ~20 s) ---
def _no_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    def skip(*args: Any) -> bench.Timer:
        raise ImportError("torch.compile masked in tests")
    monkeypatch.setattr(bench, "_torch_conv_compiled", skip)
    monkeypatch.setattr(bench, "_torch_cnn_compiled", skip)
    monkeypatch.setattr(bench, "_compile_step", skip)
    measure = bench._measure  # short samples: the tests check the rows, not the timings
    monkeypatch.setattr(bench, "_measure", lambda fns, repeat, min_time=0.2: measure(fns, repeat, 0.01))


def test_conv_flop_count() -> None:
    assert bench.conv_flops(8, 64, 64, 3, 56, 56) == 2.0 * 8 * 64 * 64 * 9 * 56 * 56
    assert bench.conv_flops(8, 64, 64, 3, 56, 56, groups=64) == 2.0 * 8 * 64 * 9 * 56 * 56
    assert bench.LENET_FLOPS == 2.0 * (6 * 25 * 784 + 16 * 6 * 25 * 100 + 400 * 120 + 120 * 84 + 84 * 10)


def test_bench_conv_quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    _no_compile(monkeypatch)
    # the real cases take ~10 s here; small ones exercise the same code (the real names are in CONV_CASES)
    monkeypatch.setattr(bench, "CONV_CASES", [("3x3 8->8 @14 b2", 2, 8, 8, 14, 3, 1), ("1x1 8->16 @14 b2", 2, 8, 16, 14, 1, 1),
                                              ("dw3x3 8 @14 b2", 2, 8, 8, 14, 3, 8)])
    out_json = tmp_path / "conv.json"
    assert bench.main(["conv", "--quick", "--repeat", "1", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["case"] for r in rows] == [c[0] for c in bench.CONV_CASES]
    for r in rows:
        g = r["results"]["gradcore"]
        assert g["gflops"] > 0 and 0 < g["fraction_of_peak"]
        assert "torch.compile masked in tests" in r["skipped"]["torch.compile"]
        if "torch" in r["results"]:
            assert r["results"]["torch"]["ratio"] > 0
    assert "conv         3x3 8->8 @14 b2" in out
    assert bench.CONV_CASES[2][-1] == 8  # depthwise


def test_bench_cnn_step_quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _no_compile(monkeypatch)
    out_json = tmp_path / "cnn.json"
    assert bench.main(["cnn-step", "--quick", "--batch", "1", "--repeat", "1", "--json", str(out_json)]) == 0
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["case"] for r in rows] == ["lenet5 batch 1", "resnet8 batch 32"]
    lenet = rows[0]["results"]
    assert lenet["gradcore"]["gflops"] > 0
    if hasattr(gc.nn, "BatchNorm2d"):
        assert rows[1]["results"]["gradcore"]["median"] > 0
    else:
        assert "BatchNorm2d" in rows[1]["skipped"]["gradcore"]
    capsys.readouterr()


def test_bench_cnn_models_match_their_torch_twins() -> None:
    torch = pytest.importorskip("torch")
    builds = [bench._lenet] + ([bench._resnet8] if hasattr(gc.nn, "BatchNorm2d") else [])
    for build in builds:
        g, t = build(gc.nn), build(torch.nn)
        gs, ts = g.state_dict(), t.state_dict()
        assert list(gs) == list(ts)
        assert all(tuple(gs[k].shape) == tuple(ts[k].shape) for k in gs)


def test_gpt_flop_count() -> None:
    # qkv 3 d^2, projection d^2, MLP 8 d^2 per token, two (T x T x d) attention products, the head
    n, d = 32 * 64, 128
    per_layer = 2.0 * n * 12 * d * d + 2 * 2.0 * 32 * 64 * 64 * d
    assert bench.gpt_gemm_flops(32, **bench.GPT_SHAPE) == 4 * per_layer + 2.0 * n * d * 96


def test_bench_gpt_step_quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _no_compile(monkeypatch)
    out_json = tmp_path / "gpt.json"
    assert bench.main(["gpt-step", "--quick", "--batch", "2", "--repeat", "1", "--json", str(out_json)]) == 0
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["case"] for r in rows] == ["gpt 4x128 ctx 64 batch 2"]
    g = rows[0]["results"]["gradcore"]
    assert g["gflops"] > 0 and 0 < g["fraction_of_peak"]
    assert "torch.compile masked in tests" in rows[0]["skipped"]["torch.compile"]
    capsys.readouterr()


def test_bench_gpt_matches_its_torch_twin() -> None:
    torch = pytest.importorskip("torch")
    gc.manual_seed(0)
    g, t = bench._gpt(gc.nn, **bench.GPT_SHAPE), bench._gpt(torch.nn, **bench.GPT_SHAPE)
    t.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in g.state_dict().items()})
    x = np.random.default_rng(0).integers(0, 96, (2, 64))
    with gc.no_grad(), torch.no_grad():
        np.testing.assert_allclose(g(gc.from_numpy(x)).numpy(), t(torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-4)
def test_bench_lstm_step_quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _no_compile(monkeypatch)
    monkeypatch.setattr(bench, "LSTM_CASES", [("1x8 T4 b2 in4", 4, 2, 4, 8)])  # the real case: bench.LSTM_CASES
    out_json = tmp_path / "lstm.json"
    assert bench.main(["lstm-step", "--quick", "--repeat", "1", "--json", str(out_json)]) == 0
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["case"] for r in rows] == ["1x8 T4 b2 in4"]
    assert rows[0]["results"]["gradcore"]["gflops"] > 0
    if "torch" in rows[0]["results"]:
        assert rows[0]["results"]["torch"]["ratio"] > 0
    capsys.readouterr()


def test_bench_attention_quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_compile(monkeypatch)
    monkeypatch.setattr(bench, "ATTN_CASES", [("b1 h2 t40 d8", 1, 2, 40, 8)])
    out_json = tmp_path / "attn.json"
    assert bench.main(["attention", "--quick", "--repeat", "1", "--json", str(out_json)]) == 0
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["case"] for r in rows] == ["b1 h2 t40 d8"]
    assert rows[0]["results"]["gradcore"]["gflops"] > 0


def test_bench_ddp_quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("mpi4py")
    monkeypatch.setattr(bench, "DDP_STEPS", 2)
    monkeypatch.setattr(bench, "DDP_JOB_REPEATS", 1)
    monkeypatch.setattr(bench, "_torch", lambda: None)  # the torchrun peers take ~10 s more
    out_json = tmp_path / "ddp.json"
    assert bench.main(["ddp", "--batch", "8", "--repeat", "1", "--json", str(out_json)]) == 0
    row = json.loads(out_json.read_text())["rows"][0]
    assert row["case"].startswith("batch 8/rank")
    assert set(row["results"]) == {"gradcore", "gradcore 1 rank", "gradcore 2 ranks alone"}, row
    assert "scaling" in row["results"]["gradcore"]["note"] and row["skipped"]["torch DDP"]
