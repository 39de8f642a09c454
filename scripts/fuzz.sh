#!/usr/bin/env bash
# Build the libFuzzer harnesses with clang (ASan + UBSan) and run each for a bounded time over a
# copy of its committed seed corpus (tests/fuzz/corpus/<name>). Needs clang and libclang-rt
# (Debian: clang libclang-rt-14-dev; installed here if missing).
#   scripts/fuzz.sh [seconds-per-harness]      (default 60; FUZZ_SECONDS also works)
# The mutation sequence is seeded (FUZZ_SEED, default 1), so a run is reproducible: the same
# inputs in the same order, cut off by the time budget. FUZZ_SEED=0 lets libFuzzer pick a seed
# (exploration; use it for long local runs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_PER="${1:-${FUZZ_SECONDS:-60}}"
SEED="${FUZZ_SEED:-1}"
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev
fi
OUT="$ROOT/build/fuzz"
mkdir -p "$OUT/gen"
PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" python3 -m cellsense.mcu.export_c --model "$ROOT/models/chen2020.json" \
  --out "$OUT/gen/cell_params.h" >/dev/null
FLAGS=(-std=c++17 -g -O1 -ffp-contract=off -fno-math-errno -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -I "$ROOT/cpp/include" -I "$OUT/gen")
clang++ "${FLAGS[@]}" "$ROOT/tests/fuzz/fuzz_c_api.cpp" "$ROOT/cpp/src/c_api.cpp" -o "$OUT/fuzz_c_api"
clang++ "${FLAGS[@]}" "$ROOT/tests/fuzz/fuzz_frame.cpp" -o "$OUT/fuzz_frame"
status=0
for name in c_api frame; do
  work="$OUT/corpus_$name"
  rm -rf "$work"; mkdir -p "$work"
  cp "$ROOT/tests/fuzz/corpus/$name/"* "$work/"
  echo "== fuzz $name for ${SECONDS_PER} s =="
  if "$OUT/fuzz_$name" -seed="$SEED" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$OUT/crash_${name}_" "$work" > "$OUT/fuzz_$name.log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::new_units_added|cov:" "$OUT/fuzz_$name.log" | tail -3
    echo "fuzz $name: 1 passed, 0 failed"
  else
    tail -40 "$OUT/fuzz_$name.log"
    echo "fuzz $name: 0 passed, 1 failed"
    status=1
  fi
done
# Python targets (atheris): the cell-file loader, the pack-file loader and the replay log readers.
if ! python3 -c "import atheris" 2>/dev/null; then
  python3 -m pip install -q atheris >/dev/null 2>&1 || true
fi
if python3 -c "import atheris" 2>/dev/null; then
  for target in cell pack cell_log pack_csv candump gvret asc blf dbc state; do
    echo "== fuzz python $target for ${SECONDS_PER} s =="
    # the source tree for the pure-Python readers; 'state' needs the compiled core: the installed package
    pypath="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
    [ "$target" = state ] && pypath="${PYTHONPATH:-}"
    if PYTHONPATH="$pypath" python3 "$ROOT/tests/fuzz/fuzz_python.py" "$target" \
         -seed="$SEED" -max_total_time="$SECONDS_PER" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
         -artifact_prefix="$OUT/crash_py_${target}_" > "$OUT/fuzz_py_$target.log" 2>&1; then
      grep -E "stat::number_of_executed_units|stat::new_units_added" "$OUT/fuzz_py_$target.log" | tail -2
      echo "fuzz python $target: 1 passed, 0 failed"
    else
      tail -40 "$OUT/fuzz_py_$target.log"
      echo "fuzz python $target: 0 passed, 1 failed"
      status=1
    fi
  done
else
  echo "fuzz python: SKIPPED: atheris is not installed and 'pip install atheris' failed (needs clang + libFuzzer)"
fi
exit $status
