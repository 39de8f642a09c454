"""Saved SOH states (docs/soh.md "Rejected inputs, uncertainty, persistence"): absurd sums refused naming the field
and its range, states the package saves restored, a state saved with other settings restored with a warning, the
CLI's --no-ocv-learning summary with a carried OCV correction, no --state-out after a log with no accepted sample,
and SohEstimator.step."""
from __future__ import annotations

import copy
import json
import warnings
from dataclasses import replace

import numpy as np
import pytest

from cellsense.cli.commands import main
from cellsense.estimators.soh import SavedStateMismatchWarning, SohEstimator, SohSettings, estimate_soh
from cellsense.evaluate.estimate import NoAcceptedSampleError, estimate

from test_soh import NASA_NOISE, NASA_SOH, ROOT, nasa_logs

SETTINGS = SohSettings(pair_min_delta_soc=0.02)  # capacity pairs within the short log


def _log(n: int = 1200):
    t = np.arange(n, dtype=float)
    i = np.where((t // 60) % 3 == 0, 0.0, 2.5)
    soc = 0.9 - np.cumsum(i) / (5.0 * 3600)
    return t, i, 3.4 + 0.7 * soc - 0.02 * i, np.full(n, 25.0)


@pytest.fixture(scope="module")
def saved():
    a = SohEstimator("chen2020", initial_soc=0.9, soh=SETTINGS)
    r = a.run(*_log())
    assert r.capacity_updated.any() and r.r0_updated.any()
    return json.loads(json.dumps(a.save_state()))


def _fresh(**kw):
    return SohEstimator("chen2020", initial_soc=0.5, soh=kw.pop("soh", SETTINGS), **kw)


def _refused(saved: dict, *words: str) -> str:
    est = _fresh()
    before = est.state_bytes()
    with pytest.raises(ValueError) as e:
        est.restore_state(saved)
    assert est.state_bytes() == before
    for w in words:
        assert w in str(e.value), str(e.value)
    return str(e.value)


# ---- 1: absurd sums ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key,value,words", [
    ("a_xx", 1e-300, ("soh.a_xx", "capacity sigma", "1e+150 A h")),   # sigma 1e150 A h
    ("a_xx", 1e12, ("soh.a_xx", "capacity sigma", "1e-06 A h")),      # sigma 1e-6 A h: the capacity frozen
    ("r0_scale_var", 1e30, ("soh.r0_scale_var", "r0_scale_sigma^2 = 0.09")),
    ("r0_scale_var", 0.0901, ("soh.r0_scale_var", "0.0900001")),
    ("charge_var_Ah2", 1e300, ("soh.charge_var_Ah2", "100 x the initial capacity")),
    ("charge_var_Ah2", (101 * 5.153198) ** 2, ("soh.charge_var_Ah2",)),
])
def test_absurd_sums_refused_naming_the_field(saved, key, value, words):
    bad = copy.deepcopy(saved)
    bad["soh"][key] = value
    msg = _refused(bad, *words)
    assert "ocv_P" not in msg


def test_bounds_follow_the_settings(saved):
    """The R0 variance cap and the capacity-sigma bounds are the restoring estimator's settings."""
    est = _fresh()
    b = est.soh_state_bounds()
    q0 = est.cell.capacity_Ah
    assert b["r0_scale_var"][1] == pytest.approx(0.09, rel=1e-5)
    assert 1 / np.sqrt(b["a_xx"][0]) == pytest.approx(1.5 * q0, rel=1e-5)
    assert 1 / np.sqrt(b["a_xx"][1]) == pytest.approx(1e-5 * q0, rel=1e-9)
    wide = _fresh(soh=replace(SETTINGS, r0_scale_sigma=0.5, capacity_sigma_Ah=20 * q0))
    b = wide.soh_state_bounds()
    assert b["r0_scale_var"][1] == pytest.approx(0.25, rel=1e-5)
    assert 1 / np.sqrt(b["a_xx"][0]) == pytest.approx(20 * q0, rel=1e-5)
    ok = copy.deepcopy(saved)
    ok["soh"]["r0_scale_var"] = 0.2
    with pytest.warns(SavedStateMismatchWarning):  # saved with r0_scale_sigma 0.3
        wide.restore_state(ok)
    assert wide.r0_scale_sigma == pytest.approx(np.sqrt(0.2))
    _refused(ok, "soh.r0_scale_var")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_states_the_package_saves_restore(saved, filt, dtype):
    """Before any sample (the prior: a_xx = 1 / sigma0^2), after a run with capacity / R0 / OCV updates."""
    for source in (SohEstimator("chen2020", filter=filt, dtype=dtype, soh=SETTINGS),
                   SohEstimator("chen2020", filter=filt, dtype=dtype, initial_soc=0.9, soh=SETTINGS)):
        if source.save_state()["pending_ocv_init"] is False:
            source.run(*_log())
        state = json.loads(json.dumps(source.save_state()))
        est = SohEstimator("chen2020", filter=filt, dtype=dtype, soh=SETTINGS)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # same filter, dtype, settings: no warning
            est.restore_state(state)
        assert est.save_state()["soh"] == state["soh"]


