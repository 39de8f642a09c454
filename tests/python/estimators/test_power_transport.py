"""The state of power's transport limit (docs/power.md "Transport limit", CS-PWR-011): the discharge current over a
horizon H at most K0(SOC) / (sqrt(H) - c(SOC)) (Sand's law, i sqrt(t) = K0 + c i). The cell-file key, PowerSettings, the fit, export-c and the C API
bit for bit against Python, and the figures against the DFN truths on the stored chen2020 histories."""
from __future__ import annotations

import gzip
import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cellsense import load_cell, make_estimator
from cellsense.estimators.power import (K_TRANSPORT, LIMITED_BY, PowerSettings, cell_transport, power_limits_now)
from cellsense.fit.transport import add_transport, fit_transport, pulses_from_log

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "soe" / "chen2020_soe_truth.json.gz"
SOP_TRUTH = ROOT / "docs" / "data" / "chen2020_sop_truth.json"
HOST_CC, HOST_CXX = shutil.which("gcc"), shutil.which("g++")


def _rows():
    with gzip.open(FIXTURE, "rt") as f:
        return json.load(f)["rows"]


def _run(row, dtype="float64", cell="chen2020"):
    lg = row["log"]
    est = make_estimator(cell, dtype=dtype)
    est.run(*(np.asarray(lg[k]) for k in ("time_s", "current_A", "voltage_V", "temperature_degC")))
    return est, float(lg["temperature_degC"][-1])


def test_the_bundled_chen2020_has_a_transport_table_and_settings_read_it():
    cell = load_cell("chen2020")
    rows = cell_transport(cell)
    assert 2 <= len(rows) <= 8
    socs = [r[0] for r in rows]
    assert socs == sorted(socs) and all(len(r) == 5 and r[1] > 0 and abs(r[2]) < 2.0 and r[3] > 0 for r in rows)
    assert "Sand" in cell.raw["provenance"][K_TRANSPORT]
    assert PowerSettings().core_dict(cell)["transport"] == rows
    assert "transport" not in PowerSettings(transport=()).core_dict(cell)
    assert cell_transport(load_cell("panasonic_18650pf")) == []  # no high-rate pulses to the cut-off in its tests


def test_bad_transport_rows_are_refused_naming_the_rule():
    cell = load_cell("chen2020")
    with pytest.raises(ValueError, match="transport_soc"):
        PowerSettings(transport=[(0.5, 100.0, 0.0), (0.4, 120.0, 0.0)]).core_dict(cell)
    with pytest.raises(ValueError, match="transport_limit_A_sqrt_s"):
        PowerSettings(transport=[(0.5, 0.0, 0.0)]).core_dict(cell)
    with pytest.raises(ValueError, match="transport_slope_sqrt_s"):
        PowerSettings(transport=[(0.5, 100.0, 150.0)]).core_dict(cell)
    with pytest.raises(ValueError, match="transport_count"):
        PowerSettings(transport=[(0.1 * k, 100.0, 0.0) for k in range(9)]).core_dict(cell)
    with pytest.raises(ValueError, match="each row is"):
        PowerSettings(transport=[(0.5, 100.0)]).core_dict(cell)


def test_the_cap_binds_at_high_ratings_and_is_named():
    """From a chen2020 history at SOC 0.5 with 60 A ratings: the 30 s discharge limit is K0(z) / (sqrt(30) - c(z))
    (the model alone allows more), named "transport"; without the table it is the voltage's and higher."""
    row = next(r for r in _rows() if r["temperature_degC"] == 25.0 and r["soc_target"] == 0.5)
    est, T = _run(row)
    base = dict(horizons_s=(10.0, 30.0), voltage_min_V=2.5, voltage_max_V=4.2, discharge_current_max_A=60.0,
                charge_current_max_A=60.0)
    with_t = power_limits_now(est, T, PowerSettings(**base))
    without = power_limits_now(est, T, PowerSettings(transport=(), **base))
    z, k0, c = (np.array(col) for col in list(zip(*cell_transport(load_cell("chen2020"))))[:3])
    K0, C = float(np.interp(est.soc, z, k0)), float(np.interp(est.soc, z, c))
    assert with_t[1]["discharge_limited_by"] == "transport"
    assert with_t[1]["discharge_current_A"] == pytest.approx(K0 / (math.sqrt(30.0) - C), rel=1e-9)
    assert without[1]["discharge_current_A"] > with_t[1]["discharge_current_A"]
    discharge_only = power_limits_now(est, T, PowerSettings(transport=[r[:3] for r in cell_transport(load_cell("chen2020"))],
                                                            **base))
    for a, b in zip(discharge_only, without):  # without the charge columns the charge side is untouched
        assert a["charge_current_A"] == b["charge_current_A"] and a["charge_limited_by"] == b["charge_limited_by"]
    assert 4 in LIMITED_BY and LIMITED_BY[4] == "transport"


