"""Tests for cellsense.fit: parameter recovery on synthetic ECM data, PyBaMM Chen2020, bad input."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("scipy")

from cellsense import fit as fitmod  # noqa: E402
from cellsense.cells.ecm_reference import interpolate  # noqa: E402
from cellsense.fit import check_cell, ecm_simulate, fit  # noqa: E402
from cellsense.truth.result import SimResult  # noqa: E402
from cellsense.truth.schedules import _build_schedule, _resolve_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
Q_TRUE = 4.0
TEMPS = (5.0, 30.0)
R0_TRUE = {5.0: 0.040, 30.0: 0.020}
R1_TRUE, TAU1_TRUE = 0.010, 8.0
R2_TRUE, TAU2_TRUE = 0.015, 500.0


def _ocv_true(z):
    z = np.asarray(z, float)
    return 3.4 + 0.7 * z + 0.08 * np.sin(3 * z) - 0.2 * np.exp(-z / 0.05)


def _true_cell():
    soc = np.linspace(0.0, 1.0, 201)
    nT = len(TEMPS)
    tab = lambda x: [[x] * len(soc) for _ in range(nT)]  # noqa: E731
    p = {
        "Nominal cell capacity [A.h]": Q_TRUE, "Coulombic efficiency": 1.0,
        "SOC breakpoints": soc.tolist(), "Temperature breakpoints [degC]": list(TEMPS),
        "Open-circuit voltage [V]": [_ocv_true(soc).tolist()] * nT,
        "R0 [Ohm]": [[R0_TRUE[T]] * len(soc) for T in TEMPS],
        "R1 [Ohm]": tab(R1_TRUE), "tau1 [s]": tab(TAU1_TRUE), "R2 [Ohm]": tab(R2_TRUE), "tau2 [s]": tab(TAU2_TRUE),
        "Hysteresis maximum [V]": tab(0.0), "Instantaneous hysteresis [V]": tab(0.0),
        "Hysteresis rate constant": 10.0, "Lower voltage cut-off [V]": 2.5, "Upper voltage cut-off [V]": 4.2,
    }
    return {"cellsense cell file": 1, "name": "truth", "placeholder": False, "model": "ecm", "RC pairs": 2,
            "parameters": p}


def _log(cell, current, dt, T, path):
    t = np.arange(len(current) + 1) * dt
    i = np.r_[0.0, current]
    sim = ecm_simulate(cell, t, i, T, initial_soc=1.0)
    SimResult(t, i, sim["voltage_V"], np.full(len(t), T), sim["soc"], {}).to_csv(path, sidecar=False)
    return sim


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    cell = _true_cell()
    i20 = Q_TRUE / 20
    n = int(20 * 3600 / 10)  # exactly Q_TRUE at C/20 (10 s samples)
    cur = np.r_[np.zeros(6), np.full(n, i20), np.zeros(360), np.full(n - 30, -i20)]
    _log(cell, cur, 10.0, 25.0, d / "ocv.csv")
    s = _resolve_settings("hppc", None, None, None, None, None, None, None)
    sched = _build_schedule(s, Q_TRUE, 2.5, 4.2, None, None)
    cur = sched.current_A
    n_keep = int(np.argmax(np.cumsum(cur) / 3600.0 > 0.95 * Q_TRUE))   # stop the last discharge at 5 % SOC
    hppc = []
    for T in TEMPS:
        p = d / f"hppc_{T:g}.csv"
        _log(cell, cur[:n_keep], 1.0, T, p)
        hppc.append(p)
    out = d / "cell.json"
    fitted = fit(d / "ocv.csv", hppc, out=out, rc_pairs=2, name="synthetic")
    return {"dir": d, "cell": fitted, "out": out, "hppc": hppc, "ocv": d / "ocv.csv"}


def _at(cell, key, soc, T):
    p = cell["parameters"]
    return float(interpolate(np.asarray(p[key], float), np.asarray(p["SOC breakpoints"]),
                             np.asarray(p["Temperature breakpoints [degC]"]), soc, T))


def test_synthetic_capacity_and_ocv(synthetic):
    c = synthetic["cell"]
    p = c["parameters"]
    assert p["Nominal cell capacity [A.h]"] == pytest.approx(Q_TRUE, rel=1e-3)
    soc = np.asarray(p["SOC breakpoints"])
    ocv = np.asarray(p["Open-circuit voltage [V]"])
    mid = (soc >= 0.05) & (soc <= 0.95)
    assert np.max(np.abs(ocv[0][mid] - _ocv_true(soc[mid]))) < 0.002    # 2 mV
    assert np.max(np.abs(ocv[0] - _ocv_true(soc))) < 0.03
    assert np.all(np.diff(ocv, axis=1) > 0)
    # no hysteresis in the truth: M small
    assert np.max(np.asarray(p["Hysteresis maximum [V]"])[0][mid]) < 0.002


@pytest.mark.parametrize("soc", [0.3, 0.5, 0.8])
def test_synthetic_resistances_recovered(synthetic, soc):
    c = synthetic["cell"]
    assert c["parameters"]["Temperature breakpoints [degC]"] == list(TEMPS)
    for T in TEMPS:
        assert _at(c, "R0 [Ohm]", soc, T) == pytest.approx(R0_TRUE[T], rel=0.03)
        assert _at(c, "R1 [Ohm]", soc, T) == pytest.approx(R1_TRUE, rel=0.15)
        assert _at(c, "tau1 [s]", soc, T) == pytest.approx(TAU1_TRUE, rel=0.15)
        assert _at(c, "R2 [Ohm]", soc, T) == pytest.approx(R2_TRUE, rel=0.15)
        assert _at(c, "tau2 [s]", soc, T) == pytest.approx(TAU2_TRUE, rel=0.15)


def test_synthetic_residuals_and_file(synthetic):
    c = synthetic["cell"]
    res = c["fit residuals"]
    for p in synthetic["hppc"]:
        assert res[p.name]["voltage RMSE [mV]"] < 2.0
    on_disk = json.loads(synthetic["out"].read_text())
    assert on_disk == json.loads(json.dumps(c))
    check_cell(on_disk)
    for k in on_disk["parameters"]:
        assert k in on_disk["provenance"], k
    assert on_disk["placeholder"] is False and on_disk["model"] == "ecm" and on_disk["RC pairs"] == 2


def test_one_rc_pair(synthetic, tmp_path):
    c = fit(synthetic["ocv"], synthetic["hppc"][:1], rc_pairs=1)
    assert c["RC pairs"] == 1 and "R2 [Ohm]" not in c["parameters"]
    check_cell(c)


def test_fit_cli(synthetic, tmp_path, capsys):
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers()
    fitmod.add_cli(sub)
    out = tmp_path / "cli_cell.json"
    args = ap.parse_args(["fit", "--ocv", str(synthetic["ocv"]), "--hppc", str(synthetic["hppc"][0]),
                          "--hppc", str(synthetic["hppc"][1]), "--out", str(out), "--rc-pairs", "2"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "RMSE" in text and "hppc_5.csv" in text
    data = json.loads(out.read_text())
    assert data["name"] == "cli_cell"
    # the plausible voltage reading range follows the cut-offs, so an open sense wire's 0 V is out of it
    lo, hi = (data["parameters"][f"{k} voltage cut-off [V]"] for k in ("Lower", "Upper"))
    assert data["limits"]["Voltage range [V]"] == [round(max(0.0, lo - 1.0), 3), round(hi + 0.5, 3)]
    assert data["limits"]["Voltage range [V]"][0] > 0.0


def test_fit_cli_overpotential(synthetic, tmp_path, capsys):
    """`cellsense fit --overpotential`: the power limits' I_ref per temperature row from the HPPC pulses; the
    synthetic cell is linear (its pulses carry no overpotential), so the fit finds I_ref far above its currents."""
    from cellsense.fit.overpotential import K_OVERPOTENTIAL

    ap = argparse.ArgumentParser()
    fitmod.add_cli(ap.add_subparsers())
    out = tmp_path / "bv_cell.json"
    args = ap.parse_args(["fit", "--ocv", str(synthetic["ocv"]), "--hppc", str(synthetic["hppc"][0]),
                          "--hppc", str(synthetic["hppc"][1]), "--out", str(out), "--overpotential", "--quiet"])
    assert args.func(args) == 0
    assert "overpotential 5 degC: I_ref" in capsys.readouterr().out
    cell = json.loads(out.read_text())
    refs = cell["parameters"][K_OVERPOTENTIAL]
    assert len(refs) == len(cell["parameters"]["Temperature breakpoints [degC]"])
    # linear over the currents that matter: the chord factor asinh(u)/u at 5C is above 0.99 on every row
    assert all(math.asinh(5 * Q_TRUE / r) / (5 * Q_TRUE / r) > 0.99 for r in refs), refs
    assert K_OVERPOTENTIAL in cell["provenance"]
    check_cell(cell)


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------
def test_missing_file(synthetic, tmp_path):
    with pytest.raises(ValueError, match="nope.csv"):
        fit(tmp_path / "nope.csv", synthetic["hppc"])


def test_no_charge_branch(synthetic, tmp_path):
    # an HPPC log as OCV test: it has charge pulses but no charge branch after the long discharge
    p = tmp_path / "dis_only.csv"
    t = np.arange(0, 3600 * 20, 10.0)
    i = np.r_[0.0, np.full(len(t) - 1, 0.2)]
    SimResult(t, i, 4.0 - 1e-6 * t, np.full(len(t), 25.0), None, {}).to_csv(p, sidecar=False)
    out = tmp_path / "x.json"
    with pytest.raises(ValueError, match="dis_only.csv.*charge branch"):
        fit(p, synthetic["hppc"], out=out)
    assert not out.exists()


def test_duplicate_temperatures(synthetic):
    with pytest.raises(ValueError, match="distinct temperatures"):
        fit(synthetic["ocv"], [synthetic["hppc"][0], synthetic["hppc"][0]])


@pytest.mark.parametrize("kw", [{"rc_pairs": 0}, {"rc_pairs": 9}, {"hysteresis_rate": -1.0},
                                {"soc_breakpoints": [0.0, 0.5, 0.4, 1.0]}])
def test_bad_options(synthetic, kw):
    with pytest.raises(ValueError):
        fit(synthetic["ocv"], synthetic["hppc"], **kw)


def test_no_pulses(synthetic):
    with pytest.raises(ValueError, match="no HPPC pulses"):
        fit(synthetic["ocv"], [synthetic["ocv"]])


# ------------------------------------------------------------------------------------------------
# PyBaMM Chen2020
# ------------------------------------------------------------------------------------------------
def test_bundled_chen2020_model():
    c = json.loads((ROOT / "models" / "chen2020.json").read_text())
    check_cell(c)
    p = c["parameters"]
    assert c["placeholder"] is False and c["RC pairs"] == 2 and c["name"] == "chen2020"
    assert p["Temperature breakpoints [degC]"][0] < 5 and p["Temperature breakpoints [degC]"][-1] > 35
    assert 21 <= len(p["SOC breakpoints"]) <= 64
    assert 4.9 < p["Nominal cell capacity [A.h]"] < 5.3
    for k in p:
        assert k in c["provenance"], k
    for name, r in c["fit residuals"].items():
        assert r["voltage RMSE [mV]"] < 12.0, name


@pytest.fixture(scope="module")
def chen_spme(tmp_path_factory):
    pytest.importorskip("pybamm")
    from cellsense.truth.simulate import simulate
    d = tmp_path_factory.mktemp("chen")
    cache = tmp_path_factory.mktemp("chen_cache")
    simulate(protocol="ocv", model="SPMe", out=d / "ocv.csv", cache_dir=cache)
    simulate(protocol="hppc", model="SPMe", temperature_degC=25.0, out=d / "hppc25.csv", cache_dir=cache)
    return d


def test_bundled_model_on_spme_hppc(chen_spme):
    """The DFN-fitted bundled model, run open loop over an SPMe HPPC (another truth model)."""
    from cellsense.fit.inputs import _load
    c = json.loads((ROOT / "models" / "chen2020.json").read_text())
    lg = _load(chen_spme / "hppc25.csv")
    sim = ecm_simulate(c, lg["time_s"], lg["current_A"], lg["temperature_degC"], initial_soc=1.0)
    e = sim["voltage_V"] - lg["voltage_V"]
    assert 1e3 * math.sqrt(np.mean(e ** 2)) < 15.0
    # excluding the final discharge to the cut-off (diffusion-limited knee), much tighter
    body = lg["time_s"] < lg["time_s"][-1] - 600
    assert 1e3 * math.sqrt(np.mean(e[body] ** 2)) < 8.0


def test_fit_chen2020_spme(chen_spme, tmp_path):
    out = tmp_path / "chen_spme.json"
    c = fit(chen_spme / "ocv.csv", [chen_spme / "hppc25.csv"], out=out, name="chen-spme")
    assert c["parameters"]["Temperature breakpoints [degC]"][0] == pytest.approx(25.5, abs=1.0)
    assert c["fit residuals"]["hppc25.csv"]["voltage RMSE [mV]"] < 12.0
    assert c["fit residuals"]["ocv.csv"]["voltage RMSE [mV]"] < 12.0
    r0 = np.asarray(c["parameters"]["R0 [Ohm]"])
    assert np.all((r0 > 0.01) & (r0 < 0.05))


def test_model_voltage_error_recorded(synthetic):
    """fit records the open-loop HPPC RMSE nearest the OCV test's temperature as the model error."""
    c = synthetic["cell"]
    e = c["parameters"]["Model voltage error [V]"]
    T_ocv = 25.0
    near = min(synthetic["hppc"], key=lambda p: abs(float(p.stem.split("_")[1]) - T_ocv))
    assert e == pytest.approx(c["fit residuals"][near.name]["voltage RMSE [mV]"] * 1e-3, abs=1e-6)
    assert near.name in c["provenance"]["Model voltage error [V]"]
    from cellsense.cells.ecm import cell_from_dict
    from cellsense.estimators.ecm import Estimator
    est = Estimator(cell_from_dict(json.loads(json.dumps(c))))
    # the 1 Hz sigma: the sensor and the inflated model error (constant-error path, docs/tuning.md)
    assert np.hypot(est.noise.voltage_sigma_V, est.noise.model_error_voltage_V) == pytest.approx(np.hypot(0.005, 5.0 * e))