def test_tight_prior_widened_by_forgetting_restores():
    """Fading memory discounts the prior: with capacity_sigma_Ah 0.01 A h the sigma grows past it over NASA B0005's
    discharges. That state, saved by the package, must restore (the bound is not the initial sigma)."""
    logs, _ = nasa_logs("B0005")
    soh = replace(NASA_SOH, capacity_sigma_Ah=0.01)
    est, res = estimate_soh(ROOT / "models" / "nasa_b0005.json", logs[:4], soh=soh, noise=NASA_NOISE)
    assert est.capacity_sigma_Ah > 0.0115 and sum(int(r.capacity_updated.sum()) for r in res) >= 4
    state = json.loads(json.dumps(est.save_state()))
    b = SohEstimator(ROOT / "models" / "nasa_b0005.json", soh=soh, noise=NASA_NOISE)
    b.restore_state(state)
    assert b.capacity_sigma_Ah == est.capacity_sigma_Ah


# ---- 2: saved with other settings ------------------------------------------------------------------------------------
@pytest.mark.parametrize("key,value,words", [
    ("filter", "ukf", ("filter 'ukf'", "filter 'ekf'")),
    ("dtype", "float32", ("dtype 'float32'", "dtype 'float64'")),
])
def test_other_filter_or_dtype_warns(saved, key, value, words):
    d = copy.deepcopy(saved)
    d[key] = value
    est = _fresh()
    with pytest.warns(SavedStateMismatchWarning) as w:
        est.restore_state(d)
    msg = " ".join(str(x.message) for x in w)
    assert all(x in msg for x in words), msg
    assert est.save_state()["soh"] == saved["soh"]


def test_saved_without_ocv_learning_into_learning_warns(saved):
    d = copy.deepcopy(saved)
    d["soh_settings"]["ocv_learning"] = False
    est = _fresh()
    with pytest.warns(SavedStateMismatchWarning, match=r"soh_settings\.ocv_learning was False .* is True .*learns"):
        est.restore_state(d)


@pytest.mark.parametrize("value", ["garbage", None, [1, 2], 3.0])
def test_soh_settings_not_a_dict_refused(saved, value):
    d = copy.deepcopy(saved)
    d["soh_settings"] = value
    _refused(d, "soh_settings", "expected a dict")


# ---- 3 / 4: the CLI --------------------------------------------------------------------------------------------------
def _write_log(path, t, i, v, th):
    np.savetxt(path, np.column_stack([t, i, v, th]), delimiter=",", fmt="%.6f",
               header="time_s,current_A,voltage_V,temperature_degC", comments="")


