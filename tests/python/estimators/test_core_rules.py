"""#13: rules a result depends on live in the core, the Python package calls them.

- State-of-power settings: cellsense.estimators.power.PowerSettings is checked by the core's PowerConfig::check
  (cpp/include/cellsense/power/power_limits.hpp) through _core.power_config_issue; the Python copy of the bounds
  is gone, the message is the core's and names the setting.
- Restored states: the bounds on RC voltages, the hysteresis state and its sign are the core's
  (cpp/include/cellsense/model/ecm_state_check.hpp, also cs_restore_state's); Estimator.restore_state's own checks
  are held to them here (the same refusals, the same RC-voltage bound).
- Estimator settings: NoiseSettings / EstimatorSettings are checked by the core's EstimatorConfig::check
  (cpp/include/cellsense/estimator/estimator.hpp) through _core.estimator_config_issue, with the core's message;
  their defaults, where they are the same setting, are the core's (_core.estimator_config_defaults()).
- SOH settings: SohSettings is checked by the core's SohConfig::check (cpp/include/cellsense/soh/soh_config.hpp)
  through _core.soh_config_issue, with the core's message; its defaults are the core's where the core has one that
  does not scale with the cell."""
from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest

import cellsense
from cellsense.estimators.base import _core
from cellsense.estimators.power import PowerSettings, power_limits_now
from cellsense.estimators.settings import DEFAULT_VOLTAGE_SIGMA_V, EstimatorSettings, NoiseSettings
from cellsense.estimators.soh import SohEstimator, SohSettings


@pytest.fixture(scope="module")
def est():
    return cellsense.Estimator("panasonic_18650pf", initial_soc=0.5)


@pytest.mark.parametrize("kw, field, rule", [
    ({"horizons_s": (10.0, 86400.5)}, "horizons_s", "horizon_s must be in (0, 86400] s"),
    ({"horizons_s": (-1.0,)}, "horizons_s", "horizon_s must be in (0, 86400] s"),
    ({"voltage_min_V": float("nan")}, "voltage_min_V/voltage_max_V", "both finite"),
    ({"voltage_min_V": 4.0, "voltage_max_V": 3.0}, "voltage_min_V/voltage_max_V",
     "voltage_min_V must be below voltage_max_V"),
    ({"soc_min": 0.5, "soc_max": 0.5}, "soc_min/soc_max", "soc_min must be below soc_max"),
    ({"discharge_current_max_A": 2e6}, "discharge_current_max_A", "(0, 1e6] A"),
    ({"charge_current_max_A": 0.0}, "charge_current_max_A", "(0, 1e6] A"),
    ({"soc_sigma_k": -0.1}, "soc_sigma_k", "[0, 10]"),
    ({"voltage_sigma_k": float("inf")}, "voltage_sigma_k", "[0, 10]"),
])
def test_power_settings_refused_by_the_core_rule(kw, field, rule):
    """Refused when built (since 2026-12-07; they were built and refused only when used), with the core's rule."""
    with pytest.raises(ValueError) as e:
        PowerSettings(**kw)
    msg = str(e.value)
    assert msg.startswith(f"PowerSettings.{field}:") and rule in msg, msg


@pytest.mark.parametrize("kw, field", [({"horizons_s": ("10",)}, "horizons_s[0]"), ({"voltage_min_V": "2.5"}, "voltage_min_V"),
                                       ({"horizons_s": 10.0}, "horizons_s"), ({"derating": "abc"}, "derating"),
                                       ({"soc_sigma_k": True}, "soc_sigma_k")])
def test_power_settings_types_refused_when_built(kw, field):
    with pytest.raises(ValueError, match=rf"^PowerSettings\.{re.escape(field)}: expected"):
        PowerSettings(**kw)


