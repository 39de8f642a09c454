#!/usr/bin/env python3
"""Remaining energy against PyBaMM truth (issue #15, docs/power.md "Remaining energy against the DFN"): Chen2020
DFN (lumped thermal), after the same realistic history as scripts/check_power_truth.py (60 s rest, then the first
600 s of US06 at 2C peak, ending at SOC 0.9 / 0.7 / 0.5 / 0.3 / 0.15), the DFN itself is discharged at a constant
power to the 2.5 V cut-off from the history's end state (PyBaMM's "power" operating mode,
model.set_initial_conditions_from): its energy is P t_end. Against it, `cellsense.estimators.power.remaining_energy`
of the bundled chen2020 ECM's EKF run over a noisy log of the same history (voltage + N(0, 2 mV), current
1.005 I + N(0, 20 mA)), nominal and conservative (k = 3). The cell's full energy at that power and temperature
(the issue's yardstick: "within 3 % of the cell's full energy at 25 degC, 6 % at 0 degC") is the DFN's from a
rested full cell (SOC 1) at the same power to the same cut-off.

The logs and the truths are written to tests/fixtures/soe/chen2020_soe_truth.json.gz, so that
tests/python/estimators/test_energy_truth.py re-runs the estimator on the same logs without PyBaMM.

Usage: PYTHONPATH=python python3 scripts/check_energy_truth.py [--temps 25,0,-10] [--socs 0.9,0.7,0.5,0.3,0.15]
           [--powers 9,18] [--out tests/fixtures/soe/chen2020_soe_truth.json.gz]
Cost: about 20 s per (temperature, SOC) on 2 cores (the history's DFN; each constant-power run takes 1-3 s).
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
try:  # the installed package (with its compiled core); the source tree otherwise
    import cellsense._core  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "python"))

import check_power_truth as cpt  # noqa: E402  (the same history, sensor and DFN set-up)

V_MIN = cpt.V_MIN
#: the yardstick's bars (issue #15): |E_model - E_DFN| <= bar x E_full
BARS = {25.0: 0.03, 0.0: 0.06}


def dfn_energy_Wh(model_state, pv, power_W: float) -> float:
    """The DFN from `model_state` (a solution to start from, or None for the parameter set's initial state)
    discharged at a constant power to V_MIN: P t_end (W h). 0 when it cannot deliver the power at all."""
    import pybamm

    m = pybamm.lithium_ion.DFN({"thermal": "lumped", "operating mode": "power"})
    if model_state is not None:
        m.set_initial_conditions_from(model_state)
    p2 = pv.copy()
    p2["Power function [W]"] = float(power_W)
    p2["Lower voltage cut-off [V]"] = V_MIN
    sim = pybamm.Simulation(m, parameter_values=p2, solver=pybamm.IDAKLUSolver(rtol=1e-5, atol=1e-7))
    try:
        s = sim.solve([0.0, 20.0 * 3600.0])
    except pybamm.SolverError:
        return 0.0
    v = np.asarray(s["Voltage [V]"].entries, float)
    if not (abs(v[-1] - V_MIN) < 1e-3):
        raise RuntimeError(f"the DFN's {power_W} W discharge ended at {v[-1]:.4f} V, not at the {V_MIN} V cut-off")
    return float(power_W) * float(s.t[-1]) / 3600.0


def full_energy_Wh(T_degC: float, power_W: float) -> float:
    import pybamm

    model = pybamm.lithium_ion.DFN({"thermal": "lumped"})
    pv = pybamm.ParameterValues("Chen2020")
    pv.set_initial_state(1.0, options=model.options)
    pv["Ambient temperature [K]"] = T_degC + 273.15
    pv["Initial temperature [K]"] = T_degC + 273.15
    return dfn_energy_Wh(None, pv, power_W)


def main(argv) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--temps", default="25,0,-10")
    ap.add_argument("--socs", default="0.9,0.7,0.5,0.3,0.15")
    ap.add_argument("--powers", default="9,18", help="constant discharge powers (W); Chen2020 is 5 Ah, ~18 W at 1C")
    ap.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "soe" / "chen2020_soe_truth.json.gz"))
    a = ap.parse_args(argv[1:])
    import pybamm

    from cellsense import make_estimator
    from cellsense.estimators.power import PowerSettings, remaining_energy

    powers = [float(x) for x in a.powers.split(",")]
    q = float(pybamm.ParameterValues("Chen2020")["Nominal cell capacity [A.h]"])
    cur = cpt.history_current(q)
    dq = float(np.sum(cur)) / 3600.0 / q
    rng = np.random.default_rng(15)
    rows = []
    full = {}
    for T in (float(x) for x in a.temps.split(",")):
        for P in powers:
            full[(T, P)] = full_energy_Wh(T, P)
            print(f"{T:5.0f} degC {P:g} W: full energy {full[(T, P)]:.3f} W h", flush=True)
        for target in (float(x) for x in a.socs.split(",")):
            t0 = time.time()
            model, pv, sol = cpt.solve_history(T, target + dq, cur)
            t, i_log, v, temp = cpt.history_log(sol, cur)
            v_meas = np.round(v + rng.normal(0.0, 0.002, len(v)), 5)
            i_meas = np.round(1.005 * i_log + rng.normal(0.0, 0.02, len(i_log)), 5)
            temp = np.round(temp, 4)
            est = make_estimator("chen2020")
            est.run(t, i_meas, v_meas, temp)
            row = {"temperature_degC": T, "soc_target": target, "soc_end_estimate": est.soc,
                   "soc_end_true": float(target + dq - float(sol["Discharge capacity [A.h]"].entries[-1]) / q),
                   "log": {"time_s": t.tolist(), "current_A": i_meas.tolist(), "voltage_V": v_meas.tolist(),
                           "temperature_degC": temp.tolist()},
                   "powers": {}}
            for P in powers:
                e_true = dfn_energy_Wh(sol, pv, P)
                nom = remaining_energy(est, float(temp[-1]), P)
                con = remaining_energy(est, float(temp[-1]), P, PowerSettings.conservative())
                row["powers"][f"{P:g}"] = {"truth_Wh": e_true, "full_Wh": full[(T, P)], "model_Wh": nom["energy_Wh"],
                                           "model_sigma_Wh": nom["energy_sigma_Wh"],
                                           "conservative_Wh": con["energy_Wh"]}
                err = (nom["energy_Wh"] - e_true) / full[(T, P)]
                print(f"{T:5.0f} degC SOC {target:.2f} {P:4g} W: truth {e_true:6.3f} model {nom['energy_Wh']:6.3f} "
                      f"+- {nom['energy_sigma_Wh']:.3f} ({100 * err:+5.1f} % of full) conservative "
                      f"{con['energy_Wh']:6.3f} Wh", flush=True)
            row["seconds"] = round(time.time() - t0, 1)
            rows.append(row)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"what": "remaining-energy truth, Chen2020 DFN (lumped thermal), PyBaMM " + pybamm.__version__,
            "method": __doc__.split("\n\n")[1], "cut-off_V": V_MIN, "powers_W": powers,
            "bars_of_full_energy": {f"{k:g}": v for k, v in BARS.items()}, "rng": 15}
    tmp = out.with_name(out.name + ".tmp")
    with gzip.open(tmp, "wt") as f:
        json.dump({"meta": meta, "rows": rows}, f)
    tmp.replace(out)
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
