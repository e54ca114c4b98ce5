"""examples/train_lstm.py runs a few steps on a tiny generated text (issue 16)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("GRADCORE_SOURCE_ROOT") or Path(__file__).resolve().parents[1])


def test_train_lstm_tiny(tmp_path: Path) -> None:
    words = "the quick brown fox jumps over a lazy dog".split()
    text = "\n".join(" ".join(words[(i * 7 + j) % len(words)] for j in range(6)) for i in range(60))
    data = tmp_path / "tiny.txt"
    data.write_text(text)
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "train_lstm.py"), "--data", str(data), "--steps",
                           "6", "--hidden", "16", "--embed", "8", "--seq-len", "16", "--batch-size", "4", "--sample",
                           "20"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "vocabulary" in out and "step     6  train loss" in out and "val loss" in out
    assert "sample:" in out
