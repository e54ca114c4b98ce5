#!/usr/bin/env bash
# The peer-comparison harness behind the README's performance table.
#
#   bench/run.sh [--quick]
#
# Runs every gradcore-bench workload at 1 and 2 threads, each under
# `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE` (so NumPy's OpenBLAS picks its best
# kernel), writes bench/results/<date>-<machine>.json and renders
# bench/results/<date>-<machine>.md (the table) and .png (GFLOP/s vs size against the
# peers and the FMA peak; mlp-step ratio per batch).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick --repeat 3)
stamp="$(date +%Y-%m-%d)-$(hostname -s)"
out="bench/results/$stamp"
mkdir -p bench/results
for t in 1 2; do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m gradcore.bench all --threads "$t" \
      --json "$out-t$t.json" "${quick[@]}"
done
python bench/render.py "$out-t1.json" "$out-t2.json" --out "$out"
echo "wrote $out.json, $out.md, $out.png"
