#!/usr/bin/env bash
# The main job: set up, simulate a cell in PyBaMM, estimate its SOC, print the accuracy table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
cellsense demo "$@"