def test_warm_temperature_extrapolation(synthetic):
    c = fit(synthetic["ocv"], synthetic["hppc"], rc_pairs=2, temperature_extrapolation_K=10.0)
    p = c["parameters"]
    T = p["Temperature breakpoints [degC]"]
    assert T == list(TEMPS) + [TEMPS[-1] + 10.0]
    K = np.asarray(TEMPS, float) + 273.15
    # R0_TRUE falls with temperature: the new row continues ln R0 linearly in 1/T
    slope = (math.log(R0_TRUE[TEMPS[-1]]) - math.log(R0_TRUE[TEMPS[0]])) / (1 / K[-1] - 1 / K[0])
    want = R0_TRUE[TEMPS[-1]] * math.exp(slope * (1 / (K[-1] + 10.0) - 1 / K[-1]))
    assert _at(c, "R0 [Ohm]", 0.5, T[-1]) == pytest.approx(want, rel=0.05)
    np.testing.assert_array_equal(p["tau1 [s]"][-1], p["tau1 [s]"][-2])
    np.testing.assert_array_equal(p["Open-circuit voltage [V]"][-1], p["Open-circuit voltage [V]"][-2])
    assert "Arrhenius" in c["provenance"]["Temperature breakpoints [degC]"]
    with pytest.raises(ValueError):
        fit(synthetic["ocv"], synthetic["hppc"][:1], rc_pairs=2, temperature_extrapolation_K=10.0)