def test_power_settings_cell_dependent_rule_when_used(est):
    """A cut-off that breaks the rule only against the cell's other one is refused when used with the cell."""
    with pytest.raises(ValueError, match=r"^PowerSettings\.voltage_min_V/voltage_max_V:.*below voltage_max_V"):
        power_limits_now(est, 25.0, PowerSettings(voltage_max_V=1.0))


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


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_restore_variance_ceilings_are_the_core_rule(dtype):
    """Estimator.restore_state refuses a variance above the core's ceiling (SOC 1, RC (5 V)^2, h 1), naming
    P[k][k] and its state, and accepts one at the ceiling (CS-EST-018; the C API's cs_restore_state applies the
    same check)."""
    est = cellsense.Estimator("chen2020", dtype=dtype, initial_soc=0.5)
    saved = est.save_state()
    n = len(saved["x"])
    cls = type(est._impl)
    ceilings = [1.0] + [_core().STATE_V_RC_MAX_V ** 2] * (n - 2) + [1.0]
    for k, ceiling in enumerate(ceilings):
        for var, refused in ((ceiling, False), (ceiling * 1.001, True), (5.9e13, True)):
            s = copy.deepcopy(saved)
            s["P"][k][k] = var
            p = np.asarray(s["P"], float)
            assert (cls.restored_covariance_issue(p) is not None) == refused
            if refused:
                with pytest.raises(ValueError, match=rf"P\[{k}\]\[{k}\] \({est.state_names[k]}\).*variance"):
                    est.restore_state(s)
            else:
                est.restore_state(s)
                assert est.covariance[k, k] == pytest.approx(var, rel=1e-6)
    with pytest.raises(ValueError, match=r"covariance must have shape \(4, 4\)"):
        cls.restored_covariance_issue(np.eye(3))


# ---- estimator settings: the core's EstimatorConfig::check and defaults ------------------------------------------
#: one setting out of the core's range per rule (EstimatorConfigIssue 1..7), as the Python settings give it
ESTIMATOR_CASES = [
    (EstimatorSettings, {"dt_max_s": 86400.5}, "dt_max_s"),
    (EstimatorSettings, {"soc_min": 0.6, "soc_max": 0.4}, "soc_min/soc_max"),
    (NoiseSettings, {"voltage_sigma_V": 5e-5}, "voltage_sigma_V"),
    (EstimatorSettings, {"gate_nis": 0.0}, "gate_nis"),
    (NoiseSettings, {"model_error_current_A": 1000.5}, "model_error_current_A"),
    (NoiseSettings, {"model_error_relative": 100.5}, "model_error_relative"),
    (NoiseSettings, {"model_error_correlation_s": 86400.5}, "model_error_correlation_s"),
]


def test_estimator_config_issue_is_the_core_check():
    """Every rule of the core answers with its own code, field and message; missing keys take the core's defaults."""
    core = _core()
    assert core.estimator_config_issue({}) is None
    assert core.estimator_config_issue(core.estimator_config_defaults()) is None
    seen = set()
    for _cls, values, field in ESTIMATOR_CASES:
        code, fld, msg = core.estimator_config_issue(values)
        assert fld == field and msg.startswith(field.split("/")[0]) and code not in seen, (values, code, fld, msg)
        seen.add(code)
    assert seen == set(range(1, len(ESTIMATOR_CASES) + 1))


@pytest.mark.parametrize("cls, values, field", ESTIMATOR_CASES)
def test_estimator_settings_refused_with_the_core_message(cls, values, field):
    rule = _core().estimator_config_issue(values)[2]
    with pytest.raises(ValueError) as e:
        cls(**values)
    msg = str(e.value)
    assert msg.startswith(f"{cls.__name__}.{field.split('/')[0]} = ") and msg.endswith(rule), msg


@pytest.mark.parametrize("cls, values, field", [c for c in ESTIMATOR_CASES if c[2] != "soc_min/soc_max"])
def test_estimator_init_refuses_with_the_core_message(cls, values, field):
    """A setting changed after construction reaches the core's init, which refuses it with the same rule (the
    reversed SOC range is left out: the estimator refuses the initial SOC against it first)."""
    s = cls()
    if cls is NoiseSettings:
        s.model_error_current_A = 0.1  # the resistance-scaled path, which hands every model-error term to the core
    for k, v in values.items():
        setattr(s, k, v)  # after construction: __post_init__ does not run
    kw = {"noise": s} if cls is NoiseSettings else {"settings": s}
    rule = _core().estimator_config_issue(values)[2]
    try:
        cellsense.Estimator("chen2020", initial_soc=0.5, **kw)
    except ValueError as e:
        assert rule in str(e), str(e)
    else:
        pytest.fail(f"{values} accepted")


