"""Estimator settings: the filter tuning (NoiseSettings), the guards and gate (EstimatorSettings), their
checks, and the model-error terms resolved against a cell."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..cells.ecm import Cell


FILTERS = ("ekf", "ukf")
DTYPES = ("float64", "float32")


#: Bound of a numeric setting without an entry of its own (`check_settings_fields`): settings in volts
#: (name ending "_V" or holding "_V_") within [0, 10] V, any other within [0, 1e6]: beyond those no cell
#: or sensor is physical, and such a value only makes every step fail (issue #12).
SETTING_MAX_V = 10.0
SETTING_MAX = 1e6


def check_settings_fields(obj: Any, bounds: dict[str, tuple] | None = None,
                          core_ruled: frozenset[str] = frozenset()) -> None:
    """Validate every numeric field of the dataclass `obj` (iterating dataclasses.fields, so a field added
    later is checked too): a real number (None only where the annotation allows it), finite, an integer
    where annotated int; then the fields in `core_ruled` (their values, None ones left out) by the core's rule
    (`check_core_config`); then every range: within `bounds[name]` = (lo, hi) or (lo, hi, lo_exclusive), else
    within [0, SETTING_MAX_V] for volts and [0, SETTING_MAX] otherwise, except a `core_ruled` field without a
    bound of its own (the package's bounds beyond the core's rule); bool fields must be bools. ValueError
    naming "Class.field"."""
    import dataclasses
    import math
    import numbers

    cls = type(obj).__name__
    numbers_seen: list[tuple[str, float, Any]] = []
    for f in dataclasses.fields(obj):
        v, t, name = getattr(obj, f.name), str(f.type), f"{cls}.{f.name}"
        if t == "bool" or t.startswith("bool"):
            if not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"{name}: expected True or False, got {v!r}")
            continue
        if "float" not in t and "int" not in t:
            continue
        if v is None:
            if "None" in t:
                continue
            raise ValueError(f"{name}: expected a number, got None")
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise ValueError(f"{name}: expected a number, got {type(v).__name__} {v!r:.40}")
        try:
            x = float(v)
        except OverflowError:
            raise ValueError(f"{name}: {v!r:.40}... is beyond float range") from None
        if not math.isfinite(x):
            raise ValueError(f"{name}: must be finite, got {v!r}")
        if "float" not in t and x != int(x):
            raise ValueError(f"{name}: expected an integer, got {v!r}")
        numbers_seen.append((f.name, x, v))
    if core_ruled:
        check_core_config(obj, {k: x for k, x, _v in numbers_seen if k in core_ruled})
    for fname, x, v in numbers_seen:
        if fname in core_ruled and fname not in (bounds or {}):
            continue
        volts = fname.endswith("_V") or "_V_" in fname
        b = (bounds or {}).get(fname, (0.0, SETTING_MAX_V if volts else SETTING_MAX))
        lo, hi, lo_open = b[0], b[1], (b[2] if len(b) > 2 else False)
        if not ((x > lo) if lo_open else (x >= lo)) or not x <= hi:
            raise ValueError(f"{cls}.{fname}: {v!r} is outside {'(' if lo_open else '['}{lo:g}, {hi:g}]")


def _core():
    from .. import _core  # the compiled module; imported lazily so `import cellsense` stays light

    return _core


def check_core_config(obj: Any, values: dict[str, float]) -> None:
    """The core's rule for a settings object's core-held fields (`values`; settings not in it take the core's
    defaults), asked through `obj.core_issue(core, values)`: EstimatorConfig::check for NoiseSettings and
    EstimatorSettings (cpp/include/cellsense/estimator/estimator.hpp, _core.estimator_config_issue),
    SohConfig::check for SohSettings. ValueError "Class.field = value: <the core's message>" (each field of a
    pair, e.g. soc_min and soc_max). Nothing is checked here when the compiled module is not built (export-c
    in a firmware build writes headers without it); every estimator needs the module and its init applies the
    same rule, with the same message."""
    try:
        core = _core()
    except ImportError:
        return
    issue = obj.core_issue(core, values)
    if issue is not None:
        _code, fld, rule = issue
        given = ", ".join(f"{type(obj).__name__}.{k} = {values[k]!r}" for k in fld.split("/") if k in values)
        raise ValueError(f"{given or type(obj).__name__ + '.' + fld}: {rule}")


@dataclass
class NoiseSettings:
    """Filter tuning.

    The defaults were chosen for a 2-RC ECM identified from OCV and HPPC tests (cellsense fit) and
    1 Hz logs: on PyBaMM Chen2020 DFN truth (UDDS and US06, 25 degC, 2 mV / 10 mA + 20 mA offset
    sensor, 20 SOC points initial error) they give SOC RMSE 0.4-0.7 % with the truth inside +-3 sigma
    for 97-98 % of the samples (docs/tuning.md).

    The voltage sigma is dominated by model error, not by the voltage sensor, so by default it comes
    from the cell file (`resolve_model_error`): with ``voltage_sigma_V=None`` the measurement variance is
    ``voltage_sensor_sigma_V**2 + (model_error_inflation * e)**2 * max(1, 1 s / dt)``, e = the cell file's
    "Model voltage error [V]" (the fitted model's open-loop RMS voltage error, written by cellsense fit): at 1 Hz
    and slower the sigma is ``sqrt(voltage_sensor_sigma_V**2 + (model_error_inflation * e)**2)``. The inflation
    accounts for the model error being slow (correlated over tens of samples) while the filter treats every
    sample as an independent measurement: sqrt(25) = 5 for an error correlated over ~25 samples; it is the one
    constant calibrated, on Chen2020 at 1 Hz, where it reproduces the 40 mV that had been tuned there (Chen2020
    e = 7.8 mV -> 39 mV). The factor 1 s / dt keeps the information per second of a faster log that of 1 Hz
    (until 2026-12-07 the sigma was constant, so a 10 Hz log was more certain than a 1 Hz one: Chen2020 UDDS EKF
    0.42 % RMSE / 1.6 % outside 3 sigma at 1 Hz, 0.81 % / 15 % at 10 Hz; docs/tuning.md). A cell file without a
    model error gets DEFAULT_VOLTAGE_SIGMA_V (40 mV), constant. An explicit value always wins.
    """

    voltage_sigma_V: float | None = None    #: measurement noise + model error, 1 sigma (V); None: from the cell file
    voltage_sensor_sigma_V: float = 0.005   #: voltage sensor term of the resolved sigma (V)
    model_error_inflation: float = 5.0      #: constant-sigma path only: multiplies the cell file's model voltage error (1)
    #: model error that follows the cell's resistance (A): the filter's measurement variance is
    #: voltage_sigma_V**2 + (model_error_current_A * R_cell(SOC, T))**2; None: from the cell file
    #: (`resolve_model_error`); 0: off (a constant voltage sigma, as before)
    model_error_current_A: float | None = None
    #: model error proportional to the resistive drop (1): the model-error sigma is
    #: (model_error_current_A + model_error_relative |i|) R_cell; used with a resistance-scaled model error
    model_error_relative: float = 0.15
    #: correlation time of the model error (s): at a sample interval dt below it the model-error variance is
    #: multiplied by this / dt (100 s: x10 in sigma at 1 Hz, x31.6 at 10 Hz; the same information per second);
    #: None: the cell file's "Model error correlation [s]" (absent: the constant-sigma path)
    model_error_correlation_s: float | None = None
    #: model error that does not follow the resistance (V), a 1 Hz sample's, multiplied by max(1, tau / dt) with tau
    #: = model_error_correlation_s; None: resolved (model_error_inflation x the cell file's model voltage error, tau
    #: 1 s, on the constant-error path; else 0)
    model_error_voltage_V: float | None = None
    current_sigma_A: float = 0.05           #: current sensor noise, 1 sigma (A)
    #: the current sensor's offset (A) and gain error (1), 1 sigma, CONSIDERED (not estimated): the reported SOC sigma
    #: adds the error they leave in the estimate, which grows linearly in time where the voltage cannot correct it
    #: (a flat OCV); the SOC estimate is unchanged. 0: off (the default). Take them from the sensor's data sheet
    #: (docs/estimator.md "The current sensor in the band"); ECM estimators only.
    current_offset_sigma_A: float = 0.0
    current_gain_sigma: float = 0.0
    #: SOC random walk (1/sqrt(s)); covers the current sensor's offset and gain and the capacity error. 2e-4 since
    #: 2026-12-06 (2.5e-4 before; 3e-4 before issue #17): the real cell's case-B matrix, docs/real-data.md
    soc_per_sqrt_s: float = 2e-4
    v_rc_V_per_sqrt_s: float = 5e-4         #: RC voltage random walk (V/sqrt(s))
    hysteresis_per_sqrt_s: float = 1e-3     #: hysteresis state random walk (1/sqrt(s))
    initial_soc_sigma: float = 0.25         #: 1 sigma of the initial SOC (1)
    initial_v_rc_sigma_V: float = 0.02      #: 1 sigma of the initial RC voltages (V)
    initial_hysteresis: float = 0.0         #: initial h (1)
    initial_hysteresis_sigma: float = 0.5   #: 1 sigma of the initial h (1)

    #: fields whose range is the core's rule (EstimatorConfig::check), checked through `check_core_config`; None
    #: ones are left to the core's default
    CORE_RULED = frozenset({"voltage_sigma_V", "model_error_current_A", "model_error_relative",
                            "model_error_correlation_s", "model_error_voltage_V", "current_offset_sigma_A",
                            "current_gain_sigma"})
    #: bounds of the fields that have their own (lo, hi[, lo_exclusive]); every other numeric field not in
    #: CORE_RULED is checked against the default bounds of `check_settings_fields` (volts [0, 10], others
    #: [0, 1e6]). voltage_sigma_V's upper bound of 10 V is the package's own, beyond the core's rule.
    BOUNDS = {"voltage_sigma_V": (0.0, SETTING_MAX_V), "soc_per_sqrt_s": (0.0, 1.0),
              "initial_soc_sigma": (1e-6, 10.0), "initial_v_rc_sigma_V": (1e-6, SETTING_MAX_V),
              "initial_hysteresis": (-1.0, 1.0), "initial_hysteresis_sigma": (1e-6, 10.0),
              "hysteresis_per_sqrt_s": (0.0, 10.0), "model_error_inflation": (0.0, 1e3)}

    def __post_init__(self) -> None:
        """Refuse settings that would make every step fail (NaN, Inf, absurd magnitudes), naming the field;
        see check_settings_fields and BOUNDS. Runs again on dataclasses.replace (so in every estimator's
        constructor: a field assigned after construction is checked there). The measurement-noise fields the
        core's EstimatorConfig holds (CORE_RULED) are checked by the core's rule first (`check_core_config`)."""
        check_settings_fields(self, self.BOUNDS, self.CORE_RULED)

    def core_issue(self, core, values: dict[str, float]):
        """The core's rule on these settings (EstimatorConfig::check): None or (code, field, message)."""
        return core.estimator_config_issue(values)

    @property
    def considers_current_sensor(self) -> bool:
        """Whether the current sensor's consider terms are asked for (the core's EstimatorConfig::
        considers_current_sensor): the estimators built without them (SPMe, pack) refuse that."""
        return self.current_offset_sigma_A > 0 or self.current_gain_sigma > 0


#: voltage sigma for a cell file that does not state its model error (V); tuned on Chen2020. It is the core's
#: default (EstimatorConfig::voltage_sigma_V, cpp/include/cellsense/estimator/estimator.hpp, which states why),
#: written out because settings are resolved without the compiled module too (export-c in a firmware build);
#: tests/python/estimators/test_core_rules.py holds it, and EstimatorSettings' defaults, to
#: _core.estimator_config_defaults().
DEFAULT_VOLTAGE_SIGMA_V = 0.04


def reference_resistance_Ohm(cell: Cell, temperature_degC: float = 25.0) -> float:
    """The cell's total resistance R0 + sum R_j (median over SOC) at the temperature breakpoint nearest
    `temperature_degC`: the resistance at which the cell file's model voltage error was measured."""
    T = np.atleast_1d(np.asarray(cell.temperature_degC, float))
    it = int(np.argmin(np.abs(T - temperature_degC)))
    r = np.atleast_2d(cell.r0_Ohm)[it] + sum(np.atleast_2d(rj)[it] for rj in cell.rc_r_Ohm)
    return float(np.median(r))


#: the sample interval the constant-error path's inflation was calibrated at (s): the inflated model error is a
#: sample's at this interval or longer; a shorter interval carries that fraction of it (the correlation time)
INFLATION_SAMPLE_S = 1.0


def constant_model_error(noise: NoiseSettings, e_V: float, tau: float | None = None) -> tuple[float, float, float, float, float]:
    """`resolve_model_error`'s answer for a model error e_V (V, a 1 Hz sample's) that does not follow the resistance:
    the sensor's sigma and e_V, correlated over `tau` (default INFLATION_SAMPLE_S). With the cell file's e, e_V is
    model_error_inflation x e: at 1 Hz and slower the variance is sensor**2 + (inflation e)**2, the constant sigma of
    before; at a shorter interval dt the model-error part is multiplied by tau / dt (the same information per
    second). Not reduced below the 1 Hz value for slower logs: there the model's own discretisation error grows
    (Chen2020 UDDS logged every 10 s with e correlated over 25 s: 10.9 % of the samples outside 3 sigma, 0.4 % with
    this rule)."""
    return (float(noise.voltage_sensor_sigma_V), 0.0, 0.0, float(INFLATION_SAMPLE_S if tau is None else tau),
            float(e_V))


def resolve_model_error(noise: NoiseSettings, cell: Cell) -> tuple[float, float, float, float, float]:
    """(voltage_sigma_V, model_error_current_A, model_error_relative, model_error_correlation_s,
    model_error_voltage_V) the filter uses.

    Resistance-scaled model error, for a cell file that states its model voltage error e (measured near
    25 degC) and its correlation time tau ("Model error correlation [s]"), with `voltage_sigma_V` and
    `model_error_current_A` unset: R = sensor^2 + ((k_A + k_rel |i|) R_cell(SOC, T))^2 max(1, tau / dt),
    k_A = e / R_ref, R_ref = `reference_resistance_Ohm`, k_rel = `model_error_relative` (docs/real-data.md:
    the fit residual grows with the resistance from 25 to -20 degC; a slow error carries the same
    information per second at any sample rate). An explicit `model_error_current_A` is used as given (with
    `model_error_relative` and `model_error_correlation_s` or the cell's tau). A cell file with a model error
    and no correlation time (every `cellsense fit` cell without --error-correlation-s, chen2020), or an explicit
    `model_error_voltage_V`: the inflated constant model error, scaled by max(1, 1 s / dt) (`constant_model_error`).
    Otherwise (an explicit voltage_sigma_V, or no model error in the file) a constant sigma at every sample
    interval (`resolve_voltage_sigma`)."""
    e = getattr(cell, "model_voltage_error_V", None)
    tau = noise.model_error_correlation_s
    if tau is None:
        tau = getattr(cell, "model_error_correlation_s", None)
    if noise.model_error_current_A is not None:
        return (resolve_voltage_sigma(noise, cell), float(noise.model_error_current_A),
                float(noise.model_error_relative), float(tau or 0.0), float(noise.model_error_voltage_V or 0.0))
    if noise.voltage_sigma_V is not None:
        return resolve_voltage_sigma(noise, cell), 0.0, 0.0, 0.0, 0.0
    if noise.model_error_voltage_V is not None:
        return constant_model_error(noise, noise.model_error_voltage_V, noise.model_error_correlation_s)
    if e is None:
        return resolve_voltage_sigma(noise, cell), 0.0, 0.0, 0.0, 0.0
    r_ref = reference_resistance_Ohm(cell) if tau is not None else 0.0
    if tau is None or not (r_ref > 0):
        return constant_model_error(noise, float(noise.model_error_inflation) * float(e))
    return float(noise.voltage_sensor_sigma_V), float(e / r_ref), float(noise.model_error_relative), float(tau), 0.0


def resolved_noise(noise: NoiseSettings, cell: Cell) -> NoiseSettings:
    """`noise` with the measurement-noise settings `resolve_model_error` gives for `cell` filled in: what a cell's
    filter runs with (the single-cell estimators and each series element of a pack)."""
    sigma_V, k_A, k_rel, tau, e_V = resolve_model_error(noise, cell)
    return replace(noise, voltage_sigma_V=sigma_V, model_error_current_A=k_A, model_error_relative=k_rel,
                   model_error_correlation_s=tau, model_error_voltage_V=e_V)


def resolve_voltage_sigma(noise: NoiseSettings, cell: Cell) -> float:
    """The voltage sigma the filter uses: `noise.voltage_sigma_V` if set; else the root-sum-square of
    the sensor term and the inflated model error of the cell file; else DEFAULT_VOLTAGE_SIGMA_V."""
    if noise.voltage_sigma_V is not None:
        return float(noise.voltage_sigma_V)
    e = getattr(cell, "model_voltage_error_V", None)
    if e is None:
        return DEFAULT_VOLTAGE_SIGMA_V
    return float(np.hypot(noise.voltage_sensor_sigma_V, noise.model_error_inflation * e))


@dataclass
class EstimatorSettings:
    """Guards and gate (see docs/estimator.md). The defaults of dt_max_s, soc_min, soc_max, gate_nis,
    gate_predict_only and gate_timeout_steps are the core's (EstimatorConfig; see DEFAULT_VOLTAGE_SIGMA_V for why
    they are written out here and what holds them equal)."""

    dt_max_s: float = 60.0                  #: longer steps are rejected
    #: longest accepted step when the cell is at rest at both ends (|i| <= capacity / 20 h at this sample and
    #: the previous stepped one): a rest logged at a slow rate (cyclers log rests every 60 s or so) is a
    #: sample, not a gap; 0 = dt_max_s alone (docs/estimator.md)
    dt_max_rest_s: float = 600.0
    #: SOC bounds. A little beyond [0, 1]: a cell's usable charge between its cut-offs rarely equals
    #: the nominal capacity that defines SOC, and clamping at exactly 0 or 1 would bias the ends.
    soc_min: float = -0.05
    soc_max: float = 1.05
    gate_nis: float = 100.0                 #: chi-square gate on NIS (1 dof); 100 = 10 sigma
    gate_predict_only: bool = False         #: gated step keeps its prediction instead of being rejected
    gate_timeout_steps: int = 5             #: fuse anyway after this many gated steps in a row (0 = never)
    ukf_alpha: float = 1.0
    ukf_beta: float = 2.0
    ukf_kappa: float = 0.0

    #: fields whose range is the core's rule (EstimatorConfig::check: dt_max_s in (0, 86400] s, dt_max_rest_s in
    #: [0, 86400] s, soc_min below soc_max, gate_nis above 0), checked through `check_core_config`
    CORE_RULED = frozenset({"dt_max_s", "dt_max_rest_s", "soc_min", "soc_max", "gate_nis"})
    #: (lo, hi[, lo_exclusive]) per field (see check_settings_fields). For CORE_RULED fields only the package's
    #: own bounds beyond the core's rule: SOC bounds near [0, 1], a finite-in-practice gate; gate_timeout_steps is
    #: the core's std::uint16_t (0..65535), refused here rather than when the estimator is built
    BOUNDS = {"soc_min": (-1.0, 1.0), "soc_max": (0.0, 2.0),
              "gate_nis": (0.0, 1e15), "gate_timeout_steps": (0.0, 65535.0), "ukf_alpha": (0.0, 10.0, True),
              "ukf_beta": (-10.0, 10.0), "ukf_kappa": (-1e3, 1e3)}

    def __post_init__(self) -> None:
        """Refuse NaN, Inf and absurd guards at construction, naming the field (ValueError); the core's rule
        for the guards and the gate (`check_core_config`)."""
        check_settings_fields(self, self.BOUNDS, self.CORE_RULED)

    def core_issue(self, core, values: dict[str, float]):
        """The core's rule on these settings (EstimatorConfig::check): None or (code, field, message)."""
        return core.estimator_config_issue(values)
