#!/usr/bin/env bash
# Cortex-M suite: configure, build and run tests/mcu for all four cores (M4F, M7, M3, M0+) under
# QEMU: image self-checks, bit-exact parity with the host build, the shortened float32 soak (M4F, 500k
# steps per filter, bit-identical to the host), forbidden-symbol scan, per-header
# compile check, the docs/c-api.md example; then print the footprint / speed report.
# Needs the toolchain (scripts/install_mcu_toolchain.sh). Idempotent: reuses build/mcu.
#   scripts/mcu_test.sh [build-dir]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build/mcu}"
for tool in arm-none-eabi-gcc qemu-system-arm cmake python3; do
  command -v "$tool" >/dev/null || { echo "mcu_test.sh: $tool not found (scripts/install_mcu_toolchain.sh)" >&2; exit 2; }
done
GEN=()
if [ ! -f "$BUILD/CMakeCache.txt" ] && command -v ninja >/dev/null; then GEN=(-G Ninja); fi
echo "== MCU: configure + build ($BUILD) =="
cmake -S "$ROOT/tests/mcu" -B "$BUILD" "${GEN[@]}" -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/arm-none-eabi.cmake" \
      -DCELLSENSE_MCU_CORES="cortex-m4f;cortex-m7;cortex-m3;cortex-m0plus" >/dev/null
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)"
echo "== MCU: ctest =="
ctest --test-dir "$BUILD" --output-on-failure -j 2
echo "== MCU: footprint and speed =="
PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" CELLSENSE_SOURCE_DIR="$ROOT" python3 -c "
import sys
from cellsense.mcu.firmware import bench_mcu, format_mcu
r = bench_mcu(build_dir=sys.argv[1])
print(format_mcu(r))
print('report:', r['written'])
" "$BUILD"