def test_estimator_settings_edges_accepted():
    """The edges the core accepts: dt_max_s 86400 s, sigma 0.1 mV, model-error bounds inclusive."""
    EstimatorSettings(dt_max_s=86400.0)
    NoiseSettings(voltage_sigma_V=1e-4, model_error_current_A=1000.0, model_error_relative=100.0,
                  model_error_correlation_s=86400.0)


def test_settings_defaults_are_the_cores():
    """The defaults the package writes out (settings are built without the compiled module in export-c) are
    the core's EstimatorConfig defaults; the C API's cs_config_default() copies the same ones in C++."""
    d = _core().estimator_config_defaults()
    s = EstimatorSettings()
    for k in ("dt_max_s", "soc_min", "soc_max", "gate_nis", "gate_predict_only", "gate_timeout_steps"):
        assert getattr(s, k) == d[k] and type(getattr(s, k)) is type(d[k]), k
    assert DEFAULT_VOLTAGE_SIGMA_V == d["voltage_sigma_V"]


# ---- SOH settings: the core's SohConfig::check and defaults --------------------------------------------------------
#: one setting out of the core's range per rule the Python settings can reach (the capacity bounds are the core's
#: 0.3 x / 1.5 x the capacity: SohSettings has no field for them)
SOH_CASES = [
    ({"pair_min_delta_soc": 0.0}, "pair_min_delta_soc"),
    ({"pair_max_soc_sigma": 0.0}, "pair_max_soc_sigma"),
    ({"rest_current_A": -1.0}, "rest_current_A"),
    ({"current_sigma_A": -1.0}, "current_sigma_A"),
    ({"current_offset_sigma_A": -1.0}, "current_offset_sigma_A"),
    ({"anchor_rest_s": -1.0}, "anchor_rest_s"),
    ({"r0_scale_sigma": 0.0}, "r0_scale_sigma"),
    ({"r0_scale_per_sqrt_s": -1.0}, "r0_scale_per_sqrt_s"),
    ({"r0_min_step_A": 0.0}, "r0_min_step_A"),
    ({"r0_max_dt_s": 0.0}, "r0_max_dt_s"),
    ({"r0_min_dt_s": 3.0}, "r0_min_dt_s"),
    ({"r0_voltage_sigma_V": 0.0}, "r0_voltage_sigma_V"),
    ({"r0_gate_nis": 0.0}, "r0_gate_nis"),
    ({"r0_scale_min": 2.0, "r0_scale_max": 1.5}, "r0_scale_min/r0_scale_max"),
    ({"initial_r0_scale": 6.0}, "initial_r0_scale"),
    ({"ocv_sigma_V": 0.0}, "ocv_sigma_V"),
    ({"ocv_V_per_sqrt_s": -1.0}, "ocv_V_per_sqrt_s"),
    ({"ocv_soc_per_sqrt_s": -1.0}, "ocv_soc_per_sqrt_s"),
    ({"ocv_load_fraction": -1.0}, "ocv_load_fraction"),
    ({"ocv_max_V": 0.0}, "ocv_max_V"),
    ({"learn_min_temperature_degC": 40.0, "learn_max_temperature_degC": 30.0},
     "learn_min_temperature_degC/learn_max_temperature_degC"),
    ({"capacity_forgetting": 0.0}, "capacity_forgetting"),
    ({"capacity_sigma_Ah": 0.0}, "capacity_sigma_Ah"),
]


@pytest.mark.parametrize("values, field", SOH_CASES)
def test_soh_settings_refused_with_the_core_message(values, field):
    issue = _core().soh_config_issue(values, 5.0, values.get("initial_r0_scale", 1.0))
    assert issue is not None and issue[1] == field, issue
    with pytest.raises(ValueError) as e:
        SohSettings(**values)
    msg = str(e.value)
    assert msg.startswith(f"SohSettings.{field.split('/')[0]} = ") and msg.endswith(issue[2]), msg