def test_no_ocv_learning_says_the_carried_correction_is_not_used(tmp_path, saved, capsys):
    state = copy.deepcopy(saved)
    nodes = [0.0476, 0.0286, 0.0171, 0.0103, 0.0062]
    state["soh"]["ocv_x"][1:] = nodes
    (tmp_path / "s.json").write_text(json.dumps(state))
    _write_log(tmp_path / "d.csv", *_log())
    rc = main(["estimate", "--cell", "chen2020", "--data", str(tmp_path / "d.csv"), "--soh", "--no-ocv-learning",
               "--state-in", str(tmp_path / "s.json"), "--state-out", str(tmp_path / "o.json"),
               "--out", str(tmp_path / "e.csv")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "learned OCV correction" not in out
    assert "not in use" in out and "+47.6" in out and "--state-out keeps it unchanged" in out
    e = np.genfromtxt(tmp_path / "e.csv", delimiter=",", names=True)
    assert np.all(e["ocv_shift_V"] == 0.0)
    assert json.loads((tmp_path / "o.json").read_text())["soh"]["ocv_x"][1:] == nodes


def test_all_rejected_log_writes_no_state(tmp_path, capsys):
    t, i, v, _ = _log(300)
    _write_log(tmp_path / "cold.csv", t, i, v, np.full(300, -60.0))
    out, st = tmp_path / "e.csv", tmp_path / "s.json"
    rc = main(["estimate", "--cell", "chen2020", "--data", str(tmp_path / "cold.csv"), "--soh", "--state-out", str(st),
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "accepted no sample" in err and "rejected_temperature_range 299" in err and str(st) in err
    assert not st.exists() and not out.exists()
    with pytest.raises(NoAcceptedSampleError):
        estimate("chen2020", tmp_path / "cold.csv", soh=True, state_out=st)
    assert not st.exists()
    # without --state-out the run is reported as it was (exit 0): only a state would pretend the log was estimated
    assert main(["estimate", "--cell", "chen2020", "--data", str(tmp_path / "cold.csv"), "--soh"]) == 0


# ---- 5: SohEstimator.step ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_step_equals_run_bit_for_bit(filt, dtype):
    t, i, v, th = _log()
    t = t * 1.3 + 1000.3  # intervals that are not whole seconds
    whole = SohEstimator("chen2020", filter=filt, dtype=dtype, initial_soc=0.9, soh=SETTINGS)
    ref = whole.run(t, i, v, th)
    assert ref.capacity_updated.any() and ref.r0_updated.any() and ref.ocv_updated.any()
    stepped = SohEstimator("chen2020", filter=filt, dtype=dtype, initial_soc=0.9, soh=SETTINGS)
    pieces = SohEstimator("chen2020", filter=filt, dtype=dtype, initial_soc=0.9, soh=SETTINGS)
    stepped.run(t[:1], i[:1], v[:1], th[:1])  # the first sample only sets the clock
    soc, cap = [], []
    for k in range(len(t)):
        p = pieces.run(t[k:k + 1], i[k:k + 1], v[k:k + 1], th[k:k + 1])
        assert p.soc[0] == ref.soc[k] and p.capacity_Ah[0] == ref.capacity_Ah[k]
        if k:
            r = stepped.step(t[k] - t[k - 1], i[k], v[k], th[k])
            assert r.status == ref.status[k]
            soc.append(r.soc)
            cap.append(stepped.capacity_Ah)
    assert np.array_equal(soc, ref.soc[1:]) and np.array_equal(cap, ref.capacity_Ah[1:])
    assert stepped.state_bytes() == whole.state_bytes() == pieces.state_bytes()
    assert stepped.save_state() == whole.save_state()
    assert stepped._impl.last_time_s == pytest.approx(t[-1])


def test_step_clock_and_rejection_as_estimator_step():
    est = SohEstimator("chen2020", initial_soc=0.9, soh=SETTINGS)
    r = est.step(1.0, 2.5, 3.9, 25.0)  # a fresh estimator: a real step, the log clock not started (Estimator.step's rule)
    assert r.status == "fused" and est._impl.last_time_s is None
    est.run([10.0], [0.0], [3.9], [25.0])
    before = est.state_bytes()
    for dt in (0.0, -1.0, float("nan")):
        assert est.step(dt, 2.5, 3.9, 25.0).rejected
        assert est.state_bytes() == before and est._impl.last_time_s == 10.0
    assert est.step(1.0, 2.5, 3.9, -60.0).status == "rejected_temperature_range"
    assert est.state_bytes() == before and est._impl.last_time_s == 11.0  # the clock moves by dt, as Estimator.step
