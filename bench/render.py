"""Render gradcore-bench JSON runs (one per thread count) into a markdown table (with a
"2 threads / 1 thread" table when both runs are there), a PNG plot and one combined JSON.

    python bench/render.py RUN-t1.json RUN-t2.json --out bench/results/DATE-CPU
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List, Optional, Tuple

# The table's peer columns: (JSON key, heading).
PEERS: List[Tuple[str, str]] = [("numpy", "NumPy"), ("torch", "PyTorch"), ("torch-fused", "PyTorch fused Adam"),
                                ("torch.compile", "torch.compile"), ("jax.jit", "jax.jit"),
                                ("micrograd", "micrograd")]


def load(paths: List[str]) -> List[Dict[str, Any]]:
    runs = []
    for p in paths:
        with open(p) as f:
            runs.append(json.load(f))
    return runs


def _threads(run: Dict[str, Any]) -> int:
    return int(run["machine"]["backend"]["num_threads"])


def machine_line(runs: List[Dict[str, Any]]) -> str:
    """Which machine the runs come from: CPU model (family, model), CPUs, FMA peak per run,
    ISA, the pinning and the peers' versions."""
    info = runs[0]["machine"]
    blas = info.get("blas")
    kern = ", ".join(f"{b.get('internal_api')} {b.get('architecture')}" for b in blas) if isinstance(blas, list) else blas
    cpu = info.get("cpu", info["machine"])
    if "cpu_family" in info:
        cpu += f" (family {info['cpu_family']}, model {info.get('cpu_model')})"
    peaks = ", ".join(f"{r['machine']['fma_peak_gflops']:.0f} GFLOP/s on {_threads(r)}T" for r in runs
                      if r["machine"].get("fma_peak_gflops"))
    pins = "; ".join(f"{_threads(r)}T pinned to CPUs {r['machine']['affinity']}" for r in runs
                     if r["machine"].get("affinity") is not None)
    line = (f"Machine: {cpu}, {info['cpus']} CPUs; gradcore ISA {info['backend']['isa']}"
            + (f", FMA peak {peaks}" if peaks else "") + (f"; {pins}" if pins else "")
            + f"; NumPy {info['numpy']} (BLAS: {kern}); torch {info['torch']}")
    if info.get("jax"):
        line += f"; jax {info['jax']}"
    return line + "."


def table(runs: List[Dict[str, Any]]) -> str:
    lines = [machine_line(runs), ""]
    lines.append("| workload | case | threads | gradcore | " + " | ".join(h for _, h in PEERS) + " |")
    lines.append("|---|---|---|---|" + "---|" * len(PEERS))
    notes = []
    for run in runs:
        threads = _threads(run)
        for row in run["rows"]:
            notes += [f"- {peer} skipped ({row['workload']} {row['case']}, {threads}T): {why}"
                      for peer, why in row.get("skipped", {}).items()]
            res = row["results"]
            g = res["gradcore"]
            unit = row["unit"]

            def cell(peer: str) -> str:
                r = res.get(peer)
                if not r:
                    return "–"
                s = f"{r['median']:.3g} {unit}"
                if "ratio" in r:
                    s += f" ({r['ratio']:.2f}×)"
                return s

            gcell = f"{g['median']:.3g} {unit}"
            if "gflops" in g and row["workload"] == "gemm":
                gcell += f", {g['gflops']:.0f} GFLOP/s"
            if "GB/s" in g:
                gcell += f", {g['GB/s']:.0f} GB/s"
            lines.append(f"| {row['workload']} | {row['case']} | {threads} | {gcell} | "
                         + " | ".join(cell(k) for k, _ in PEERS) + " |")
    lines.append("")
    lines.append("Ratios are peer time / gradcore time, measured side by side in one run (> 1: gradcore is faster).")
    if notes:
        lines += [""] + notes
    return "\n".join(lines)


def _by_case(run: Dict[str, Any]) -> Dict[Tuple[str, str], Dict[str, Any]]:
    """gradcore's result per (workload, case) of a run; the peak rows (no time) left out."""
    return {(r["workload"], r["case"]): r["results"]["gradcore"] for r in run["rows"]
            if r["workload"] != "peak" and r["results"].get("gradcore", {}).get("median")}


def threads_table(t1: Dict[str, Any], t2: Dict[str, Any]) -> str:
    """gradcore's 2-thread speed-up (1T median / 2T median) for every workload and case in
    both runs. Flagged when 2 threads are slower than 1 by more than the run-to-run noise:
    the two min-max ranges do not overlap (the fastest 2T sample is slower than the slowest
    1T sample)."""
    one, two = _by_case(t1), _by_case(t2)
    lines = ["| workload | case | 1 thread | 2 threads | 2T / 1T speed-up |", "|---|---|---|---|---|"]
    unit = {(r["workload"], r["case"]): r["unit"] for r in t1["rows"]}
    for key in (k for k in one if k in two):
        a, b = one[key], two[key]
        flag = " ⚠ 2T slower than 1T" if b["min"] > a["max"] else ""
        u = unit[key]
        lines.append(f"| {key[0]} | {key[1]} | {a['median']:.3g} {u} ({a['min']:.3g}–{a['max']:.3g}) | "
                     f"{b['median']:.3g} {u} ({b['min']:.3g}–{b['max']:.3g}) | "
                     f"{a['median'] / b['median']:.2f}×{flag} |")
    lines.append("")
    lines.append("Speed-up = 1-thread median / 2-thread median of gradcore; ⚠: the 2-thread min–max range lies "
                 "wholly above the 1-thread one (slower beyond the run-to-run noise).")
    return "\n".join(lines)


def thread_pair(runs: List[Dict[str, Any]]) -> Optional[Tuple[Dict[str, Any], Dict[str, Any]]]:
    """The 1-thread and the 2-thread run among ``runs``, if both are there."""
    by = {_threads(r): r for r in runs}
    return (by[1], by[2]) if 1 in by and 2 in by else None


def markdown(runs: List[Dict[str, Any]]) -> str:
    """The whole .md: the machine, the side-by-side table, and the 2T / 1T table."""
    out = table(runs)
    pair = thread_pair(runs)
    if pair:
        out += "\n\n## 2 threads / 1 thread\n\n" + threads_table(*pair)
    return out


def plot(runs: List[Dict[str, Any]], path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ax = axes[0]
    for run, style in zip(runs, ("-", "--")):
        threads = _threads(run)
        squares = [r for r in run["rows"] if r["workload"] == "gemm" and r["case"].count(",") == 2
                   and len(set(r["case"].strip("()").split(","))) == 1]
        sizes = [int(r["case"].strip("()").split(",")[0]) for r in squares]
        for peer, color in (("gradcore", "C0"), ("numpy", "C1"), ("torch", "C2"), ("jax.jit", "C3")):
            ys = [r["results"].get(peer, {}).get("gflops") for r in squares]
            if any(y is not None for y in ys):
                ax.plot(sizes, ys, style, color=color, marker="o", label=f"{peer} {threads}T")
        peak = run["machine"].get("fma_peak_gflops")
        if peak:
            ax.axhline(peak, color="gray", linestyle=style, linewidth=0.8, label=f"FMA peak {threads}T")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n (n×n×n sgemm)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title("sgemm")
    ax.legend(fontsize=7)
    ax = axes[1]
    bar_peers = ("torch", "torch-fused", "torch.compile", "jax.jit", "numpy")
    width = 0.8 / (len(bar_peers) * len(runs))
    for i, run in enumerate(runs):
        threads = _threads(run)
        rows = [r for r in run["rows"] if r["workload"] == "mlp-step"]
        batches = [r["case"].split()[-1] for r in rows]
        for j, peer in enumerate(bar_peers):
            ys = [r["results"].get(peer, {}).get("ratio", 0) for r in rows]
            xs = [k - 0.4 + (i * len(bar_peers) + j + 0.5) * width for k in range(len(rows))]
            ax.bar(xs, ys, width, label=f"vs {peer} {threads}T")
        ax.set_xticks(range(len(batches)))
        ax.set_xticklabels([f"batch {b}" for b in batches])
    ax.axhline(1.0, color="gray", linewidth=0.8)
    ax.set_ylabel("speed-up of gradcore (peer time / gradcore time)")
    ax.set_title("mlp-step 784-512-256-10, Adam")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", required=True, help="output path without extension")
    args = ap.parse_args()
    runs = load(args.runs)
    with open(args.out + ".json", "w") as f:
        json.dump(runs, f, indent=1)
    with open(args.out + ".md", "w") as f:
        f.write(markdown(runs) + "\n")
    plot(runs, args.out + ".png")


if __name__ == "__main__":
    main()
