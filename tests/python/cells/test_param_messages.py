"""#13: parameter validation messages come from the core (model::validate_detail, param_field_name,
param_error_message in cpp/include/cellsense/model/ecm.hpp): the binding only translates them, so the message
names the field the core refused and the bound the core checks (the binding's own table had drifted: it said
"capacity must be positive" while the core checks [1e-3, 1e6] A h)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import cellsense
from cellsense.estimators.base import _core


@pytest.fixture(scope="module")
def cell():
    return cellsense.load_cell("chen2020")


@pytest.mark.parametrize("capacity", [1e-4, 2e6, 0.0, -1.0])
@pytest.mark.parametrize("filt, dtype", [("ekf", "float64"), ("ukf", "float32")])
def test_capacity_error_names_the_core_bound(cell, capacity, filt, dtype):
    with pytest.raises(ValueError) as e:
        cellsense.Estimator(replace(cell, capacity_Ah=capacity), filter=filt, dtype=dtype)
    msg = str(e.value)
    assert "rejected by the core" in msg and "capacity_Ah" in msg and "[1e-3, 1e6] A h" in msg, msg
    assert f"{capacity:.6g}" in msg, msg
    assert "capacity must be positive" not in msg


def test_bounds_are_the_checked_ones(cell):
    for q in (1e-3, 1e6):  # the stated bounds are accepted
        cellsense.Estimator(replace(cell, capacity_Ah=q))


def _core_params_error(cell, edit):
    """The message for a parameter dict edited by `edit`, straight through the binding."""
    from cellsense.estimators.base import core_config
    from cellsense.estimators.settings import EstimatorSettings, NoiseSettings

    p = cell.core_params()
    edit(p)
    n = NoiseSettings()
    x0 = np.zeros(_core().EcmEkf2_f64.n_states)
    x0[0] = 0.5
    with pytest.raises(ValueError) as e:
        _core().EcmEkf2_f64(p, core_config(EstimatorSettings(), n),
                            {"soc_per_sqrt_s": 1e-4, "v_rc_V_per_sqrt_s": 1e-4, "hysteresis_per_sqrt_s": 1e-3,
                             "current_sigma_A": 0.01}, {}, x0, np.eye(len(x0)) * 1e-2, 0.0)
    return str(e.value)


def test_table_errors_name_field_and_place(cell):
    if cell.rc_pairs != 2:
        pytest.skip("needs a 2-RC cell")

    def neg_r0(p):
        p["r0_Ohm"] = np.array(p["r0_Ohm"], float)
        p["r0_Ohm"][0, 3] = -1e-3

    msg = _core_params_error(cell, neg_r0)
    assert "r0_Ohm at temperature row 0, SOC column 3: resistance is negative (must be >= 0 Ohm)" in msg, msg

    def zero_tau(p):
        p["rc_tau_s"] = [np.array(t, float) for t in p["rc_tau_s"]]
        p["rc_tau_s"][1][0, 2] = 0.0

    msg = _core_params_error(cell, zero_tau)
    assert "rc_tau_s[1] at temperature row 0, SOC column 2: time constant is not positive (must be > 0 s)" in msg, msg

    def bad_limits(p):
        p["current_min_A"] = p["current_max_A"]

    assert "current_min_A/current_max_A: reading range has min >= max (needs min < max)" in _core_params_error(cell, bad_limits)
