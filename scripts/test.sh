#!/usr/bin/env bash
# The whole test suite: C++ unit tests (ctest), Python tests (pytest), Cortex-M builds under QEMU.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
# Reproducible runs: hypothesis derandomized (tests/python/conftest.py), fuzzers seeded (scripts/fuzz.sh).
# Exploration is a plain `pytest` / `FUZZ_SEED=0 scripts/fuzz.sh 600`.
export CELLSENSE_REPRODUCIBLE=1
cd "$ROOT"
echo "== Cortex-M toolchain (Debian packages) =="
bash scripts/install_mcu_toolchain.sh
echo "== Firmware consumers (tests/consumer, docs/mcu.md snippets): find_package / add_subdirectory / FetchContent, host + M4F (~30 s) =="
bash tests/consumer/build.sh
echo "== Static analysis: clang-tidy + cppcheck over the core and the firmware (docs/safety.md) =="
bash scripts/static_analysis.sh
echo "== Requirements traced to tests (docs/requirements/) =="
python3 scripts/trace_requirements.py --markdown build/requirements-matrix.md
echo "== API reference: Sphinx autodoc from the docstrings, warnings as errors (build/api-docs; ~20 s) ==" && bash scripts/build_api_docs.sh
echo "== Coverage: gcov + gcovr over cpp/ (C++ unit tests without the soak, C API host tests; build/coverage/) =="
bash scripts/coverage.sh
echo "== C++ core: build and ctest (float and double) =="
cmake -S . -B build/host -DCMAKE_BUILD_TYPE=Release
cmake --build build/host -j 2
ctest --test-dir build/host --output-on-failure
echo "== C++ core under AddressSanitizer + UndefinedBehaviorSanitizer =="
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DCELLSENSE_SOAK=OFF
cmake --build build/asan -j 2
ctest --test-dir build/asan --output-on-failure
echo "== Fuzzing: libFuzzer (C API, frame decoder) and atheris (cell/pack files, log readers), 30 s each =="
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
echo "== Cortex-M: cross-compile, QEMU, parity, footprint =="
bash scripts/mcu_test.sh
echo "== Python: pytest (after the MCU build, so the QEMU replay tests find their firmware), with coverage of python/cellsense (pytest-cov, scripts/python-coverage.rc; HTML / XML in build/python-coverage/) =="
python -c 'import pytest_cov' 2>/dev/null || python -m pip install -q "pytest-cov>=7"
mkdir -p build/python-coverage
python -m pytest -q tests/python --cov --cov-config=scripts/python-coverage.rc --cov-report=term --cov-report=html --cov-report=xml
echo "== Validation: cellsense validate --quick (PyBaMM DFN truth, bars asserted) =="
cellsense validate --quick --out build/validation-quick
