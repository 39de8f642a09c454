"""The estimator: a cell file + a filter choice + noise settings, over the compiled core.

`Estimator.run()` hands a whole log to C++ (GIL released) and returns numpy arrays;
`Estimator.step()` is one sample. float64 by default; dtype="float32" runs the MCU's arithmetic.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, NamedTuple

import numpy as np

from .. import status as _status
from ..cells.ecm import Cell, load_cell

FILTERS = ("ekf", "ukf")
DTYPES = ("float64", "float32")

#: Bound of a numeric setting without an entry of its own (`check_settings_fields`): settings in volts
#: (name ending "_V" or holding "_V_") within [0, 10] V, any other within [0, 1e6]: beyond those no cell
#: or sensor is physical, and such a value only makes every step fail (issue #12).
SETTING_MAX_V = 10.0
SETTING_MAX = 1e6


def check_settings_fields(obj: Any, bounds: dict[str, tuple] | None = None) -> None:
    """Validate every numeric field of the dataclass `obj` (iterating dataclasses.fields, so a field added
    later is checked too): a real number (None only where the annotation allows it), finite, an integer
    where annotated int, within `bounds[name]` = (lo, hi) or (lo, hi, lo_exclusive), else within
    [0, SETTING_MAX_V] for volts and [0, SETTING_MAX] otherwise; bool fields must be bools. ValueError
    naming "Class.field"."""
    import dataclasses
    import math
    import numbers

    cls = type(obj).__name__
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
        volts = f.name.endswith("_V") or "_V_" in f.name
        b = (bounds or {}).get(f.name, (0.0, SETTING_MAX_V if volts else SETTING_MAX))
        lo, hi, lo_open = b[0], b[1], (b[2] if len(b) > 2 else False)
        if not ((x > lo) if lo_open else (x >= lo)) or not x <= hi:
            raise ValueError(f"{name}: {v!r} is outside {'(' if lo_open else '['}{lo:g}, {hi:g}]")


@dataclass
class NoiseSettings:
    """Filter tuning.

    The defaults were chosen for a 2-RC ECM identified from OCV and HPPC tests (cellsense fit) and
    1 Hz logs: on PyBaMM Chen2020 DFN truth (UDDS and US06, 25 degC, 2 mV / 10 mA + 20 mA offset
    sensor, 20 SOC points initial error) they give SOC RMSE 0.4-0.7 % with the truth inside +-3 sigma
    for 97-98 % of the samples (docs/tuning.md).

    The voltage sigma is dominated by model error, not by the voltage sensor, so by default it comes
    from the cell file (`resolve_voltage_sigma`): with ``voltage_sigma_V=None`` it is
    ``sqrt(voltage_sensor_sigma_V**2 + (model_error_inflation * e)**2)``, e = the cell file's
    "Model voltage error [V]" (the fitted model's open-loop RMS voltage error, written by cellsense fit);
    a cell file without that key gets DEFAULT_VOLTAGE_SIGMA_V (40 mV). An explicit value always wins.
    The inflation accounts for the model error being slow (correlated over tens of samples) while the
    filter treats every 1 Hz sample as an independent measurement: sqrt(25) = 5 for an error correlated
    over ~25 samples; it is the one constant calibrated, on Chen2020, where it reproduces the 40 mV that
    had been tuned there (Chen2020 e = 7.8 mV -> 39 mV).
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
    current_sigma_A: float = 0.05           #: current sensor noise, 1 sigma (A)
    soc_per_sqrt_s: float = 2.5e-4          #: SOC random walk (1/sqrt(s)); covers offset and capacity error
    v_rc_V_per_sqrt_s: float = 5e-4         #: RC voltage random walk (V/sqrt(s))
    hysteresis_per_sqrt_s: float = 1e-3     #: hysteresis state random walk (1/sqrt(s))
    initial_soc_sigma: float = 0.25         #: 1 sigma of the initial SOC (1)
    initial_v_rc_sigma_V: float = 0.02      #: 1 sigma of the initial RC voltages (V)
    initial_hysteresis: float = 0.0         #: initial h (1)
    initial_hysteresis_sigma: float = 0.5   #: 1 sigma of the initial h (1)

    #: bounds of the fields that have their own (lo, hi[, lo_exclusive]); every other numeric field is
    #: checked against the default bounds of `check_settings_fields` (volts [0, 10], others [0, 1e6])
    BOUNDS = {"voltage_sigma_V": (1e-4, SETTING_MAX_V), "soc_per_sqrt_s": (0.0, 1.0),
              "initial_soc_sigma": (1e-6, 10.0), "initial_v_rc_sigma_V": (1e-6, SETTING_MAX_V),
              "initial_hysteresis": (-1.0, 1.0), "initial_hysteresis_sigma": (1e-6, 10.0),
              "hysteresis_per_sqrt_s": (0.0, 10.0), "model_error_inflation": (0.0, 1e3)}

    def __post_init__(self) -> None:
        """Refuse settings that would make every step fail (NaN, Inf, absurd magnitudes), naming the field;
        see check_settings_fields and BOUNDS. Runs again on dataclasses.replace (so in every estimator's
        constructor: a field assigned after construction is checked there)."""
        check_settings_fields(self, self.BOUNDS)


#: voltage sigma for a cell file that does not state its model error (V); tuned on Chen2020
DEFAULT_VOLTAGE_SIGMA_V = 0.04


def reference_resistance_Ohm(cell: Cell, temperature_degC: float = 25.0) -> float:
    """The cell's total resistance R0 + sum R_j (median over SOC) at the temperature breakpoint nearest
    `temperature_degC`: the resistance at which the cell file's model voltage error was measured."""
    T = np.atleast_1d(np.asarray(cell.temperature_degC, float))
    it = int(np.argmin(np.abs(T - temperature_degC)))
    r = np.atleast_2d(cell.r0_Ohm)[it] + sum(np.atleast_2d(rj)[it] for rj in cell.rc_r_Ohm)
    return float(np.median(r))


def resolve_model_error(noise: NoiseSettings, cell: Cell) -> tuple[float, float, float, float]:
    """(voltage_sigma_V, model_error_current_A, model_error_relative, model_error_correlation_s) the filter uses.

    Resistance-scaled model error, for a cell file that states its model voltage error e (measured near
    25 degC) and its correlation time tau ("Model error correlation [s]"), with `voltage_sigma_V` and
    `model_error_current_A` unset: R = sensor^2 + ((k_A + k_rel |i|) R_cell(SOC, T))^2 max(1, tau / dt),
    k_A = e / R_ref, R_ref = `reference_resistance_Ohm`, k_rel = `model_error_relative` (docs/real-data.md:
    the fit residual grows with the resistance from 25 to -20 degC; a slow error carries the same
    information per second at any sample rate). An explicit `model_error_current_A` is used as given (with
    `model_error_relative` and `model_error_correlation_s` or the cell's tau). Otherwise the constant sigma
    of `resolve_voltage_sigma` (sensor and inflation x e), as for cells without a correlation time."""
    e = getattr(cell, "model_voltage_error_V", None)
    tau = noise.model_error_correlation_s
    if tau is None:
        tau = getattr(cell, "model_error_correlation_s", None)
    if noise.model_error_current_A is not None:
        return (resolve_voltage_sigma(noise, cell), float(noise.model_error_current_A),
                float(noise.model_error_relative), float(tau or 0.0))
    if noise.voltage_sigma_V is not None or e is None or tau is None:
        return resolve_voltage_sigma(noise, cell), 0.0, 0.0, 0.0
    r_ref = reference_resistance_Ohm(cell)
    if not (r_ref > 0):
        return resolve_voltage_sigma(noise, cell), 0.0, 0.0, 0.0
    return float(noise.voltage_sensor_sigma_V), float(e / r_ref), float(noise.model_error_relative), float(tau)


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
    """Guards and gate (see docs/estimator.md)."""

    dt_max_s: float = 60.0                  #: longer steps are rejected
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

    #: (lo, hi[, lo_exclusive]) per field (see check_settings_fields); the core's own limits where it has them
    BOUNDS = {"dt_max_s": (0.0, 86400.0, True), "soc_min": (-1.0, 1.0), "soc_max": (0.0, 2.0),
              "gate_nis": (0.0, 1e15, True), "gate_timeout_steps": (0.0, 1e9), "ukf_alpha": (0.0, 10.0, True),
              "ukf_beta": (-10.0, 10.0), "ukf_kappa": (-1e3, 1e3)}

    def __post_init__(self) -> None:
        """Refuse NaN, Inf and absurd guards at construction, naming the field (ValueError)."""
        check_settings_fields(self, self.BOUNDS)
        if not self.soc_min < self.soc_max:
            raise ValueError(f"EstimatorSettings.soc_min: {self.soc_min} must be below soc_max {self.soc_max}")


class StepResult(NamedTuple):
    status: str
    soc: float
    soc_sigma: float
    voltage_pred_V: float
    innovation_V: float
    innovation_variance_V2: float
    nis: float

    @property
    def rejected(self) -> bool:
        return self.status.startswith("rejected") or self.status == "not_initialised"


@dataclass
class RunResult:
    """Per-sample outputs of `Estimator.run()` (numpy arrays, one entry per input sample)."""

    time_s: np.ndarray
    soc: np.ndarray
    soc_sigma: np.ndarray
    voltage_pred_V: np.ndarray
    innovation_V: np.ndarray
    innovation_variance_V2: np.ndarray
    nis: np.ndarray
    status_code: np.ndarray
    status_names: dict[int, str] = field(repr=False, default_factory=dict)

    @property
    def status(self) -> np.ndarray:
        """Status names per sample (array of str)."""
        lut = np.array([self.status_names.get(i, "unknown") for i in range(256)], dtype=object)
        return lut[self.status_code]

    @property
    def rejected(self) -> np.ndarray:
        """True where the step was rejected (state unchanged)."""
        return (self.status_code >= _status.REJECTED_NONFINITE) & (self.status_code != _status.INITIAL)

    def counts(self) -> dict[str, int]:
        codes, n = np.unique(self.status_code, return_counts=True)
        return {self.status_names.get(int(c), str(c)): int(k) for c, k in zip(codes, n)}

    def __repr__(self) -> str:  # one line (the arrays are its fields; a dataclass repr printed all of them)
        n = len(self.time_s)
        end = f", SOC at the end {float(self.soc[-1]):.4f} +- {float(self.soc_sigma[-1]):.4f}" if n else ""
        return (f"{type(self).__name__}({n} samples{end}, "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.counts().items())) + ")")


