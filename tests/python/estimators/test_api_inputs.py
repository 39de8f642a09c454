"""A validation engineer's scripts (an exploratory run of ~35 API cases, 2026-12-07): inputs and call sequences
that gave a silently wrong answer, now converted, refused naming the argument, or carried over correctly."""
from __future__ import annotations

import gzip
import threading
from pathlib import Path

import numpy as np
import pytest

import cellsense
from cellsense import Estimator
from cellsense.estimators.power import estimate_power
from cellsense.estimators.settings import EstimatorSettings
from cellsense.estimators.soh import SohEstimator


@pytest.fixture(scope="module")
def udds():
    src = Path(cellsense.__file__).parent / "data" / "truth" / "chen2020_dfn_udds_25degC.csv.gz"
    with gzip.open(src, "rt") as f:
        d = np.genfromtxt(f, delimiter=",", names=True, max_rows=3000)
    return d["time_s"], d["current_A"], d["voltage_V"], d["temperature_degC"]


def test_datetime_and_timedelta_time_columns_are_seconds(udds):
    """datetime64 / timedelta64 time was read as raw ticks (ns: every step rejected as too long); now seconds."""
    t, i, v, T = udds
    ref = Estimator("chen2020", initial_soc=0.8).run(t, i, v, T)
    t_ns = np.datetime64("2024-01-01", "ns") + (t * 1e9).astype("timedelta64[ns]")
    for col in (t_ns, (t * 1e3).astype("timedelta64[ms]"), t_ns.astype("datetime64[us]")):
        r = Estimator("chen2020", initial_soc=0.8).run(col, i, v, T)
        assert r.counts() == ref.counts()
        np.testing.assert_allclose(r.soc, ref.soc, atol=1e-9)
    with pytest.raises(TypeError, match="current_A"):
        Estimator("chen2020", initial_soc=0.8).run(t, t_ns, v, T)


def test_complex_refused_and_masked_samples_not_used(udds):
    t, i, v, T = udds
    with pytest.raises(TypeError, match="voltage_V: complex"):
        Estimator("chen2020", initial_soc=0.8).run(t, i, v.astype(complex), T)
    vm = np.ma.masked_array(v, mask=np.zeros(v.size, bool))
    vm.mask[100:110] = True
    vm.data[100:110] = 99.0  # garbage under the mask
    r = Estimator("chen2020", initial_soc=0.8).run(t, i, vm, T)
    assert np.all(np.asarray(r.status)[100:110] == "rejected_nonfinite")


def test_result_time_is_a_copy(udds):
    t, i, v, T = udds
    tt = t.copy()
    r = Estimator("chen2020", initial_soc=0.8).run(tt, i, v, T)
    tt[:] = -1.0  # the caller refills its buffer for the next chunk
    assert r.time_s[0] == t[0]


def test_step_moves_the_clock_so_run_does_not_count_twice(udds):
    """run(), then step() calls, then run(): the steps' interval was counted again by the second run (dt from the
    first run's last timestamp); step() now moves the log clock by its dt, as run() moves it to each timestamp."""
    t, i, v, T = udds
    whole = Estimator("chen2020", initial_soc=0.8)
    ref = whole.run(t[:1006], i[:1006], v[:1006], T[:1006])
    est = Estimator("chen2020", initial_soc=0.8)
    est.run(t[:1000], i[:1000], v[:1000], T[:1000])
    for k in range(1000, 1005):
        est.step(t[k] - t[k - 1], i[k], v[k], T[k])
    r = est.run(t[1005:1006], i[1005:1006], v[1005:1006], T[1005:1006])
    assert r.status[0] == "fused"
    assert est.soc == pytest.approx(float(ref.soc[-1]), abs=1e-12)


def test_restore_refuses_another_cells_state():
    a = Estimator("chen2020", initial_soc=0.8)
    a.run([0.0, 1.0], [1.0, 1.0], [3.9, 3.9], [25.0, 25.0])
    p = Estimator("panasonic_18650pf", initial_soc=0.5)
    before = p.state_bytes()
    with pytest.raises(ValueError, match="restore_state: cell: .*'chen2020'"):
        p.restore_state(a.save_state())
    assert p.state_bytes() == before


@pytest.mark.parametrize("cls", [Estimator, SohEstimator])
def test_a_fresh_state_keeps_its_start_from_the_first_voltage(udds, cls):
    """Saved before its first sample without an initial SOC, an estimator starts from the log's first rested
    voltage; a restore of that state used to drop the flag and start from the placeholder SOC 0.5."""
    t, i, v, T = udds
    fresh = cls("chen2020").run(t, i, v, T)
    other = cls("chen2020")
    other.restore_state(cls("chen2020").save_state())
    r = other.run(t, i, v, T)
    np.testing.assert_array_equal(r.soc, fresh.soc)


def test_power_functions_take_the_thread_guard(udds):
    """estimate_power (and the other power functions) called into the estimator's core without its one-thread
    guard: two threads raced inside one core. Now, while another thread is inside the estimator, they raise the
    RuntimeError the estimator's own methods raise."""
    from cellsense.estimators.power import power_limits_now, remaining_energy, time_to_full

    t, i, v, T = udds
    est = Estimator("chen2020", initial_soc=0.8)
    calls = [lambda: estimate_power(est, t, i, v, T), lambda: power_limits_now(est, 25.0),
             lambda: remaining_energy(est, 25.0, 10.0), lambda: time_to_full(est, 2.0)]
    seen: list[str] = []
    inside, done = threading.Event(), threading.Event()

    def holder():
        with est._exclusive_block():  # another thread inside the estimator (as during its run())
            inside.set()
            done.wait(10)

    th = threading.Thread(target=holder)
    th.start()
    inside.wait(10)
    try:
        for call in calls:
            with pytest.raises(RuntimeError) as e:
                call()
            seen.append(str(e.value))
    finally:
        done.set()
        th.join()
    assert len(seen) == 4 and all("in use by another thread" in m for m in seen)
    assert power_limits_now(est, 25.0)  # free again


def test_settings_assigned_after_construction_are_checked():
    s = EstimatorSettings()
    s.soc_min, s.soc_max = -5.0, 7.0
    with pytest.raises(ValueError, match="soc_min"):
        Estimator("chen2020", settings=s, initial_soc=6.0)
    s = EstimatorSettings()
    s.gate_predict_only = "no"
    with pytest.raises(ValueError, match="gate_predict_only"):
        Estimator("chen2020", settings=s)
    with pytest.raises(TypeError, match="settings: expected a EstimatorSettings"):
        Estimator("chen2020", settings={"dt_max_s": 10})
    with pytest.raises(TypeError, match="initial_soc: expected a number"):
        Estimator("chen2020", initial_soc="0.5")
