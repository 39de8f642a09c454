#!/usr/bin/env bash
# The main job: set up, then compare the EKF and the UKF against PyBaMM truth (Chen2020 DFN, UDDS and US06
# at 25 degC) and print the accuracy table. The truths ship with the package (python/cellsense/data/truth,
# with their provenance), so the default run needs no PyBaMM: setup installs cellsense alone (numpy is its
# only dependency). A run that has to solve a truth (`bash scripts/demo.sh --fresh` re-solves the shipped
# ones, about 10 min on 2 cores; another protocol, temperature or physics) installs cellsense[sim]
# (PyBaMM) first. Setup is skipped when nothing changed (scripts/setup.sh): a second run takes seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${CELLSENSE_EXTRAS+x}" ]; then
  source "$ROOT/scripts/setup.sh"  # the extras asked for
else
  CELLSENSE_EXTRAS="" source "$ROOT/scripts/setup.sh"
  cd "$ROOT"
  if ! python -c 'import pybamm' 2>/dev/null && [ "$(cellsense demo "$@" --needs-pybamm 2>/dev/null)" = "yes" ]; then
    echo "demo: this run solves a truth with PyBaMM: installing cellsense[sim]" >&2
    CELLSENSE_EXTRAS=sim source "$ROOT/scripts/setup.sh"
  fi
fi
cd "$ROOT"
cellsense demo "$@"
