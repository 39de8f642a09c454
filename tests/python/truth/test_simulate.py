"""Tests for cellsense.simulate (PyBaMM truth) and cellsense.sensor (sensor model).

PyBaMM runs use SPMe and short protocols, with a per-session truth cache.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pytest

from cellsense.io.logs import read_log
from cellsense.truth import cache as truth_cache
from cellsense.truth import simulate as simmod
from cellsense.truth.sensor import SensorModel
from cellsense.truth.result import SimResult, sidecar_path
from cellsense.truth.schedules import drive_cycle_shape
from cellsense.truth.simulate import simulate


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("simcache")


def _coulomb_soc(time_s, current_A, soc0, q_nom):
    # row k's current is held over (t_{k-1}, t_k]; row 0 has no interval
    return soc0 - np.r_[0.0, np.cumsum(current_A[1:] * np.diff(time_s))] / 3600.0 / q_nom


@pytest.fixture(scope="session")
def hwfet_log(tmp_path_factory, cache_dir):
    pytest.importorskip("pybamm")
    out = tmp_path_factory.mktemp("sim") / "hwfet.csv"
    t0 = time.perf_counter()
    r = simulate(protocol="hwfet", model="SPMe", temperature_degC=25.0, out=out, cache_dir=cache_dir)
    return out, r, time.perf_counter() - t0


# ------------------------------------------------------------------------------------------------
# drive-cycle data (no pybamm needed)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,n", [("udds", 1369), ("us06", 600), ("hwfet", 768), ("wltc", 1800)])
def test_drive_cycle_shapes(name, n):
    s = drive_cycle_shape(name)
    assert len(s) == n
    assert s.max() == pytest.approx(1.0)
    assert 0.05 < s.mean() < 0.5          # net discharge
    assert s.min() < 0                    # has regen


def test_unknown_drive_cycle():
    with pytest.raises(ValueError, match="unknown drive cycle"):
        drive_cycle_shape("nedc")


# ------------------------------------------------------------------------------------------------
# PyBaMM truth
# ------------------------------------------------------------------------------------------------
def test_csv_and_sidecar(hwfet_log):
    out, r, _ = hwfet_log
    header = out.read_text().splitlines()[0]
    assert header == "time_s,current_A,voltage_V,temperature_degC,soc_true"
    sc = json.loads(sidecar_path(out).read_text())
    assert sidecar_path(out).name == "hwfet.csv.json"
    assert sc["parameter set"] == "Chen2020"
    assert sc["model"] == "SPMe"
    assert sc["protocol"] == "hwfet"
    assert sc["protocol settings"]["peak C-rate"] == 2.0
    assert sc["temperature [degC]"] == 25.0
    assert sc["pybamm version"]
    assert sc["solver"]["rtol"] == 1e-5 and sc["solver"]["atol"] == 1e-7
    assert sc["cut-offs"]["lower voltage cut-off [V]"] == 2.5
    assert sc["cut-offs"]["upper voltage cut-off [V]"] > 4.2    # raised for regen near full
    assert sc["solve time [s]"] > 0
    assert "Discharge capacity" in sc["soc_true definition"]
    assert sc["sensor"] is None
    assert sc["rows"] == len(r)
    assert "Minimum voltage" in sc["termination"]               # repeated until the cut-off
    d = read_log(out)
    np.testing.assert_allclose(d["voltage_V"], r.voltage_V, rtol=1e-9)
    np.testing.assert_allclose(d["soc_true"], r.soc_true, atol=1e-11)


def test_grid_and_current_convention(hwfet_log):
    _, r, _ = hwfet_log
    assert r.time_s[0] == 0.0 and r.current_A[0] == 0.0
    dt = np.diff(r.time_s)
    assert np.all(dt[:-1] == 1.0) and 0 < dt[-1] <= 1.0         # last row: the cut-off event
    assert r.voltage_V[-1] == pytest.approx(2.5, abs=1e-6)
    assert r.voltage_V.max() > 4.2                               # regen above the nominal cut-off
    # current shape: the scaled HWFET profile
    q = r.meta["nominal capacity [A.h]"]
    assert r.current_A.max() == pytest.approx(2.0 * q)
    n_cyc = 768
    shape = drive_cycle_shape("hwfet") * 2.0 * q
    np.testing.assert_allclose(r.current_A[61:61 + n_cyc], shape, rtol=1e-12)
    assert np.all(r.current_A[61 + n_cyc:61 + n_cyc + 60] == 0.0)   # rest between repeats


def test_coulomb_counting_reproduces_soc_true(hwfet_log):
    out, r, _ = hwfet_log
    d = read_log(out)                      # through the CSV, as the estimator sees it
    q = r.meta["reference capacity [A.h]"]
    soc_cc = _coulomb_soc(d["time_s"], d["current_A"], 1.0, q)
    assert np.max(np.abs(soc_cc - d["soc_true"])) < 1e-4
    assert d["soc_true"][0] == 1.0
    assert abs(d["soc_true"][-1]) < 0.05     # discharged to the cut-off


def test_cache_hit_is_fast_and_identical(hwfet_log, cache_dir, tmp_path):
    _, r, _ = hwfet_log
    t0 = time.perf_counter()
    r2 = simulate(protocol="hwfet", model="SPMe", temperature_degC=25.0, cache_dir=cache_dir)
    assert time.perf_counter() - t0 < 1.0
    assert r2.meta["cache"]["hit"] is True
    for k in ("time_s", "current_A", "voltage_V", "temperature_degC", "soc_true"):
        np.testing.assert_array_equal(getattr(r2, k), getattr(r, k))
    # a different setting is a different key
    r3 = simulate(protocol="hwfet", model="SPMe", temperature_degC=25.0, cache_dir=cache_dir,
                  repeats=1, use_cache=False)
    assert r3.meta["cache"]["hit"] is False and len(r3) < len(r)


def test_env_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CELLSENSE_CACHE", str(tmp_path / "c"))
    assert truth_cache.default_cache_dir() == tmp_path / "c"


def test_cc_and_ocv_protocols(cache_dir):
    pytest.importorskip("pybamm")
    cc = simulate(protocol="cc", model="SPMe", c_rate=1.0, cache_dir=cache_dir)
    assert "Minimum voltage" in cc.meta["termination"]
    assert np.all(cc.current_A[61:] == pytest.approx(5.0))
    assert cc.time_s[-1] == pytest.approx(60 + 3600, abs=120)
    ocv = simulate(protocol="ocv", model="SPMe", cache_dir=cache_dir)
    assert "Maximum voltage" in ocv.meta["termination"]
    assert ocv.meta["protocol settings"]["sample period [s]"] == 10.0
    assert set(np.unique(np.round(ocv.current_A, 9))) == {0.0, 0.25, -0.25}
    assert ocv.voltage_V.min() < 2.52 and ocv.voltage_V.max() == pytest.approx(4.201, abs=1e-6)
    q_ref = ocv.meta["reference capacity [A.h]"]
    assert 5.1 < q_ref < 5.2                      # Chen2020's electrodes between 2.5 and 4.2 V (nominal 5.0)
    soc_cc = _coulomb_soc(ocv.time_s, ocv.current_A, 1.0, q_ref)
    assert np.max(np.abs(soc_cc - ocv.soc_true)) < 1e-4
    assert -0.01 < ocv.soc_true.min() < 0.02     # the C/20 discharge to the cut-off ends near empty


def test_a_set_without_thermal_parameters_is_solved_isothermal_and_says_so(cache_dir, capsys):
    """Prada2013 (LFP) has no current-collector / cooling geometry: the lumped thermal model cannot be built, so the
    set is solved isothermal (recovered), and the progress line, the sidecar and the cache key say so; sets that have
    the parameters keep the lumped model."""
    pytest.importorskip("pybamm")
    from cellsense.truth.solver import model_options, thermal_option

    assert thermal_option("Chen2020", "SPMe") == ("lumped", None) and model_options("Chen2020") == {"thermal": "lumped"}
    kind, why = thermal_option("Prada2013", "SPMe")
    assert kind == "isothermal" and "'Prada2013'" in why and "current collector thickness" in why
    r = simulate(cell="Prada2013", protocol="cc", model="SPMe", c_rate=1.0, temperature_degC=15.0, cache_dir=cache_dir,
                 quiet=False)
    assert "isothermal" in r.meta["thermal model"] and "Prada2013" in r.meta["thermal model"]
    assert np.all(r.temperature_degC == pytest.approx(15.0))  # no self-heating: the ambient throughout
    assert "Minimum voltage" in r.meta["termination"] and r.voltage_V.min() < 2.1
    assert "solved isothermal" in capsys.readouterr().err
    assert r.meta["cache"]["key"] != simulate(cell="Chen2020", protocol="cc", model="SPMe", c_rate=1.0,
                                              temperature_degC=15.0, cache_dir=cache_dir).meta["cache"]["key"]


def test_hppc_schedule(cache_dir):
    pytest.importorskip("pybamm")
    r = simulate(protocol="hppc", model="SPMe", cache_dir=cache_dir)
    s = r.meta["protocol settings"]
    assert s["pulse SOC levels"] == pytest.approx([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    i = r.current_A
    starts = np.flatnonzero(np.diff(np.r_[0.0, i]) != 0)
    # 10 s pulses of +-5 A
    d_pulses = [k for k in starts if i[k] == pytest.approx(5.0) and np.all(i[k:k + 10] == i[k]) and i[k + 10] == 0]
    c_pulses = [k for k in starts if i[k] == pytest.approx(-5.0)]
    assert len(d_pulses) == 10 and len(c_pulses) == 10
    # pulse sets start at the stated levels, on soc_true's scale: each step takes a tenth of the reference capacity
    # (docs/truth.md), its duration rounded to a whole sample (at most half a 1 s sample of the 1C step per level:
    # 0.5 s x 5 A / 3600 / Q_ref). On the nominal scale Chen2020's levels had drifted 0.6 % per level (Q_ref 5.153 A h)
    levels = np.array(s["pulse SOC levels"])
    per_level = 0.5 * 5.0 / 3600.0 / r.meta["reference capacity [A.h]"]
    err = np.abs(r.soc_true[np.array(d_pulses) - 1] - levels)
    assert np.all(err <= 1e-6 + per_level * np.arange(10)), err
    assert "Minimum voltage" in r.meta["termination"]


@pytest.mark.parametrize("kwargs,match", [
    ({"protocol": "nedc"}, "unknown protocol"),
    ({"model": "P2D"}, "unknown model"),
    ({"temperature_degC": 120.0}, "outside"),
    ({"temperature_degC": "warm"}, "must be a number"),
    ({"initial_soc": 1.5}, "initial_soc"),
    ({"protocol": "udds", "repeats": 0}, "repeats"),
    ({"protocol": "cc", "c_rate": -1.0}, "C-rate"),
    ({"protocol": "udds", "sample_period_s": 2.0}, "1 s grid"),
])
def test_bad_arguments(kwargs, match, cache_dir):
    with pytest.raises(ValueError, match=match):
        simulate(cache_dir=cache_dir, **kwargs)


def test_unknown_parameter_set(cache_dir):
    pytest.importorskip("pybamm")
    with pytest.raises(ValueError, match="NoSuchCell"):
        simulate(cell="NoSuchCell", protocol="cc", cache_dir=cache_dir)


def test_sensor_applied_after_cache(hwfet_log, cache_dir, tmp_path):
    _, r, _ = hwfet_log
    sen = SensorModel(voltage_noise_V=0.002, current_offset_A=0.05, seed=3)
    out = tmp_path / "noisy.csv"
    rn = simulate(protocol="hwfet", model="SPMe", cache_dir=cache_dir, sensor=sen, out=out)
    assert rn.meta["cache"]["hit"] is True
    np.testing.assert_array_equal(rn.soc_true, r.soc_true)            # truth stays true
    assert np.std(rn.voltage_V - r.voltage_V) == pytest.approx(0.002, rel=0.05)
    assert np.mean(rn.current_A - r.current_A) == pytest.approx(0.05, abs=1e-9)
    sc = json.loads(sidecar_path(out).read_text())
    assert sc["sensor"]["voltage_noise_V"] == 0.002 and sc["sensor"]["seed"] == 3


def test_cli(hwfet_log, cache_dir, tmp_path, capsys):
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers()
    simmod.add_cli(sub)
    out = tmp_path / "cli.csv"
    args = ap.parse_args(["simulate", "--protocol", "hwfet", "--model", "SPMe", "--temperature-degC", "25",
                          "--out", str(out), "--cache-dir", str(cache_dir), "--voltage-noise-V", "0.001",
                          "--seed", "4"])
    assert args.func(args) == 0
    assert out.exists() and sidecar_path(out).exists()
    assert "rows" in capsys.readouterr().out
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]   # no half-written files


# ------------------------------------------------------------------------------------------------
# read_log errors
# ------------------------------------------------------------------------------------------------
def test_read_log_errors(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("time,current_A,voltage_V,temperature_degC\n0,0,4,25\n1,0,4,25\n")
    with pytest.raises(ValueError, match="bad.csv.*time_s"):
        read_log(p)
    p.write_text("time_s,current_A,voltage_V,temperature_degC\n0,0,4,25\n2,0,4,25\n1,0,4,25\n")
    with pytest.raises(ValueError, match="line 4"):
        read_log(p)
    with pytest.raises(ValueError, match="not found"):
        read_log(tmp_path / "missing.csv")


# ------------------------------------------------------------------------------------------------
# sensor model (pure numpy)
# ------------------------------------------------------------------------------------------------
def _truth(n=20000):
    t = np.arange(n, dtype=float)
    rng = np.random.default_rng(0)
    i = np.repeat(rng.uniform(-5, 10, n // 20 + 1), 20)[:n]
    i[0] = 0.0
    v = 3.7 + 0.1 * np.sin(t / 500.0)
    T = np.full(n, 25.0)
    soc = 1.0 - np.r_[0.0, np.cumsum(i[1:])] / 3600.0 / 5.0
    return t, i, v, T, soc


def test_sensor_noise_offset_gain_statistics():
    t, i, v, T, soc = _truth()
    m = SensorModel(voltage_noise_V=0.005, current_noise_A=0.1, temperature_noise_degC=0.5,
                    current_offset_A=0.2, current_gain_error=0.01, seed=1).apply(t, i, v, T, soc)
    assert np.std(m["voltage_V"] - v) == pytest.approx(0.005, rel=0.03)
    assert abs(np.mean(m["voltage_V"] - v)) < 3 * 0.005 / np.sqrt(len(t))
    ei = m["current_A"] - (1.01 * i + 0.2)
    assert np.std(ei) == pytest.approx(0.1, rel=0.03)
    assert abs(np.mean(ei)) < 3 * 0.1 / np.sqrt(len(t))
    assert np.std(m["temperature_degC"] - T) == pytest.approx(0.5, rel=0.03)
    np.testing.assert_array_equal(m["soc_true"], soc)


def test_sensor_quantisation():
    t, i, v, T, soc = _truth(2000)
    m = SensorModel(voltage_lsb_V=0.001, current_lsb_A=0.05, voltage_noise_V=0.0003, seed=2).apply(t, i, v, T)
    assert np.allclose(m["voltage_V"] / 0.001, np.round(m["voltage_V"] / 0.001), atol=1e-6)
    assert np.allclose(m["current_A"] / 0.05, np.round(m["current_A"] / 0.05), atol=1e-6)
    assert np.max(np.abs(m["current_A"] - i)) <= 0.025 + 1e-9
    assert len(np.unique(m["voltage_V"])) < len(np.unique(v))


def test_sensor_decimation_and_drops_keep_coulomb_counting():
    t, i, v, T, soc = _truth()
    m = SensorModel(sample_period_s=5.0, drop_fraction=0.1, seed=5).apply(t, i, v, T, soc)
    n_dec = len(t) // 5
    frac = 1 - (len(m["time_s"]) - 1) / (n_dec - 1)
    assert frac == pytest.approx(0.1, abs=0.02)
    assert m["time_s"][0] == 0.0 and np.all(np.fmod(m["time_s"], 5.0) == 0)
    # averaging front end: coulomb counting of the measured log equals the truth
    soc_cc = _coulomb_soc(m["time_s"], m["current_A"], 1.0, 5.0)
    np.testing.assert_allclose(soc_cc, m["soc_true"], atol=1e-9)
    # same seed -> same result; other seed -> other rows
    m2 = SensorModel(sample_period_s=5.0, drop_fraction=0.1, seed=5).apply(t, i, v, T, soc)
    np.testing.assert_array_equal(m["time_s"], m2["time_s"])
    m3 = SensorModel(sample_period_s=5.0, drop_fraction=0.1, seed=6).apply(t, i, v, T, soc)
    assert not np.array_equal(m["rows"], m3["rows"]) if len(m3["rows"]) == len(m["rows"]) else True


@pytest.mark.parametrize("kw", [{"voltage_noise_V": -1.0}, {"drop_fraction": 1.0},
                                {"sample_period_s": 0.0}, {"current_sampling": "peak"},
                                {"current_gain_error": -1.0}])
def test_sensor_bad_settings(kw):
    with pytest.raises(ValueError):
        SensorModel(**kw)


def test_simresult_roundtrip(tmp_path):
    t, i, v, T, soc = _truth(50)
    r = SimResult(t, i, v, T, soc, {"x": 1})
    p = r.to_csv(tmp_path / "a.csv")
    r2 = SimResult.from_csv(p)
    np.testing.assert_allclose(r2.current_A, i, rtol=1e-9)
    assert r2.meta["x"] == 1 and r2.meta["rows"] == 50


def test_soc_true_spans_the_usable_capacity_when_the_nominal_disagrees(cache_dir):
    """Marquis2019's nominal capacity (0.681 Ah) is 22 % below what its electrodes hold between the
    cut-offs (0.873 Ah): soc_true is on the latter, so a discharge to the cut-off ends near 0, not at
    -0.28 (docs/truth.md)."""
    from cellsense.truth.solver import reference_capacity

    q_ref, how = reference_capacity("Marquis2019")
    assert 0.85 < q_ref < 0.90 and "ElectrodeSOH" in how
    r = simulate(cell="Marquis2019", protocol="cc", model="SPMe", temperature_degC=25.0, cache_dir=cache_dir,
                 c_rate=0.2)
    assert r.meta["reference capacity [A.h]"] == q_ref
    assert r.soc_true[0] == 1.0
    assert 0.0 <= r.soc_true[-1] < 0.06          # C/5 to the cut-off: near empty, not below 0
    soc_cc = _coulomb_soc(r.time_s, r.current_A, 1.0, q_ref)
    assert np.max(np.abs(soc_cc - r.soc_true)) < 1e-4
