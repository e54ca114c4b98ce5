#!/usr/bin/env bash
# Build tools/ulp_check.cpp three times, as the kernel units are built (flags of
# CMakeLists.txt: baseline, the avx2 unit, the avx512 unit), and run each build the CPU
# supports. Arguments go to ulp_check: [--all] [--threads N] [function ...].
#   tools/ulp_check.sh                 1 float pattern in 16 + specials, every function
#   tools/ulp_check.sh --all sin cos   all 2^32 patterns
# Also prints, per build, how many zmm/ymm instructions the loop of each function uses.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
OUT="${ULP_CHECK_DIR:-$(mktemp -d)}"
CXX="${CXX:-g++}"
COMMON=(-std=c++17 -O3 -fno-math-errno -ffp-contract=fast -Wall -Wextra -Wno-unused-parameter -pthread -I"$REPO/csrc")
declare -A FLAGS=(
  [baseline]=""
  [avx2]="-mavx2 -mfma -mf16c -fno-trapping-math"
  [avx512]="-mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mf16c -fno-trapping-math"
)
status=0
for isa in baseline avx2 avx512; do
  # shellcheck disable=SC2086
  "$CXX" "${COMMON[@]}" ${FLAGS[$isa]} "$REPO/tools/ulp_check.cpp" -o "$OUT/ulp_check_$isa"
  echo "== $isa (${FLAGS[$isa]:-no ISA flags})"
  objdump -d --demangle "$OUT/ulp_check_$isa" |
    awk '/^[0-9a-f]+ <.*apply</ {n=$0; sub(/.*::F/, "", n); sub(/>.*/, "", n); next}
         /^$/ {n=""}
         n != "" {names[n]=1; if ($0 ~ /%zmm/) z[n]++; if ($0 ~ /%ymm/) y[n]++; if ($0 ~ /call/) c[n]++}
         END {for (k in names) printf "   loop %-8s zmm %3d  ymm %3d  calls %d\n", k, z[k], y[k], c[k]}' | sort
  case "$isa" in
    avx2) grep -qw avx2 /proc/cpuinfo || { echo "   (CPU has no AVX2: not run)"; continue; } ;;
    avx512) grep -qw avx512dq /proc/cpuinfo || { echo "   (CPU has no AVX-512: not run)"; continue; } ;;
  esac
  "$OUT/ulp_check_$isa" "$@" || status=1
done
exit $status