def _core():
    from .. import _core  # the compiled module; imported lazily so `import cellsense` stays light

    return _core


def check_filter_dtype(filter: str, dtype: str) -> str:
    """Validate the filter and dtype arguments every estimator class takes; returns the dtype name."""
    if filter not in FILTERS:
        raise ValueError(f"filter: expected one of {FILTERS}, got {filter!r}")
    if str(np.dtype(dtype)) not in DTYPES:
        raise ValueError(f"dtype: expected float64 or float32, got {dtype!r}")
    return str(np.dtype(dtype))


def core_config(settings: EstimatorSettings, noise: NoiseSettings) -> dict[str, float]:
    """The estimator configuration dict every core binding class takes (guards, gate, voltage sigma)."""
    s = settings
    return {"dt_max_s": s.dt_max_s, "soc_min": s.soc_min, "soc_max": s.soc_max,
            "voltage_sigma_V": noise.voltage_sigma_V, "gate_nis": s.gate_nis,
            "model_error_current_A": noise.model_error_current_A or 0.0,
            "model_error_relative": noise.model_error_relative,
            "model_error_correlation_s": noise.model_error_correlation_s or 0.0,
            "gate_predict_only": 1.0 if s.gate_predict_only else 0.0,
            "gate_timeout_steps": float(s.gate_timeout_steps)}


