#!/usr/bin/env bash
# The main job: set up, then compare the EKF and the UKF against PyBaMM truth (Chen2020 DFN, UDDS and US06
# at 25 degC) and print the accuracy table. The truths ship with the package (python/cellsense/data/truth,
# with their provenance), so no PyBaMM solve is needed; `bash scripts/demo.sh --fresh` solves them again
# with the installed PyBaMM (about 10 min on 2 cores). Setup installs cellsense[sim] (PyBaMM included) and
# is skipped when nothing changed (scripts/setup.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CELLSENSE_EXTRAS="${CELLSENSE_EXTRAS:-sim}"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
cellsense demo "$@"
