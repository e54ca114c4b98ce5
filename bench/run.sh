#!/usr/bin/env bash
# The peer-comparison harness behind the README's performance table.
#
#   bench/run.sh [--quick]
#
# Runs every gradcore-bench workload at 1 and 2 threads (each pinned to its first N CPUs),
# each under `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE` (so NumPy's OpenBLAS picks its
# best kernel), writes bench/results/<date>-<cpu>-t{1,2}.json and renders
# bench/results/<date>-<cpu>.{json,md,png} (the table, the 2-thread / 1-thread table, and
# GFLOP/s vs size against the peers and the FMA peak; mlp-step ratio per batch).
# <cpu> names the CPU model with its family and model number (gradcore.bench.cpu_slug,
# e.g. amd-epyc-f25m17): machines reporting the same model name get different files.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick --repeat 3)
stamp="$(date +%Y-%m-%d)-$(python -c 'from gradcore.bench import cpu_slug; print(cpu_slug())')"
out="bench/results/$stamp"
mkdir -p bench/results
for t in 1 2; do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m gradcore.bench all --threads "$t" \
      --json "$out-t$t.json" "${quick[@]}"
done
python bench/render.py "$out-t1.json" "$out-t2.json" --out "$out"
echo "wrote $out.json, $out.md, $out.png"
