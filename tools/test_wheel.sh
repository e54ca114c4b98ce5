#!/usr/bin/env bash
# Install the wheel from dist/ into a fresh venv and run the whole test suite against it,
# from OUTSIDE the source tree, once per ISA level: default, GRADCORE_ISA=avx2, GRADCORE_ISA=generic.
#
#   tools/build_wheel.sh && tools/test_wheel.sh [path/to/wheel] [-- extra pytest args]
#
# The tests and the pytest config (pyproject.toml, for [tool.pytest.ini_options]) are copied
# to a temporary folder; pytest runs there with -c/--rootdir pointing at the copies and
# -p no:cacheprovider, so `import gradcore` can only resolve to the installed wheel (checked
# before the runs, and shown in each run's header by a conftest.py in the temporary root).
# GRADCORE_SOURCE_ROOT is exported for any test that needs files of the source tree.
#
# Environment:
#   PYTHON               interpreter for the venv (default python3)
#   GRADCORE_WHEEL_VENV  where the venv goes (default ${TMPDIR:-/tmp}/gradcore-wheel-venv;
#                        recreated on every run; tools/qemu_smoke.sh reuses it)
#   ISAS                 levels to run (default "default avx2 generic")
#   TEST_DEPS            test requirements (default below)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${GRADCORE_WHEEL_VENV:-${TMPDIR:-/tmp}/gradcore-wheel-venv}"
ISAS="${ISAS:-default avx2 generic}"
TEST_DEPS="${TEST_DEPS:-pytest hypothesis matplotlib threadpoolctl torch==2.13.0}"

WHEEL=""
if [[ $# -gt 0 && "$1" != "--" ]]; then WHEEL="$1"; shift; fi
if [[ $# -gt 0 && "$1" == "--" ]]; then shift; fi
if [[ -z "$WHEEL" ]]; then
  shopt -s nullglob
  WHEELS=("$ROOT"/dist/gradcore-*manylinux*.whl)
  shopt -u nullglob
  [[ ${#WHEELS[@]} -eq 1 ]] || { echo "expected exactly one manylinux wheel in dist/ (run tools/build_wheel.sh): ${WHEELS[*]:-none}" >&2; exit 2; }
  WHEEL="${WHEELS[0]}"
fi
WHEEL="$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")"
case "$VENV" in "$ROOT"|"$ROOT"/*) echo "GRADCORE_WHEEL_VENV must be outside the source tree" >&2; exit 2;; esac

echo "== fresh venv: $VENV"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
VPY="$VENV/bin/python"
# (the sed drops pip's notes about this machine's missing local index folders)
"$VPY" -m pip install -q "$WHEEL" $TEST_DEPS 2>&1 | sed "/WARNING: Location 'file:.*is ignored/d"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gradcore-wheeltest.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cp -r "$ROOT/tests" "$WORK/tests"
find "$WORK/tests" -name __pycache__ -prune -exec rm -rf {} +
cp "$ROOT/pyproject.toml" "$WORK/pyproject.toml"     # the pytest config ([tool.pytest.ini_options])
cat > "$WORK/conftest.py" <<'PY'
# Written by tools/test_wheel.sh: proves which gradcore the suite imports.
import os
import gradcore


def _where():
    path = os.path.realpath(gradcore.__file__)
    src = os.environ.get("GRADCORE_SOURCE_ROOT", "")
    if src and path.startswith(os.path.realpath(src) + os.sep):
        raise RuntimeError(f"gradcore imported from the source tree: {path}")
    info = gradcore.backend_info()
    return f"gradcore under test: {path} (isa {info['isa']}, supported {info['supported_isas']})"


def pytest_configure(config):
    _where()


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(_where())
PY

cd "$WORK"
export GRADCORE_SOURCE_ROOT="$ROOT"
export PYTHONDONTWRITEBYTECODE=1
unset PYTHONPATH GRADCORE_ISA

echo "== import check (cwd $WORK)"
"$VPY" - <<'PY'
import os, sys, gradcore
p = os.path.realpath(gradcore.__file__)
print("gradcore.__file__ =", p)
print("gradcore._core    =", os.path.realpath(gradcore._core.__file__))
src = os.path.realpath(os.environ["GRADCORE_SOURCE_ROOT"])
assert not p.startswith(src + os.sep), "imported from the source tree"
assert p.startswith(os.path.realpath(sys.prefix)), "not imported from the venv"
PY

declare -A RESULT
status=0
for isa in $ISAS; do
  echo
  echo "================ suite: GRADCORE_ISA=${isa} ================"
  log="$WORK/pytest-$isa.log"
  set +e
  if [[ "$isa" == default ]]; then
    "$VPY" -m pytest -c "$WORK/pyproject.toml" --rootdir "$WORK" -p no:cacheprovider -q tests "$@" 2>&1 | tee "$log"
  else
    GRADCORE_ISA="$isa" "$VPY" -m pytest -c "$WORK/pyproject.toml" --rootdir "$WORK" -p no:cacheprovider -q tests "$@" 2>&1 | tee "$log"
  fi
  rc=${PIPESTATUS[0]}
  set -e
  RESULT[$isa]="rc=$rc  $(grep -E '(passed|failed|error|skipped).* in [0-9.]+s' "$log" | tail -1 | sed -E 's/^=+ //; s/ =+$//')"
  [[ $rc -eq 0 ]] || status=1
done

echo
echo "== summary (wheel ${WHEEL##*/})"
for isa in $ISAS; do printf '  %-8s %s\n' "$isa" "${RESULT[$isa]}"; done
exit $status
