"""What every estimator over the core shares: the per-step and whole-log results, the core's configuration
dicts, the log-array checks, EstimatorBase (set-up, the rested start, state access, persistence checks, the
one-thread guard, copies) and the one rule that picks the estimator class for a cell (`estimator_class`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, NamedTuple

import numpy as np

from .. import status as _status
from .._io import finite_state_number
from ..cells.load import is_spme_cell
from .settings import DTYPES, FILTERS, EstimatorSettings, NoiseSettings, _core, resolved_noise


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


def core_class(kind: str, filter: str, dtype: str, rc_pairs: int | None = None):
    """The compiled core class of an estimator `kind` ("Ecm", "EcmSoh", "Pack", "Spme") for a filter ("ekf" /
    "ukf"), a dtype (float64 / float32) and, for the ECM kinds, the cell's RC pairs: the one place the
    binding's class names (e.g. EcmUkf2_f32) are built."""
    suffix = "f64" if str(np.dtype(dtype)) == "float64" else "f32"
    return getattr(_core(), f"{kind}{filter.capitalize()}{'' if rc_pairs is None else int(rc_pairs)}_{suffix}")


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
    return {"dt_max_s": s.dt_max_s, "dt_max_rest_s": s.dt_max_rest_s, "soc_min": s.soc_min, "soc_max": s.soc_max,
            "voltage_sigma_V": noise.voltage_sigma_V, "gate_nis": s.gate_nis,
            "model_error_current_A": noise.model_error_current_A or 0.0,
            "model_error_relative": noise.model_error_relative,
            "model_error_correlation_s": noise.model_error_correlation_s or 0.0,
            "model_error_voltage_V": noise.model_error_voltage_V or 0.0,
            "current_offset_sigma_A": noise.current_offset_sigma_A, "current_gain_sigma": noise.current_gain_sigma,
            "gate_predict_only": 1.0 if s.gate_predict_only else 0.0,
            "gate_timeout_steps": float(s.gate_timeout_steps)}


def core_filter_config(settings: EstimatorSettings) -> dict[str, float]:
    """The UKF's sigma-point parameters (ignored by the EKF)."""
    return {"alpha": settings.ukf_alpha, "beta": settings.ukf_beta, "kappa": settings.ukf_kappa}


def ecm_core_noise(noise: NoiseSettings) -> dict[str, float]:
    """The ECM's process-noise dict."""
    return {"soc_per_sqrt_s": noise.soc_per_sqrt_s, "v_rc_V_per_sqrt_s": noise.v_rc_V_per_sqrt_s,
            "hysteresis_per_sqrt_s": noise.hysteresis_per_sqrt_s, "current_sigma_A": noise.current_sigma_A}


