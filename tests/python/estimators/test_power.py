"""Issue #15: state of power and energy from Python (cellsense.power over the core's power/power_limits.hpp):
the whole-log API leaves the estimate as Estimator.run gives it, the settings are checked, and the 10 s discharge
limit is held against the Panasonic 18650PF HPPC at five temperatures (docs/power.md)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cellsense import Estimator
from cellsense.estimators.power import (LIMITED_BY, PowerSettings, estimate_power, power_limits_now, remaining_energy, time_to_full)
from cellsense.io.realdata import DATASET, HPPC_TEMPERATURES, load_real_log

CAPACITY_AH = 2.817048


@pytest.fixture(scope="module")
def us06():
    return load_real_log(f"{DATASET}/25degC_US06", capacity_Ah=CAPACITY_AH)


@pytest.mark.parametrize("filt,dtype", [("ekf", "float64"), ("ukf", "float32")])
def test_whole_log_limits_leave_the_estimate_unchanged(us06, filt, dtype):
    i_meas = 1.01 * us06.current_A + 0.05
    est = Estimator("panasonic_18650pf", filter=filt, dtype=dtype, initial_soc=0.8)
    res = estimate_power(est, us06.time_s, i_meas, us06.voltage_V, us06.temperature_degC)
    ref = Estimator("panasonic_18650pf", filter=filt, dtype=dtype, initial_soc=0.8).run(
        us06.time_s, i_meas, us06.voltage_V, us06.temperature_degC)
    assert np.array_equal(res.run.soc, ref.soc) and np.array_equal(res.run.soc_sigma, ref.soc_sigma)
    n = len(us06.time_s)
    assert res.discharge_current_A.shape == (n, 3) and res.horizons_s == (2.0, 10.0, 30.0)
    ok = np.isfinite(res.discharge_current_A).all(axis=1)
    assert ok.mean() > 0.999
    d, c = res.discharge_current_A[ok], res.charge_current_A[ok]
    # positive magnitudes, a longer horizon never allows more
    assert (d >= 0).all() and (c >= 0).all()
    tol = 1e-3 if dtype == "float32" else 1e-9
    assert (d[:, 0] >= d[:, 1] - tol).all() and (d[:, 1] >= d[:, 2] - tol).all()
    assert (c[:, 0] >= c[:, 1] - tol).all() and (c[:, 1] >= c[:, 2] - tol).all()
    # near empty the discharge limit falls: last 5 % of the log against the middle
    assert np.median(d[-len(d) // 20:, 1]) < np.median(d[len(d) // 3: len(d) // 2, 1])
    assert set(np.unique(res.discharge_limited_by)) <= set(LIMITED_BY)
    cols = res.columns()
    assert set(cols) >= {"i_dis_max_10s_A", "i_chg_max_2s_A", "p_dis_max_30s_W", "p_chg_max_10s_W"}


def test_soh_estimator_whole_log_limits(us06):
    """The SOH estimator (capacity, R0, OCV learning) gets the same whole-log limits: its estimate unchanged by
    them (SOC, capacity, R0 columns equal to run()'s), the limits of its state after the last sample equal to
    power_limits_now() after run(), a longer horizon never allowing more."""
    from cellsense.estimators.soh import SohEstimator

    i_meas = 1.01 * us06.current_A + 0.05
    args = (us06.time_s, i_meas, us06.voltage_V, us06.temperature_degC)
    ps = PowerSettings(discharge_current_max_A=40.0, charge_current_max_A=40.0)
    est = SohEstimator("panasonic_18650pf", initial_soc=0.8)
    res = estimate_power(est, *args, ps)
    ref_est = SohEstimator("panasonic_18650pf", initial_soc=0.8)
    ref = ref_est.run(*args)
    for col in ("soc", "soc_sigma", "capacity_Ah", "r0_Ohm"):
        assert np.array_equal(getattr(res.run, col), getattr(ref, col), equal_nan=True), col
    now = power_limits_now(ref_est, float(us06.temperature_degC[-1]), ps)
    for j, d in enumerate(now):
        assert res.discharge_current_A[-1, j] == d["discharge_current_A"]
        assert res.charge_current_A[-1, j] == d["charge_current_A"]
    d = res.discharge_current_A[np.isfinite(res.discharge_current_A).all(axis=1)]
    assert len(d) > 0.999 * len(us06.time_s)
    assert (d[:, 0] >= d[:, 1] - 1e-9).all() and (d[:, 1] >= d[:, 2] - 1e-9).all()
    with pytest.raises(ValueError, match="horizon_s"):
        estimate_power(SohEstimator("panasonic_18650pf", initial_soc=0.8), *args, PowerSettings(horizons_s=(0.0,)))


def test_settings_are_checked_and_named():
    est = Estimator("panasonic_18650pf", initial_soc=0.5)
    # the cell-independent rules refuse the settings when built (since 2026-12-07: before, when used) ...
    for bad, field in [({"horizons_s": (0.0,)}, "horizons_s"), ({"horizons_s": (float("nan"),)}, "horizons_s"),
                       ({"discharge_current_max_A": -1.0}, "discharge_current_max_A"),
                       ({"soc_sigma_k": 11.0}, "soc_sigma_k"), ({"soc_min": 1.0}, "soc_min")]:
        with pytest.raises(ValueError, match=field):
            PowerSettings(**bad)
    # ... a cut-off against the cell's own other one when used with the cell
    with pytest.raises(ValueError, match="voltage_min_V"):
        power_limits_now(est, 25.0, PowerSettings(voltage_min_V=4.3))
    with pytest.raises(ValueError, match="temperature"):
        power_limits_now(est, float("nan"))
    with pytest.raises(ValueError):
        remaining_energy(est, 25.0, 0.0)


def test_energy_and_time_to_full_follow_the_soc():
    lo = Estimator("panasonic_18650pf", initial_soc=0.3)
    hi = Estimator("panasonic_18650pf", initial_soc=0.8)
    e_lo, e_hi = remaining_energy(lo, 25.0, 5.0), remaining_energy(hi, 25.0, 5.0)
    assert 0 < e_lo["energy_Wh"] < e_hi["energy_Wh"]
    # roughly Q x mean voltage x SOC span (3.0-4.0 V over 0..0.8)
    assert 0.8 * CAPACITY_AH * 3.0 < e_hi["energy_Wh"] < 0.8 * CAPACITY_AH * 4.0
    assert math.isclose(e_hi["time_to_empty_s"], e_hi["energy_Wh"] * 3600 / 5.0, rel_tol=1e-9)
    assert e_hi["energy_sigma_Wh"] > 0
    t, ts = time_to_full(hi, 1.4)
    assert math.isclose(t, 0.2 * 3600 * CAPACITY_AH / 1.4, rel_tol=1e-3) and ts > 0


# ---- the measured cell: the HPPC's pulses --------------------------------------------------------------
#: issue #15's bars on the nominal 10 s limit, by HPPC temperature
HPPC_BAR = {"25degC": 0.10, "10degC": 0.10, "0degC": 0.20, "n10degC": 0.20, "n20degC": 0.20}
#: the HPPC files log their 20-30 min rests every 300 s: with dt_max_s alone (60 s) the filter rejected those steps
#: as gaps and its RC states never relaxed (at -20 degC the model then started a pulse 145-215 mV below the rested
#: cell); a step at zero current is exact at any length (the ECM's exact discretisation), so the comparison lets the
#: filter take every one of them (the default dt_max_rest_s, 600 s, takes all but a rest's first interval when it
#: follows a pulse directly)
HPPC_DT_MAX_S = 400.0


def hppc_comparison(reference: str = "bracket", dt_max_s: float = HPPC_DT_MAX_S, **power):
    """Per SOC level with a measured limit (cellsense.fit.overpotential.measured_limit): the measured 10 s limit at
    2.5 V and the model's nominal / linear (no overpotential table) / conservative (k = 3) limits from the EKF's state
    in the rest before the pulse that brackets 2.5 V (`reference` "bracket": the cell the measured limit describes;
    the earlier pulses of the level have taken 1-2 % of charge off it) or before the level's first pulse ("first")."""
    from cellsense.estimators.settings import EstimatorSettings
    from cellsense.fit.overpotential import measured_limit, pulse_sets

    rows = []
    settings = dict(horizons_s=(10.0,), voltage_min_V=2.5, discharge_current_max_A=1000.0, charge_current_max_A=1000.0)
    settings.update(power)
    for T in HPPC_TEMPERATURES:
        log = load_real_log(f"panasonic-18650pf/{T}_HPPC")
        est = Estimator("panasonic_18650pf", initial_soc=float(log.soc_true[0]),
                        settings=EstimatorSettings(dt_max_s=dt_max_s))
        k0 = 0
        for pulses in pulse_sets(log.time_s, log.current_A, log.soc_true):
            meas, j = measured_limit(log.current_A, log.voltage_V, pulses)
            if meas is None:
                continue
            ks = pulses[j if reference == "bracket" else 0][0] - 1  # the rest sample before that pulse
            sl = slice(k0, ks + 1)
            est.run(log.time_s[sl], log.current_A[sl], log.voltage_V[sl], log.temperature_degC[sl])
            k0 = ks + 1
            Tc = float(log.temperature_degC[ks])
            lim = {name: power_limits_now(est, Tc, ps)[0]["discharge_current_A"] for name, ps in (
                ("model_A", PowerSettings(**settings)), ("linear_A", PowerSettings(**{**settings, "overpotential": ()})),
                ("conservative_A", PowerSettings.conservative(**settings)))}
            rows.append({"T": T, "soc": round(float(log.soc_true[pulses[0][0] - 1]), 2), "measured_A": float(meas),
                         "pulse": j + 1, **lim})
    return rows


#: where the nominal limit misses its bar (measured 2026-12-06, docs/power.md "Measured"), held at a regression bar:
#: the SOC-0.28 levels below 10 degC and -20 degC at SOC 0.49, all too low: there the filter's SOC is 2.5-5 points
#: below the truth after the cold rests (the model, at the true SOC, gives -9 / -21 / -18 % at SOC 0.28 even
#: without the overpotential table), and the cold tables' low-SOC resistance is high
KNOWN = {("0degC", 0.28): 0.30, ("n10degC", 0.28): 0.40, ("n20degC", 0.49): 0.25, ("n20degC", 0.28): 0.42}


def test_hppc_10s_discharge_limit():
    """The 10 s discharge limit against the Panasonic HPPC at five temperatures. The cell file's overpotential table
    (I_ref per temperature) was fitted only on the SOC levels without a measured limit
    (scripts/make_panasonic_model.py, cellsense.fit.overpotential.unmeasured_levels): every level compared here is
    held out."""
    rows = hppc_comparison()
    for r in rows:
        print(f"{r['T']:8s} SOC {r['soc']:.2f} (pulse {r['pulse']}): measured {r['measured_A']:6.2f} A, model "
              f"{r['model_A']:6.2f} A ({100 * (r['model_A'] / r['measured_A'] - 1):+.1f} %), linear {r['linear_A']:6.2f} A "
              f"({100 * (r['linear_A'] / r['measured_A'] - 1):+.1f} %), conservative {r['conservative_A']:6.2f} A")
    assert len(rows) >= 15 and {r["T"] for r in rows} == set(HPPC_TEMPERATURES)
    for r in rows:
        err = r["model_A"] / r["measured_A"] - 1.0
        bar = KNOWN.get((r["T"], r["soc"]), HPPC_BAR[r["T"]])
        assert abs(err) <= bar, (r, err)
        # the conservative option never promises more than the cell delivered (+5 %)
        assert r["conservative_A"] <= 1.05 * r["measured_A"], r
    met = sum(abs(r["model_A"] / r["measured_A"] - 1.0) <= HPPC_BAR[r["T"]] for r in rows)
    assert met >= len(rows) - len(KNOWN)
    # the overpotential table is what moves the cold levels: without it (the linear model) fewer are within the bar
    met_linear = sum(abs(r["linear_A"] / r["measured_A"] - 1.0) <= HPPC_BAR[r["T"]] for r in rows)
    assert met > met_linear


def test_cli_estimate_power_columns(tmp_path, us06):
    import csv
    import subprocess
    import sys

    from cellsense.io.logs import write_cell_log

    data = tmp_path / "us06.csv"
    write_cell_log(data, us06)
    out = tmp_path / "est.csv"
    cmd = [sys.executable, "-m", "cellsense.cli", "estimate", "--cell", "panasonic_18650pf", "--data", str(data),
           "--out", str(out), "--initial-soc", "0.8", "--power", "2,10,30", "--current-max-A", "20"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(us06.time_s)
    for h in ("2", "10", "30"):
        for c in (f"i_dis_max_{h}s_A", f"i_chg_max_{h}s_A", f"p_dis_max_{h}s_W", f"p_chg_max_{h}s_W"):
            assert c in rows[0]
    est = Estimator("panasonic_18650pf", initial_soc=0.8)
    ref = estimate_power(est, us06.time_s, us06.current_A, us06.voltage_V, us06.temperature_degC,
                         PowerSettings(discharge_current_max_A=20.0, charge_current_max_A=20.0))
    k = len(rows) // 2
    assert float(rows[k]["i_chg_max_10s_A"]) == ref.charge_current_A[k, 1]
    assert max(float(x["i_dis_max_2s_A"]) for x in rows if x["i_dis_max_2s_A"]) <= 20.0
    for extra, msg in ((["--power-conservative", "3"], "need --power"), (["--power", "ten"], "horizons")):
        r = subprocess.run(cmd[:10] + extra, capture_output=True, text=True)
        assert r.returncode == 2 and msg in r.stderr, (extra, r.stderr)
    # with --soh: the SOH estimator's limits, the same columns
    out_soh = tmp_path / "est_soh.csv"
    r = subprocess.run(cmd[:9] + [str(out_soh)] + cmd[10:] + ["--soh"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows_soh = list(csv.DictReader(out_soh.open()))
    assert len(rows_soh) == len(us06.time_s) and "i_dis_max_30s_A" in rows_soh[0] and "capacity_Ah" in rows_soh[0]
    assert max(float(x["i_dis_max_2s_A"]) for x in rows_soh if x["i_dis_max_2s_A"]) <= 20.0


def test_default_ratings_are_the_identified_currents():
    """An ECM extrapolates poorly beyond the currents it was fitted on: the limits default to the cell file's
    identified range (chen2020: +-5 A, its 1C HPPC pulses); a direction the fit never exercised (the Panasonic
    HPPC has no charge pulse) falls back to the plausible current range."""
    from cellsense.cells.load import load_cell
    from cellsense.estimators.power import identified_current_range

    assert identified_current_range(load_cell("chen2020")) == (-5.0, 5.0)
    pana = load_cell("panasonic_18650pf")
    assert identified_current_range(pana) == (pana.current_range_A[0], 17.4)
    est = Estimator("chen2020", initial_soc=0.6)
    lim = power_limits_now(est, 25.0)
    assert all(d["discharge_current_A"] <= 5.0 and d["charge_current_A"] <= 5.0 for d in lim)
    assert lim[0]["discharge_limited_by"] == "current"
    wider = power_limits_now(est, 25.0, PowerSettings(discharge_current_max_A=50.0, charge_current_max_A=50.0))
    assert wider[0]["discharge_current_A"] > 5.0


def test_pack_limit_is_the_weakest_cell():
    """A 12-cell pack (the replay fixture, cells of different capacity and resistance) after its log: the string's
    limit in each direction is its weakest cell's, named, and no cell alone allows less."""
    import json
    from pathlib import Path

    from cellsense.pack import PackEstimator, load_pack
    from cellsense.estimators.power import pack_power_limits_now
    from cellsense.replay.readers import read_log

    fix = Path(__file__).resolve().parents[2] / "fixtures" / "pack"
    spec = load_pack(fix / "sim12s.pack.json")
    log = read_log(fix / "sim12s.csv.gz", spec)
    pe = PackEstimator(spec)
    with pytest.raises(ValueError, match="run the PackEstimator"):
        pack_power_limits_now(pe, 25.0)
    pe.run(log)
    settings = PowerSettings(horizons_s=(10.0,), discharge_current_max_A=200.0, charge_current_max_A=200.0)
    temps = log.temperature_degC[-1] if np.ndim(log.temperature_degC) == 2 else np.full(12, 25.0)
    lim = pack_power_limits_now(pe, temps, settings)[0]
    assert 0 <= lim["discharge_cell"] < 12 and 0 <= lim["charge_cell"] < 12
    assert lim["discharge_current_A"] > 0 and lim["charge_current_A"] > 0
    # "transport": chen2020's transport limit binds at the 200 A ratings (docs/power.md "Transport limit")
    assert lim["discharge_limited_by"] in ("voltage", "soc", "current", "none", "transport")
    # the string's power is its current times about 12 cell voltages
    assert 12 * 2.5 * lim["discharge_current_A"] <= lim["discharge_power_W"] <= 12 * 4.3 * lim["discharge_current_A"]
    with pytest.raises(ValueError, match="one value per cell"):
        pe.last_core.power_limits(np.full(3, 25.0), settings.core_dict(spec.cell))
    json.dumps(lim)  # plain values


def test_limited_by_codes_are_the_cores(us06):
    """LIMITED_BY's codes are the core's: 'not computed' is the bindings' _core.LIMITED_BY_NOT_COMPUTED (a sample
    with a non-finite temperature gets it), and the code run_power writes for the last sample names the same
    constraint power_limits_now reports in words for that state (power::limited_by_name)."""
    from cellsense.estimators.base import _core

    assert LIMITED_BY[_core().LIMITED_BY_NOT_COMPUTED] == "not computed"
    k = 4000
    t, i, v = us06.time_s[:k], us06.current_A[:k], us06.voltage_V[:k]
    temp = np.array(us06.temperature_degC[:k], dtype=float)
    temp[100] = np.nan
    ps = PowerSettings(discharge_current_max_A=40.0, charge_current_max_A=40.0)
    est = Estimator("panasonic_18650pf", initial_soc=0.8)
    res = estimate_power(est, t, i, v, temp, ps)
    assert res.discharge_limited_by[100, 0] == _core().LIMITED_BY_NOT_COMPUTED
    now = power_limits_now(est, float(temp[-1]), ps)
    for j in range(len(res.horizons_s)):
        assert LIMITED_BY[int(res.discharge_limited_by[-1, j])] == now[j]["discharge_limited_by"]
        assert LIMITED_BY[int(res.charge_limited_by[-1, j])] == now[j]["charge_limited_by"]


def test_soh_estimator_energy_and_time_to_full(us06):
    """The SOH estimator has remaining_energy / time_to_full too (one binding body with the SOC-only estimator's):
    with SOH tracking off it runs the same SOC filter, so after the same log both give the same energy and times;
    refusals name the cause."""
    from cellsense.estimators.soh import SohEstimator, SohSettings

    k = 3000
    args = (us06.time_s[:k], us06.current_A[:k], us06.voltage_V[:k], us06.temperature_degC[:k])
    a = Estimator("panasonic_18650pf", initial_soc=0.9)
    b = SohEstimator("panasonic_18650pf", initial_soc=0.9, soh=SohSettings(enabled=False))
    ra, rb = a.run(*args), b.run(*args)
    assert np.array_equal(ra.soc, rb.soc)
    ea, eb = remaining_energy(a, 25.0, 5.0), remaining_energy(b, 25.0, 5.0)
    assert eb == ea and eb["energy_Wh"] > 0 and eb["energy_sigma_Wh"] > 0
    assert time_to_full(b, 1.4) == time_to_full(a, 1.4)
    with pytest.raises(ValueError):
        remaining_energy(b, 25.0, 0.0)