# ------------------------------------------------------------------------------------------------
# the model error's correlation time (cellsense fit --error-correlation-s, fit.noise)
# ------------------------------------------------------------------------------------------------
def _fit_args(synthetic, out, *extra):
    ap = argparse.ArgumentParser()
    fitmod.add_cli(ap.add_subparsers())
    return ap.parse_args(["fit", "--ocv", str(synthetic["ocv"]), "--hppc", str(synthetic["hppc"][0]),
                          "--hppc", str(synthetic["hppc"][1]), "--out", str(out), "--quiet", *extra])


def test_fit_cli_model_error_correlation(synthetic, tmp_path, capsys):
    """The option writes the key and its provenance, and the estimator then takes the resistance-scaled path
    (k_A = e / R_ref, the correlation time given) instead of the constant sigma it takes without it."""
    from cellsense import load_cell
    from cellsense.estimators.settings import NoiseSettings, resolve_model_error

    out = tmp_path / "tau_cell.json"
    args = _fit_args(synthetic, out, "--error-correlation-s", "80")
    assert args.func(args) == 0
    data = json.loads(out.read_text())
    assert data["parameters"]["Model error correlation [s]"] == 80.0
    assert "--error-correlation-s 80" in data["provenance"]["Model error correlation [s]"]
    sigma, k_A, k_rel, tau, e_V = resolve_model_error(NoiseSettings(), load_cell(out))
    assert tau == 80.0 and k_A > 0 and k_rel > 0
    plain = tmp_path / "plain.json"
    args = _fit_args(synthetic, plain)
    assert args.func(args) == 0
    assert "Model error correlation [s]" not in json.loads(plain.read_text())["parameters"]
    plain_cell = load_cell(plain)  # without it: the inflated constant model error, correlated over 1 s
    assert resolve_model_error(NoiseSettings(), plain_cell)[1:] == (0.0, 0.0, 1.0, 5 * plain_cell.model_voltage_error_V)


