"""The sequence-model examples (issue 16): examples/makemore.py runs end to end on a tiny
generated word list (so the Debian wamerican package is not needed), its loss falls, the
final losses and the sampled words are printed; the data pipeline builds the right
(context, next character) pairs."""
from __future__ import annotations

import importlib.util
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import gradcore as gc

ROOT = Path(os.environ.get("GRADCORE_SOURCE_ROOT") or Path(__file__).resolve().parents[1])


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _word_list(path: Path) -> Path:
    r = random.Random(0)
    syll = ["ba", "ne", "ko", "ri", "ta", "mu", "sel", "dor", "an", "est"]
    words = ["".join(r.choice(syll) for _ in range(r.randint(1, 3))) for _ in range(400)]
    words += ["Capital", "it's", "naïve", ""]  # dropped: lowercased, a-z only
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    return path


def test_makemore_data_pipeline(tmp_path: Path) -> None:
    mm = _example("makemore")
    words = mm.load_words(str(_word_list(tmp_path / "words.txt")))
    assert "capital" in words and "it's" not in words and all(w.isalpha() and w.islower() for w in words)
    stoi = {c: i + 1 for i, c in enumerate("abc")}
    stoi["."] = 0
    X, Y = mm.build(["ab", "c"], stoi)
    assert X.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [0, 0, 0], [0, 0, 3]]
    assert Y.tolist() == [1, 2, 0, 3, 0]

def test_makemore_runs_and_learns(tmp_path: Path) -> None:
    data = _word_list(tmp_path / "words.txt")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "makemore.py"), "--data", str(data),
                          "--steps", "300", "--seed", "1", "--batch-size", "64", "--eval-every", "100",
                          "--samples", "5"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "GRADCORE_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    devs = [float(m) for m in re.findall(r"dev (\d+\.\d+)\s+[\d.]+ ms/step", out.stdout)]
    assert len(devs) == 3 and devs[-1] < devs[0]
    final = re.search(r"final loss \(nats/char\): train (\S+)\s+dev (\S+)\s+test (\S+)\s+\(uniform: (\S+)\)", out.stdout)
    assert final is not None and float(final.group(2)) < float(final.group(4))
    samples = out.stdout.split("samples:\n", 1)[1].splitlines()
    assert len(samples) == 5 and all(re.fullmatch(r"  [a-z]*", s) for s in samples)
    assert "ms/step" in out.stdout and "s/epoch" in out.stdout
    assert gc.__name__ == "gradcore"
