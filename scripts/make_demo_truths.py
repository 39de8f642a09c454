#!/usr/bin/env python3
"""Regenerate the PyBaMM truths shipped with the package for `cellsense demo` (python/cellsense/data/truth):
Chen2020, DFN, lumped thermal, 25 degC, UDDS and US06 with the default settings (repeated until the lower
cut-off, 1 s grid, IDAKLU rtol 1e-5 atol 1e-7) - exactly what `cellsense.truth.simulate.simulate()` asks for in the demo.
Each truth is written as <name>.csv.gz (time_s,current_A,voltage_V,temperature_degC,soc_true; shortest
float repr, reads back bit for bit) and <name>.json (provenance: PyBaMM version, parameter set, solver
settings, solve time, cache key, this command).

    python scripts/make_demo_truths.py            # from the truth cache when there (else solve)
    python scripts/make_demo_truths.py --fresh    # solve again with the installed PyBaMM (~10 min, 2 cores)
"""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fresh", action="store_true", help="re-solve with PyBaMM instead of using the truth cache")
    ap.add_argument("--protocol", action="append", default=None, help="udds, us06 (default both)")
    ap.add_argument("--out-dir", default=None, help="default: python/cellsense/data/truth of the package")
    a = ap.parse_args(argv)

    from cellsense.truth import cache, schedules, solver
    from cellsense.truth.simulate import simulate

    cell, model, T = "Chen2020", "DFN", 25.0
    for protocol in a.protocol or ("udds", "us06"):
        settings = schedules._resolve_settings(protocol, None, None, None, None, None, None, None)
        q_nom, v_low, v_high, pb_version = solver._cell_info(cell)
        sched = schedules._build_schedule(settings, q_nom, v_low, v_high, None, None)
        key_obj = cache._truth_key_obj(cell, model, settings, T, sched, pb_version)
        # the raw truth (soc_true on the nominal scale) as the cache holds it: solve (or load) through simulate()
        cache = cache._TruthCache(key_obj, None, True)
        truth, meta = (None, None) if a.fresh else cache.load(cache.TRUTH_COLUMNS)
        if truth is None:  # fresh=True: past the shipped truth and the cache, into the cache
            simulate(cell=cell, protocol=protocol, temperature_degC=T, model=model, fresh=True,
                         progress=lambda m: print(m, file=sys.stderr, flush=True))
            truth, meta = cache.load(cache.TRUTH_COLUMNS)
        if truth is None:
            print(f"{protocol}: no cached truth after simulate(); is the cache writable?", file=sys.stderr)
            return 1
        info = {"nominal capacity [A.h]": q_nom, "lower cut-off [V]": v_low, "upper cut-off [V]": v_high}
        stem = f"{cell.lower()}_{model.lower()}_{protocol}_{T:g}degC"
        j = cache.write_shipped_truth(truth, meta, key_obj, info, solver.reference_capacity(cell), stem,
                                    "python scripts/make_demo_truths.py --fresh", a.out_dir)
        print(f"wrote {j} and {j.with_suffix('.csv.gz').name} ({len(truth['time_s'])} rows, PyBaMM {pb_version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
