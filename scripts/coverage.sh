#!/usr/bin/env bash
# Line and branch coverage of the core (issue #16, docs/safety.md "Coverage"): the C++ unit tests
# (tests/cpp, without the 10 M-step soak), the C API host tests (every tests/mcu/test_*_host.c over every
# cpp/src/*.cpp) and the C API fuzz target replayed (tests/fuzz/replay_c_api.cpp), built with gcov
# instrumentation, run, and measured with gcovr over cpp/ (core headers and the C API sources). HTML
# report: build/coverage/index.html; the summary and the per-file table are printed; every branch no test
# took is listed in build/coverage/uncovered-branches.txt. Installs gcovr (pip) into the active Python
# when missing.
# Fails (exit 1) when the line coverage is below LINE_BAR (100 %), the branch coverage below BRANCH_BAR
# (95 %), or an uncovered branch's line has no justification in docs/coverage-justification.md: the bars
# of issue #16, held on every commit.
#   scripts/coverage.sh [build-dir]        (default build/coverage)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build/coverage}"
REPORT="${COVERAGE_REPORT:-$ROOT/build/coverage}"  # where the reports go
PYTHON="${PYTHON:-python3}"
cd "$ROOT"
if ! "$PYTHON" -m gcovr --version >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q "gcovr>=7"
fi
GEN=()
if [ ! -f "$BUILD/ctest/CMakeCache.txt" ] && command -v ninja >/dev/null; then GEN=(-G Ninja); fi
# -O0 and no inlining: every source line and branch of the headers maps to its own counters. The
# core's forced inlining and unrolling (math/matrix.hpp) are switched off here only: a forced-inline
# helper would otherwise count its branches once per call site.
COV_FLAGS=(--coverage -O0 -fno-inline "-DCELLSENSE_ALWAYS_INLINE=inline" "-DCELLSENSE_UNROLL=")
find "$BUILD" -name '*.gcda' -delete 2>/dev/null || true

echo "== coverage: C++ unit tests (CELLSENSE_SOAK=OFF) =="
cmake -S . -B "$BUILD/ctest" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Debug -DCELLSENSE_SOAK=OFF \
      -DCMAKE_CXX_FLAGS="${COV_FLAGS[*]}" -DCMAKE_EXE_LINKER_FLAGS="--coverage" >/dev/null
cmake --build "$BUILD/ctest" -j 2
ctest --test-dir "$BUILD/ctest" --output-on-failure -j 2

echo "== coverage: C API host tests =="
CAPI="$BUILD/capi"
mkdir -p "$CAPI"
PYTHONPATH="$ROOT/python" "$PYTHON" -m cellsense.mcu.export_c --model models/chen2020.json --out "$CAPI/cell_params.h" >/dev/null
COMMON=(-ffp-contract=off -fno-math-errno -Wall -Wextra -Werror -Icpp/include -I"$CAPI" "${COV_FLAGS[@]}")
# every source of the C API (c_api.cpp, c_api_soh.cpp, ...) and every host test of it
CAPI_OBJS=()
for src in cpp/src/*.cpp; do
  obj="$CAPI/$(basename "${src%.cpp}").o"
  g++ -std=c++17 -fno-exceptions -fno-rtti "${COMMON[@]}" -c "$src" -o "$obj"
  CAPI_OBJS+=("$obj")
done
for src in tests/mcu/test_*_host.c; do
  t="$(basename "${src%.c}")"
  gcc -std=c99 "${COMMON[@]}" -c "$src" -o "$CAPI/$t.o"
  g++ --coverage "$CAPI/$t.o" "${CAPI_OBJS[@]}" -o "$CAPI/$t" -lm
  (cd "$CAPI" && "./$t")
done

echo "== coverage: C API fuzz target replayed (seed corpus + 100,000 seeded random inputs) =="
g++ -std=c++17 "${COMMON[@]}" tests/fuzz/replay_c_api.cpp tests/fuzz/fuzz_c_api.cpp "${CAPI_OBJS[@]}" -o "$CAPI/replay_c_api"
(cd "$CAPI" && ./replay_c_api "$ROOT"/tests/fuzz/corpus/c_api/*)

echo "== coverage: gcovr over cpp/ =="
mkdir -p "$REPORT"
# Template instances are merged per source line (--merge-lines): a line or branch counts as covered
# when any instantiation (float, double, EKF, UKF, ...) executed it. tests/cpp/instantiate_core.cpp
# instantiates every member, so a function no test calls shows up as uncovered.
"$PYTHON" -m gcovr --root "$ROOT" --filter 'cpp/' --object-directory "$BUILD" "$BUILD" \
  --exclude-unreachable-branches --exclude-throw-branches --gcov-ignore-parse-errors=negative_hits.warn \
  --merge-lines --merge-mode-functions=separate --gcov-exclude-directories '.*/CMakeFiles/[0-9][^/]*/.*' \
  --html-details "$REPORT/index.html" --txt "$REPORT/lines.txt" \
  --json "$REPORT/coverage.json" --json-summary "$REPORT/summary.json" --print-summary