from .columns import _column, first_finite_reading, log_arrays, run_columns  # noqa: E402,F401  (re-exported)



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
        for arg, value, cls in (("noise", noise, NoiseSettings), ("settings", settings, EstimatorSettings)):
            if value is not None and not isinstance(value, cls):
                raise TypeError(f"{arg}: expected a {cls.__name__} (cellsense.estimators.settings), got "
                                f"{type(value).__name__}")
        noise = noise or NoiseSettings()
        self.noise = resolved_noise(noise, self.cell)
        # replace() re-runs the settings' checks: a field assigned after construction is checked here too
        self.settings = s = replace(settings) if settings is not None else EstimatorSettings()
        if initial_soc is not None and (isinstance(initial_soc, (bool, np.bool_))
                                        or not isinstance(initial_soc, __import__("numbers").Real)):
            raise TypeError(f"initial_soc: expected a number (a fraction, 0.8 for 80 %), got "
                            f"{type(initial_soc).__name__} {initial_soc!r:.40}")
        if initial_soc is not None and not (s.soc_min <= initial_soc <= s.soc_max):
            hint = f" (a fraction: {initial_soc / 100:g} for {initial_soc:g} %)" if 1 < initial_soc <= 100 else ""
            raise ValueError(f"initial_soc: {initial_soc} is outside [{s.soc_min}, {s.soc_max}]{hint}")
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
        def fail(where: str, msg: str) -> ValueError:
            return ValueError(f"restore_state: {where}: {msg}")

        if not isinstance(saved, dict):
            raise fail("top level", f"expected a dict (save_state() output), got {type(saved).__name__}")
        missing = [k for k in ("state_names", "x", "P", "hysteresis_sign") if k not in saved]
        if missing:
            raise fail(missing[0], "missing")
        if "cell" in saved and saved["cell"] != self.cell.name:
            raise fail("cell", f"the state was saved by an estimator of cell {saved['cell']!r:.80}, this one runs "
                               f"{self.cell.name!r}: a SOC, RC voltages and covariance mean nothing on another cell")
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
        sign = number("hysteresis_sign", saved["hysteresis_sign"])
        ecm = names[-1] == "hysteresis"  # the ECM's layout: soc, v_rc1_V .. v_rcN_V, hysteresis
        for k, (name, (lo, hi)) in enumerate(zip(names, (self.state_bounds().get(nm, (-np.inf, np.inf)) for nm in names))):
            if (k == 0 or not ecm) and not lo <= x[k] <= hi:  # the SOC window is the settings'
                raise fail(f"x[{k}] ({name})", f"{float(x[k])!r} is outside [{lo}, {hi}]")
        if ecm:
            # the RC voltages, hysteresis state and sign: the core's restore rule (model/ecm_state_check.hpp), the
            # one cs_restore_state applies
            issue = core_class("Ecm", "ekf", "float64", self.cell.rc_pairs).restored_state_issue(x, sign)
            if issue is not None:
                k, msg = issue
                if k < 0:
                    raise fail("hysteresis_sign", f"{msg}, got {sign!r}")
                raise fail(f"x[{k}] ({names[k]})", f"{msg}, got {float(x[k])!r}")
            issue = core_class("Ecm", "ekf", "float64", self.cell.rc_pairs).restored_covariance_issue(p)
            if issue is not None:
                k, msg = issue
                raise fail(f"P[{k}][{k}] ({names[k]})", f"{msg}, got {float(p[k, k])!r}")
        elif sign not in (-1.0, 0.0, 1.0):
            raise fail("hysteresis_sign", f"must be -1, 0 or 1, got {sign!r}")
        last_time = saved.get("last_time_s")
        if last_time is not None:
            last_time = number("last_time_s", last_time)
        return x, p, sign, last_time

    def _advance_clock(self, dt_s) -> None:
        """step() moves the log clock by its dt (finite and > 0), as run() moves it to each timestamp: a run() after
        some step() calls then steps from where they ended instead of counting their interval again."""
        last, dt = self._impl.last_time_s, float(dt_s)  # step() already converted dt_s
        if last is not None and math.isfinite(dt) and dt > 0:
            self._impl.last_time_s = float(last) + dt

    @staticmethod
    def _saved_pending(saved: dict) -> bool:
        """A saved state's "start from the first rested voltage" flag (an estimator saved before its first sample
        without an initial SOC); False in states saved before 2026-12-07, which did not record it."""
        v = saved.get("pending_ocv_init", False)
        if not isinstance(v, (bool, np.bool_)):
            raise ValueError(f"restore_state: pending_ocv_init: expected true or false, got {v!r:.40}")
        return bool(v)

    def state_bytes(self) -> bytes:
        """Raw bytes of the core's state and covariance (and SOH state, for SohEstimator): for
        bit-for-bit comparisons."""
        return self._impl.state_bytes()

    # -- one estimator, one thread at a time; copies are independent --------------------------------
    #: the error concurrent use raises (docs/hardening.md)
    CONCURRENT_USE = "estimator is in use by another thread; use one estimator per thread"
    #: appended to every estimator class's docstring
    THREADS_DOC = """    Notes
    -----
    Threads: use one estimator per thread. Every public method and property (run, step, state,
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


# ----------------------------------------------------------------------------------------------
# Which estimator class runs a cell: the one rule (make_estimator, the factory; Estimator's deprecated SPMe door)
# ----------------------------------------------------------------------------------------------
#: cell kind ("ecm", "spme": a cell file's "model") -> the estimator class for it, registered by the module
#: that defines the class (estimators.ecm, estimators.spme; the package's __init__ imports both)
_ESTIMATOR_CLASSES: dict[str, type] = {}


def register_estimator(kind: str, cls: type) -> None:
    """Make `cls` the estimator class for cells of `kind` (their file's "model")."""
    _ESTIMATOR_CLASSES[kind] = cls


def estimator_class(cell: Any) -> type:
    """The estimator class for `cell` (a path, bundled name, dict or loaded cell): the SPMe estimator for
    an SPMe cell file ("model": "spme"), else the ECM estimator."""
    return _ESTIMATOR_CLASSES["spme" if is_spme_cell(cell) else "ecm"]


def make_estimator(cell: Any, *args: Any, **kwargs: Any) -> EstimatorBase:
    """The one factory (``cellsense.make_estimator``): the estimator for `cell` (a path, bundled name or loaded
    cell; the class estimator_class picks: ``Estimator`` for an ECM cell, ``SpmeEstimator`` for an SPMe
    cell), built with the estimator constructor's arguments (filter, noise, settings, dtype, initial_soc;
    spme_noise for an SPMe cell)."""
    return estimator_class(cell)(cell, *args, **kwargs)
