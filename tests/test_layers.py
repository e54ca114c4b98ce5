"""The C++ layers link downward only (csrc/README.md; CMakeLists.txt).

cpu <- kernels, cpu <- core, core + kernels <- autograd <- bindings. Two checks: every
``#include "layer/..."`` in csrc/ names the file's own layer or one below it (a static
scan), and the guards in the headers really stop a lower layer's build (the compiler
on a one-line file, as CMake would compile it).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[1] / "csrc"
# What each layer may include besides itself. core/check.h (the error types) is allowed
# everywhere.
BELOW = {
    "cpu": set(),
    "kernels": {"cpu"},
    "core": {"cpu"},
    "autograd": {"cpu", "kernels", "core"},
    "bindings": {"cpu", "kernels", "core", "autograd"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_0-9]+)/([^"]+)"', re.M)


def test_every_include_points_down() -> None:
    if not CSRC.is_dir():
        pytest.skip("no source tree (installed wheel)")
    bad = []
    for path in sorted(CSRC.rglob("*")):
        if path.suffix not in {".h", ".cpp", ".inc"}:
            continue
        layer = path.relative_to(CSRC).parts[0]
        for m in INCLUDE.finditer(path.read_text()):
            target = m.group(1)
            if target == layer or target in BELOW[layer] or (target, m.group(2)) == ("core", "check.h"):
                continue
            bad.append(f"{path.relative_to(CSRC)} includes {target}/{m.group(2)}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("layer", "header"),
    [("KERNELS", "core/tensor.h"), ("CPU", "kernels/kernels.h"), ("CORE", "autograd/node.h"),
     ("KERNELS", "autograd/ops.h"), ("AUTOGRAD", "bindings/common.h")],
)
def test_header_guard_stops_a_lower_layer(layer: str, header: str, tmp_path: Path) -> None:
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None or not CSRC.is_dir():
        pytest.skip("no C++ compiler or no source tree")
    src = tmp_path / "probe.cpp"
    src.write_text(f'#include "{header}"\n')
    base = [cxx, "-std=c++17", "-fsyntax-only", f"-I{CSRC}", str(src)]
    bad = subprocess.run([*base, f"-DGC_LAYER_{layer}=1"], capture_output=True, text=True)
    assert bad.returncode != 0 and "#error" in bad.stderr
    if header != "bindings/common.h":  # needs pybind11's headers
        ok = subprocess.run(base, capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr
