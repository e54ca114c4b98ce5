"""Render gradcore-bench JSON runs (one per thread count) into a markdown table, a PNG plot
and one combined JSON.

    python bench/render.py RUN-t1.json RUN-t2.json --out bench/results/DATE-MACHINE
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List

FMA_PEAK_PER_CORE = 250.0  # GFLOP/s, AVX-512 FMA, this VM (BENCHMARKS.md)


def load(paths: List[str]) -> List[Dict[str, Any]]:
    runs = []
    for p in paths:
        with open(p) as f:
            runs.append(json.load(f))
    return runs


def table(runs: List[Dict[str, Any]]) -> str:
    lines = []
    info = runs[0]["machine"]
    blas = info.get("blas")
    kern = ", ".join(f"{b.get('internal_api')} {b.get('architecture')}" for b in blas) if isinstance(blas, list) else blas
    lines.append(f"Machine: {info.get('cpu', info['machine'])}, {info['cpus']} CPUs; gradcore ISA "
                 f"{info['backend']['isa']}; NumPy {info['numpy']} (BLAS: {kern}); torch {info['torch']}.")
    lines.append("")
    lines.append("| workload | case | threads | gradcore | NumPy | PyTorch | PyTorch fused Adam | micrograd |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for run in runs:
        threads = run["machine"]["backend"]["num_threads"]
        for row in run["rows"]:
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
            lines.append(f"| {row['workload']} | {row['case']} | {threads} | {gcell} | {cell('numpy')} | "
                         f"{cell('torch')} | {cell('torch-fused')} | {cell('micrograd')} |")
    lines.append("")
    lines.append("Ratios are peer time / gradcore time, measured side by side in one run (> 1: gradcore is faster).")
    return "\n".join(lines)


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
        threads = run["machine"]["backend"]["num_threads"]
        squares = [r for r in run["rows"] if r["workload"] == "gemm" and r["case"].count(",") == 2
                   and len(set(r["case"].strip("()").split(","))) == 1]
        sizes = [int(r["case"].strip("()").split(",")[0]) for r in squares]
        for peer, color in (("gradcore", "C0"), ("numpy", "C1"), ("torch", "C2")):
            ys = [r["results"].get(peer, {}).get("gflops") for r in squares]
            if any(y is not None for y in ys):
                ax.plot(sizes, ys, style, color=color, marker="o", label=f"{peer} {threads}T")
        ax.axhline(FMA_PEAK_PER_CORE * threads, color="gray", linestyle=style, linewidth=0.8,
                   label=f"FMA peak {threads}T")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n (n×n×n sgemm)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title("sgemm")
    ax.legend(fontsize=7)
    ax = axes[1]
    width = 0.2
    for i, run in enumerate(runs):
        threads = run["machine"]["backend"]["num_threads"]
        rows = [r for r in run["rows"] if r["workload"] == "mlp-step"]
        batches = [r["case"].split()[-1] for r in rows]
        for j, peer in enumerate(("torch", "torch-fused", "numpy")):
            ys = [r["results"].get(peer, {}).get("ratio", 0) for r in rows]
            xs = [k + (i * 3 + j - 2.5) * width / 1.5 for k in range(len(rows))]
            ax.bar(xs, ys, width / 1.5, label=f"vs {peer} {threads}T")
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
        f.write(table(runs) + "\n")
    plot(runs, args.out + ".png")


if __name__ == "__main__":
    main()
