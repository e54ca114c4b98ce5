#!/usr/bin/env bash
# Check, by disassembling the built extension, that AVX/AVX-512 code stays inside the
# per-ISA kernel units (the one-definition trap of PACKAGING.md: an inline/template function
# emitted by an AVX-512 unit and merged by the linker into baseline code SIGILLs on older CPUs).
#
#   tools/check_isa_isolation.sh [path/to/_core*.so]
#
# Default .so: the one `import gradcore._core` loads (${PYTHON:-python3}).
# Rules, per function block of `objdump -d --demangle -C` (function = demangled symbol):
#   baseline (everything not in gradcore::avx2:: / gradcore::avx512:: and not init_avx2 /
#     init_avx512: the generic kernels, gradcore::kernels::*, gradcore::ops::*, the engine,
#     pybind11, the STL ...): no VEX/EVEX instruction at all (no ymm, no zmm, no AVX-encoded
#     xmm op, no FMA/F16C), no opmask registers, no BMI1/BMI2/LZCNT/MOVBE;
#   avx2 unit: no zmm, no opmask registers, no EVEX-only xmm16-31/ymm16-31, no {k} masking;
#   avx512 unit: anything.
# So zmm appears only in functions whose demangled names name avx512. Sanity checks make sure
# the check is not vacuous (zmm found in the avx512 unit, ymm in the avx2 unit).
# When the object files of the build are next to the .so (CMakeFiles/gc_avx*.dir), it also
# checks that each per-ISA object defines no global/weak symbol besides gradcore::init_<isa>
# (a weak symbol is what the linker may merge with a baseline copy).
#
# A stripped .so (no .symtab: pybind11 strips Release builds, auditwheel --strip the wheel)
# cannot be split into functions; the script then looks for its unstripped twin with the
# same GNU build-id under $GRADCORE_ISA_CHECK_SEARCH (colon-separated folders),
# $GRADCORE_SOURCE_ROOT/build and <repo>/build (tools/build_wheel.sh leaves one in build/wheel).
#
# Exit status: 0 clean, 1 violations found, 77 cannot check (no objdump, stripped .so with no
# twin, not x86-64), 2 usage error.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"

command -v objdump >/dev/null || { echo "SKIP: objdump not found (binutils)"; exit 77; }
command -v readelf >/dev/null || { echo "SKIP: readelf not found (binutils)"; exit 77; }

SO="${1:-}"
if [[ -z "$SO" ]]; then
  SO="$("$PYTHON" -c 'import gradcore._core as c; print(c.__file__)')" || { echo "cannot import gradcore._core" >&2; exit 2; }
fi
[[ -f "$SO" ]] || { echo "no such file: $SO" >&2; exit 2; }
readelf -h "$SO" | grep -q 'X86-64' || { echo "SKIP: $SO is not an x86-64 ELF"; exit 77; }

build_id() { readelf -n "$1" 2>/dev/null | sed -n 's/^ *Build ID: *//p' | head -1; }
has_symtab() { readelf -S -W "$1" | grep -q ' \.symtab '; }

TARGET="$SO"
if ! has_symtab "$SO"; then
  BID="$(build_id "$SO")"
  echo "$SO is stripped (build-id ${BID:-none}); looking for its unstripped twin"
  TARGET=""
  if [[ -n "$BID" ]]; then
    DIRS=()
    [[ -n "${GRADCORE_ISA_CHECK_SEARCH:-}" ]] && IFS=: read -r -a DIRS <<<"$GRADCORE_ISA_CHECK_SEARCH"
    [[ -n "${GRADCORE_SOURCE_ROOT:-}" ]] && DIRS+=("$GRADCORE_SOURCE_ROOT/build")
    DIRS+=("$REPO/build")
    for d in "${DIRS[@]}"; do
      [[ -d "$d" ]] || continue
      while IFS= read -r cand; do
        if has_symtab "$cand" && [[ "$(build_id "$cand")" == "$BID" ]]; then TARGET="$cand"; break 2; fi
      done < <(find "$d" -maxdepth 4 -name '_core*.so' -type f 2>/dev/null)
    done
  fi
  if [[ -z "$TARGET" ]]; then
    echo "SKIP: $SO is stripped and no unstripped twin with build-id ${BID:-?} was found"
    echo "      (tools/build_wheel.sh keeps one in build/wheel; or pass an unstripped .so)"
    exit 77
  fi
  echo "using unstripped twin: $TARGET"
