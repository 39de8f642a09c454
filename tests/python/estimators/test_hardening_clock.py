"""Issue #12 item 1: a clock glitch must not freeze the estimator silently.

One row at t = 1e9 s in a 1 Hz log used to anchor the whole-log clock in the future: every later row was
rejected as "backwards time", the SOC never moved again, exit 0. In pack replay the same glitch re-initialised
every cell and froze every later frame. Now the third backwards timestamp in a row re-anchors the clock on
itself (status / event "clock_reanchored", counted in RunResult.counts(), the CLI summary and the replay report);
one or two out-of-order rows stay rejected."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import cellsense
from cellsense.cli import main
from cellsense.io.logs import CellLog, write_cell_log
from cellsense.pack import (CLOCK_REANCHOR_AFTER, EVENT_CLOCK_REANCHORED, STATUS_CLOCK_REANCHORED, PackEstimator, clock_dt, load_pack)

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"
N = 600


@pytest.fixture(scope="module")
def log600(synthetic_log):
    L = synthetic_log
    return {k: np.asarray(L[k][:N], float) for k in ("time_s", "current_A", "voltage_V", "temperature_degC")}


@pytest.fixture(scope="module")
def cell(synthetic_log):
    return synthetic_log["cell"]


def _est(cell, filt="ekf", dtype="float64"):
    return cellsense.Estimator(cell, filter=filt, dtype=dtype, initial_soc=0.9)


def _glitch(t, row=11, value=1e9):
    g = np.array(t, float)
    g[row] = value
    return g


def _restart(t, after=300):
    g = np.array(t, float)
    g[after + 1:] = np.arange(len(g) - after - 1, dtype=float)
    return g


def test_core_exposes_the_rule():
    from cellsense.estimators.base import _core

    core = _core()
    assert core.CLOCK_REANCHOR_AFTER == CLOCK_REANCHOR_AFTER == 3
    assert core.STATUS_NAMES[core.STATUS_CLOCK_REANCHORED] == "clock_reanchored" == \
        core.STATUS_NAMES[STATUS_CLOCK_REANCHORED]


@pytest.mark.parametrize("filt, dtype", [("ekf", "float64"), ("ukf", "float64"), ("ekf", "float32")])
def test_forward_glitch_recovers_and_is_reported(cell, log600, filt, dtype):
    L = log600
    clean = _est(cell, filt, dtype).run(L["time_s"], L["current_A"], L["voltage_V"], L["temperature_degC"])
    r = _est(cell, filt, dtype).run(_glitch(L["time_s"]), L["current_A"], L["voltage_V"], L["temperature_degC"])
    c = r.counts()
    # row 11 (dt 1e9 - 10 s) too long, rows 12, 13 backwards, row 14 re-anchors; everything after is stepped
    assert list(r.status[11:15]) == ["rejected_dt_too_large", "rejected_dt_nonpositive", "rejected_dt_nonpositive",
                                     "clock_reanchored"]
    assert c["clock_reanchored"] == 1 and c["rejected_dt_nonpositive"] == CLOCK_REANCHOR_AFTER - 1
    assert c["fused"] == clean.counts()["fused"] - 4
    assert r.rejected[14]  # no step on the re-anchoring sample: state unchanged
    assert (r.status[15:] == "fused").all()
    assert abs(r.soc[-1] - clean.soc[-1]) < 0.02
    assert abs(r.soc[-1] - r.soc[300]) > 1e-3  # not frozen


def test_clock_restart_recovers(cell, log600):
    L = log600
    clean = _est(cell).run(L["time_s"], L["current_A"], L["voltage_V"], L["temperature_degC"])
    r = _est(cell).run(_restart(L["time_s"]), L["current_A"], L["voltage_V"], L["temperature_degC"])
    assert list(r.status[301:305]) == ["rejected_dt_nonpositive", "rejected_dt_nonpositive", "clock_reanchored", "fused"]
    assert (r.status[304:] == "fused").all()
    assert abs(r.soc[-1] - clean.soc[-1]) < 0.02


@pytest.mark.parametrize("bad", [[100], [100, 101]])
def test_one_or_two_out_of_order_rows_stay_rejected(cell, log600, bad):
    L = log600
    t = np.array(L["time_s"], float)
    t[bad] = 50.0
    r = _est(cell).run(t, L["current_A"], L["voltage_V"], L["temperature_degC"])
    c = r.counts()
    assert "clock_reanchored" not in c and c["rejected_dt_nonpositive"] == len(bad)
    assert (r.status[bad[-1] + 1:] == "fused").all()


def test_repeated_timestamps_never_reanchor(cell, log600):
    L = log600
    t = np.array(L["time_s"], float)
    t[200:210] = t[199]  # a stuck clock: dt 0, rejected, nothing to re-anchor on
    r = _est(cell).run(t, L["current_A"], L["voltage_V"], L["temperature_degC"])
    assert r.counts()["rejected_dt_nonpositive"] == 10 and "clock_reanchored" not in r.counts()


def test_glitch_across_run_pieces(cell, log600):
    """The count of backwards rows is kept between run() calls (a log fed in pieces)."""
    L = log600
    g = _glitch(L["time_s"])
    whole = _est(cell).run(g, L["current_A"], L["voltage_V"], L["temperature_degC"])
    e = _est(cell)
    parts = [e.run(*(np.asarray(a)[s] for a in (g, L["current_A"], L["voltage_V"], L["temperature_degC"])))
             for s in (slice(0, 13), slice(13, N))]
    assert np.array_equal(np.concatenate([p.status_code for p in parts]), whole.status_code)
    assert np.array_equal(np.concatenate([p.soc for p in parts]), whole.soc)


def test_soh_estimator_recovers_too(log600):
    from cellsense.estimators.soh import SohEstimator

    L = log600
    e = SohEstimator("panasonic_18650pf", initial_soc=0.9)
    r = e.run(_glitch(L["time_s"]), L["current_A"], L["voltage_V"], L["temperature_degC"])
    assert r.counts().get("clock_reanchored") == 1 and (r.status[15:] != "rejected_dt_nonpositive").all()


def test_cli_summary_says_so(tmp_path, cell_path, log600, capsys):
    L = log600
    p = tmp_path / "glitch.csv"
    write_cell_log(p, CellLog(_glitch(L["time_s"]), L["current_A"], L["voltage_V"], L["temperature_degC"]))
    assert main(["estimate", "--model", str(cell_path), "--data", str(p), "--out", str(tmp_path / "e.csv")]) == 0
    out = capsys.readouterr()
    assert "clock_reanchored 1" in out.out and "rejected_dt_nonpositive 2" in out.out
    assert "clock jumped" in out.err and "re-anchored 1 time" in out.err


# ---- the pack path --------------------------------------------------------------------------------
def test_clock_dt_rule():
    dt, re = clock_dt(np.array([0.0, 1.0, 1e9, 3.0, 4.0, 5.0, 6.0, 6.0, 5.5, 7.0, np.nan, 8.0]))
    assert np.isnan(dt[0]) and list(dt[1:3]) == [1.0, 1e9 - 1.0]
    assert dt[3] < 0 and dt[4] < 0 and np.isnan(dt[5]) and re[5] and re.sum() == 1
    assert list(dt[6:10]) == [1.0, 0.0, -0.5, 1.0]  # one out-of-order row: rejected, no re-anchor
    assert np.isinf(dt[10]) and dt[11] == 1.0  # a NaN time is stepped (rejected as non-finite), not "initial"
    clean, re = clock_dt(np.arange(5.0))
    assert not re.any() and list(clean[1:]) == [1.0] * 4


@pytest.fixture(scope="module")
def pack_case():
    from cellsense.replay.readers import read_log

    spec = load_pack(FIX / "sim12s.pack.json")
    log = read_log(FIX / "sim12s.csv.gz", spec)
    return spec, log


def test_pack_glitch_recovers_and_the_report_says_so(pack_case):
    from cellsense.replay.report import compare, markdown
    from cellsense.replay.targets import run_host

    spec, log = pack_case
    clean = PackEstimator(spec).run(log)
    glog = replace(log, time_s=_glitch(log.time_s))
    g = PackEstimator(spec).run(glog)
    assert (g.event == EVENT_CLOCK_REANCHORED).sum() == 1 and g.event[14] == EVENT_CLOCK_REANCHORED
    assert (g.status[14] == STATUS_CLOCK_REANCHORED).all()
    c = g.counts()
    assert c["clock_reanchored"] == spec.n_cells and c["rejected_dt_nonpositive"] == 2 * spec.n_cells
    assert (g.status[15:] != 11).all()  # nothing after the re-anchor is "backwards"
    assert c["fused"] >= clean.counts()["fused"] - 5 * spec.n_cells
    assert np.abs(g.soc[-1].astype(float) - clean.soc[-1]).max() < 0.02
    rep = compare(spec, glog, run_host(PackEstimator(spec), glog, PackEstimator(spec).initial_soc(log)), None)
    assert rep["events"]["clock_reanchored"] == 1 and rep["host_status"]["clock_reanchored"] == spec.n_cells
    md = markdown(rep)
    assert "clock re-anchored 1 time" in md and "clock_reanchored" in md


def test_pack_clock_restart_recovers(pack_case):
    spec, log = pack_case
    clean = PackEstimator(spec).run(log)
    g = PackEstimator(spec).run(replace(log, time_s=_restart(log.time_s, after=600)))
    assert (g.event == EVENT_CLOCK_REANCHORED).sum() == 1
    assert np.abs(g.soc[-1].astype(float) - clean.soc[-1]).max() < 0.02