def dfn_truth_counts(cell: str) -> dict[str, int]:
    """How many of the 30 discharge and 30 charge limits of `cell`'s estimator (EKF, float64, run over the stored
    histories, 60 A ratings) are within issue #15's bars of the stored DFN truths (5 % at 25 degC, 10 % at 0 and -10
    degC); asserts the other bar on the way: the conservative limit never more than 2 % above the truth."""
    truth = {(r["temperature_degC"], r["soc_target"]): r["truth"] for r in json.loads(SOP_TRUTH.read_text())["rows"]}
    bars = {25.0: 0.05, 0.0: 0.10, -10.0: 0.10}
    base = dict(horizons_s=(10.0, 30.0), voltage_min_V=2.5, voltage_max_V=4.2, discharge_current_max_A=60.0,
                charge_current_max_A=60.0)
    within = {"discharge": 0, "charge": 0}
    for row in _rows():
        key = (row["temperature_degC"], row["soc_target"])
        est, T = _run(row, cell=cell)
        nom = power_limits_now(est, T, PowerSettings(**base))
        con = power_limits_now(est, T, PowerSettings.conservative(**base))
        for j, h in enumerate(("10", "30")):
            for d in within:
                tr = truth[key][h][f"{d}_A"]
                assert con[j][f"{d}_current_A"] <= 1.02 * tr, (cell, key, h, d, con[j][f"{d}_current_A"], tr)
                within[d] += abs(nom[j][f"{d}_current_A"] / tr - 1.0) <= bars[key[0]]
    return within


def test_limits_against_the_dfn_truths():
    """The stored DFN truths (docs/data/chen2020_sop_truth.json; scripts/check_power_truth.py) against the limits on
    the same noisy histories (the energy fixture's logs: the same rng, the same order), with chen2020.json's
    overpotential (both directions) and transport tables. Issue #15's bars: 5 % at 25 degC, 10 % at 0 and -10 degC;
    the conservative limit never more than 2 % above the truth. Measured 2026-12-06 (docs/power.md, "With the
    overpotential in both directions and the transport limit"): discharge 30 of 30 within the bars, charge 13 of 30
    (the linear model: 7 and 3); the conservative limit never above the truth by more than 2 % (the linear model: 5 of
    60 were)."""
    within = dfn_truth_counts("chen2020")
    assert within["discharge"] == 30
    assert within["charge"] >= 13


def test_fit_transport_takes_the_slope_and_the_lower_envelope_per_level():
    # a level on i sqrt(t) = 150 + 0.5 i (30, 45, 60 A) with one pulse 2 A s^0.5 below the line; two one-current levels
    line = [(0.5, i, ((150.0 + 0.5 * i) / i) ** 2) for i in (30.0, 45.0, 60.0)]
    line[1] = (0.505, 45.0, ((150.0 + 0.5 * 45.0 - 2.0) / 45.0) ** 2)
    rows = fit_transport(line + [(0.2, 30.0, 16.0), (0.8, 45.0, 16.0)])
    assert [z for z, _, _ in rows] == [0.2, 0.5017, 0.8]
    assert rows[0][1:] == (120.0, 0.0) and rows[2][1:] == (180.0, 0.0)
    z, k0, c = rows[1]
    assert c == pytest.approx(0.5, abs=0.01)
    for _, i, t in line:  # the cap is at or below every pulse: K0 + c i <= i sqrt(t)
        assert k0 + c * i <= i * math.sqrt(t) + 1e-6
    with pytest.raises(ValueError, match="no pulse"):
        fit_transport([])
    with pytest.raises(ValueError, match="expected"):
        fit_transport([(0.5, -1.0, 10.0)])
    with pytest.raises(ValueError, match="table holds 8"):
        fit_transport([(0.1 * k, 30.0, 10.0) for k in range(9)])
    data = {}
    add_transport(data, rows, "test")
    assert data["parameters"][K_TRANSPORT][0] == [0.2, 120.0, 0.0] and data["provenance"][K_TRANSPORT] == "test"