fi

DIS="$(mktemp "${TMPDIR:-/tmp}/gradcore-objdump.XXXXXX")"
trap 'rm -f "$DIS"' EXIT
objdump -d --demangle -C --no-show-raw-insn -w "$TARGET" > "$DIS"

OBJDIR="$(dirname "$TARGET")/CMakeFiles"
"$PYTHON" - "$DIS" "$TARGET" "$OBJDIR" <<'PY'
import collections
import glob
import os
import re
import subprocess
import sys

dis_path, so_path, objdir = sys.argv[1:4]

FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:\s*$")
INSN = re.compile(r"^\s+([0-9a-f]+):\s+(.*)$")
PREFIXES = {"rep", "repz", "repe", "repnz", "repne", "lock", "notrack", "bnd", "data16", "addr32",
            "cs", "ds", "es", "fs", "gs", "ss", "{vex}", "{vex3}", "{evex}", "xacquire", "xrelease"}
ZMM = re.compile(r"%zmm\d+")
YMM = re.compile(r"%ymm\d+")
MASK = re.compile(r"%k[0-7]\b|\{%k[0-7]\}")
EVEX_ONLY = re.compile(r"%[xy]mm(1[6-9]|2\d|3[01])\b|\{1to\d+\}|\{z\}|\{(rn|rd|ru|rz)?-?sae\}")
# Post-SSE4.2 (x86-64-v3) scalar instructions gcc emits only when -mbmi/-mbmi2/-mlzcnt/-mmovbe
# are on. (tzcnt is left out: gcc emits `rep bsf`, which objdump prints as tzcnt and which runs
# as bsf on older CPUs.)
V3_SCALAR = {"andn", "bextr", "blsi", "blsmsk", "blsr", "bzhi", "mulx", "pdep", "pext", "rorx",
             "sarx", "shlx", "shrx", "lzcnt", "movbe", "adcx", "adox"}


def unit_of(name):
    if "gradcore::avx512::" in name or "gradcore::init_avx512(" in name:
        return "avx512"
    if "gradcore::avx2::" in name or "gradcore::init_avx2(" in name:
        return "avx2"
    return "baseline"


def mnemonic(text):
    toks = text.split()
    while toks and toks[0] in PREFIXES:
        toks = toks[1:]
    return toks[0] if toks else ""


def classify(text):
    """Set of features an instruction needs beyond x86-64-v2."""
    m = mnemonic(text)
    feats = set()
    if ZMM.search(text):
        feats.add("zmm")
    if YMM.search(text):
        feats.add("ymm")
    if MASK.search(text) or m.startswith("k") and re.match(r"^k(mov|and|or|xor|not|shift|test|add|unpck|ortest)", m):
        feats.add("opmask")
    if EVEX_ONLY.search(text):
        feats.add("evex")
    if m.startswith("v") and m not in ("verr", "verw"):
        feats.add("vex")
    if m in V3_SCALAR:
        feats.add("bmi/lzcnt/movbe")
    return feats


FORBIDDEN = {
    "baseline": {"zmm", "ymm", "opmask", "evex", "vex", "bmi/lzcnt/movbe"},
    "avx2": {"zmm", "opmask", "evex"},
    "avx512": set(),
}