def test_soh_config_issue_is_the_core_check():
    """Distinct codes per rule; the capacity rules against the model's capacity; OCV rules only with learning;
    missing keys take the core's defaults."""
    core = _core()
    assert core.soh_config_issue({}, 5.0, 1.0) is None
    assert core.soh_config_issue(core.soh_config_defaults(), 5.0, 1.0) is None
    codes = [core.soh_config_issue(v, 5.0, v.get("initial_r0_scale", 1.0))[0] for v, _f in SOH_CASES]
    assert len(set(codes)) == len(codes)
    assert core.soh_config_issue({"capacity_min_Ah": 6.0, "capacity_max_Ah": 7.0}, 5.0, 1.0)[1] == "initial_capacity_Ah"
    assert core.soh_config_issue({"capacity_min_Ah": 7.0, "capacity_max_Ah": 6.0}, 5.0, 1.0)[1] == \
        "capacity_min_Ah/capacity_max_Ah"
    assert core.soh_config_issue({"ocv_sigma_V": 0.0, "ocv_learning": False}, 5.0, 1.0) is None
    assert core.soh_config_issue({"ocv_sigma_V": 0.0, "enabled": False}, 5.0, 1.0) is None


def test_soh_init_refuses_with_the_core_message():
    """A setting changed after construction reaches the core's tracker init, which names the rule."""
    s = SohSettings()
    s.r0_min_step_A = 0.0  # after construction: __post_init__ does not run; SohEstimator copies with replace()
    rule = _core().soh_config_issue({"r0_min_step_A": 0.0}, 5.0, 1.0)[2]
    with pytest.raises(ValueError, match="r0_min_step_A") as e:
        SohEstimator("chen2020", initial_soc=0.5, soh=s)
    assert rule in str(e.value)


def test_soh_settings_defaults_are_the_cores():
    """SohSettings' written-out defaults are the core's SohConfig defaults where the core's do not scale with the
    cell (the capacity sigma, rest current, current offset and R0 step are cell-relative in the package: None)."""
    d = _core().soh_config_defaults()
    s = SohSettings()
    shared = [f for f in d if hasattr(s, f) and getattr(s, f) is not None]
    assert len(shared) >= 18
    for k in shared:
        assert getattr(s, k) == d[k], k


def test_ukf_settings_refused_with_the_core_rule():
    """The UKF's sigma-point settings are the core's rule (Estimator::init, kBadFilterConfig): a kappa that makes
    n + lambda negative is refused at init with the core's words; the EKF ignores them."""
    bad = EstimatorSettings(ukf_kappa=-10.0)  # n + kappa < 0 for every cell (n <= 5 states)
    with pytest.raises(ValueError, match="bad_filter_config") as e:
        cellsense.Estimator("chen2020", filter="ukf", settings=bad, initial_soc=0.5)
    assert "n + lambda > 0" in str(e.value)
    cellsense.Estimator("chen2020", filter="ekf", settings=bad, initial_soc=0.5)


def test_gate_timeout_steps_refused_at_the_cores_width():
    """gate_timeout_steps is the core's std::uint16_t: 65535 is accepted by the settings and the estimator, 65536
    is refused by the settings (naming the field), not later by the bindings."""
    s = EstimatorSettings(gate_timeout_steps=65535)
    cellsense.Estimator("chen2020", settings=s)
    with pytest.raises(ValueError, match="EstimatorSettings.gate_timeout_steps"):
        EstimatorSettings(gate_timeout_steps=65536)


def test_cell_file_correlation_bound_is_the_cores():
    """The cell file's "Model error correlation [s]" bound is the core's model_error_correlation_s rule: the
    largest value the loader accepts passes EstimatorConfig::check, the next float above it does not."""
    from cellsense.cells.ecm import MODEL_ERROR_CORRELATION_MAX_S

    hi = MODEL_ERROR_CORRELATION_MAX_S
    assert _core().estimator_config_issue({"model_error_correlation_s": hi}) is None
    issue = _core().estimator_config_issue({"model_error_correlation_s": math.nextafter(hi, math.inf)})
    assert issue is not None and issue[1] == "model_error_correlation_s"
