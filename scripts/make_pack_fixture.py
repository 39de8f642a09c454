#!/usr/bin/env python3
"""Build the simulated pack fixture in tests/fixtures/pack/ (docs/replay.md, "Fixtures").

12 cells in series, each simulated with PyBaMM's SPMe (Chen2020 parameters, LG M50, 25 degC isothermal)
with cell-to-cell spread: capacity (electrode height x c_k), resistance (contact resistance R_c,k) and
initial SOC. Drive: the UDDS shape scaled to 2C peak (first 700 s), a 600 s stop during which the
LOGGER IS OFF (the cells rest; no rows), then 700 s more of UDDS. Sensors: 1 mV cell-voltage noise,
10 mA current noise + 20 mA offset, seeded. The reference SOC column `bms_soc_pct` is the true usable
pack SOC in percent (what a vehicle BMS would report): min discharge / (min discharge + min charge).

Writes: sim12s.csv.gz (pack CSV), sim12s.dbc (a DBC written for it), sim12s.log.gz (candump rendered
from the CSV through that DBC), sim12s.pack.json / sim12s_can.pack.json (pack files), truth.json.

    python3 scripts/make_pack_fixture.py [--out tests/fixtures/pack]
"""
from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
N_CELLS = 12
SEED = 7

DBC = """VERSION "cellsense sim12s fixture"

NS_ :

BS_:

BU_: BMS HIL

BO_ 256 PackStatus: 8 BMS
 SG_ PackCurrent : 0|16@1- (0.01,0) [-327.68|327.67] "A" HIL
 SG_ PackTemp : 16|8@1+ (1,-40) [-40|215] "degC" HIL
 SG_ BmsSoc : 24|10@1+ (0.1,0) [0|102.3] "%" HIL
 SG_ Counter : 56|8@1+ (1,0) [0|255] "" HIL

BO_ 512 CellVoltages1: 8 BMS
 SG_ Cell01 : 0|16@1+ (0.0001,0) [0|6.5535] "V" HIL
 SG_ Cell02 : 16|16@1+ (0.0001,0) [0|6.5535] "V" HIL
 SG_ Cell03 : 32|16@1+ (0.0001,0) [0|6.5535] "V" HIL
 SG_ Cell04 : 48|16@1+ (0.0001,0) [0|6.5535] "V" HIL

BO_ 513 CellVoltages2: 8 BMS
 SG_ Cell05 : 0|16@1+ (0.0001,0) [0|6.5535] "V" HIL
 SG_ Cell06 : 16|16@1+ (0.0001,0) [0|6.5535] "V" HIL
 SG_ Cell07 : 32|16@1+ (0.0001,0) [0|6.5535] "V" HIL
 SG_ Cell08 : 48|16@1+ (0.0001,0) [0|6.5535] "V" HIL

BO_ 514 CellVoltages3: 8 BMS
 SG_ Cell09 : 0|16@1+ (0.0001,0) [0|6.5535] "V" HIL
 SG_ Cell10 : 16|16@1+ (0.0001,0) [0|6.5535] "V" HIL
 SG_ Cell11 : 32|16@1+ (0.0001,0) [0|6.5535] "V" HIL
 SG_ Cell12 : 48|16@1+ (0.0001,0) [0|6.5535] "V" HIL

CM_ BO_ 256 "Pack current (+ = discharge), temperature, the simulated BMS's usable SOC; 1 Hz.";
CM_ BO_ 512 "Cell voltages 1-4; 1 Hz.";
"""


def udds_shape() -> np.ndarray:
    a = np.loadtxt(ROOT / "python" / "cellsense" / "data" / "drive_cycles" / "UDDS.csv", delimiter=",", comments="#")
    t, i = a[:, 0], a[:, 1]
    return np.interp(np.arange(0, int(t[-1])), t, i) / np.max(np.abs(i))


