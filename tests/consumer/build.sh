#!/usr/bin/env bash
# Build the consumer project (tests/consumer) the three documented ways - find_package after
# `cmake --install` to a temporary prefix, add_subdirectory, FetchContent from a file:// git URL of
# this checkout - for the host (each built and run by ctest) and for Cortex-M4F with arm-none-eabi
# (linked with newlib-nano; find_package and add_subdirectory). The CMake lines come from docs/mcu.md.
# Needs cmake, a host C/C++ compiler, git, and for the M4F arm-none-eabi-gcc
# (scripts/install_mcu_toolchain.sh); without it the M4F builds are skipped with a message.
#   tests/consumer/build.sh [work-dir]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${1:-$ROOT/build/consumer}"
rm -rf "$WORK"
mkdir -p "$WORK"
GEN=()
if command -v ninja >/dev/null; then GEN=(-G Ninja); fi
SRC="$ROOT/tests/consumer"
start=$(date +%s)

echo "-- consumer: install cellsense to $WORK/prefix"
cmake -S "$ROOT" -B "$WORK/cellsense" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DCELLSENSE_BUILD_TESTS=OFF >/dev/null
cmake --build "$WORK/cellsense" -j 2 >/dev/null
cmake --install "$WORK/cellsense" --prefix "$WORK/prefix" >/dev/null

check_no_cellsense_tests() {  # a consumer's ctest lists only its own test
  local n
  n=$(ctest --test-dir "$1" -N | sed -n 's/^Total Tests: //p')
  if [ "$n" != "$2" ]; then echo "consumer: $1 has $n tests, expected $2" >&2; exit 1; fi
}

host() {  # mode, extra cmake args...
  local mode=$1; shift
  local b="$WORK/host-$mode"
  echo "-- consumer: host, $mode"
  cmake -S "$SRC" -B "$b" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DCONSUMER_MODE="$mode" "$@" >"$b.log" 2>&1 \
    || { cat "$b.log"; exit 1; }
  cmake --build "$b" -j 2 >>"$b.log" 2>&1 || { cat "$b.log"; exit 1; }
  check_no_cellsense_tests "$b" 1
  ctest --test-dir "$b" --output-on-failure -V | grep "cellsense consumer:"
  ctest --test-dir "$b" --output-on-failure >/dev/null
}
host find_package -DCMAKE_PREFIX_PATH="$WORK/prefix"
host add_subdirectory -DCELLSENSE_DIR="$ROOT"
if [ -z "${CONSUMER_SKIP_FETCHCONTENT:-}" ] && git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1; then
  host fetchcontent -DCELLSENSE_GIT_URL="file://$ROOT" -DCELLSENSE_GIT_TAG="$(git -C "$ROOT" rev-parse HEAD)"
else
  echo "-- consumer: fetchcontent skipped (CONSUMER_SKIP_FETCHCONTENT set, or $ROOT is not a git checkout)"
fi

if command -v arm-none-eabi-gcc >/dev/null; then
  m4f() {
    local mode=$1; shift
    local b="$WORK/m4f-$mode"
    echo "-- consumer: cortex-m4f, $mode"
    cmake -S "$SRC" -B "$b" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DCONSUMER_MODE="$mode" \
          -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/arm-none-eabi.cmake" -DCELLSENSE_MCU_CORE=cortex-m4f \
          -DCMAKE_EXE_LINKER_FLAGS="--specs=nano.specs --specs=nosys.specs" "$@" >"$b.log" 2>&1 \
      || { cat "$b.log"; exit 1; }
    cmake --build "$b" -j 2 >>"$b.log" 2>&1 || { cat "$b.log"; exit 1; }
    local elf="$b/my_firmware"
    [ -f "$elf" ] || elf="$b/my_firmware.elf"
    # An ARM ELF for the M4F's hard-float ABI, with cs_step in it.
    arm-none-eabi-readelf -h -A "$elf" | grep "Tag_ABI_VFP_args: VFP registers" >/dev/null \
      || { echo "consumer: $elf is not a hard-float Cortex-M image" >&2; exit 1; }
    arm-none-eabi-nm "$elf" | grep " T cs_step$" >/dev/null || { echo "consumer: no cs_step in $elf" >&2; exit 1; }
    arm-none-eabi-size "$elf" | tail -1
  }
  m4f find_package -Dcellsense_DIR="$WORK/prefix/lib/cmake/cellsense"
  m4f add_subdirectory -DCELLSENSE_DIR="$ROOT"
else
  echo "-- consumer: Cortex-M4F skipped: arm-none-eabi-gcc not found (scripts/install_mcu_toolchain.sh)"
fi
echo "-- consumer: all builds passed in $(( $(date +%s) - start )) s"
