#!/usr/bin/env python3
"""State of power against PyBaMM truth (issue #15, docs/power.md): Chen2020 DFN (lumped thermal), after a
realistic history, the true 10 s and 30 s discharge and charge current limits found by bisection on the DFN
itself from the history's end state; against them the filter-based limit (the bundled chen2020 ECM, EKF,
run over a noisy log of the same history) and its conservative variant.

History: 60 s rest at SOC s0, then the first 600 s of US06 (peak 2C discharge), s0 chosen so that the SOC
after it is the target (0.9 / 0.7 / 0.5 / 0.3 / 0.15). Truth: the largest |I| for which the DFN, started from
the history's end state (model.set_initial_conditions_from), keeps 2.5 <= V <= 4.2 V over the whole horizon
(bisection on I, 9 steps, the solver's own cut-offs widened so it does not stop; a solver failure counts as
infeasible). Sensor of the log: voltage + N(0, 2 mV), current 1.005 I + N(0, 20 mA).

Usage: PYTHONPATH=python python3 scripts/check_power_truth.py [--temps 25,0,-10] [--socs 0.9,0.7,0.5,0.3,0.15]
           [--out docs/data/chen2020_sop_truth.json] [--cell chen2020] [--truth-from FILE]
Cost: about 1-2 min per (temperature, SOC) on 2 cores. With --truth-from, the truths are read from an earlier
run's rows (same temperatures and SOCs) and only the histories are solved (some seconds each): the way to
compare another cell file, e.g. `--cell chen2020_spme` (the SPMe estimator) against the same truths.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
try:  # the installed package (with its compiled core); the source tree otherwise
    import cellsense._core  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "python"))

V_MIN, V_MAX = 2.5, 4.2
HORIZONS = (10.0, 30.0)
BISECTION_STEPS = 9
I_MAX = 60.0  # A: search ceiling (12C for the 5 Ah cell)


def history_current(q_Ah: float) -> np.ndarray:
    from cellsense.truth.schedules import drive_cycle_shape

    shape = drive_cycle_shape("us06")[:600]
    return np.r_[np.zeros(60), 2.0 * q_Ah * shape]  # 1 s intervals


def solve_history(T_degC: float, soc0: float, cur: np.ndarray):
    import pybamm

    pybamm.set_logging_level("ERROR")
    model = pybamm.lithium_ion.DFN({"thermal": "lumped"})
    pv = pybamm.ParameterValues("Chen2020")
    pv.set_initial_state(soc0, options=model.options)
    pv["Ambient temperature [K]"] = T_degC + 273.15
    pv["Initial temperature [K]"] = T_degC + 273.15
    pv["Upper voltage cut-off [V]"] = 4.6
    pv["Lower voltage cut-off [V]"] = 2.0
    n = len(cur)
    ramp = 0.01
    tk = np.empty(2 * n)
    ik = np.empty(2 * n)
    grid = np.arange(n + 1, dtype=float)
    tk[0::2] = grid[:-1] + ramp
    tk[1::2] = grid[1:]
    tk[0] = 0.0
    ik[0::2] = cur
    ik[1::2] = cur
    pv["Current function [A]"] = pybamm.Interpolant(tk, ik, pybamm.t, interpolator="linear")
    change = np.flatnonzero(np.diff(cur) != 0)
    t_eval = np.unique(np.r_[0.0, grid[change + 1], grid[change + 1] + ramp, grid[-1]])
    solver = pybamm.IDAKLUSolver(rtol=1e-5, atol=1e-7)
    sim = pybamm.Simulation(model, parameter_values=pv, solver=solver)
    sol = sim.solve(t_eval=t_eval, t_interp=grid)
    return model, pv, sol


def history_log(sol, cur: np.ndarray):
    """The solved history on its 1 s grid, as a cell log: time_s, current_A (row k: the interval ending at t_k,
    + = discharge), voltage_V, temperature_degC (the cell's volume average)."""
    t_all = np.asarray(sol.t, float)
    keep = (np.abs(t_all - np.round(t_all)) < 1e-7) & np.r_[True, np.diff(t_all) > 0]  # the 1 s grid
    t = t_all[keep]
    v = np.asarray(sol["Voltage [V]"].entries, float)[keep]
    temp = np.asarray(sol["Volume-averaged cell temperature [C]"].entries, float)[keep]
    return t, np.r_[0.0, cur[np.round(t[1:]).astype(int) - 1]], v, temp


def step_model(model, pv, sol):
    import pybamm

    m2 = model.set_initial_conditions_from(sol, inplace=False)
    pv2 = pv.copy()
    pv2["Current function [A]"] = "[input]"
    return pybamm.Simulation(m2, parameter_values=pv2, solver=pybamm.IDAKLUSolver(rtol=1e-5, atol=1e-7))


def feasible(sim, current_A: float, horizon_s: float) -> bool:
    import pybamm

    try:
        s = sim.solve([0.0, horizon_s], inputs={"Current function [A]": current_A},
                      t_interp=np.linspace(0.0, horizon_s, int(horizon_s * 4) + 1))
    except pybamm.SolverError:
        return False
    if s.t[-1] < horizon_s - 1e-6:
        return False
    v = s["Terminal voltage [V]"].entries if "Terminal voltage [V]" in s.all_models[0].variables else s["Voltage [V]"].entries
    return bool(np.min(v) >= V_MIN and np.max(v) <= V_MAX)


def true_limit(sim, sign: float, horizon_s: float) -> float:
    if not feasible(sim, 0.0, horizon_s):
        return 0.0
    lo, hi = 0.0, I_MAX
    if feasible(sim, sign * hi, horizon_s):
        return hi
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if feasible(sim, sign * mid, horizon_s):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def main(argv) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--temps", default="25,0,-10")
    ap.add_argument("--socs", default="0.9,0.7,0.5,0.3,0.15")
    ap.add_argument("--out", default=str(ROOT / "docs" / "data" / "chen2020_sop_truth.json"))
    ap.add_argument("--cell", default="chen2020", help="the cell file whose estimator's limits are compared")
    ap.add_argument("--truth-from", default=None, help="an earlier --out: take its truths instead of bisecting")
    a = ap.parse_args(argv[1:])
    known = {}
    if a.truth_from:
        for r in json.loads(Path(a.truth_from).read_text())["rows"]:
            known[(float(r["temperature_degC"]), float(r["soc_target"]))] = r["truth"]
    import pybamm

    from cellsense import make_estimator
    from cellsense.estimators.power import PowerSettings, power_limits_now

    q = float(pybamm.ParameterValues("Chen2020")["Nominal cell capacity [A.h]"])
    cur = history_current(q)
    dq = float(np.sum(cur)) / 3600.0 / q
    rng = np.random.default_rng(15)
    rows = []
    for T in (float(x) for x in a.temps.split(",")):
        for target in (float(x) for x in a.socs.split(",")):
            t0 = time.time()
            soc0 = target + dq
            model, pv, sol = solve_history(T, soc0, cur)
            t, i_log, v, temp = history_log(sol, cur)
            if a.truth_from:
                if (T, target) not in known:
                    raise SystemExit(f"{a.truth_from}: no row for {T} degC, SOC {target}")
                truth = known[(T, target)]
            else:
                sim = step_model(model, pv, sol)
                truth = {f"{h:g}": {"discharge_A": true_limit(sim, 1.0, h), "charge_A": true_limit(sim, -1.0, h)}
                         for h in HORIZONS}
            # the filter-based limit from a noisy log of the history
            v_meas = v + rng.normal(0.0, 0.002, len(v))
            i_meas = 1.005 * i_log + rng.normal(0.0, 0.02, len(i_log))
            est = make_estimator(a.cell)
            est.run(t, i_meas, v_meas, temp)
            base = dict(horizons_s=HORIZONS, voltage_min_V=V_MIN, voltage_max_V=V_MAX, discharge_current_max_A=I_MAX,
                        charge_current_max_A=I_MAX)
            nom = power_limits_now(est, float(temp[-1]), PowerSettings(**base))
            con = power_limits_now(est, float(temp[-1]), PowerSettings.conservative(**base))
            row = {"temperature_degC": T, "soc_target": target, "cell": a.cell, "soc_end_estimate": est.soc,
                   "soc_end_true": float(soc0 - float(sol["Discharge capacity [A.h]"].entries[-1]) / q),
                   "truth": truth,
                   "model": {f"{h:g}": {"discharge_A": n["discharge_current_A"], "charge_A": n["charge_current_A"]}
                             for h, n in zip(HORIZONS, nom)},
                   "conservative": {f"{h:g}": {"discharge_A": c["discharge_current_A"], "charge_A": c["charge_current_A"]}
                                    for h, c in zip(HORIZONS, con)},
                   "seconds": round(time.time() - t0, 1)}
            rows.append(row)
            for h in HORIZONS:
                k = f"{h:g}"
                tr, mo, co = row["truth"][k], row["model"][k], row["conservative"][k]
                print(f"{T:5.0f} degC SOC {target:.2f} {k:>3s} s: discharge truth {tr['discharge_A']:6.2f} model "
                      f"{mo['discharge_A']:6.2f} ({100 * (mo['discharge_A'] / max(tr['discharge_A'], 1e-9) - 1):+6.1f} %) "
                      f"cons {co['discharge_A']:6.2f} | charge truth {tr['charge_A']:6.2f} model {mo['charge_A']:6.2f} "
                      f"({100 * (mo['charge_A'] / max(tr['charge_A'], 1e-9) - 1):+6.1f} %) cons {co['charge_A']:6.2f}",
                      flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"what": "state-of-power truth, Chen2020 DFN (lumped thermal), PyBaMM " + pybamm.__version__,
            "method": __doc__.split("\n\n")[1], "horizons_s": HORIZONS, "cut-offs_V": [V_MIN, V_MAX],
            "bisection_steps": BISECTION_STEPS, "search_ceiling_A": I_MAX}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    tmp.replace(out)
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
