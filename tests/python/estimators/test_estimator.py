"""Estimator API and invariants: rejection leaves state bit-identical, covariance SPD, SOC bounded,
run() == step(), float32 close to float64, EKF = UKF = linear KF on a linear model."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cellsense import Estimator, EstimatorSettings, NoiseSettings
from cellsense.cells.ecm import cell_from_dict

from conftest import synthetic_cell_dict

CELL = cell_from_dict(synthetic_cell_dict(2))
CELL1 = cell_from_dict(synthetic_cell_dict(1))
CELL3 = cell_from_dict(synthetic_cell_dict(3))

valid_sample = st.tuples(
    st.floats(0.05, 30.0),                 # dt_s
    st.floats(-6.0, 9.0),                  # current_A (+ = discharge)
    st.floats(2.6, 4.3),                   # voltage_V
    st.floats(-20.0, 60.0),                # temperature_degC
)

bad_sample = st.one_of(
    st.tuples(st.sampled_from([0.0, -1.0, -1e-9, 61.0, math.nan, math.inf]), st.just(1.0), st.just(3.7), st.just(25.0)),
    st.tuples(st.just(1.0), st.sampled_from([math.nan, -math.inf, 61.0, -60.5, 1e9]), st.just(3.7), st.just(25.0)),
    st.tuples(st.just(1.0), st.just(1.0), st.sampled_from([math.nan, math.inf, -0.5, 5.01, 100.0]), st.just(25.0)),
    st.tuples(st.just(1.0), st.just(1.0), st.just(3.7), st.sampled_from([math.nan, -41.0, 86.0, 1e6])),
)


def spd(p: np.ndarray) -> bool:
    if not np.all(np.isfinite(p)) or not np.array_equal(p, p.T):
        return False
    try:
        np.linalg.cholesky(p)
        return True
    except np.linalg.LinAlgError:
        return False


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=st.lists(valid_sample, min_size=1, max_size=80), soc0=st.floats(0.0, 1.0),
       bounds=st.sampled_from([(0.0, 1.0), (-0.05, 1.05), (0.1, 0.9)]))
def test_covariance_spd_and_soc_bounded(filt, dtype, seq, soc0, bounds):
    lo, hi = bounds
    soc0 = min(max(soc0, lo), hi)
    # the core holds the bounds in its own arithmetic: float32(-0.05) is -0.0500000007
    blo, bhi = (float(np.float32(lo)), float(np.float32(hi))) if dtype == "float32" else (lo, hi)
    est = Estimator(CELL, filter=filt, dtype=dtype, initial_soc=soc0,
                    settings=EstimatorSettings(soc_min=lo, soc_max=hi))
    for dt, i, v, t in seq:
        r = est.step(dt, i, v, t)
        assert blo <= r.soc <= bhi
        assert math.isfinite(r.soc_sigma)
        assert spd(est.covariance), (r, est.covariance)


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@settings(max_examples=40, deadline=None)
@given(prefix=st.lists(valid_sample, min_size=0, max_size=30), bad=bad_sample)
def test_rejected_input_changes_nothing(filt, dtype, prefix, bad):
    est = Estimator(CELL, filter=filt, dtype=dtype, initial_soc=0.6,
                    settings=EstimatorSettings(dt_max_s=60.0))
    for s in prefix:
        est.step(*s)
    before = est.state_bytes()
    r = est.step(*bad)
    assert r.rejected and r.status.startswith("rejected"), r
    assert est.state_bytes() == before


def test_innovation_gate_rejects_spike_and_reports():
    est = Estimator(CELL, filter="ekf", initial_soc=0.5)
    v = float(CELL.ocv(0.5, 25.0))
    for _ in range(30):
        est.step(1.0, 0.0, v, 25.0)
    before = est.state_bytes()
    r = est.step(1.0, 0.0, v + 0.8, 25.0)
    assert r.status == "rejected_innovation_gate"
    assert r.nis > 100 and r.innovation_V == pytest.approx(0.8, abs=0.02)
    assert est.state_bytes() == before


@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_run_equals_step(filt, synthetic_log):
    L = synthetic_log
    n = 800
    a = Estimator(L["cell"], filter=filt, initial_soc=0.8)
    ra = a.run(L["time_s"][:n], L["current_A"][:n], L["voltage_V"][:n], L["temperature_degC"][:n])
    b = Estimator(L["cell"], filter=filt, initial_soc=0.8)
    socs = [b.soc]
    for k in range(1, n):
        r = b.step(L["time_s"][k] - L["time_s"][k - 1], L["current_A"][k], L["voltage_V"][k], L["temperature_degC"][k])
        socs.append(r.soc)
    assert np.array_equal(ra.soc, np.array(socs))
    assert a.state_bytes() == b.state_bytes()
    assert ra.status[0] == "initial" and set(ra.status[1:]) == {"fused"}


def test_run_in_pieces_equals_one_run(synthetic_log):
    L = synthetic_log
    args = [L[k] for k in ("time_s", "current_A", "voltage_V", "temperature_degC")]
    a = Estimator(L["cell"], filter="ukf", initial_soc=0.8)
    whole = a.run(*args)
    b = Estimator(L["cell"], filter="ukf", initial_soc=0.8)
    p1 = b.run(*(x[:1000] for x in args))
    saved = b.save_state()
    c = Estimator(L["cell"], filter="ukf", initial_soc=0.3)  # restored below: initial SOC irrelevant
    c.restore_state(saved)
    p2 = c.run(*(x[1000:] for x in args))
    assert np.array_equal(np.r_[p1.soc, p2.soc], whole.soc)


def test_float32_tracks_float64(synthetic_log):
    L = synthetic_log
    args = [L[k] for k in ("time_s", "current_A", "voltage_V", "temperature_degC")]
    for filt in ("ekf", "ukf"):
        r64 = Estimator(L["cell"], filter=filt, initial_soc=0.75).run(*args)
        r32 = Estimator(L["cell"], filter=filt, dtype="float32", initial_soc=0.75).run(*args)
        assert np.max(np.abs(r64.soc - r32.soc)) < 1e-4
        assert not np.array_equal(r64.soc, r32.soc)  # it really ran in float32


@pytest.mark.parametrize("cell", [CELL1, CELL, CELL3], ids=["1rc", "2rc", "3rc"])
@pytest.mark.parametrize("filt", ["ekf", "ukf"])
def test_converges_from_20_points_off(cell, filt, synthetic_log):
    from cellsense.cells.ecm_reference import simulate_ecm
    from cellsense.evaluate.metrics import soc_metrics

    L = synthetic_log
    sim = simulate_ecm(cell, L["time_s"], L["current_A"], 25.0, initial_soc=0.95)
    rng = np.random.default_rng(11)
    v = sim["voltage_V"] + 0.002 * rng.standard_normal(len(L["time_s"]))
    r = Estimator(cell, filter=filt, initial_soc=0.75).run(L["time_s"], L["current_A"] + 0.02, v, L["temperature_degC"])
    m = soc_metrics(L["time_s"], r.soc, r.soc_sigma, sim["soc"])
    assert m.max_abs_after < 0.01 and m.outside_3sigma_after < 0.05, m


def test_log_faults_are_reported_not_absorbed(synthetic_log):
    L = synthetic_log
    t = L["time_s"][:400].copy()
    i = L["current_A"][:400].copy()
    v = L["voltage_V"][:400].copy()
    th = L["temperature_degC"][:400].copy()
    v[50] = np.nan
    t[100] = t[99] - 5.0       # backwards timestamp
    th[150] = 300.0            # impossible temperature
    i[200] = np.inf
    t[300:] += 3600.0          # a one-hour gap (logger off) > dt_max
    r = Estimator(L["cell"], filter="ekf", initial_soc=0.9).run(t, i, v, th)
    s = r.status
    assert s[50] == "rejected_nonfinite"
    assert s[100] == "rejected_dt_nonpositive"
    assert s[101] == "fused"   # the clock did not go backwards: next dt is measured from t[99]
    assert s[150] == "rejected_temperature_range"
    assert s[200] == "rejected_nonfinite"
    assert s[300] == "rejected_dt_too_large" and s[301] == "fused"
    assert np.all(np.isfinite(r.soc)) and np.all((r.soc >= -0.05) & (r.soc <= 1.05))
    assert r.rejected.sum() == 5


def test_initial_soc_from_ocv():
    v = float(CELL.ocv(0.42, 25.0))
    est = Estimator(CELL, filter="ekf")
    r = est.run([0.0, 1.0], [0.0, 0.0], [v, v], [25.0, 25.0])
    assert abs(r.soc[0] - 0.42) < 1e-6


def test_bad_arguments():
    with pytest.raises(ValueError, match="filter"):
        Estimator(CELL, filter="pf")
    with pytest.raises(ValueError, match="initial_soc"):
        Estimator(CELL, initial_soc=1.5)
    with pytest.raises(ValueError, match="dtype"):
        Estimator(CELL, dtype="float16")
    est = Estimator(CELL, initial_soc=0.5)
    with pytest.raises(ValueError, match="length"):
        est.run([0, 1, 2], [0, 0], [3.7, 3.7, 3.7], [25, 25, 25])
    with pytest.raises(ValueError, match="dt_max_s"):  # refused by EstimatorSettings itself, naming the field
        Estimator(CELL, settings=EstimatorSettings(dt_max_s=-1.0), initial_soc=0.5)
    with pytest.raises(ValueError, match="restore_state"):
        s = est.save_state()
        s["P"] = (-np.eye(4)).tolist()
        est.restore_state(s)


def linear_cell_dict():
    d = synthetic_cell_dict(1)
    p = d["parameters"]
    p["SOC breakpoints"] = [0.0, 1.0]
    p["Temperature breakpoints [degC]"] = [25.0]
    p["Open-circuit voltage [V]"] = [3.0, 4.2]
    p["R0 [Ohm]"] = 0.03
    p["R1 [Ohm]"] = 0.02
    p["tau1 [s]"] = 40.0
    p["Hysteresis maximum [V]"] = 0.0
    p["Instantaneous hysteresis [V]"] = 0.0
    return d


def test_linear_model_kf_ekf_ukf_agree():
    """On a linear model (affine OCV, constant R, no hysteresis) the EKF and the UKF are the Kalman
    filter: both must match a plain linear KF written here in numpy."""
    cell = cell_from_dict(linear_cell_dict())
    noise = NoiseSettings(initial_soc_sigma=0.05, initial_hysteresis_sigma=0.1)  # sigma points stay in the grid
    rng = np.random.default_rng(5)
    n = 3000
    t = np.arange(n, dtype=float)
    i = rng.uniform(-1.0, 1.5, n)
    v = 3.72 + 0.01 * rng.standard_normal(n)
    th = np.full(n, 25.0)
    ekf_est = Estimator(cell, filter="ekf", noise=noise, initial_soc=0.6)
    ekf_noise_sigma = ekf_est.noise.voltage_sigma_V  # resolved (NoiseSettings default None: from the cell file)
    ekf = ekf_est.run(t, i, v, th)
    ukf = Estimator(cell, filter="ukf", noise=noise, initial_soc=0.6).run(t, i, v, th)
    # plain KF: x = [soc, v1, h]
    q_ah = cell.capacity_Ah
    x = np.array([0.6, 0.0, 0.0])
    P = np.diag([noise.initial_soc_sigma ** 2, noise.initial_v_rc_sigma_V ** 2, noise.initial_hysteresis_sigma ** 2])
    kf_soc = [x[0]]
    for k in range(1, n):
        dt = t[k] - t[k - 1]
        eta = cell.coulombic_efficiency if i[k] < 0 else 1.0
        g = eta * dt / 3600 / q_ah
        a = math.exp(-dt / 40.0)
        F = np.diag([1.0, a, math.exp(-abs(i[k]) * cell.hysteresis_rate * g)])
        b = np.array([-g, 0.02 * (1 - a), 0.0])
        x = F @ x + b * i[k] + np.array([0, 0, -(1 - F[2, 2]) * np.sign(i[k])])
        Q = np.outer(b, b) * noise.current_sigma_A ** 2 + np.diag(
            [noise.soc_per_sqrt_s ** 2, noise.v_rc_V_per_sqrt_s ** 2, noise.hysteresis_per_sqrt_s ** 2]) * dt
        P = F @ P @ F.T + Q
        H = np.array([1.2, -1.0, 0.0])
        y = v[k] - (3.0 + 1.2 * x[0] - x[1] - 0.03 * i[k])
        S = H @ P @ H + ekf_noise_sigma ** 2
        K = P @ H / S
        x = x + K * y
        P = P - np.outer(K, K) * S
        kf_soc.append(x[0])
    kf_soc = np.array(kf_soc)
    assert np.max(np.abs(ekf.soc - kf_soc)) < 1e-10
    assert np.max(np.abs(ukf.soc - kf_soc)) < 1e-10


def test_sizeof_core_is_small():
    # per-cell estimator (state, covariance, config, parameter pointer) for the MCU: float32, 2 RC
    assert Estimator.sizeof_core("ekf", 2, "float32") <= 256
    assert Estimator.sizeof_core("ukf", 2, "float32") <= 256


def test_run_releases_the_gil():
    """While run() works through a long log in one thread, Python code keeps running in another."""
    import threading
    import time as _time

    n = 3_000_000
    t = np.arange(n, dtype=float)
    i = np.full(n, 0.1)
    v = np.full(n, float(CELL.ocv(0.5, 25.0)))
    th = np.full(n, 25.0)
    est = Estimator(CELL, filter="ukf", initial_soc=0.5)
    done = threading.Event()
    ticks = []

    def work():
        est.run(t, i, v, th)
        done.set()

    th_ = threading.Thread(target=work)
    th_.start()
    while not done.is_set():
        ticks.append(_time.perf_counter())
        _time.sleep(0.001)
    th_.join()
    # with the GIL held for the whole run, this loop could not have ticked more than a couple of times
    assert len(ticks) > 50, len(ticks)


def test_soc_metrics_nees_after_the_settle_time_and_the_summary_prints_it():
    """NEES = mean (error / sigma)^2 after the settle time (docs/metrics.md), and `estimate`'s summary line shows it
    (a new user had to compute it to see that a band was too wide)."""
    from cellsense.evaluate.estimate import format_metrics
    from cellsense.evaluate.metrics import soc_metrics

    t = np.arange(1200.0)
    truth = np.full(t.size, 0.5)
    est = truth + np.where(t < 600, 0.2, 0.01)  # off by 0.2 before the settle time, by 0.01 after
    m = soc_metrics(t, est, np.full(t.size, 0.02), truth)
    assert m.nees_after == pytest.approx(0.25)
    assert "NEES after 10 min 0.25" in format_metrics(m)