funcs = collections.OrderedDict()  # name -> list of (addr, text)
section = None
cur = None
with open(dis_path) as f:
    for line in f:
        if line.startswith("Disassembly of section "):
            section = line.split()[-1].rstrip(":")
            cur = None
            continue
        mf = FUNC.match(line)
        if mf:
            name = mf.group(2)
            key = name if name not in funcs else f"{name} @0x{mf.group(1)}"
            cur = funcs.setdefault(key, [])
            continue
        mi = INSN.match(line)
        if mi and cur is not None:
            text = mi.group(2).split("#")[0].strip()
            if text and text != "(bad)":
                cur.append((mi.group(1), text))

stats = {u: collections.Counter() for u in FORBIDDEN}
violations = []
for name, insns in funcs.items():
    unit = unit_of(name)
    stats[unit]["functions"] += 1
    stats[unit]["instructions"] += len(insns)
    bad = []
    for addr, text in insns:
        feats = classify(text)
        for ft in feats:
            stats[unit][ft] += 1
        hit = feats & FORBIDDEN[unit]
        if hit:
            bad.append((addr, text, sorted(hit)))
    if bad:
        violations.append((unit, name, bad))

print(f"objdump -d --demangle -C {so_path}")
print(f"  {len(funcs)} function blocks")
for unit in ("baseline", "avx2", "avx512"):
    s = stats[unit]
    print(f"  {unit:<9} functions={s['functions']:<5} insns={s['instructions']:<7} "
          f"zmm={s['zmm']:<6} ymm={s['ymm']:<6} vex/evex-encoded={s['vex']:<6} opmask={s['opmask']}")

problems = 0
if violations:
    print(f"\nFAIL: {len(violations)} function(s) use instructions their unit must not contain:")
    for unit, name, bad in violations[:50]:
        print(f"  [{unit}] {name}")
        for addr, text, hit in bad[:5]:
            print(f"      {addr}: {text}    <- {', '.join(hit)}")
        if len(bad) > 5:
            print(f"      ... {len(bad) - 5} more")
    problems += len(violations)

# Not vacuous: the per-ISA units are there and objdump shows their registers.
if len(funcs) < 50:
    print(f"FAIL: only {len(funcs)} function blocks: is {so_path} stripped?")
    problems += 1
if stats["avx512"]["functions"] and not stats["avx512"]["zmm"]:
    print("FAIL: the avx512 unit has no zmm instruction: the parser or the build is off")
    problems += 1
if stats["avx2"]["functions"] and not stats["avx2"]["ymm"]:
    print("FAIL: the avx2 unit has no ymm instruction: the parser or the build is off")
    problems += 1
if not stats["avx512"]["functions"] or not stats["avx2"]["functions"]:
    print("note: no avx2/avx512 unit found in this build (non-x86 build?)")

# Object files of the build, when present: a per-ISA object must define no global or weak
# symbol besides its init_<isa> entry point (weak = mergeable with a baseline copy).
objs = sorted(glob.glob(os.path.join(objdir, "gc_avx*.dir", "**", "*.o"), recursive=True))
if objs:
    print("\nper-ISA object files (global/weak definitions other than gradcore::init_<isa>):")
    for o in objs:
        out = subprocess.run(["nm", "-C", "--defined-only", o], capture_output=True, text=True, check=True).stdout
        exported = []
        for ln in out.splitlines():
            parts = ln.split(None, 2)
            if len(parts) == 3 and parts[1] in "TWVuiDBRGS" and not re.match(r"gradcore::init_avx(2|512)\(", parts[2]):
                exported.append(f"{parts[1]} {parts[2]}")
        print(f"  {os.path.relpath(o, objdir)}: {len(exported)}")
        for e in exported[:20]:
            print(f"      {e}")
        problems += len(exported)
else:
    print("\n(no object files next to the .so: per-ISA object symbol check skipped)")

print("\nISA isolation:", "OK" if not problems else f"FAIL ({problems} problem(s))")
sys.exit(1 if problems else 0)
PY
