#!/usr/bin/env bash
# Create .venv (if missing) and install cellsense with its test/simulation extras into it.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again (pip is idempotent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PY" -m venv "$ROOT/.venv"
fi
# shellcheck disable=SC1091
source "$ROOT/.venv/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q cmake ninja
python -m pip install -q "$ROOT[test]"
