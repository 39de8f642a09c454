"""#13: rules a result depends on live in the core, the Python package calls them.

- State-of-power settings: cellsense.estimators.power.PowerSettings is checked by the core's PowerConfig::check
  (cpp/include/cellsense/power/power_limits.hpp) through _core.power_config_issue; the Python copy of the bounds
  is gone, the message is the core's and names the setting.
- Restored states: the bounds on RC voltages, the hysteresis state and its sign are the core's
  (cpp/include/cellsense/model/ecm_state_check.hpp, also cs_restore_state's); Estimator.restore_state's own checks
  are held to them here (the same refusals, the same RC-voltage bound)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import cellsense
from cellsense.estimators.base import _core
from cellsense.estimators.power import PowerSettings, power_limits_now


@pytest.fixture(scope="module")
def est():
    return cellsense.Estimator("panasonic_18650pf", initial_soc=0.5)


@pytest.mark.parametrize("settings, field, rule", [
    (PowerSettings(horizons_s=(10.0, 86400.5)), "horizons_s", "horizon_s must be in (0, 86400] s"),
    (PowerSettings(horizons_s=(-1.0,)), "horizons_s", "horizon_s must be in (0, 86400] s"),
    (PowerSettings(voltage_min_V=float("nan")), "voltage_min_V/voltage_max_V", "both finite"),
    (PowerSettings(voltage_max_V=1.0), "voltage_min_V/voltage_max_V", "voltage_min_V must be below voltage_max_V"),
    (PowerSettings(soc_min=0.5, soc_max=0.5), "soc_min/soc_max", "soc_min must be below soc_max"),
    (PowerSettings(discharge_current_max_A=2e6), "discharge_current_max_A", "(0, 1e6] A"),
    (PowerSettings(charge_current_max_A=0.0), "charge_current_max_A", "(0, 1e6] A"),
    (PowerSettings(soc_sigma_k=-0.1), "soc_sigma_k", "[0, 10]"),
    (PowerSettings(voltage_sigma_k=float("inf")), "voltage_sigma_k", "[0, 10]"),
])
def test_power_settings_refused_by_the_core_rule(est, settings, field, rule):
    with pytest.raises(ValueError) as e:
        power_limits_now(est, 25.0, settings)
    msg = str(e.value)
    assert msg.startswith(f"PowerSettings.{field}:") and rule in msg, msg


def test_power_settings_bounds_are_inclusive_where_the_core_says(est):
    """The edges the core accepts: horizon 86400 s, ratings 1e6 A, sigma factors 0 and 10."""
    ok = PowerSettings(horizons_s=(86400.0,), discharge_current_max_A=1e6, charge_current_max_A=1e6,
                       soc_sigma_k=10.0, voltage_sigma_k=0.0)
    (r,) = power_limits_now(est, 25.0, ok)
    assert r["horizon_s"] == 86400.0 and math.isfinite(r["discharge_current_A"])
    with pytest.raises(ValueError, match="horizons_s: empty"):
        PowerSettings(horizons_s=()).core_dict(est.cell)


def test_power_config_issue_is_the_core_check():
    good = {"horizon_s": 10.0, "voltage_min_V": 2.5, "voltage_max_V": 4.2, "soc_min": 0.0, "soc_max": 1.0,
            "discharge_current_max_A": 5.0, "charge_current_max_A": 5.0, "soc_sigma_k": 0.0, "voltage_sigma_k": 0.0}
    assert _core().power_config_issue(good) is None
    code, field, msg = _core().power_config_issue({**good, "horizon_s": 0.0})
    assert (code, field) == (1, "horizon_s") and "(0, 86400]" in msg
    # missing keys take the core's defaults: the ratings default to 0, which the core refuses
    assert _core().power_config_issue({})[1] == "discharge_current_max_A"


def _restore_refused(est, x, sign) -> bool:
    saved = est.save_state()
    saved["x"] = [float(v) for v in x]
    saved["hysteresis_sign"] = sign
    try:
        est.restore_state(saved)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_restore_bounds_are_the_core_rule(dtype):
    """Estimator.restore_state refuses exactly the RC-voltage / hysteresis / sign values the core's rule refuses."""
    est = cellsense.Estimator("chen2020", dtype=dtype, initial_soc=0.5)
    assert est.STATE_V_RC_MAX_V == _core().STATE_V_RC_MAX_V == 5.0
    cls = type(est._impl)
    x0 = np.asarray(est.save_state()["x"], float)
    n = len(x0)
    vmax = _core().STATE_V_RC_MAX_V
    cases = []
    for v in (0.0, 4.999, vmax, 5.001, -5.001, 1e6, float("nan")):
        x = x0.copy()
        x[1] = v
        cases.append((x, 0.0))
    for h in (-1.0, 1.0, 0.3, 1.0001, -1.5, float("inf")):
        x = x0.copy()
        x[n - 1] = h
        cases.append((x, 1.0))
    for s in (-1.0, 0.0, 1.0, 0.5, 2.0, -0.0):
        cases.append((x0.copy(), s))
    for x, s in cases:
        issue = cls.restored_state_issue(x, s)
        assert _restore_refused(est, x, s) == (issue is not None), (x, s, issue)
    idx, msg = cls.restored_state_issue(np.where(np.arange(n) == 1, 6.0, x0), 0.0)
    assert idx == 1 and "+-5 V" in msg
    assert cls.restored_state_issue(x0, 0.25)[0] == -1