cat "$REPORT/lines.txt"
# Every uncovered branch (file:line: taken/total) -> build/coverage/uncovered-branches.txt, each line
# checked against docs/coverage-justification.md; the bars checked. Exit 1 on any failure.
"$PYTHON" - "$REPORT" "$ROOT" "${LINE_BAR:-100}" "${BRANCH_BAR:-95}" <<'PY'
import json, re, sys
from pathlib import Path
out, root = Path(sys.argv[1]), Path(sys.argv[2])
line_bar, branch_bar = float(sys.argv[3]), float(sys.argv[4])
data = json.load(open(out / "coverage.json"))
# merged like the report: branch k of a line is taken if any template instance took it
taken, line_hits = {}, {}
for f in data["files"]:
    for ln in f["lines"]:
        if not ln.get("gcovr/noncode", False):
            key = (f["file"], ln["line_number"])
            line_hits[key] = max(line_hits.get(key, 0), ln.get("count", 0))
        for b in ln.get("branches", []):
            key = (f["file"], ln["line_number"])
            taken.setdefault(key, {})
            taken[key][b["branchno"]] = taken[key].get(b["branchno"], False) or b.get("count", 0) > 0
lines_missed = [f"{p}:{n}" for (p, n), c in sorted(line_hits.items()) if c == 0]
rows, n_missed = [], 0
for (path, line), br in sorted(taken.items()):
    missed = [k for k, t in br.items() if not t]
    if missed:
        n_missed += len(missed)
        rows.append(f"{path}:{line}: {len(br) - len(missed)}/{len(br)} branches taken (not taken: {missed})")
(out / "uncovered-branches.txt").write_text("\n".join(rows) + "\n")
print(f"{n_missed} branches not taken, on {len(rows)} lines: {out / 'uncovered-branches.txt'}")
# Each uncovered branch's line against docs/coverage-justification.md (file + code, not line numbers).
just = []
for line in (root / "docs" / "coverage-justification.md").read_text().splitlines():
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
    if len(cells) >= 4 and cells[1].startswith("`"):
        just.append((cells[0], cells[1].strip("`").replace("\\|", "|")))
unjustified, used = [], set()
for (path, line), br in sorted(taken.items()):
    if all(br.values()):
        continue
    text = (root / path).read_text().splitlines()[line - 1].strip()
    hits = [k for k, (f, code) in enumerate(just) if path.endswith(f) and code in text]
    used.update(hits)
    if not hits:
        unjustified.append(f"{path}:{line}: {text}")
# Lines no test ran: each must be listed too (a line no input can reach, kept as defence); the line bar
# applies to the lines not so listed.
lines_unjustified, lines_justified = [], []
for m in lines_missed:
    path, n = m.rsplit(":", 1)
    text = (root / path).read_text().splitlines()[int(n) - 1].strip()
    hits = [k for k, (f, code) in enumerate(just) if path.endswith(f) and code in text]
    used.update(hits)
    (lines_justified if hits else lines_unjustified).append(f"{m}: {text}")
stale = [f"{f}: {code}" for k, (f, code) in enumerate(just) if k not in used]
# Every file of cpp/ with code must be in the measurement: a header no covered test compiles would
# otherwise be left out of the figures without a trace. Declaration-only files are listed here.
DECLARATIONS_ONLY = {"cpp/include/cellsense/c_api.h", "cpp/include/cellsense/cellsense.hpp",
                     "cpp/include/cellsense/model/ecm_params_table.hpp"}
measured = {f["file"] for f in data["files"]}
unmeasured = sorted(str(q.relative_to(root)) for q in (root / "cpp").rglob("*")
                    if q.suffix in (".h", ".hpp", ".cpp") and str(q.relative_to(root)) not in measured
                    and str(q.relative_to(root)) not in DECLARATIONS_ONLY)
summary = json.load(open(out / "summary.json"))
line_pct = 100.0 * summary["line_covered"] / max(summary["line_total"], 1)
reach_pct = 100.0 * summary["line_covered"] / max(summary["line_total"] - len(lines_justified), 1)
branch_pct = 100.0 * summary["branch_covered"] / max(summary["branch_total"], 1)
print(f"lines {summary['line_covered']}/{summary['line_total']} = {line_pct:.2f} %; without the "
      f"{len(lines_justified)} line(s) justified as unreachable {reach_pct:.2f} % (bar {line_bar:g} %); "
      f"branches {summary['branch_covered']}/{summary['branch_total']} = {branch_pct:.2f} % (bar {branch_bar:g} %)")
for m in lines_justified:
    print("  unreachable (justified): " + m)
fail = False
if reach_pct < line_bar or lines_unjustified:
    fail = True
    print(f"FAIL: line coverage below {line_bar:g} %; lines no test ran and no justification lists:")
    for m in lines_unjustified:
        print("  " + m)
if branch_pct < branch_bar:
    fail = True
    print(f"FAIL: branch coverage {branch_pct:.2f} % < {branch_bar:g} %")
if unjustified:
    fail = True
    print(f"FAIL: {len(unjustified)} line(s) with an uncovered branch and no justification in docs/coverage-justification.md:")
    for u in unjustified:
        print("  " + u)
if unmeasured:
    fail = True
    print(f"FAIL: {len(unmeasured)} file(s) of cpp/ that no covered test compiles (add a test in tests/cpp, or list a"
          " declaration-only file in DECLARATIONS_ONLY):")
    for u in unmeasured:
        print("  " + u)
if stale:  # informational: a justified line that is now covered (or whose code changed) can leave the table
    print(f"note: {len(stale)} row(s) of docs/coverage-justification.md match no uncovered line:")
    for u in stale:
        print("  " + u)
sys.exit(1 if fail else 0)
PY
echo "report: $REPORT/index.html"