@pytest.mark.parametrize("bad", ["0", "-5", "nan", "inf", "1e6"])
def test_fit_cli_model_error_correlation_refused(synthetic, tmp_path, bad):
    out = tmp_path / "never.json"
    args = _fit_args(synthetic, out, f"--error-correlation-s={bad}")
    with pytest.raises(ValueError, match="--error-correlation-s"):
        args.func(args)
    assert not out.exists()  # refused before the fit: nothing written


def test_model_error_correlation_spme_refused(tmp_path):
    ap = argparse.ArgumentParser()
    fitmod.add_cli(ap.add_subparsers())
    args = ap.parse_args(["fit", "--pybamm-set", "Chen2020", "--physics", "spme", "--out", str(tmp_path / "s.json"),
                          "--error-correlation-s", "100"])
    with pytest.raises(ValueError, match="SPMe"):
        args.func(args)
    assert not (tmp_path / "s.json").exists()


def test_residual_growth_hint(synthetic):
    """The hint names the HPPC temperature whose open-loop residual grew most against the reference file's, and
    is silent for a model as good everywhere (the exact synthetic cell) or a file that states its correlation."""
    from copy import deepcopy

    from cellsense.fit import noise

    cell = deepcopy(synthetic["cell"])
    assert noise.growth_hint(cell) is None
    e_ref = cell["parameters"]["Model voltage error [V]"]
    res = cell["fit residuals"]["hppc_5.csv"]
    res["voltage RMSE [mV]"] = 3.0 * 1e3 * e_ref
    T, ratio, ref = noise.residual_growth(cell)
    assert T == 5.0 and ratio == pytest.approx(3.0, rel=1e-3) and ref == e_ref
    hint = noise.growth_hint(cell)
    assert hint is not None and "5 degC" in hint and "3.0 x" in hint
    # it asks for this cell's own measured value: another cell's 100 s made Marquis2019 worse (explorer, 2026-12-07)
    assert "measure" in hint and "e.g. 100" not in hint
    noise.add_model_error_correlation(cell, 100.0, "test")
    assert noise.growth_hint(cell) is None
    del cell["parameters"]["Model voltage error [V]"]
    with pytest.raises(ValueError, match="Model voltage error"):
        noise.add_model_error_correlation(cell, 100.0, "test")


