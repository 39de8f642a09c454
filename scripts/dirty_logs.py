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

The CAN part (`can_suite`): the 12-cell candump fixture tests/fixtures/pack/sim12s.log.gz through the CAN reader
and PackEstimator (the host replay) with a 2 s bus-off, 1 % corrupted frames (random payload or wrong DLC) and
1 % duplicated frames; bounds per cell, the fault in the reader counts (or the cells' statuses).

    python scripts/dirty_logs.py          # prints the table (also: pytest -s tests/python/evaluate/test_dirty_logs.py)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    from cellsense.cells.load import load_cell
    from cellsense.io.realdata import load_real_log
    from cellsense.cells.ecm_reference import simulate_ecm

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


# ---- CAN capture faults (pack replay on the host) -------------------------------------------------------
# The committed 12-cell candump fixture (tests/fixtures/pack/sim12s.log.gz, 1 Hz: PackStatus 0x100 with a rolling
# Counter, three cell-voltage frames) decoded with sim12s.dbc and sim12s_can.pack.json, run through
# PackEstimator (what `cellsense replay --target host` runs). Bounds per cell: final SOC within 2 % of the clean
# replay, the fault visible in the reader counts, the last 100 samples fused for every cell.
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pack"
#: reader counts that report a CAN fault
CAN_FAULT_COUNTS = ("malformed_frames", "counter_errors", "duplicate_frames", "bus_silences")


def _can_time(line: str) -> float:
    return float(line[line.index("(") + 1:line.index(")")])


def can_bus_off(lines: list[str], rng):
    """2 s without any frame, half-way through the frames (a bus-off and its recovery)."""
    t0 = _can_time(lines[len(lines) // 2])
    kept = [ln for ln in lines if not t0 <= _can_time(ln) < t0 + 2.0]
    return kept, 1  # one silence


def can_corrupted(lines: list[str], rng):
    """1 % of frames corrupted: half with random payload bytes (right length), half with a wrong DLC."""
    out, n = [], 0
    for ln in lines:
        if rng.random() < 0.01:
            head, data = ln.rsplit("#", 1)
            nb = len(data) // 2
            if rng.random() < 0.5:
                size = nb
            else:
                size = int(rng.choice([k for k in range(9) if k != nb]))
            ln = head + "#" + "".join(f"{b:02X}" for b in rng.integers(0, 256, size))
            n += 1
        out.append(ln)
    return out, n


def can_duplicated(lines: list[str], rng):
    """1 % of frames captured twice (same time stamp, same payload)."""
    out, n = [], 0
    for ln in lines:
        out.append(ln)
        if rng.random() < 0.01:
            out.append(ln)
            n += 1
    return out, n


CAN_FAULTS = {"CAN bus-off 2 s": can_bus_off, "CAN corrupted frames 1 %": can_corrupted,
              "CAN duplicated frames 1 %": can_duplicated}


def run_can(lines: list[str]):
    """(reader log, PackResult) of a candump capture given as lines."""
    import tempfile

    from cellsense.pack import PackEstimator, load_pack
    from cellsense.replay.readers import read_log

    spec = load_pack(FIXTURE / "sim12s_can.pack.json")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "capture.log"
        p.write_text("\n".join(lines) + "\n")
        log = read_log(p, spec, dbc=FIXTURE / "sim12s.dbc")
    return log, PackEstimator(spec).run(log)


def can_suite() -> list[dict]:
    import gzip

    lines = gzip.open(FIXTURE / "sim12s.log.gz", "rt").read().splitlines()
    name = "sim12s-can (12 cells)"
    clog, clean = run_can(lines)
    c_final = clean.soc[-1].astype(float)

    def tail(r):
        return int((r.status[-TAIL:] == 0).all(axis=1).sum())

    rows = [{"log": name, "fault": "(clean)", "final_soc": float(c_final.mean()), "d_final": 0.0, "faulty": 0,
             "flagged": sum(clog.counts.get(k, 0) for k in CAN_FAULT_COUNTS), "tail_fused": tail(clean),
             "statuses": {**{k: v for k, v in clog.counts.items() if k in CAN_FAULT_COUNTS + ("logger_gaps",)},
                          **{k: v for k, v in clean.counts().items() if k != "fused"}}}]
    for j, (fault, inject) in enumerate(CAN_FAULTS.items()):
        bad, n = inject(lines, np.random.default_rng(SEED + j))
        log, r = run_can(bad)
        d = r.soc[-1].astype(float) - c_final
        worst = int(np.argmax(np.abs(d)))
        rows.append({"log": name, "fault": fault, "final_soc": float(r.soc[-1].astype(float).mean()),
                     "d_final": float(d[worst]), "faulty": n,
                     "flagged": sum(log.counts.get(k, 0) for k in CAN_FAULT_COUNTS), "tail_fused": tail(r),
                     "statuses": {**{k: v for k, v in log.counts.items() if k in CAN_FAULT_COUNTS + ("counter_resyncs",)},
                                  **{k: v for k, v in r.counts().items() if k not in ("fused", "rest", "initial")}}})
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
    rows = suite() + can_suite()
    print(table(rows))
    raise SystemExit(1 if any(verdict(r) for r in rows) else 0)
