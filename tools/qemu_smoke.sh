#!/usr/bin/env bash
# Run tools/smoke.py against the installed wheel natively and under qemu-user emulating older
# x86-64 CPUs, and check that the dispatcher picks the right ISA, nothing dies of an illegal
# instruction, and the results match the native run within float tolerance.
#
#   tools/build_wheel.sh && tools/test_wheel.sh && tools/qemu_smoke.sh
#
#   qemu-x86_64 -cpu Haswell  -> must pick avx2     (no AVX-512)
#   qemu-x86_64 -cpu Nehalem  -> must pick generic  (no AVX/AVX2/FMA; x86-64-v2, as NumPy needs)
#
# Runs under `env -u OPENBLAS_CORETYPE` (that variable forces AVX2 OpenBLAS kernels, which
# die on an emulated Nehalem). Needs Debian's qemu-user (apt-get install qemu-user).
# Environment: GRADCORE_WHEEL_VENV (default ${TMPDIR:-/tmp}/gradcore-wheel-venv, made by
# tools/test_wheel.sh), QEMU (default qemu-x86_64), RTOL / ATOL for the comparison.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GRADCORE_WHEEL_VENV:-${TMPDIR:-/tmp}/gradcore-wheel-venv}"
VPY="$VENV/bin/python"
QEMU="${QEMU:-qemu-x86_64}"
RTOL="${RTOL:-1e-4}"
ATOL="${ATOL:-1e-5}"
[[ -x "$VPY" ]] || { echo "no venv at $VENV: run tools/test_wheel.sh first" >&2; exit 2; }
command -v "$QEMU" >/dev/null || { echo "$QEMU not found: apt-get install qemu-user" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gradcore-qemu.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cp "$ROOT/tools/smoke.py" "$WORK/smoke.py"
cd "$WORK"            # outside the source tree: gradcore comes from the venv
unset PYTHONPATH GRADCORE_ISA
export PYTHONDONTWRITEBYTECODE=1
RUN=(env -u OPENBLAS_CORETYPE)

status=0
declare -A SUMMARY

run_case() {  # name expected_isa cmd...
  local name="$1" expect="$2"; shift 2
  echo
  echo "================ $name ================"
  echo "+ $*"
  local t0=$SECONDS rc=0
  "$@" smoke.py --json "$WORK/$name.json" > "$WORK/$name.out" 2>&1 || rc=$?
  cat "$WORK/$name.out"
  local isa
  isa="$(sed -n 's/^isa: //p' "$WORK/$name.out" | head -1)"
  local verdict="ok"
  if [[ $rc -ne 0 ]]; then
    verdict="FAIL (exit $rc$( [[ $rc -eq 132 ]] && echo ', SIGILL: illegal instruction'))"
  elif grep -qi "illegal instruction" "$WORK/$name.out"; then
    verdict="FAIL (illegal instruction)"
  elif [[ -n "$expect" && "$isa" != "$expect" ]]; then
    verdict="FAIL (picked isa '$isa', expected '$expect')"
  fi
  [[ "$verdict" == ok ]] || status=1
  SUMMARY[$name]="isa=${isa:-?}  $verdict  ($((SECONDS - t0)) s)"
}

compare() {  # ref other
  echo
  if "$VPY" "$WORK/smoke.py" --compare "$WORK/$1.json" "$WORK/$2.json" --rtol "$RTOL" --atol "$ATOL" > "$WORK/cmp.out" 2>&1; then
    SUMMARY["$2 vs $1"]="$(tail -1 "$WORK/cmp.out")"
  else
    SUMMARY["$2 vs $1"]="$(tail -1 "$WORK/cmp.out")"; status=1
  fi
  cat "$WORK/cmp.out"
}

run_case native         ""      "${RUN[@]}" "$VPY"
run_case native-avx2    avx2    "${RUN[@]}" GRADCORE_ISA=avx2 "$VPY"
run_case native-generic generic "${RUN[@]}" GRADCORE_ISA=generic "$VPY"
run_case qemu-haswell   avx2    "${RUN[@]}" "$QEMU" -cpu Haswell "$VPY"
run_case qemu-nehalem   generic "${RUN[@]}" "$QEMU" -cpu Nehalem "$VPY"

if [[ -f "$WORK/qemu-haswell.json" ]]; then compare native qemu-haswell; compare native-avx2 qemu-haswell; fi
if [[ -f "$WORK/qemu-nehalem.json" ]]; then compare native qemu-nehalem; compare native-generic qemu-nehalem; fi

echo
echo "== summary ($("$QEMU" --version | head -1))"
for k in native native-avx2 native-generic qemu-haswell qemu-nehalem \
         "qemu-haswell vs native" "qemu-haswell vs native-avx2" "qemu-nehalem vs native" "qemu-nehalem vs native-generic"; do
  [[ -n "${SUMMARY[$k]:-}" ]] && printf '  %-32s %s\n' "$k" "${SUMMARY[$k]}"
done
exit $status
