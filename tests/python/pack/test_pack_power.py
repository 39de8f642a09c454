"""The series string's state of power over a whole pack log (cellsense.pack.power over the pack binding's run_power,
power::pack_power_limits; issue #15)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cellsense.cells.ecm_reference import simulate_ecm
from cellsense.estimators.base import _core
from cellsense.estimators.power import LIMITED_BY, PowerSettings, pack_power_limits_now
from cellsense.pack import (PACK_CELL_NOT_COMPUTED, PackEstimator, PackLog, estimate_pack_power, load_pack,
                            pack_from_dict, pack_power_config)
from cellsense.pack.power import power_limits_now
from cellsense.replay.readers import read_log

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pack"
#: ratings far above what the cells allow: the voltage and SOC limits decide, so the cells differ
WIDE = dict(discharge_current_max_A=200.0, charge_current_max_A=200.0)


def head(log: PackLog, k: int) -> PackLog:
    return PackLog(log.time_s[:k], log.current_A[:k], log.voltage_V[:k], log.temperature_degC[:k], None, log.source)


@pytest.fixture(scope="module")
def fixture_pack():
    spec = load_pack(FIX / "sim12s.pack.json")
    return spec, read_log(FIX / "sim12s.csv.gz", spec)


def spread_pack(soc0, parallel=1, sensors=1, n=900):
    """A pack whose cells start at different SOCs (each cell's voltage simulated from its own SOC), 1 Hz, a
    discharge / rest / charge current."""
    nc = len(soc0)
    spec = pack_from_dict({"cellsense pack file": 1, "topology": {"series": nc, "parallel": parallel},
                           "cell": "chen2020", "voltage": {"pattern": "v{index}"}, "current": "i",
                           "temperature": [f"T{j}" for j in range(sensors)], "time": "t"})
    t = np.arange(float(n))
    i = np.where(t < n / 3, 3.0, np.where(t < 2 * n / 3, 0.0, -2.0)) * parallel
    cell = spec.cell
    V = np.stack([simulate_ecm(cell, t, i / parallel, 25.0, initial_soc=s)["voltage_V"] for s in soc0], axis=1)
    return spec, PackLog(t, i, V, np.full((n, sensors), 25.0), None, "spread")


def test_sentinel_is_the_cores():
    assert PACK_CELL_NOT_COMPUTED == _core().PACK_CELL_NOT_COMPUTED
    assert LIMITED_BY[_core().LIMITED_BY_NOT_COMPUTED] == "not computed"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_estimate_is_the_same_with_and_without_the_power_columns(fixture_pack, dtype):
    spec, log = fixture_pack
    pe = PackEstimator(spec, dtype=dtype)
    plain = pe.run(log)
    res = estimate_pack_power(pe, log, PowerSettings(**WIDE))
    for name in ("soc", "soc_sigma", "status", "event"):
        a, b = getattr(plain, name), getattr(res.run, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    for k, v in plain.summary.items():
        assert v.tobytes() == res.run.summary[k].tobytes(), k
    assert res.discharge_current_A.shape == (len(log), 3) and res.discharge_cell.dtype == np.int16


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_whole_log_row_k_is_pack_power_limits_now_after_k_samples(fixture_pack, dtype):
    """Row k-1 of the whole-log columns is what pack_power_limits_now reports after running the first k samples,
    value for value (the same core function on the same state)."""
    spec, log = fixture_pack
    ps = PowerSettings(horizons_s=(2.0, 10.0, 30.0), **WIDE)
    pe = PackEstimator(spec, dtype=dtype)
    soc0 = pe.initial_soc(log)
    res = estimate_pack_power(pe, log, ps, initial_soc=soc0)
    sensor = pe.cell_sensor()
    assert (res.discharge_cell >= 0).all() and (res.charge_cell < spec.n_cells).all()  # every row computed
    for k in (1, 2, 301, 777, len(log)):
        part = PackEstimator(spec, dtype=dtype)
        part.run(head(log, k), initial_soc=soc0)
        now = pack_power_limits_now(part, log.temperature_degC[k - 1, sensor], ps)
        for j, d in enumerate(now):
            for q in ("discharge_current_A", "charge_current_A", "discharge_power_W", "charge_power_W"):
                assert getattr(res, q)[k - 1, j] == d[q], (k, j, q)
            assert res.discharge_cell[k - 1, j] == d["discharge_cell"] and res.charge_cell[k - 1, j] == d["charge_cell"]
            assert LIMITED_BY[int(res.discharge_limited_by[k - 1, j])] == d["discharge_limited_by"]
            assert LIMITED_BY[int(res.charge_limited_by[k - 1, j])] == d["charge_limited_by"]


def test_the_weakest_cell_limits_the_string():
    """Cell 3 starts lowest: it limits the discharge at every sample; cell 2 starts highest: it limits the charge.
    The string's limit is no larger than any cell's own (a one-cell pack of that cell alone)."""
    soc0 = np.array([0.55, 0.75, 0.25, 0.5])
    spec, log = spread_pack(soc0)
    ps = PowerSettings(horizons_s=(10.0,), **WIDE)
    res = estimate_pack_power(PackEstimator(spec, dtype="float64"), log, ps, initial_soc=soc0)
    assert (res.discharge_cell[:, 0] == 2).all()
    assert (res.charge_cell[:, 0] == 1).all()
    # voltage, SOC or the cell's own transport limit (4: K(SOC), lowest at the lowest SOC): not the rating
    assert set(res.discharge_limited_by[:, 0].tolist()) <= {0, 1, 4}
    s = res.summary([f"v{k + 1}" for k in range(4)])[0]
    assert s["discharge"]["cell_label"] == "v3" and s["discharge"]["cell_fraction"] == 1.0
    assert s["charge"]["cell"] == 1 and s["discharge"]["rating_fraction"] == 0.0
    assert s["discharge"]["min_A"] == pytest.approx(np.nanmin(res.discharge_current_A))
    # each cell alone: the string's limit is the smallest of them
    alone = []
    for k in range(4):
        one = pack_from_dict({"cellsense pack file": 1, "topology": {"series": 1}, "cell": "chen2020",
                              "voltage": {"pattern": "v{index}"}, "current": "i", "temperature": "T", "time": "t"})
        lg = PackLog(log.time_s, log.current_A, log.voltage_V[:, k:k + 1], log.temperature_degC, None, "one")
        alone.append(estimate_pack_power(PackEstimator(one, dtype="float64"), lg, ps, initial_soc=soc0[k:k + 1]))
    dis = np.stack([a.discharge_current_A[:, 0] for a in alone], axis=1)
    assert np.array_equal(res.discharge_current_A[:, 0], dis.min(axis=1))
    assert (dis.argmin(axis=1) == 2).all()


def test_rating_binds_then_summary_names_no_cell():
    spec, log = spread_pack(np.array([0.5, 0.6]))
    res = estimate_pack_power(PackEstimator(spec), log, PowerSettings(horizons_s=(2.0,), discharge_current_max_A=0.5,
                                                                       charge_current_max_A=0.5))
    assert np.allclose(res.discharge_current_A, 0.5) and (res.discharge_limited_by == 2).all()
    s = res.summary()[0]["discharge"]
    assert s["rating_fraction"] == 1.0 and s["cell"] is None


def test_not_computed_where_a_cells_temperature_is_missing():
    spec, log = spread_pack(np.array([0.5, 0.6, 0.7]), sensors=2)
    spec.cells[2].temperature_sensor = 1
    log.temperature_degC[40, 1] = np.nan   # cell 3's sensor
    log.temperature_degC[41, 0] = np.nan   # the others'
    res = estimate_pack_power(PackEstimator(spec), log, PowerSettings(**WIDE))
    for k in (40, 41):
        assert np.isnan(res.discharge_current_A[k]).all() and np.isnan(res.charge_power_W[k]).all()
        assert (res.discharge_cell[k] == PACK_CELL_NOT_COMPUTED).all()
        assert (res.charge_limited_by[k] == _core().LIMITED_BY_NOT_COMPUTED).all()
    assert np.isfinite(res.discharge_current_A[42]).all() and (res.discharge_cell[42] >= 0).all()
    s = res.summary()[0]["discharge"]
    assert s["samples"] == len(log) - 2


def test_parallel_groups_scale_the_default_rating_and_mean_cell_the_power():
    spec, log = spread_pack(np.array([0.5, 0.6]), parallel=3)
    pe = PackEstimator(spec)
    one = PowerSettings().core_dict(spec.cell)
    cfg = pack_power_config(pe)
    assert cfg["discharge_current_max_A"] == 3 * one["discharge_current_max_A"]
    assert cfg["charge_current_max_A"] == 3 * one["charge_current_max_A"]
    assert pack_power_config(pe, PowerSettings(discharge_current_max_A=7.0))["discharge_current_max_A"] == 7.0
    res = estimate_pack_power(pe, log, PowerSettings(horizons_s=(2.0,)))
    assert np.nanmax(res.discharge_current_A) == pytest.approx(3 * one["discharge_current_max_A"], rel=1e-6)
    # a mean-cell pack: the string's power is `series` times the mean cell's
    mean = pack_from_dict({"cellsense pack file": 1, "topology": {"series": 10}, "cell": "chen2020", "mean_cell": True,
                           "pack_voltage": "V", "current": "i", "temperature": "T", "time": "t"})
    lg = PackLog(log.time_s, log.current_A / 3, log.voltage_V[:, :1], log.temperature_degC, None, "mean")
    m = estimate_pack_power(PackEstimator(mean), lg, PowerSettings(horizons_s=(10.0,), **WIDE), initial_soc=[0.5])
    single = pack_from_dict({"cellsense pack file": 1, "topology": {"series": 1}, "cell": "chen2020",
                             "voltage": {"pattern": "v{index}"}, "current": "i", "temperature": "T", "time": "t"})
    s = estimate_pack_power(PackEstimator(single), lg, PowerSettings(horizons_s=(10.0,), **WIDE), initial_soc=[0.5])
    assert np.array_equal(m.discharge_current_A, s.discharge_current_A)
    assert np.allclose(m.discharge_power_W, 10 * s.discharge_power_W, rtol=1e-12)


def test_present_state_of_a_parallel_pack_matches_the_whole_log():
    """cellsense.pack.power.power_limits_now after k samples is row k-1 of estimate_pack_power with the same
    (parallel-scaled) default rating, on a 2s3p pack where that rating binds part of the time."""
    soc0 = np.array([0.5, 0.9])
    spec, log = spread_pack(soc0, parallel=3)
    ps = PowerSettings(horizons_s=(2.0, 30.0))
    res = estimate_pack_power(PackEstimator(spec), log, ps, initial_soc=soc0)
    assert (res.charge_limited_by == 2).any() or (res.discharge_limited_by == 2).any()
    pe = PackEstimator(spec)
    with pytest.raises(ValueError, match="run the PackEstimator"):
        power_limits_now(pe, 25.0, ps)
    for k in (1, 400, len(log)):
        pe.run(head(log, k), initial_soc=soc0)
        for j, d in enumerate(power_limits_now(pe, 25.0, ps)):
            for q in ("discharge_current_A", "charge_current_A", "discharge_power_W", "charge_power_W"):
                assert getattr(res, q)[k - 1, j] == d[q], (k, j, q)
            assert res.discharge_cell[k - 1, j] == d["discharge_cell"] and res.charge_cell[k - 1, j] == d["charge_cell"]


def test_bad_settings_are_refused_naming_the_setting():
    spec, log = spread_pack(np.array([0.5, 0.6]), n=30)
    pe = PackEstimator(spec)
    with pytest.raises(ValueError, match="horizons_s"):
        estimate_pack_power(pe, log, PowerSettings(horizons_s=(10.0, -1.0)))
    core = pe.make_core(np.array([0.5, 0.6]))
    cfg = pack_power_config(pe)
    with pytest.raises(ValueError):  # the binding's own check, as the cell's run_power
        core.run_power(np.full(3, 1.0), np.zeros(3), np.full((3, 2), 3.7), np.full((3, 1), 25.0),
                       pe.cell_sensor(), np.array([0.0]), cfg)


def test_present_state_temperatures_need_one_or_n_cells_values(fixture_pack):
    """pack_power_limits_now's temperature_degC: 1 value or one per cell, named with what it got (a numpy broadcast
    error before); a value not finite or outside the cell file's plausible range (where the core computes) named with its cell (the core's one
    generic message before)."""
    spec, log = fixture_pack
    pe = PackEstimator(spec)
    pe.run(head(log, 200))
    ps = PowerSettings(horizons_s=(10.0,), **WIDE)
    with pytest.raises(ValueError, match=r"^pack_power_limits_now: temperature_degC: needs 1 value .* or 12 .*got 5 "):
        pack_power_limits_now(pe, np.full(5, 25.0), ps)
    with pytest.raises(ValueError, match=r"temperature_degC: needs 1 value .*got 12 value\(s\) of shape \(1, 12\)"):
        pack_power_limits_now(pe, np.full((1, 12), 25.0), ps)
    t = np.full(12, 25.0)
    t[3] = 250.0
    lo, hi = spec.cell.temperature_range_degC
    with pytest.raises(ValueError, match=rf"temperature_degC\[3\] = 250: must be a finite number in \[{lo:g}, {hi:g}\] degC"):
        pack_power_limits_now(pe, t, ps)
    t[3] = np.nan
    with pytest.raises(ValueError, match=r"temperature_degC\[3\] = nan: must be a finite number"):
        pack_power_limits_now(pe, t, ps)
    with pytest.raises(ValueError, match=r"temperature_degC = -273: must be a finite number"):
        pack_power_limits_now(pe, -273.0, ps)
    one = pack_power_limits_now(pe, 25.0, ps)[0]
    assert one == pack_power_limits_now(pe, np.full(12, 25.0), ps)[0] and one["discharge_current_A"] > 0


def test_not_a_pack_estimator_is_a_type_error_naming_pack_est():
    for call in (lambda: pack_power_limits_now(object(), 25.0), lambda: pack_power_config(object()),
                 lambda: estimate_pack_power(object(), None)):
        with pytest.raises(TypeError, match=r"pack_est: needs a cellsense.pack.PackEstimator, got object"):
            call()
