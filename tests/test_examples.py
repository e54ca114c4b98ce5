"""The examples run end to end (each asserts its own results; here we check the exit code
and the key lines of their output)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# The source tree (GRADCORE_SOURCE_ROOT when tools/test_wheel.sh runs a copy of the tests).
ROOT = Path(os.environ.get("GRADCORE_SOURCE_ROOT") or Path(__file__).resolve().parents[1])


def run_example(name: str, *args: str, timeout: float = 120) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_forward_vs_reverse(tmp_path: Path) -> None:
    out = run_example("forward_vs_reverse.py", "--max-n", "1000", "--out", str(tmp_path / "fvr.png"))
    assert "forward mode (50 jvps) == reverse mode (1 backward) == NumPy formula" in out
    rows = [line.split() for line in out.splitlines() if line.strip() and line.split()[0] in ("10", "100", "1000")]
    assert [r[0] for r in rows] == ["10", "100", "1000"]
    # Timings are printed, never asserted (benchmarks are not tests); each row has a ratio.
    assert all(r[-1].endswith("x") for r in rows)


def test_autograd_tour() -> None:
    assert run_example("autograd_tour.py").strip()