def test_pulses_from_log_finds_the_pulses_that_end_on_the_cut_off():
    t = np.arange(0.0, 200.0)
    i = np.zeros_like(t)
    v = np.full_like(t, 3.7)
    i[10:31] = 30.0      # from rest, ends at 2.5 V after 21 s
    v[10:31] = np.linspace(3.4, 2.5, 21)
    i[60:71] = 30.0      # ends on time, at 3.3 V: says nothing about K
    v[60:71] = 3.3
    i[100:105] = 5.0     # below the pulse current
    soc = 0.8 - np.cumsum(i) / 3600.0 / 5.0
    p = pulses_from_log(t, i, v, soc, cutoff_V=2.5, min_current_A=20.0)
    assert len(p) == 1
    z, cur, dur = p[0]
    assert z == pytest.approx(0.8) and cur == 30.0 and dur == 21.0
    with pytest.raises(ValueError, match="one length"):
        pulses_from_log(t, i[:-1], v, soc, 2.5, 20.0)


TRANSPORT_PROGRAM = r"""
#include <stdio.h>
#include "cellsense/c_api.h"
#include "cell_params.h"
static cs_estimator est;
int main(void) {
  cs_config c; cs_config_default(&c);
  c.voltage_sigma_V = CELL_PARAMS_VOLTAGE_SIGMA_V;
  c.model_error_current_A = CELL_PARAMS_MODEL_ERROR_CURRENT_A;
  c.model_error_relative = CELL_PARAMS_MODEL_ERROR_RELATIVE;
  c.model_error_voltage_V = CELL_PARAMS_MODEL_ERROR_VOLTAGE_V;
  c.model_error_correlation_s = CELL_PARAMS_MODEL_ERROR_CORRELATION_S;
  c.initial_soc = 0.75f;
  if (cs_init(&est, &cell_params, &c) != CS_INIT_OK) return 1;
  cs_power_config pc;
  cell_params_power_config(&pc);  /* export-c's: the cell file's transport table */
  pc.discharge_current_max_A = 60.0f;
  pc.horizon_s = 30.0f;
  float row[4];
  long k = 0;
  while (fread(row, sizeof row, 1, stdin) == 1) {
    cs_report r;
    cs_step(&est, row[0], row[1], row[2], row[3], &r);
    if (++k % 50 == 0) {
      cs_power_result p;
      if (cs_power_limits(&est, row[3], &pc, &p) != CS_POWER_OK) return 2;
      float out[2] = {p.discharge_current_A, (float)p.discharge_limited_by};
      fwrite(out, sizeof out, 1, stdout);
    }
  }
  return 0;
}
"""


@pytest.mark.skipif(not (HOST_CC and HOST_CXX), reason="host gcc/g++ not found")
def test_export_c_carries_the_table_and_the_c_api_matches_python(tmp_path: Path):
    """export-c's cell_params_power_config() fills the transport table; the C API host build (-ffp-contract=off)
    gives the float32 Estimator's 30 s discharge limits bit for bit, with CS_LIMITED_BY_TRANSPORT where it binds."""
    from cellsense.mcu.export_c import export_c

    cell = load_cell("chen2020")
    export_c(cell, tmp_path / "cell_params.h")
    header = (tmp_path / "cell_params.h").read_text()
    assert f"config->transport_count = {len(cell_transport(cell))};" in header
    (tmp_path / "main.c").write_text(TRANSPORT_PROGRAM)
    inc = ["-I", str(ROOT / "cpp" / "include"), "-I", str(tmp_path)]
    flags = ["-O2", "-ffp-contract=off", "-fno-math-errno"]
    subprocess.run([HOST_CXX, "-std=c++17", "-fno-exceptions", "-fno-rtti", *flags, *inc, "-c",
                    str(ROOT / "cpp" / "src" / "c_api.cpp"), "-o", str(tmp_path / "c_api.o")], check=True)
    subprocess.run([HOST_CC, "-std=c99", *flags, *inc, str(tmp_path / "main.c"), str(tmp_path / "c_api.o"),
                    "-o", str(tmp_path / "run"), "-lstdc++", "-lm"], check=True)
    lg = next(r for r in _rows() if r["temperature_degC"] == 25.0 and r["soc_target"] == 0.5)["log"]
    t = np.asarray(lg["time_s"])
    rows = np.stack([np.diff(t), np.asarray(lg["current_A"])[1:], np.asarray(lg["voltage_V"])[1:],
                     np.asarray(lg["temperature_degC"])[1:]], axis=1).astype(np.float32)
    p = subprocess.run([str(tmp_path / "run")], input=rows.tobytes(), capture_output=True, check=True)
    c_out = np.frombuffer(p.stdout, dtype=np.float32).reshape(-1, 2)
    est = make_estimator(cell, dtype="float32", initial_soc=0.75)
    nz = est.noise
    sig = np.float32([nz.initial_soc_sigma, nz.initial_v_rc_sigma_V, nz.initial_v_rc_sigma_V,
                      nz.initial_hysteresis_sigma])
    est._impl.set_state(np.array([np.float32(0.75), 0, 0, np.float32(nz.initial_hysteresis)], dtype=float),
                        np.diag((sig * sig).astype(float)), 0.0)
    ps = PowerSettings(horizons_s=(30.0,), discharge_current_max_A=60.0)
    py = []
    for k, r in enumerate(rows, start=1):
        est.step(*map(float, r))
        if k % 50 == 0:
            d = power_limits_now(est, float(r[3]), ps)[0]
            py.append([d["discharge_current_A"], [c for c, n in LIMITED_BY.items() if n == d["discharge_limited_by"]][0]])
    py = np.array(py, dtype=np.float32)
    assert c_out.shape == py.shape and len(py) >= 10
    assert np.array_equal(c_out.view(np.uint32), py.view(np.uint32))
    assert (c_out[:, 1] == 4).any()  # the transport limit binds on this history


