#!/usr/bin/env python3
"""Held-out cells: fit an ECM to another PyBaMM parameter set and estimate drive cycles it was not
fitted on (docs/metrics.md, "Other cells").

For each parameter set: simulate a C/20 OCV test at 25 degC and HPPC tests at 5, 25 and 40 degC,
`cellsense fit` them (2 RC pairs), then simulate HWFET at 15 degC, UDDS at 32 degC and US06 at
25 degC (temperatures the fit never saw except 25), add the "typical" sensor (2 mV, 10 mA, and a
current offset of 0.4 % of 1C), start the filters 20 SOC points off and print the metrics.
SPMe truth by default (seconds per run on 2 cores); --model DFN for the full model (minutes).

    python3 scripts/check_other_cells.py [--cells Marquis2019 NCA_Kim2011 Ecker2015] [--model SPMe]
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from cellsense.estimators.ecm import Estimator  # the installed package (pip install . / scripts/setup.sh)
from cellsense.fit import fit
from cellsense.evaluate.metrics import soc_metrics
from cellsense.truth.sensor import SensorModel
from cellsense.truth.simulate import simulate

CASES = (("hwfet", 15.0), ("udds", 32.0), ("us06", 25.0))


def check(cell: str, model: str, work: Path) -> list[str]:
    ocv = work / f"{cell}_ocv.csv"
    simulate(cell=cell, protocol="ocv", temperature_degC=25.0, model=model, out=ocv)
    hppc = []
    for T in (5.0, 25.0, 40.0):
        p = work / f"{cell}_hppc_{T:g}.csv"
        simulate(cell=cell, protocol="hppc", temperature_degC=T, model=model, out=p)
        hppc.append(p)
    cell_file = work / f"{cell}.json"
    fitted = fit(ocv, hppc, out=cell_file, rc_pairs=2, name=cell)
    q = fitted["parameters"]["Nominal cell capacity [A.h]"]
    rows = []
    for cycle, T in CASES:
        sensor = SensorModel(voltage_noise_V=0.002, current_noise_A=0.01, current_offset_A=0.004 * q, seed=3)
        sim = simulate(cell=cell, protocol=cycle, temperature_degC=T, model=model, sensor=sensor)
        for f in ("ekf", "ukf"):
            est = Estimator(str(cell_file), filter=f, initial_soc=float(np.clip(sim.soc_true[0] - 0.2, 0, 1)))
            r = est.run(sim.time_s, sim.current_A, sim.voltage_V, sim.temperature_degC)
            m = soc_metrics(sim.time_s, r.soc, r.soc_sigma, sim.soc_true, settle_s=600.0)
            rows.append(f"| {cell} | {cycle.upper()} {T:g} degC | {f.upper()} | {100 * m.rmse:.2f} | "
                        f"{100 * m.max_abs_after:.2f} | {100 * m.outside_3sigma_after:.1f} |")
            print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=["Marquis2019", "NCA_Kim2011", "Ecker2015"])
    ap.add_argument("--model", default="SPMe", choices=("DFN", "SPMe", "SPM"))
    args = ap.parse_args(argv)
    print("| cell | cycle | filter | RMSE % | max abs err % after 10 min | outside 3 sigma % |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="cellsense-cells-") as d:
        for cell in args.cells:
            check(cell, args.model, Path(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