def core_filter_config(settings: EstimatorSettings) -> dict[str, float]:
    """The UKF's sigma-point parameters (ignored by the EKF)."""
    return {"alpha": settings.ukf_alpha, "beta": settings.ukf_beta, "kappa": settings.ukf_kappa}


def ecm_core_noise(noise: NoiseSettings) -> dict[str, float]:
    """The ECM's process-noise dict."""
    return {"soc_per_sqrt_s": noise.soc_per_sqrt_s, "v_rc_V_per_sqrt_s": noise.v_rc_V_per_sqrt_s,
            "hysteresis_per_sqrt_s": noise.hysteresis_per_sqrt_s, "current_sigma_A": noise.current_sigma_A}


def log_arrays(time_s, current_A, voltage_V, temperature_degC) -> list[np.ndarray]:
    """A log's four columns as contiguous float64 arrays; ValueError naming a column that is not 1-D
    or not as long as time_s."""
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (time_s, current_A, voltage_V, temperature_degC)]
    n = arrays[0].shape
    for name, a in zip(("time_s", "current_A", "voltage_V", "temperature_degC"), arrays):
        if a.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array, got shape {a.shape}")
        if a.shape != n:
            raise ValueError(f"{name}: length {a.shape[0]} differs from time_s length {n[0]}")
    return arrays