# ------------------------------------------------------------------------------------------------
# the C/20 test bounds the fitted DC resistance (fit.hppc.cap_dc_resistance)
# ------------------------------------------------------------------------------------------------
def _tabs(r2):
    n = 5
    return {"R0 [Ohm]": np.full((2, n), 0.03), "R1 [Ohm]": np.full((2, n), 0.01), "tau1 [s]": np.full((2, n), 5.0),
            "R2 [Ohm]": np.array([np.full(n, r2), np.full(n, 2 * r2)]), "tau2 [s]": np.full((2, n), 300.0)}


def test_dc_resistance_capped_to_the_c20_gap():
    """A slow pair the 10 s pulses cannot pin down (PyBaMM ORegan2022: R2 0.97 Ohm, a 250 mV drop at C/20 where the
    branches are 2 x 24 mV apart; its US06 SOC RMSE was 58.6 %, 0.44 % after this) is scaled down to the C/20
    branches' half gap at every temperature row, keeping R / tau."""
    from cellsense.fit.hppc import cap_dc_resistance

    tabs = _tabs(1.0)
    gap = np.full(5, 0.02)  # V; i = 0.25 A: R_dc <= 80 mOhm, so R2 <= 40 mOhm at the 25 degC row
    note = cap_dc_resistance(tabs, [0.0, 25.0], 2, 25.0, gap, 0.25)
    assert note is not None and "slow RC pair 2 scaled by" in note and "5 of 5 SOC breakpoints" in note
    assert np.allclose(tabs["R2 [Ohm]"][1], 0.04)
    assert np.allclose(0.25 * (tabs["R0 [Ohm]"][1] + tabs["R1 [Ohm]"][1] + tabs["R2 [Ohm]"][1]), 0.02)
    assert np.allclose(tabs["R2 [Ohm]"][0], 0.02)  # the other row by the same factor
    assert np.allclose(tabs["R2 [Ohm]"] / tabs["tau2 [s]"], _tabs(1.0)["R2 [Ohm]"] / 300.0)  # R / tau kept
    assert np.allclose(tabs["R1 [Ohm]"], 0.01) and np.allclose(tabs["R0 [Ohm]"], 0.03)


@pytest.mark.parametrize("r2, T_ocv", [(0.02, 25.0), (1.0, 10.0)])
def test_dc_resistance_left_alone(r2, T_ocv):
    """Within 1.5 x the half gap + 5 mV (here 0.25 A x 60 mOhm = 15 mV against 35 mV), or without an HPPC row within
    5 K of the OCV test, the tables are not touched."""
    from cellsense.fit.hppc import cap_dc_resistance

    tabs = _tabs(r2)
    assert cap_dc_resistance(tabs, [0.0, 25.0], 2, T_ocv, np.full(5, 0.02), 0.25) is None
    for k, v in _tabs(r2).items():
        assert np.array_equal(tabs[k], v), k


def test_synthetic_fit_is_not_capped(synthetic):
    """The exact synthetic cell's DC resistance agrees with its C/20 test: no cap, and the provenance says none."""
    assert "scaled by" not in synthetic["cell"]["provenance"]["R2 [Ohm]"]