def solve_cell(current_A: np.ndarray, cap_scale: float, r_contact: float, soc0: float):
    import pybamm

    pybamm.set_logging_level("ERROR")
    model = pybamm.lithium_ion.SPMe({"contact resistance": "true"})
    pv = pybamm.ParameterValues("Chen2020")
    pv["Electrode height [m]"] = pv["Electrode height [m]"] * cap_scale
    pv["Nominal cell capacity [A.h]"] = pv["Nominal cell capacity [A.h]"] * cap_scale
    pv["Contact resistance [Ohm]"] = r_contact
    pv.set_initial_state(soc0)
    n = len(current_A)
    grid = np.arange(n + 1, dtype=float)
    # current_A[k] is held over (k, k+1]: it starts 1 ms AFTER sample k, so the voltage sampled at k + 1 carries it
    # and that of k does not (docs/conventions.md). Until 2026-12-07 the step was 1 ms BEFORE the sample, so every
    # voltage led its logged current by a row (cellsense replay now warns about such a skew).
    tk = np.repeat(grid, 2)[1:-1]
    tk[2::2] += 1e-3
    ik = np.repeat(current_A, 2)
    pv["Current function [A]"] = pybamm.Interpolant(np.r_[tk], np.r_[ik], pybamm.t, interpolator="linear")
    sim = pybamm.Simulation(model, parameter_values=pv, solver=pybamm.IDAKLUSolver(rtol=1e-6, atol=1e-8))
    sol = sim.solve(t_eval=[0, float(n)], t_interp=grid)
    v = sol["Voltage [V]"].entries
    q = sol["Discharge capacity [A.h]"].entries
    return v, q, float(pv["Nominal cell capacity [A.h]"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "pack"))
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    shape = udds_shape()
    q_nom = 5.0
    drive1 = 2.0 * q_nom * shape[:700]
    drive2 = 2.0 * q_nom * shape[700:1400]
    gap = np.zeros(600)
    current = np.r_[drive1, gap, drive2]            # current of interval (k, k+1]
    cap = 1.0 + 0.03 * rng.standard_normal(N_CELLS)
    rc = np.abs(0.004 + 0.002 * rng.standard_normal(N_CELLS))
    soc0 = 0.80 + 0.015 * rng.standard_normal(N_CELLS)
    volts, socs, caps = [], [], []
    for k in range(N_CELLS):
        v, qd, qn = solve_cell(current, float(cap[k]), float(rc[k]), float(soc0[k]))
        volts.append(v)
        caps.append(qn)
        socs.append(soc0[k] - qd / qn)
        print(f"cell {k + 1:2d}: capacity x{cap[k]:.3f}, R_contact {rc[k] * 1e3:.2f} mOhm, SOC0 {soc0[k]:.3f}")
    V = np.array(volts).T                          # (n+1, cells) at t = 0..n
    Z = np.array(socs).T
    caps = np.array(caps)
    t = np.arange(len(current) + 1, dtype=float)
    i_row = np.r_[0.0, current]                    # row k: current held over (t[k-1], t[k]]
    d = np.min(Z * caps, axis=1)
    c = np.min((1 - Z) * caps, axis=1)
    usable = d / (d + c)
    keep = ~((t > 700) & (t < 1300))               # logger off during the stop (t = 701 .. 1299)
    Vm = V + 0.001 * rng.standard_normal(V.shape)
    Im = i_row + 0.01 * rng.standard_normal(len(i_row)) + 0.02
    temp = np.full(len(t), 25.0)
    cols = ["time_s", "pack_current_A", "temp_degC", "bms_soc_pct"] + [f"cell{k + 1:02d}_V" for k in range(N_CELLS)]
    with gzip.open(out / "sim12s.csv.gz", "wt", newline="") as f:
        f.write(",".join(cols) + "\n")
        for r in np.nonzero(keep)[0]:
            f.write(f"{t[r]:.1f},{Im[r]:.3f},{temp[r]:.1f},{100 * usable[r]:.1f},"
                    + ",".join(f"{x:.4f}" for x in Vm[r]) + "\n")
    (out / "sim12s.dbc").write_text(DBC)
    import cantools

    db = cantools.database.load_string(DBC, database_format="dbc")
    with gzip.open(out / "sim12s.log.gz", "wt") as f:
        for n_, r in enumerate(np.nonzero(keep)[0]):
            ts = 1700000000.0 + t[r]
            msgs = [("PackStatus", {"PackCurrent": round(Im[r], 2), "PackTemp": 25, "BmsSoc": round(100 * usable[r], 1),
                                    "Counter": n_ % 256})]
            for m in range(3):
                msgs.append((f"CellVoltages{m + 1}", {f"Cell{4 * m + j + 1:02d}": round(float(Vm[r, 4 * m + j]), 4)
                                                      for j in range(4)}))
            for j, (name, sig) in enumerate(msgs):
                msg = db.get_message_by_name(name)
                data = msg.encode(sig)
                f.write(f"({ts + 0.001 * j:.6f}) vcan0 {msg.frame_id:03X}#{data.hex().upper()}\n")
    common = {"cellsense pack file": 1, "topology": {"series": N_CELLS, "parallel": 1}, "cell": "chen2020",
              "gaps": {"policy": "rest", "gap_s": 30, "reinit_after_s": 3600},
              "estimator": {"filter": "ekf", "dtype": "float32"}}
    spread = [{"capacity_scale": round(float(cap[k]), 4)} for k in range(N_CELLS)]
    csv_pack = {**common, "name": "sim12s", "description": "PyBaMM SPMe 12s1p fixture (scripts/make_pack_fixture.py)",
                "time": "time_s", "current": {"signal": "pack_current_A", "positive": "discharge"},
                "temperature": "temp_degC", "reference_soc": {"signal": "bms_soc_pct", "scale": 0.01},
                "cells": [{"voltage": f"cell{k + 1:02d}_V", **spread[k]} for k in range(N_CELLS)]}
    can_pack = {**common, "name": "sim12s-can", "description": "the same pack, decoded from CAN with sim12s.dbc",
                "current": "PackStatus.PackCurrent", "temperature": "PackTemp",
                "reference_soc": {"signal": "BmsSoc", "scale": 0.01}, "can": {"sample_period_s": 1.0},
                "cells": [{"voltage": f"Cell{k + 1:02d}", **spread[k]} for k in range(N_CELLS)]}
    (out / "sim12s.pack.json").write_text(json.dumps(csv_pack, indent=1) + "\n")
    (out / "sim12s_can.pack.json").write_text(json.dumps(can_pack, indent=1) + "\n")
    truth = {"capacity_scale": cap.tolist(), "contact_resistance_Ohm": rc.tolist(), "initial_soc": soc0.tolist(),
             "final_soc": Z[-1].tolist(), "final_usable_soc": float(usable[-1]),
             "source": "PyBaMM SPMe, Chen2020, scripts/make_pack_fixture.py", "seed": SEED}
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    print(f"wrote {out}: {int(keep.sum())} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