def first_finite_reading(arrays: list[np.ndarray]) -> tuple[float, float] | None:
    """(voltage, temperature) of the log's first sample where both are finite (the rested start an
    estimator without an initial SOC initialises from), or None."""
    ok = np.nonzero(np.isfinite(arrays[2]) & np.isfinite(arrays[3]))[0]
    return (float(arrays[2][ok[0]]), float(arrays[3][ok[0]])) if ok.size else None


def run_columns(time_s: np.ndarray, out: dict, status_names: dict[int, str]) -> dict[str, Any]:
    """The RunResult fields from a core run() dict."""
    return {"time_s": time_s, "soc": out["soc"], "soc_sigma": out["soc_sigma"], "voltage_pred_V": out["voltage_pred_V"],
            "innovation_V": out["innovation_V"], "innovation_variance_V2": out["innovation_variance_V2"],
            "nis": out["nis"], "status_code": out["status"], "status_names": status_names}


class EstimatorBase:
    """What every estimator class over the core shares (Estimator, soh.SohEstimator, spme.SpmeEstimator):
    the constructor's common part (`_setup`), the start from a rested voltage, read access to the core's
    state, and the ECM's state layout and initial Gaussian (the SPMe overrides those two); the
    one-thread-at-a-time guard and independent copies (see THREADS_DOC: use one estimator per thread)."""

    def _setup(self, filter: str, dtype: str, load: Callable[[], Any], noise: NoiseSettings | None,
               settings: EstimatorSettings | None, initial_soc: float | None):
        """Check filter and dtype, load the cell (`load()`), resolve the voltage sigma against it (the
        noise actually used), check initial_soc against the SOC bounds (None: start from the first
        rested voltage); returns the compiled core module."""
        self.dtype = check_filter_dtype(filter, dtype)
        self.cell = load()
        self.filter = filter
        noise = noise or NoiseSettings()
        sigma_V, k_A, k_rel, tau = resolve_model_error(noise, self.cell)
        self.noise = replace(noise, voltage_sigma_V=sigma_V, model_error_current_A=k_A, model_error_relative=k_rel,
                             model_error_correlation_s=tau)
        self.settings = s = settings or EstimatorSettings()
        if initial_soc is not None and not (s.soc_min <= initial_soc <= s.soc_max):
            raise ValueError(f"initial_soc: {initial_soc} is outside [{s.soc_min}, {s.soc_max}]")
        self._initial_soc = initial_soc
        self._pending_ocv_init = initial_soc is None
        core = _core()
        self._status_names = {int(k): str(v) for k, v in core.STATUS_NAMES.items()}
        return core

    @property
    def state_names(self) -> list[str]:
        """Names of the state vector entries, in order."""
        return ["soc"] + [f"v_rc{j}_V" for j in range(1, self.cell.rc_pairs + 1)] + ["hysteresis"]

    def initial_gaussian(self, soc: float, soc_sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Initial state (SOC `soc`, RC voltages 0, the configured hysteresis) and its diagonal covariance;
        `soc_sigma` overrides the noise settings' initial SOC sigma."""
        n = self.noise
        x0 = np.zeros(self.cell.rc_pairs + 2)
        x0[0] = soc
        x0[-1] = n.initial_hysteresis
        ss = n.initial_soc_sigma if soc_sigma is None else soc_sigma
        p0 = np.diag([ss ** 2] + [n.initial_v_rc_sigma_V ** 2] * self.cell.rc_pairs + [n.initial_hysteresis_sigma ** 2])
        return x0, p0

    def _rested_soc(self, voltage_V: float, temperature_degC: float) -> float:
        """SOC from a rested terminal voltage (the cell's OCV inverse), within the configured SOC bounds."""
        s = self.settings
        return min(max(self.cell.soc_from_ocv(float(voltage_V), float(temperature_degC)), s.soc_min), s.soc_max)

    def _ocv_init(self, voltage_V: float, temperature_degC: float) -> None:
        if not self._pending_ocv_init:
            return
        if np.isfinite(voltage_V) and np.isfinite(temperature_degC):
            x0, p0 = self.initial_gaussian(self._rested_soc(voltage_V, temperature_degC))
            self._impl.set_state(x0, p0, 0.0)
            self._pending_ocv_init = False

    def _ocv_init_from_log(self, arrays: list[np.ndarray]) -> None:
        if self._pending_ocv_init and arrays[0].shape[0]:
            first = first_finite_reading(arrays)
            if first is not None:
                self._ocv_init(*first)

    @property
    def soc(self) -> float:
        return self._impl.soc

    @property
    def soc_sigma(self) -> float:
        return self._impl.soc_sigma

    @property
    def state(self) -> np.ndarray:
        return self._impl.state()

    @property
    def covariance(self) -> np.ndarray:
        return self._impl.covariance()

    # -- restore_state validation (shared by every estimator class) -----------------------------------
    #: |RC voltage| a restored state may hold (V). The RC voltages are polarisation across the cell's
    #: RC pairs, a fraction of the cell's voltage window; 5 V is beyond any single cell (lithium-ion
    #: windows are < 2 V) and refuses corrupt states (1e6 V) while leaving room for other chemistries.
    STATE_V_RC_MAX_V = 5.0

    def state_bounds(self) -> dict[str, tuple[float, float]]:
        """Per state entry: the [lo, hi] a restored state must lie in (the bounds the filter keeps while
        running: SOC within the settings' SOC bounds, hysteresis in [-1, 1], |RC voltage| <= STATE_V_RC_MAX_V)."""
        s = self.settings
        b = {"soc": (float(s.soc_min), float(s.soc_max)), "hysteresis": (-1.0, 1.0)}
        for j in range(1, self.cell.rc_pairs + 1):
            b[f"v_rc{j}_V"] = (-self.STATE_V_RC_MAX_V, self.STATE_V_RC_MAX_V)
        return b

    def _checked_soc_state(self, saved: Any) -> tuple[np.ndarray, np.ndarray, float, float | None]:
        """The SOC filter's part of a saved state, fully validated before anything is applied:
        (x, P, hysteresis sign, last time). ValueError naming the field."""
        from .._io import finite_state_number

        def fail(where: str, msg: str) -> ValueError:
            return ValueError(f"restore_state: {where}: {msg}")

        if not isinstance(saved, dict):
            raise fail("top level", f"expected a dict (save_state() output), got {type(saved).__name__}")
        missing = [k for k in ("state_names", "x", "P", "hysteresis_sign") if k not in saved]
        if missing:
            raise fail(missing[0], "missing")
        names = self.state_names
        if saved["state_names"] != names:
            raise fail("state_names", f"state layout {saved['state_names']!r:.200} does not match {names}")
        n = len(names)

        def number(where: str, v: Any) -> float:
            return finite_state_number(fail, where, v)

        def vector(where: str, v: Any, k: int) -> list[float]:
            if not isinstance(v, (list, tuple)) or len(v) != k:
                raise fail(where, f"expected a list of {k} numbers, got {type(v).__name__}"
                           + (f" of length {len(v)}" if isinstance(v, (list, tuple)) else ""))
            return [number(f"{where}[{i}]", e) for i, e in enumerate(v)]

        x = np.array(vector("x", saved["x"], n))
        if not isinstance(saved["P"], (list, tuple)) or len(saved["P"]) != n:
            raise fail("P", f"expected {n} rows of {n} numbers")
        p = np.array([vector(f"P[{r}]", row, n) for r, row in enumerate(saved["P"])])
        for r in range(n):
            if not p[r, r] > 0:
                raise fail(f"P[{r}][{r}]", f"variance of {names[r]} must be positive, got {float(p[r, r])!r}")
        asym = np.abs(p - p.T)
        if np.any(asym > 1e-9 * np.sqrt(np.outer(np.diag(p), np.diag(p)))):
            r, c = (int(i) for i in np.argwhere(np.tril(asym == asym.max()))[0])
            raise fail(f"P[{r}][{c}]", f"covariance not symmetric ({float(p[r, c])!r} vs {float(p[c, r])!r})")
        p = 0.5 * (p + p.T)
        for k, (name, (lo, hi)) in enumerate(zip(names, (self.state_bounds().get(nm, (-np.inf, np.inf)) for nm in names))):
            if not lo <= x[k] <= hi:
                raise fail(f"x[{k}] ({name})", f"{float(x[k])!r} is outside [{lo}, {hi}]")
        sign = number("hysteresis_sign", saved["hysteresis_sign"])
        if sign not in (-1.0, 0.0, 1.0):
            raise fail("hysteresis_sign", f"must be -1, 0 or 1, got {sign!r}")
        last_time = saved.get("last_time_s")
        if last_time is not None:
            last_time = number("last_time_s", last_time)
        return x, p, sign, last_time

    def state_bytes(self) -> bytes:
        """Raw bytes of the core's state and covariance (and SOH state, for SohEstimator): for
        bit-for-bit comparisons."""
        return self._impl.state_bytes()

    # -- one estimator, one thread at a time; copies are independent --------------------------------
    #: the error concurrent use raises (docs/hardening.md)
    CONCURRENT_USE = "estimator is in use by another thread; use one estimator per thread"
    #: appended to every estimator class's docstring
    THREADS_DOC = """    Threads: use one estimator per thread. Every public method and property (run, step, state,
    covariance, save_state, restore_state, ...) takes the estimator for its duration; a second thread
    calling into the same estimator meanwhile gets RuntimeError("estimator is in use by another thread;
    use one estimator per thread") at once (it never waits, and never sees a half-updated state).
    Separate estimators run in parallel (run() releases the GIL). copy.copy / copy.deepcopy give an
    independent estimator (its own C++ core) in the same state."""
    #: public members that do not touch the core (not guarded)
    _UNGUARDED = frozenset({"state_names", "initial_gaussian", "state_bounds", "soh_state_bounds"})
    _lock_init = __import__("threading").Lock()

    def _use_lock(self):
        """This estimator's lock (an RLock: a guarded method may call another on the same thread)."""
        lock = self.__dict__.get("_lock")
        if lock is None:
            import threading

            with EstimatorBase._lock_init:
                lock = self.__dict__.setdefault("_lock", threading.RLock())
        return lock

    @staticmethod
    def _exclusive(fn):
        """Wrap a method: it runs only if no other thread is inside this estimator, else RuntimeError
        (never waits: a second thread sharing an estimator is a bug to report, not to serialise)."""
        import functools

        @functools.wraps(fn)
        def guarded(self, *args, **kwargs):
            lock = self._use_lock()
            if not lock.acquire(blocking=False):
                raise RuntimeError(EstimatorBase.CONCURRENT_USE)
            try:
                return fn(self, *args, **kwargs)
            finally:
                lock.release()

        guarded._exclusive = True
        return guarded

    def __init_subclass__(cls, **kwargs):
        """Every estimator class: its public methods and properties (run, step, save_state, restore_state,
        state, covariance, soc, ... and any added later) are guarded by `_exclusive`, and the constructor's
        arguments are kept for `__copy__`."""
        super().__init_subclass__(**kwargs)
        import inspect

        if cls.__dict__.get("__doc__") and "one estimator per thread" not in cls.__doc__:
            cls.__doc__ = cls.__doc__.rstrip() + "\n\n" + EstimatorBase.THREADS_DOC

        for name in dir(cls):
            if name.startswith("_") or name in EstimatorBase._UNGUARDED:
                continue
            v = inspect.getattr_static(cls, name)
            if isinstance(v, property) and v.fget is not None and not getattr(v.fget, "_exclusive", False):
                setattr(cls, name, property(EstimatorBase._exclusive(v.fget),
                                            v.fset and EstimatorBase._exclusive(v.fset), v.fdel, v.__doc__))
            elif inspect.isfunction(v) and not getattr(v, "_exclusive", False):
                setattr(cls, name, EstimatorBase._exclusive(v))
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_records_args", False):
            import functools

            @functools.wraps(init)
            def recording_init(self, *args, __init=init, **kwargs):
                self.__dict__.setdefault("_init_args", (args, kwargs))  # the outermost constructor's
                __init(self, *args, **kwargs)

            recording_init._records_args = True
            cls.__init__ = recording_init

    def _copy(self, memo: dict | None):
        import copy as _copy_module

        cls = type(self)
        with self._exclusive_block():
            args, kwargs = self.__dict__["_init_args"]
            if memo is not None:
                args, kwargs = _copy_module.deepcopy((args, kwargs), memo)
            saved = self.save_state()
            pending = self._pending_ocv_init
        new = cls.__new__(cls)
        new.__init__(*args, **kwargs)  # a new core with the same cell and settings ...
        new.restore_state(saved)       # ... holding this one's state (exact: x, P, sign, clock, SOH)
        new._pending_ocv_init = pending
        return new

    def _exclusive_block(self):
        import contextlib

        @contextlib.contextmanager
        def block():
            lock = self._use_lock()
            if not lock.acquire(blocking=False):
                raise RuntimeError(EstimatorBase.CONCURRENT_USE)
            try:
                yield
            finally:
                lock.release()

        return block()

    def __copy__(self):
        """An independent estimator (its own core) in the same state: `copy.copy` used to share the C++
        state with the original. Settings, noise and the cell are shared (they are not changed by running)."""
        return self._copy(None)

    def __deepcopy__(self, memo):
        """As `__copy__`, with the constructor arguments (cell, settings) deep-copied too."""
        new = self._copy(memo)
        memo[id(self)] = new
        return new

    def __reduce__(self):
        raise TypeError(f"{type(self).__name__} cannot be pickled (it holds a C++ estimator); "
                        "pickle save_state() and restore_state() it into a new estimator")


class Estimator(EstimatorBase):
    """SOC estimator for one cell.

    Parameters
    ----------
    cell : path, bundled cell name, or Cell
    filter : "ekf" or "ukf"
    noise : NoiseSettings
    settings : EstimatorSettings
    dtype : "float64" (default) or "float32" (bit-for-bit the MCU's arithmetic)
    initial_soc : float in [0, 1], or None to start from OCV(first voltage) as a rested BMS would
    """

    def __new__(cls, cell=None, *args, **kwargs):
        # An SPMe cell file ("model": "spme") runs the reduced electrochemical model (spme.py).
        if cls is Estimator and cell is not None:
            from ..cells.spme import is_spme_cell, spme_estimator_class

            if is_spme_cell(cell):
                return super().__new__(spme_estimator_class())
        return super().__new__(cls)

    def __init__(self, cell: str | Cell, filter: str = "ekf", noise: NoiseSettings | None = None,
                 settings: EstimatorSettings | None = None, dtype: str = "float64",
                 initial_soc: float | None = None) -> None:
        core = self._setup(filter, dtype, lambda: load_cell(cell), noise, settings, initial_soc)
        self._cls = getattr(core, f"Ecm{filter.capitalize()}{self.cell.rc_pairs}_{'f64' if self.dtype == 'float64' else 'f32'}")
        soc0 = 0.5 if initial_soc is None else float(initial_soc)
        x0, p0 = self.initial_gaussian(soc0)
        try:
            self._impl = self._cls(self.cell.core_params(), core_config(self.settings, self.noise),
                                   ecm_core_noise(self.noise), core_filter_config(self.settings), x0, p0, 0.0)
        except ValueError as e:
            raise ValueError(f"{self.cell.source}: {e}") from None

    # -- stepping ----------------------------------------------------------------------------
    def step(self, dt_s: float, current_A: float, voltage_V: float, temperature_degC: float) -> StepResult:
        """One sample: dt since the previous one, current held over it (A, + = discharge), voltage and
        temperature at its end. A rejected step leaves the state exactly as it was."""
        self._ocv_init(voltage_V, temperature_degC)
        code, *vals = self._impl.step(float(dt_s), float(current_A), float(voltage_V), float(temperature_degC))
        return StepResult(self._status_names.get(code, str(code)), *vals)

    def run(self, time_s, current_A, voltage_V, temperature_degC) -> RunResult:
        """A whole log (array-likes of equal length). The loop runs in C++ without the GIL. The first
        sample the estimator ever sees only sets its clock (status "initial"); later calls continue
        from the last timestamp, so a long log may be fed in pieces."""
        arrays = log_arrays(time_s, current_A, voltage_V, temperature_degC)
        self._ocv_init_from_log(arrays)
        out = self._impl.run(*arrays)
        return RunResult(**run_columns(arrays[0], out, self._status_names))

    # -- persistence -------------------------------------------------------------------------
    def save_state(self) -> dict[str, Any]:
        """Everything needed to continue later (JSON-serialisable)."""
        return {"cell": self.cell.name, "filter": self.filter, "dtype": self.dtype,
                "state_names": self.state_names, "x": self.state.tolist(), "P": self.covariance.tolist(),
                "hysteresis_sign": self._impl.hysteresis_sign, "last_time_s": self._impl.last_time_s,
                "noise": asdict(self.noise), "settings": asdict(self.settings)}

    def restore_state(self, saved: dict[str, Any]) -> None:
        """Continue from `save_state()` output. Refused (ValueError naming the field, nothing changed) if it
        is not a dict, a key is missing, a value has the wrong type or is not finite, or a field is outside
        the bounds the estimator keeps while running (`state_bounds()`; hysteresis sign in {-1, 0, 1};
        covariance symmetric positive definite)."""
        x, p, sign, last_time = self._checked_soc_state(saved)
        if not self._impl.set_state(x, p, sign):
            raise ValueError("restore_state: P: covariance not positive definite (or the state was refused by the core)")
        self._impl.last_time_s = last_time
        self._pending_ocv_init = False

    @staticmethod
    def sizeof_core(filter: str = "ekf", rc_pairs: int = 2, dtype: str = "float32") -> int:
        """Bytes of one core estimator object (state, covariance, config; parameters excluded)."""
        core = _core()
        return getattr(core, f"Ecm{filter.capitalize()}{rc_pairs}_{'f64' if dtype == 'float64' else 'f32'}").sizeof_estimator
