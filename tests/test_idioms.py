"""The PyTorch-idiom corpus (tests/idioms/*.py): each script's main() runs as written (torch)
and with the word ``torch`` replaced by ``gradcore`` (same source, imports renamed); the
returned results must agree (floats to a relative 1e-5, dtype names by their last part)."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Dict

import pytest

pytest.importorskip("torch")

IDIOMS = Path(__file__).resolve().parent / "idioms"
SCRIPTS = sorted(p.name for p in IDIOMS.glob("*.py"))
# Scripts that need an op gradcore does not have yet: strict xfail naming the op.
MISSING: Dict[str, str] = {}  # batching.py needed cat / stack / eye: issue 12 added them


def run(src: str, name: str) -> Any:
    ns: Dict[str, Any] = {"__name__": name}
    exec(compile(src, name, "exec"), ns)  # noqa: S102 - our own corpus
    return ns["main"]()


def close(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: {a} vs {b}"
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{where}[{i}]")
    elif isinstance(a, bool) or isinstance(b, bool):
        assert a is b, f"{where}: {a!r} vs {b!r}"
    elif isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, float) and isinstance(b, float), f"{where}: {a!r} vs {b!r} (types)"
        assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6), f"{where}: {a} vs {b}"
    elif isinstance(a, str):
        assert a.split(".")[-1] == b.split(".")[-1], f"{where}: {a} vs {b}"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} vs {b!r}"


@pytest.mark.parametrize("script", [
    pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=MISSING[s])) if s in MISSING else s for s in SCRIPTS])
def test_idiom_runs_the_same_on_gradcore(script: str) -> None:
    src = (IDIOMS / script).read_text()
    want = run(src, script)
    got = run(re.sub(r"\btorch\b", "gradcore", src), script)
    close(want, got, script)


def test_corpus_is_there() -> None:
    assert len(SCRIPTS) >= 10