def test_the_overpotential_s_charge_column():
    """chen2020.json has a charge I_ref per temperature row (DFN charge pulses): PowerSettings passes it as the rows'
    third column; it raises the charge limit over R i and leaves the discharge limit alone; a mixed column is refused."""
    from cellsense.estimators.power import cell_overpotential

    cell = load_cell("chen2020")
    rows = cell_overpotential(cell)
    assert rows and all(len(r) == 3 and r[1] > 0 and r[2] > 0 for r in rows)
    row = next(r for r in _rows() if r["temperature_degC"] == 25.0 and r["soc_target"] == 0.3)
    est, T = _run(row)
    base = dict(horizons_s=(10.0,), discharge_current_max_A=60.0, charge_current_max_A=60.0, transport=())
    both = power_limits_now(est, T, PowerSettings(**base))[0]
    dis_only = power_limits_now(est, T, PowerSettings(overpotential=[r[:2] for r in rows], **base))[0]
    assert both["charge_current_A"] > 1.1 * dis_only["charge_current_A"]
    assert both["discharge_current_A"] == dis_only["discharge_current_A"]
    with pytest.raises(ValueError, match="overpotential_charge_current_A"):
        PowerSettings(overpotential=[(0.0, 5.0, 4.0), (40.0, 20.0, 0.0)]).core_dict(cell)


def test_a_level_whose_line_meets_zero_below_zero_keeps_a_positive_cap():
    """PyBaMM Ecker2015's pulses gave a level whose least-squares line has a negative intercept (K0 -4.39 at SOC 0.45): a
    row the core refuses, written silently by fit --transport, found only when the limits were asked for. Such a level
    now takes c = 0 and K0 = its least i sqrt(t) (the most conservative cap its pulses support)."""
    falling = [(0.45, 1.0, 10.0), (0.45, 2.0, 1.0), (0.45, 3.0, 0.5)]  # i sqrt(t) 3.16, 2.83, 2.12: a falling line
    assert fit_transport(falling)[0][1] > 0 and fit_transport(falling)[0][2] < 0  # intercept positive: kept as fitted
    steep = [(0.5, 1.0, 1.0), (0.5, 2.0, 16.0), (0.5, 3.0, 81.0)]  # 1, 8, 27: the line meets i = 0 at -11.7
    (row,) = fit_transport(steep)
    assert row == (0.5, 1.0, 0.0)


def test_add_transport_refuses_rows_the_core_refuses():
    cell = {"parameters": {}}
    with pytest.raises(ValueError, match="transport_limit_A_sqrt_s must be in"):
        add_transport(cell, [(0.45, -4.39, 1.0, 0.0, 0.0)], "x")
    with pytest.raises(ValueError, match="transport_charge_limit_A_sqrt_s"):
        add_transport(cell, [(0.45, 4.39, 1.0, -9.55, 0.0), (0.6, 5.0, 1.0, 3.0, 0.0)], "x")
    assert cell == {"parameters": {}}  # nothing written
    add_transport(cell, [(0.45, 4.39, 1.0, 0.0, 0.0)], "x")
    assert cell["parameters"][K_TRANSPORT] == [[0.45, 4.39, 1.0, 0.0, 0.0]]
