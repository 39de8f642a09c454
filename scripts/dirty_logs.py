#!/usr/bin/env python3
"""Dirty-log suite (issue #12): clean logs with injected field faults through the estimator.

Two clean logs: the bundled Panasonic 18650PF 25 degC US06 drive cycle (measured, 1 Hz) and a simulated
ECM log (numpy ECM of models/chen2020.json driven by the same US06 current scaled to its capacity, 2 mV /
10 mA noise). Faults: clock glitch far forward (one row at t = 1e9 s), clock jump forward (+1 h for the rest
of the log), clock restart (t = 0 again half-way), 1 % duplicated rows, 1 % dropped rows, a stuck voltage
sensor (the same value for 60 s), a 10-minute logger gap, NaN rows (1 % of rows, NaN in current, voltage
or temperature).

For each case the EKF with default settings must
  - end within 2 % SOC of its clean-log result (`d_final`),
  - report the fault in its status: a non-fused status on at least one of the faulty rows (`flagged`
    of `faulty`; a dropped row leaves no row to flag: its neighbour's dt covers it, so it has none),
  - never freeze: the last 100 samples fused.
A stuck voltage sensor is found by the whole-log loop (python/bindings/common.hpp find_stuck_voltage: >= 5
bit-identical readings while the current steps by more than 5 mV / R0_min both ways and is both a discharge
and a charge); those samples are stepped predict-only, status `voltage_stuck`.

    python scripts/dirty_logs.py          # prints the table (also: pytest -s tests/python/test_dirty_logs.py)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOUND_SOC = 0.02   #: |final SOC - clean final SOC|
TAIL = 100         #: samples at the end that must all be fused
SEED = 12


@dataclass
class Log:
    name: str
    cell: str
    time_s: np.ndarray
    current_A: np.ndarray
    voltage_V: np.ndarray
    temperature_degC: np.ndarray
    initial_soc: float

    def arrays(self):
        return self.time_s, self.current_A, self.voltage_V, self.temperature_degC


def clean_logs() -> list[Log]:
    from cellsense.cell import load_cell
    from cellsense.realdata import load_real_log
    from cellsense.reference import simulate_ecm

    real = load_real_log("panasonic-18650pf/25degC_US06")
    pan = Log("panasonic-25degC_US06", "panasonic_18650pf", np.asarray(real.time_s, float),
              np.asarray(real.current_A, float), np.asarray(real.voltage_V, float),
              np.asarray(real.temperature_degC, float), float(real.soc_true[0]))
    chen = load_cell("chen2020")
    t = pan.time_s.copy()
    i = pan.current_A * chen.capacity_Ah / 2.9  # the same C-rates
    sim = simulate_ecm(chen, t, i, 25.0, initial_soc=0.95)
    rng = np.random.default_rng(SEED)
    sim_log = Log("chen2020-sim-US06", "chen2020", t, i + 0.01 * rng.standard_normal(len(t)),
                  sim["voltage_V"] + 0.002 * rng.standard_normal(len(t)), np.full(len(t), 25.0), 0.95)
    return [pan, sim_log]


def _take(log: Log, idx: np.ndarray, **over) -> Log:
    cols = {k: np.asarray(getattr(log, k))[idx].copy() for k in ("time_s", "current_A", "voltage_V", "temperature_degC")}
    cols.update(over)
    return Log(log.name, log.cell, initial_soc=log.initial_soc, **cols)


# Each fault: clean log -> (faulty log, boolean mask of the faulty rows in the faulty log).
def clock_glitch_forward(log: Log, rng):
    n = len(log.time_s)
    k = n // 3
    f = _take(log, np.arange(n))
    f.time_s[k] = 1e9
    m = np.zeros(n, bool)
    m[k] = True
    return f, m


def clock_jump_forward(log: Log, rng):
    n = len(log.time_s)
    k = n // 3
    f = _take(log, np.arange(n))
    f.time_s[k:] += 3600.0
    m = np.zeros(n, bool)
    m[k] = True
    return f, m


def clock_restart(log: Log, rng):
    n = len(log.time_s)
    k = n // 2
    f = _take(log, np.arange(n))
    f.time_s[k:] -= f.time_s[k]  # the logger's clock restarts at 0
    m = np.zeros(n, bool)
    m[k] = True
    return f, m


def duplicated_rows(log: Log, rng):
    n = len(log.time_s)
    dup = np.sort(rng.choice(np.arange(1, n - 200), size=n // 100, replace=False))
    idx = np.sort(np.concatenate([np.arange(n), dup]))
    f = _take(log, idx)
    m = np.zeros(len(idx), bool)
    m[1:] = idx[1:] == idx[:-1]  # the second copy of each duplicated row
    return f, m


def dropped_rows(log: Log, rng):
    n = len(log.time_s)
    drop = rng.choice(np.arange(1, n - 200), size=n // 100, replace=False)
    keep = np.setdiff1d(np.arange(n), drop)
    return _take(log, keep), np.zeros(len(keep), bool)  # nothing left to flag: the next row's dt spans the hole


def stuck_voltage(log: Log, rng):
    n = len(log.time_s)
    k = n // 2
    f = _take(log, np.arange(n))
    f.voltage_V[k:k + 60] = f.voltage_V[k]
    m = np.zeros(n, bool)
    m[k + 1:k + 60] = True
    return f, m


def logger_gap(log: Log, rng):
    n = len(log.time_s)
    k = n // 2
    keep = np.concatenate([np.arange(k), np.arange(k + 600, n)])  # 10 minutes not logged
    m = np.zeros(len(keep), bool)
    m[k] = True  # the first row after the gap
    return _take(log, keep), m


def nan_rows(log: Log, rng):
    n = len(log.time_s)
    rows = np.sort(rng.choice(np.arange(1, n - 200), size=n // 100, replace=False))
    f = _take(log, np.arange(n))
    cols = ("current_A", "voltage_V", "temperature_degC")
    for j, r in enumerate(rows):
        getattr(f, cols[j % 3])[r] = np.nan
    m = np.zeros(n, bool)
    m[rows] = True
    return f, m


FAULTS = {"clock glitch +1e9 s (1 row)": clock_glitch_forward, "clock jump +1 h": clock_jump_forward,
          "clock restart (t = 0)": clock_restart, "duplicated rows 1 %": duplicated_rows,
          "dropped rows 1 %": dropped_rows, "stuck voltage 60 s": stuck_voltage,
          "logger gap 10 min": logger_gap, "NaN rows 1 %": nan_rows}


def run(log: Log):
    import cellsense

    return cellsense.Estimator(log.cell, initial_soc=log.initial_soc).run(*log.arrays())


def suite() -> list[dict]:
    rows = []
    for log in clean_logs():
        clean = run(log)
        rows.append({"log": log.name, "fault": "(clean)", "final_soc": float(clean.soc[-1]), "d_final": 0.0,
                     "faulty": 0, "flagged": 0, "tail_fused": int((clean.status[-TAIL:] == "fused").sum()),
                     "statuses": clean.counts()})
        for j, (name, fault) in enumerate(FAULTS.items()):
            f, mask = fault(log, np.random.default_rng(SEED + j))
            r = run(f)
            st = r.status
            rows.append({"log": log.name, "fault": name, "final_soc": float(r.soc[-1]),
                         "d_final": float(r.soc[-1] - clean.soc[-1]), "faulty": int(mask.sum()),
                         "flagged": int((st[mask] != "fused").sum()),
                         "tail_fused": int((st[-TAIL:] == "fused").sum()),
                         "statuses": {k: v for k, v in r.counts().items() if k != "fused"}})
    return rows


def verdict(row: dict) -> list[str]:
    """The bounds a row misses (empty: it passes)."""
    bad = []
    if abs(row["d_final"]) >= BOUND_SOC:
        bad.append(f"final SOC {100 * row['d_final']:+.2f} % off the clean run")
    if row["faulty"] and row["flagged"] == 0:
        bad.append("fault not reported in the status")
    if row["tail_fused"] < TAIL:
        bad.append(f"only {row['tail_fused']} of the last {TAIL} samples fused")
    return bad


def table(rows: list[dict]) -> str:
    out = ["| log | fault | final SOC | vs clean | faulty rows | flagged | last 100 fused | non-fused statuses | verdict |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        st = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
        bad = verdict(r)
        out.append(f"| {r['log']} | {r['fault']} | {100 * r['final_soc']:.2f} % | {100 * r['d_final']:+.2f} % | "
                   f"{r['faulty']} | {r['flagged']} | {r['tail_fused']} | {st} | {'; '.join(bad) or 'ok'} |")
    return "\n".join(out)


if __name__ == "__main__":
    rows = suite()
    print(table(rows))
    raise SystemExit(1 if any(verdict(r) for r in rows) else 0)
