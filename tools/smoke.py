"""Smoke test of an installed gradcore, deterministic, small enough to run under qemu.

    python tools/smoke.py                      # print the ISA and the results
    python tools/smoke.py --json out.json      # ... and write them as JSON
    python tools/smoke.py --compare ref.json other.json [--rtol 1e-4 --atol 1e-5]

Every input comes from NumPy generators and gc.manual_seed with fixed seeds, so two runs
on different ISAs (avx512 natively, avx2 under `qemu-x86_64 -cpu Haswell`, generic under
`-cpu Nehalem`) must print the same values up to float rounding (FMA, blocking order).
It covers elementwise ops and broadcasting, reductions, matmul (float32 and float64,
plain and transposed, odd sizes that hit the kernels' edge paths), softmax / log_softmax /
cross_entropy with gradients, a tiny MLP trained for a few SGD and Adam steps, and the
RNG. `--compare` exits 1 when a value differs beyond the tolerance.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def _arr(t) -> list:
    return np.asarray(t.detach().numpy() if hasattr(t, "numpy") else t, dtype=np.float64).ravel().tolist()


def run() -> dict:
    import gradcore as gc
    import gradcore.nn as nn
    import gradcore.nn.functional as F

    out: dict = {}
    info = gc.backend_info()
    out["isa"] = info["isa"]
    rng = np.random.default_rng(1234)

    # elementwise + broadcasting + reductions, with gradients
    a_np = rng.standard_normal((5, 7)).astype(np.float32)
    b_np = rng.standard_normal((1, 7)).astype(np.float32)
    a = gc.tensor(a_np, requires_grad=True)
    b = gc.tensor(b_np, requires_grad=True)
    y = gc.tanh(a * b + gc.exp(-gc.abs(a))) - gc.sigmoid(a) / (1.0 + b * b) + gc.relu(a - b)
    out["elementwise"] = _arr(y)
    s = (y * y).sum() + y.mean() + gc.amax(y, 1).sum()
    s.backward()
    out["elementwise_loss"] = _arr(s)
    out["elementwise_grad_a"] = _arr(a.grad)
    out["elementwise_grad_b"] = _arr(b.grad)

    # matmul: float32 / float64, odd sizes, transposed operands
    for dt_name, dt_np, dt in (("f32", np.float32, gc.float32), ("f64", np.float64, gc.float64)):
        m_np = rng.standard_normal((37, 53)).astype(dt_np)
        n_np = rng.standard_normal((53, 29)).astype(dt_np)
        m = gc.tensor(m_np, dtype=dt, requires_grad=True)
        n = gc.tensor(n_np, dtype=dt, requires_grad=True)
        p = gc.matmul(m, n)
        out[f"matmul_{dt_name}"] = _arr(p)
        out[f"matmul_{dt_name}_numpy_maxdiff"] = float(np.max(np.abs(p.detach().numpy().astype(np.float64)
                                                                   - m_np.astype(np.float64) @ n_np.astype(np.float64))))
        (p * p).sum().backward()
        out[f"matmul_{dt_name}_grad_m"] = _arr(m.grad)
        out[f"matmul_{dt_name}_grad_n"] = _arr(n.grad)
        pt = gc.mm(gc.transpose(n, 0, 1), gc.transpose(m, 0, 1)) if hasattr(gc, "mm") else gc.matmul(n.T, m.T)
        out[f"matmul_{dt_name}_transposed"] = _arr(pt)

    # softmax, log_softmax, cross_entropy with gradients
    logits_np = (rng.standard_normal((9, 6)) * 4).astype(np.float32)
    labels = rng.integers(0, 6, 9)
    logits = gc.tensor(logits_np, requires_grad=True)
    out["softmax"] = _arr(gc.softmax(logits, -1))
    out["log_softmax"] = _arr(gc.log_softmax(logits, -1))
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    out["cross_entropy"] = _arr(loss)
    out["cross_entropy_grad"] = _arr(logits.grad)

    # tiny MLP: a few SGD steps, then a few Adam steps
    gc.manual_seed(7)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))
    X = rng.standard_normal((32, 8)).astype(np.float32)
    Y = rng.integers(0, 3, 32)
    losses = []
    for opt in (gc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                gc.optim.Adam(model.parameters(), lr=0.01)):
        for _ in range(5):
            opt.zero_grad()
            loss = F.cross_entropy(model(gc.tensor(X)), Y)
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
    out["mlp_losses"] = losses
    out["mlp_params"] = [v for p in model.parameters() for v in _arr(p)]

    # RNG: seeded draws are reproducible and ISA-independent
    gc.manual_seed(99)
    out["randn"] = _arr(gc.randn(4, 5))
    out["rand"] = _arr(gc.rand(3, 3))
    return out


def _summary(res: dict) -> None:
    print(f"isa: {res['isa']}")
    for k, v in res.items():
        if k == "isa":
            continue
        vals = v if isinstance(v, list) else [v]
        arr = np.asarray(vals, dtype=np.float64)
        head = ", ".join(f"{x:.6g}" for x in arr[:4])
        print(f"  {k:<28} n={arr.size:<5} sum={arr.sum():.9g}  [{head}{', ...' if arr.size > 4 else ''}]")


def compare(ref_path: str, other_path: str, rtol: float, atol: float) -> int:
    with open(ref_path) as f:
        ref = json.load(f)
    with open(other_path) as f:
        oth = json.load(f)
    print(f"compare {other_path} (isa {oth.get('isa')}) against {ref_path} (isa {ref.get('isa')}), "
          f"rtol={rtol} atol={atol}")
    bad = 0
    worst = 0.0
    for k, v in ref.items():
        if k == "isa" or k.endswith("_numpy_maxdiff"):
            continue
        if k not in oth:
            print(f"  MISSING {k}")
            bad += 1
            continue
        r = np.asarray(v, dtype=np.float64)
        o = np.asarray(oth[k], dtype=np.float64)
        if r.shape != o.shape:
            print(f"  SHAPE {k}: {r.shape} vs {o.shape}")
            bad += 1
            continue
        diff = float(np.max(np.abs(r - o))) if r.size else 0.0
        worst = max(worst, diff)
        ok = bool(np.allclose(o, r, rtol=rtol, atol=atol)) and np.all(np.isfinite(o) == np.isfinite(r))
        print(f"  {'ok  ' if ok else 'FAIL'} {k:<28} max|diff|={diff:.3g}")
        bad += not ok
    for k in ("matmul_f32_numpy_maxdiff", "matmul_f64_numpy_maxdiff"):
        print(f"  {k} (vs NumPy, this run): {oth.get(k)}")
    print(f"compare: {'OK' if not bad else f'{bad} MISMATCHES'} (worst max|diff| {worst:.3g})")
    return 1 if bad else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--compare", nargs=2, metavar=("REF", "OTHER"))
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--atol", type=float, default=1e-5)
    args = ap.parse_args(argv)
    if args.compare:
        return compare(*args.compare, rtol=args.rtol, atol=args.atol)
    import gradcore
    print(f"gradcore: {gradcore.__file__}")
    res = run()
    _summary(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
