"""AVX/AVX-512 code stays inside the per-ISA kernel units (PACKAGING.md, the one-definition trap).

Runs tools/check_isa_isolation.sh (objdump of the built extension, function by function) on
the extension that `gradcore._core` was loaded from. The script needs the source tree (found
next to this file, or through GRADCORE_SOURCE_ROOT when the tests run from a copy, as
tools/test_wheel.sh does), objdump, and a .so with a symbol table: a stripped build (pybind11
strips Release builds) is checked through its unstripped twin with the same build-id, which
tools/build_wheel.sh keeps in build/wheel. Anything missing -> the test skips, saying why.
A second test proves that the checker does catch the trap, on a tiny library built here.
"""
from __future__ import annotations

import os
import pathlib
import platform
import shutil
import subprocess
import sys
import textwrap

import pytest

import gradcore as gc

SKIP_RC = 77  # the script's "cannot check here"


def _script() -> pathlib.Path | None:
    roots = []
    if os.environ.get("GRADCORE_SOURCE_ROOT"):
        roots.append(pathlib.Path(os.environ["GRADCORE_SOURCE_ROOT"]))
    roots.append(pathlib.Path(__file__).resolve().parents[1])
    for root in roots:
        p = root / "tools" / "check_isa_isolation.sh"
        if p.is_file():
            return p
    return None


def _need_tools() -> pathlib.Path:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("ISA isolation is an x86-64 concern")
    if shutil.which("objdump") is None or shutil.which("readelf") is None or shutil.which("bash") is None:
        pytest.skip("objdump/readelf (binutils) or bash not available")
    script = _script()
    if script is None:
        pytest.skip("tools/check_isa_isolation.sh not found (set GRADCORE_SOURCE_ROOT to the source tree)")
    return script


def _run(script: pathlib.Path, so: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(["bash", str(script), so], capture_output=True, text=True, timeout=600, env=env)


def test_extension_keeps_simd_code_in_its_isa_units():
    script = _need_tools()
    so = getattr(gc._core, "__file__", None)
    if not so or not os.path.isfile(so):
        pytest.skip("cannot locate the built extension through gradcore._core.__file__")
    res = _run(script, so)
    if res.returncode == SKIP_RC:
        pytest.skip(res.stdout.strip().splitlines()[-2 if len(res.stdout.strip().splitlines()) > 1 else -1])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ISA isolation: OK" in res.stdout


TRAP_ISA = textwrap.dedent("""
    // An "AVX-512 unit" that breaks the rule: a shared inline function outside any per-ISA
    // anonymous namespace. Linked first, its copy of scale() is the one the linker keeps.
    #include "shared.h"
    namespace gradcore { namespace avx512 { namespace {
    void kernel(float* x, long n) { scale(x, n, 2.0f); }
    } }
    void init_avx512(void (**out)(float*, long)) { *out = avx512::kernel; }
    }
""")
TRAP_BASE = textwrap.dedent("""
    #include "shared.h"
    namespace gradcore { void baseline_op(float* x, long n) { scale(x, n, 3.0f); } }
""")
TRAP_HEADER = textwrap.dedent("""
    #pragma once
    __attribute__((noinline)) inline void scale(float* x, long n, float s) {
      for (long i = 0; i < n; ++i) x[i] = x[i] * s + 1.0f;
    }
""")


def test_checker_catches_the_one_definition_trap(tmp_path):
    script = _need_tools()
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler to build the trap library")
    (tmp_path / "shared.h").write_text(TRAP_HEADER)
    (tmp_path / "isa.cpp").write_text(TRAP_ISA)
    (tmp_path / "base.cpp").write_text(TRAP_BASE)
    flags = ["-O3", "-fPIC", "-c"]
    subprocess.run([cxx, *flags, "-mavx512f", "-mprefer-vector-width=512", "isa.cpp", "-o", "isa.o"],
                   cwd=tmp_path, check=True)
    subprocess.run([cxx, *flags, "base.cpp", "-o", "base.o"], cwd=tmp_path, check=True)
    subprocess.run([cxx, "-shared", "isa.o", "base.o", "-o", "_core_trap.so"], cwd=tmp_path, check=True)
    res = _run(script, str(tmp_path / "_core_trap.so"))
    assert res.returncode == 1, res.stdout + res.stderr
    # The merged AVX-512 copy of scale() is reported as baseline code using zmm registers.
    flagged = [ln for ln in res.stdout.splitlines() if ln.strip().startswith("[baseline]")]
    assert any("scale(float*, long, float)" in ln for ln in flagged), res.stdout
    assert "zmm" in res.stdout.split("FAIL:", 1)[1], res.stdout
