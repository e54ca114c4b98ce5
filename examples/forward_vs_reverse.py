"""Forward mode vs reverse mode for f: R^n -> R, measured.

The tutorials' argument: forward-mode AD pushes one tangent direction through the
program per pass, so the full gradient of f: R^n -> R takes n passes; reverse mode pulls
the one output's sensitivity back to all n inputs in a single backward pass. Here both
run on the same function, for n from 10 to 10^5:

- forward: ``gc.autograd.functional.jvp`` with the i-th unit tangent, i = 1..n (each a
  forward pass on dual tensors, every op applying its forward-mode rule);
- reverse: one forward + one ``backward``.

For large n the forward side times a sample of the n passes and scales it up (marked
"est."): running all 10^5 passes at n = 10^5 means 10^10 element operations. At small n
both gradients are compared element by element.

    python examples/forward_vs_reverse.py [--out forward_vs_reverse.png] [--max-n 100000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import List, Tuple

import numpy as np

import gradcore as gc
from gradcore.autograd.functional import jvp


def f(x: gc.Tensor) -> gc.Tensor:
    """A smooth scalar function of n inputs: sum(tanh(x) * x) + 0.5 * mean(x^2) + sum(exp(-x^2))."""
    return (x.tanh() * x).sum() + (x * x).mean() * 0.5 + (-(x * x)).exp().sum()


def f_grad_numpy(x: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    return t + x * (1 - t * t) + x / x.size - 2 * x * np.exp(-x * x)


def reverse_gradient(x0: gc.Tensor) -> gc.Tensor:
    x = x0.detach().requires_grad_(True)
    f(x).backward()
    assert x.grad is not None
    return x.grad


def forward_column(x0: gc.Tensor, i: int) -> float:
    e = gc.zeros_like(x0)
    e.detach().numpy()[i] = 1.0
    _, d = jvp(f, x0, e)
    return float(d.item())


def time_reverse(x0: gc.Tensor, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        reverse_gradient(x0)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_forward(x0: gc.Tensor, n: int, budget_passes: int) -> Tuple[float, bool]:
    """Seconds for all n forward passes (measured, or scaled from a sample when n is large)."""
    passes = min(n, budget_passes)
    idx = np.linspace(0, n - 1, passes).astype(int)
    t0 = time.perf_counter()
    for i in idx:
        forward_column(x0, int(i))
    elapsed = time.perf_counter() - t0
    return elapsed * n / passes, passes < n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "forward_vs_reverse.png"))
    ap.add_argument("--max-n", type=int, default=100_000)
    ap.add_argument("--budget", type=int, default=2000, help="forward passes timed per n before scaling up")
    args = ap.parse_args()

    gc.manual_seed(0)
    rng = np.random.default_rng(0)

    # Correctness first: n forward passes give the same gradient as one reverse pass.
    x_small = gc.tensor(rng.standard_normal(50), dtype=gc.float64)
    fwd = np.array([forward_column(x_small, i) for i in range(50)])
    rev = reverse_gradient(x_small).detach().numpy()
    assert np.allclose(fwd, rev, rtol=1e-10, atol=1e-12), (fwd, rev)
    assert np.allclose(rev, f_grad_numpy(x_small.detach().numpy()), rtol=1e-10, atol=1e-12)
    print("n = 50: forward mode (50 jvps) == reverse mode (1 backward) == NumPy formula\n")

    sizes = [n for n in (10, 100, 1_000, 10_000, 100_000) if n <= args.max_n]
    rows: List[Tuple[int, float, float, bool]] = []
    print(f"{'n':>8} {'forward: n passes':>20} {'reverse: 1 pass':>17} {'fwd / rev':>11}")
    for n in sizes:
        x0 = gc.tensor(rng.standard_normal(n), dtype=gc.float32)
        t_rev = time_reverse(x0, repeat=20)
        t_fwd, estimated = time_forward(x0, n, args.budget)
        rows.append((n, t_fwd, t_rev, estimated))
        mark = " (est.)" if estimated else ""
        print(f"{n:>8} {t_fwd * 1e3:>14.2f} ms{mark:<6} {t_rev * 1e3:>12.3f} ms {t_fwd / t_rev:>10.0f}x")
    print("\nThe ratio grows ~linearly in n: forward mode needs one pass per input, reverse one per output.")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return
    ns = [r[0] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.loglog(ns, [r[1] for r in rows], "o-", label="forward mode, n passes")
    ax1.loglog(ns, [r[2] for r in rows], "s-", label="reverse mode, 1 pass")
    ax1.set_xlabel("n (inputs)")
    ax1.set_ylabel("seconds for the full gradient")
    ax1.legend()
    ax1.grid(True, which="both", alpha=0.3)
    ax2.loglog(ns, [r[1] / r[2] for r in rows], "o-", color="C2")
    ax2.set_xlabel("n (inputs)")
    ax2.set_ylabel("forward / reverse time")
    ax2.grid(True, which="both", alpha=0.3)
    fig.suptitle("Gradient of f: R^n -> R (gradcore, float32)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"plot written to {args.out}")


if __name__ == "__main__":
    main()
