#!/usr/bin/env python3
"""Make the NASA PCoE B0005/B0006 bundle and fit an ECM per cell from its first discharges.

Source: B. Saha and K. Goebel (2007), "Battery Data Set", NASA Ames Prognostics Data Repository,
NASA Ames Research Center (US-government public release), as prepared in ../shared/data/nasa-pcoe/.

Writes
  python/cellsense/data/nasa_pcoe/B000x_discharges.csv.gz   discharge_index,time_s,current_A,voltage_V,temperature_degC
                                                             (current NEGATED: + = discharge, docs/conventions.md)
  python/cellsense/data/nasa_pcoe/B000x_capacity.csv         discharge_index,capacity_Ah (NASA's measured capacity)
  models/nasa_b000x.json                                     1-RC ECM fitted from discharges 1-3 of that cell only

The fit never uses the capacity column: the SOC scale is the charge each of discharges 1-3 delivered
(integrated current of the time series, as a BMS end-of-line test would measure it), R0 the voltage
step when the 2 A load is switched on, R1/tau1 the transient of the first 10 minutes of load, and the OCV the
loaded voltage plus the modelled drop, averaged over discharges 1-3.

Usage: python3 scripts/make_nasa_bundle.py [--src ../shared/data/nasa-pcoe]
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "python" / "cellsense" / "data" / "nasa_pcoe"
CELLS = ("B0005", "B0006")
FIT_DISCHARGES = (1, 2, 3)
SOC_BP = [0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65,
          0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.96, 0.98, 1.0]


def load(src: Path, cell: str):
    raw = np.genfromtxt(src / f"{cell}_discharge_timeseries.csv.gz", delimiter=",", names=True)
    cap = np.genfromtxt(src / f"{cell}_discharge_capacity.csv", delimiter=",", names=True)
    return raw, cap


def write_bundle(raw, cap, cell: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    buf.write("discharge_index,time_s,current_A,voltage_V,temperature_degC\n")
    for r in raw:
        buf.write(f"{int(r['discharge_index'])},{r['time_s']:.3f},{-r['current_measured_A']:.5f},"
                  f"{r['voltage_measured_V']:.5f},{r['temperature_measured_C']:.3f}\n")
    with gzip.GzipFile(OUT / f"{cell}_discharges.csv.gz", "wb", mtime=0) as fh:
        fh.write(buf.getvalue().encode())
    with open(OUT / f"{cell}_capacity.csv", "w") as fh:
        fh.write("discharge_index,capacity_Ah\n")
        for r in cap:
            fh.write(f"{int(r['discharge_index'])},{r['capacity_Ah']:.6f}\n")


def discharge(raw, k: int):
    m = raw["discharge_index"] == k
    return (raw["time_s"][m], -raw["current_measured_A"][m], raw["voltage_measured_V"][m], raw["temperature_measured_C"][m])


def fit_cell(raw, cell: str) -> dict:
    r0s, r1s, taus, qs = [], [], [], []
    curves = []
    for k in FIT_DISCHARGES:
        t, i, v, th = discharge(raw, k)
        on = np.flatnonzero(i > 1.0)
        first, last = on[0], on[-1]
        i_load = float(np.median(i[on]))
        # R0: step at switch-on (first loaded sample against the rested voltage before it)
        r0s.append((v[first - 1] - v[first]) / i_load)
        # first 10 minutes of the load: v = v_on - R1 I (1 - exp(-t/tau)) - c t (the OCV's slope), on a tau grid;
        # v_on is the first loaded sample (R0 already dropped)
        tl = t[first:] - t[first]
        m = tl <= 600.0
        best = None
        for tau in np.geomspace(5.0, 600.0, 120):
            a = np.column_stack([np.ones(m.sum()), -(1 - np.exp(-tl[m] / tau)), -tl[m]])
            coef, *_ = np.linalg.lstsq(a, v[first:][m], rcond=None)
            res = float(np.sum((a @ coef - v[first:][m]) ** 2))
            if best is None or res < best[0]:
                best = (res, tau, coef)
        _, tau, coef = best
        r1s.append(max(float(coef[1]), 1e-4) / i_load)
        taus.append(tau)
        q = np.r_[0.0, np.cumsum(i[1:] * np.diff(t))] / 3600.0  # Ah, piecewise-constant rule
        qs.append(q[last])
        curves.append((t, i, v, q, first, last, i_load))
    r0, r1, tau1 = float(np.median(r0s)), float(np.median(r1s)), float(np.median(taus))
    cap = float(np.mean(qs))
    # OCV: loaded voltage + R0 I + v_rc (exact discrete RC recursion from rest), on SOC = 1 - q / cap
    ocv_rows = []
    for t, i, v, q, first, last, i_load in curves:
        vrc = np.zeros_like(v)
        for k in range(1, len(v)):
            a = np.exp(-(t[k] - t[k - 1]) / tau1)
            vrc[k] = a * vrc[k - 1] + r1 * (1 - a) * i[k]
        z = 1.0 - q / cap
        sl = slice(first, last + 1)
        ocv = v[sl] + r0 * i[sl] + vrc[sl]
        zz, oo = z[sl][::-1], ocv[::-1]
        # rested start: SOC 1 at the rested voltage
        zz = np.r_[zz, 1.0]
        oo = np.r_[oo, v[first - 1]]
        ocv_rows.append(np.interp(SOC_BP, zz, oo))
    ocv = np.mean(ocv_rows, axis=0)
    for j in range(1, len(ocv)):  # strictly increasing
        ocv[j] = max(ocv[j], ocv[j - 1] + 1e-4)
    lower = 2.7 if cell == "B0005" else 2.5
    return {
        "cellsense cell file": 1,
        "name": f"nasa_{cell.lower()}",
        "description": (f"NASA PCoE {cell} (18650, 2 Ah rated; B. Saha and K. Goebel (2007), 'Battery Data Set', NASA Ames "
                        f"Prognostics Data Repository). 1-RC ECM fitted by scripts/make_nasa_bundle.py from discharges "
                        f"{', '.join(map(str, FIT_DISCHARGES))} of this cell only (2 A discharges, ~24-39 degC): SOC scale = "
                        f"their mean delivered charge, R0 = switch-on step, R1/tau1 = the transient of the first 10 min of the load, OCV = "
                        f"loaded voltage + modelled drop. No temperature dependence (one temperature row)."),
        "placeholder": False,
        "model": "ecm",
        "RC pairs": 1,
        "parameters": {
            "Nominal cell capacity [A.h]": round(cap, 5),
            "Coulombic efficiency": 1.0,
            "SOC breakpoints": SOC_BP,
            "Temperature breakpoints [degC]": [25.0],
            "Open-circuit voltage [V]": [[round(float(x), 5) for x in ocv]],
            "R0 [Ohm]": round(r0, 5),
            "R1 [Ohm]": round(r1, 5),
            "tau1 [s]": round(tau1, 2),
            "Hysteresis maximum [V]": 0.0,
            "Instantaneous hysteresis [V]": 0.0,
            "Hysteresis rate constant": 0.0,
            "Lower voltage cut-off [V]": lower,
            "Upper voltage cut-off [V]": 4.2,
        },
        "limits": {"Voltage range [V]": [0.0, 5.0], "Current range [A]": [-10.0, 10.0],
                   "Temperature range [degC]": [-40.0, 85.0]},
        "provenance": {
            "Nominal cell capacity [A.h]": f"mean integrated current of discharges {FIT_DISCHARGES}: {[round(x, 4) for x in qs]}",
            "R0 [Ohm]": f"switch-on voltage step / current, discharges {FIT_DISCHARGES}: {[round(x, 4) for x in r0s]}",
            "R1 [Ohm]": f"transient amplitude over the first 10 min of the load / current: {[round(x, 4) for x in r1s]}",
            "tau1 [s]": f"time constant of the first 10 min of the load: {[round(x, 1) for x in taus]}",
            "Open-circuit voltage [V]": "loaded voltage + R0 I + v_RC, mean of the fit discharges; SOC 1 = rested start",
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=str(ROOT.parent / "shared" / "data" / "nasa-pcoe"))
    a = ap.parse_args()
    src = Path(a.src)
    for cell in CELLS:
        raw, cap = load(src, cell)
        write_bundle(raw, cap, cell)
        model = fit_cell(raw, cell)
        path = ROOT / "models" / f"nasa_{cell.lower()}.json"
        path.write_text(json.dumps(model, indent=1) + "\n")
        p = model["parameters"]
        print(f"{cell}: bundle written; model {path.name}: Q {p['Nominal cell capacity [A.h]']} Ah, R0 {p['R0 [Ohm]']} Ohm, "
              f"R1 {p['R1 [Ohm]']} Ohm, tau1 {p['tau1 [s]']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
