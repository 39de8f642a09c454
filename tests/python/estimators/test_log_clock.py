"""#13: the log clock is the core's (cpp/include/cellsense/estimator/log_clock.hpp) and a cell and a pack see the
same one. The single-cell whole-log loop (bindings) and the pack path (cellsense.pack.clock_dt -> _core.log_clock,
also what the replay link sends the firmware) both run cellsense::LogClock.

Before, the pack path had its own copy of the rule (pack.py step_dt); a NaN timestamp could leave every later pack
sample "initial" while the single-cell estimator rejected just that sample, and a NaN before the first finite
timestamp was "initial" for a pack but "rejected_nonfinite" for a cell."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import cellsense
from cellsense import status
from cellsense.pack import CLOCK_REANCHOR_AFTER, PackEstimator, clock_dt, load_pack

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"
N = 40


@pytest.fixture(scope="module")
def pack_case():
    from cellsense.replay.readers import read_log

    spec = load_pack(FIX / "sim12s.pack.json")
    spec = replace(spec, gaps=replace(spec.gaps, gap_s=60.0))  # a pack gap = a step beyond the cell's dt_max_s
    log = read_log(FIX / "sim12s.csv.gz", spec)
    log = replace(log, time_s=np.asarray(log.time_s[:N], float), current_A=log.current_A[:N],
                  voltage_V=log.voltage_V[:N], temperature_degC=log.temperature_degC[:N], reference_soc=None)
    return spec, log


def _cell_and_pack(spec, log, t):
    pe = PackEstimator(spec)
    soc0 = pe.initial_soc(log)
    pack = pe.run(replace(log, time_s=t), initial_soc=soc0)
    sensor = spec.cells[0].temperature_sensor
    est = cellsense.Estimator(spec.cell, filter=pe.filter, dtype=pe.dtype, initial_soc=float(soc0[0]),
                              settings=pe.settings, noise=pe.noise)
    cell = est.run(t, log.current_A, log.voltage_V[:, 0], log.temperature_degC[:, sensor])
    return cell, pack


def _names(codes):
    return [status.NAMES[int(c)] for c in codes]


def test_core_rule_is_the_pack_rule():
    from cellsense.estimators.base import _core

    core = _core()
    assert core.CLOCK_REANCHOR_AFTER == CLOCK_REANCHOR_AFTER
    out = core.log_clock(np.array([np.nan, 0.0, 1.0, np.nan, 3.0, 2.0]))
    assert list(out["action"]) == [core.CLOCK_ACTION_NONFINITE_BEFORE_START, core.CLOCK_ACTION_START] + \
        [core.CLOCK_ACTION_STEP] * 4
    assert list(out["status"][:2]) == [status.REJECTED_NONFINITE, status.INITIAL]
    dt, re = clock_dt(np.array([np.nan, 0.0, 1.0, np.nan, 3.0, 2.0]))
    assert np.isinf(dt[0]) and np.isnan(dt[1]) and dt[2] == 1.0 and np.isinf(dt[3]) and dt[4] == 2.0 and dt[5] == -1.0
    assert not re.any()


def test_nan_timestamp_same_for_cell_and_pack(pack_case):
    spec, log = pack_case
    t = log.time_s.copy()
    t[2] = np.nan  # the case: t = [0, 1, NaN, 3, 4, 5, ...]
    cell, pack = _cell_and_pack(spec, log, t)
    want = ["initial", "fused", "rejected_nonfinite"] + ["fused"] * (N - 3)
    assert list(cell.status) == want
    for k in range(spec.n_cells):
        assert _names(pack.status[:, k]) == want, k
    assert pack.event[2] == status.EVENT_STEP and pack.summary["n_rejected"][2] == spec.n_cells


def test_leading_nan_timestamp_same_for_cell_and_pack(pack_case):
    spec, log = pack_case
    t = log.time_s.copy()
    t[0] = np.nan
    cell, pack = _cell_and_pack(spec, log, t)
    want = ["rejected_nonfinite", "initial"] + ["fused"] * (N - 2)
    assert list(cell.status) == want
    assert all(_names(pack.status[:, k]) == want for k in range(spec.n_cells))


def test_backwards_timestamps_same_for_cell_and_pack(pack_case):
    spec, log = pack_case
    t = log.time_s.copy()
    t[5] = t[4]            # repeated
    t[8] = t[6]            # one out of order
    t[20:] -= 100.0        # the clock restarted: rows 20, 21 rejected, 22 re-anchors
    cell, pack = _cell_and_pack(spec, log, t)
    assert list(cell.status[[5, 8, 20, 21, 22, 23]]) == ["rejected_dt_nonpositive"] * 4 + ["clock_reanchored", "fused"]
    for k in range(spec.n_cells):
        assert _names(pack.status[:, k]) == list(cell.status), k
    assert pack.event[22] == status.EVENT_CLOCK_REANCHORED


def test_gap_same_clock_for_cell_and_pack(pack_case):
    """A logger gap beyond dt_max_s: the same clock (the step after the gap starts from the gap's end) in both;
    the cell rejects the long step (rejected_dt_too_large), the pack handles it by its gap policy (rest: the
    voltage is not fused either); both fuse the next sample again."""
    spec, log = pack_case
    t = log.time_s.copy()
    t[10:] += 1000.0  # beyond the cell's dt_max_rest_s (600 s) too: the log is at rest there (CS-EST-017)
    cell, pack = _cell_and_pack(spec, log, t)
    assert cell.status[10] == "rejected_dt_too_large"
    assert pack.event[10] == status.EVENT_REST and (pack.status[10] == status.REST).all()
    assert pack.dt_s[10] == t[10] - t[9]
    same = np.arange(N) != 10
    for k in range(spec.n_cells):
        assert np.array(_names(pack.status[same, k])).tolist() == list(cell.status[same]), k
    assert (cell.status[11:] == "fused").all() and (pack.status[11:] == status.FUSED).all()
