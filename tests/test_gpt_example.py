"""examples/train_gpt.py: the script trains end to end on a tiny text file written here (the
Debian ``fortunes`` package is not needed), samples, and its checkpoint gives the same logits
in the same architecture built with torch.nn; the text reader and the weight-decay groups."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import gradcore as gc

ROOT = Path(os.environ.get("GRADCORE_SOURCE_ROOT") or Path(__file__).resolve().parents[1])
TINY = ["--steps", "4", "--eval-every", "2", "--dim", "32", "--heads", "2", "--layers", "1", "--context", "16",
        "--batch-size", "4", "--sample", "40"]


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_train_gpt", ROOT / "examples" / "train_gpt.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def tiny_text(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    words = ["fortune", "cookie", "says", "you", "will", "write", "tests", "today", "%"]
    text = "\n".join(" ".join(rng.choice(words, 6)) for _ in range(200)) + "\n"
    path = tmp_path / "fortunes.txt"
    path.write_text(text)
    return path


def test_gpt_script_trains_samples_and_checks_torch(tmp_path: Path, tiny_text: Path) -> None:
    out = tmp_path / "gpt.safetensors"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "train_gpt.py"), "--data", str(tiny_text),
                           "--out", str(out), *TINY], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = re.findall(r"step +(\d+) +train ([\d.]+) +val ([\d.]+) .* ms/step", proc.stdout)
    assert [s[0] for s in steps] == ["2", "4"]
    assert all(0 < float(v) < 10 for s in steps for v in s[1:])
    assert "---- sample ----" in proc.stdout
    assert out.exists()
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    diff = re.search(r"max \|logit difference\| ([\d.e+-]+)", proc.stdout)
    assert diff is not None and float(diff.group(1)) < 1e-4


def test_gpt_script_without_data_says_where_to_get_it(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "train_gpt.py"), "--data",
                           str(tmp_path / "missing"), "--out", str(tmp_path / "x.safetensors")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "apt-get install fortunes" in proc.stderr


def test_read_text_skips_index_files_and_non_ascii(tmp_path: Path) -> None:
    ex = _example()
    (tmp_path / "b").write_bytes(b"second\x08_\n%\n")
    (tmp_path / "a").write_bytes("first caf\xe9\n".encode("latin-1"))
    (tmp_path / "a.dat").write_bytes(b"\x00\x01binary")
    os.symlink(tmp_path / "a", tmp_path / "a.u8")
    assert ex.read_text(str(tmp_path)) == "first caf\nsecond_\n%\n"


def test_weight_decay_only_on_the_matrices() -> None:
    ex = _example()
    gc.manual_seed(0)
    model = ex.gpt(20, context=8, dim=16, heads=2, layers=1)
    decay, rest = ex.param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.1 and rest["weight_decay"] == 0.0
    assert sorted(names[id(p)] for p in decay["params"]) == sorted(
        n for n, p in model.named_parameters() if n.endswith("weight") and p.dim() == 2 and n[:4] not in ("tok.", "pos."))
    assert len(decay["params"]) + len(rest["params"]) == len(list(model.parameters()))
