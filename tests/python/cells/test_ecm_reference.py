"""The NumPy ECM reference (cellsense.cells.ecm_reference) held to the core: the open-loop voltage over a
drive cycle agrees with the compiled core's within 1e-9 V in double, and the vectorised simulation is the
per-sample model (NumpyEcm, what filterpy runs) to the last bit.

The core's open loop is its estimator never fusing a reading: gate_predict_only with the smallest gate
(every innovation is gated), no gate timeout, no process noise on the model error; voltage_pred_V of
sample k is then the model's voltage at the open-loop state after sample k's current.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import synthetic_cell_dict

from cellsense.cells.ecm import cell_from_dict
from cellsense.cells.ecm_reference import NumpyEcm, interpolate, simulate, simulate_ecm
from cellsense.cells.load import load_cell
from cellsense.estimators import Estimator
from cellsense.estimators.settings import EstimatorSettings, NoiseSettings
from cellsense.truth.schedules import drive_cycle_shape

OPEN_LOOP = EstimatorSettings(gate_predict_only=True, gate_nis=1e-300, gate_timeout_steps=0)
QUIET = NoiseSettings(model_error_current_A=0.0, model_error_relative=0.0, initial_hysteresis=0.0)


def drive_cycle(cell, name: str = "udds", peak_c: float = 2.0, repeats: int = 2):
    """A drive cycle's current (+ = discharge) with regen, at 1 s; the temperature sweeps the grid."""
    shape = np.tile(drive_cycle_shape(name), repeats)
    i = peak_c * cell.capacity_Ah * shape
    t = np.arange(len(i) + 1, dtype=float)
    i = np.r_[0.0, i]
    T = np.interp(t, [0, t[-1]], [cell.temperature_degC[0] - 3.0, cell.temperature_degC[-1] + 3.0])
    return t, i, T


def core_open_loop(cell, t, i, T, soc0: float, v_ref: np.ndarray) -> np.ndarray:
    est = Estimator(cell, filter="ekf", noise=QUIET, settings=OPEN_LOOP, initial_soc=soc0)
    # readings 0.2 V off the model: every innovation is gated, nothing is fused, nothing looks stuck
    r = est.run(t, i, v_ref + 0.2, T)
    assert set(r.counts()) <= {"initial", "predicted_only"}, r.counts()
    return r.voltage_pred_V


@pytest.mark.parametrize("rc_pairs", [1, 2, 3])
@pytest.mark.parametrize("cycle", ["udds", "us06"])
def test_open_loop_voltage_matches_the_core(rc_pairs, cycle):
    cell = cell_from_dict(synthetic_cell_dict(rc_pairs))
    t, i, T = drive_cycle(cell, cycle)
    ref = simulate(cell, t, i, T, initial_soc=0.95)
    assert 0.05 < ref["soc"].min() < 0.9  # the cycle moves the SOC through the tables
    v_core = core_open_loop(cell, t, i, T, 0.95, ref["voltage_V"])
    err = np.abs(v_core[1:] - ref["voltage_V"][1:])
    assert err.max() < 1e-9, f"max |core - numpy| = {err.max():.3g} V"


def test_open_loop_voltage_matches_the_core_bundled_cell():
    cell = load_cell("chen2020")
    t, i, T = drive_cycle(cell, "wltc", peak_c=1.5, repeats=1)
    ref = simulate(cell, t, i, T, initial_soc=0.9)
    v_core = core_open_loop(cell, t, i, T, 0.9, ref["voltage_V"])
    assert np.abs(v_core[1:] - ref["voltage_V"][1:]).max() < 1e-9


def test_a_wrong_reference_is_caught():
    """The comparison can fail: a 1 % capacity error moves the voltage by far more than 1e-9 V."""
    d = synthetic_cell_dict(2)
    cell = cell_from_dict(d)
    d["parameters"]["Nominal cell capacity [A.h]"] *= 1.01
    t, i, T = drive_cycle(cell)
    ref = simulate(d, t, i, T, initial_soc=0.95)
    v_core = core_open_loop(cell, t, i, T, 0.95, ref["voltage_V"])
    assert np.abs(v_core[1:] - ref["voltage_V"][1:]).max() > 1e-4


def test_vectorised_simulation_is_the_per_sample_model_bit_for_bit():
    cell = cell_from_dict(synthetic_cell_dict(3))
    t, i, T = drive_cycle(cell, "us06", repeats=1)
    vec = simulate_ecm(cell, t, i, T, initial_soc=0.9)
    m = NumpyEcm(cell, NoiseSettings())
    x = np.zeros(m.n)
    x[0] = 0.9
    s0 = m.prepare(x, 0.0, 1.0, i[0], T[0])
    s0["sign"] = 0.0
    v = [m.h(x, s0)]
    sign = 0.0
    for k in range(1, len(t)):
        s = m.prepare(x, sign, t[k] - t[k - 1], i[k], T[k])
        x = m.f(x, s)
        sign = s["sign"]
        v.append(m.h(x, s))
    assert np.array_equal(vec["voltage_V"], np.array(v))


def test_a_dict_and_its_cell_give_the_same_simulation():
    d = synthetic_cell_dict(2)
    t, i, T = drive_cycle(cell_from_dict(d), repeats=1)
    a = simulate(d, t, i, T, initial_soc=0.8)
    b = simulate(cell_from_dict(d), t, i, T, initial_soc=0.8)
    assert np.array_equal(a["voltage_V"], b["voltage_V"]) and np.array_equal(a["soc"], b["soc"])


def test_interpolation_hits_the_breakpoints_and_clamps():
    cell = cell_from_dict(synthetic_cell_dict(1))
    soc, temps, tab = cell.soc, cell.temperature_degC, cell.ocv_V
    for it, temp in enumerate(temps):
        assert np.array_equal(interpolate(tab, soc, temps, soc, temp), tab[it])
    lo = interpolate(tab, soc, temps, -0.5, 25.0)
    assert lo == interpolate(tab, soc, temps, soc[0], 25.0)  # clamped
    ext = interpolate(tab, soc, temps, -0.01, 25.0, extrapolate_soc=True)
    slope = (tab[1, 1] - tab[1, 0]) / (soc[1] - soc[0])
    assert ext == pytest.approx(tab[1, 0] - 0.01 * slope, abs=1e-12)  # the OCV continues linearly
