"""State of health: online total capacity and R0 beside the SOC filter (docs/soh.md).

`SohEstimator` is the SOC estimator (`cellsense.estimators.ecm.Estimator`'s cell, filter, noise and
settings) with the core's SOH tracker (cpp/include/cellsense/soh/): a recursive approximate
weighted total-least-squares capacity estimate and a scalar Kalman filter on a factor of the
cell's R0 table. The SOC filter uses the current estimates from the step after each update.
`save_state()` / `restore_state()` carry SOC and SOH from one log to the next (a BMS keeps SOH
across drives); `start_log()` re-initialises only the SOC from a rested OCV, keeping SOH.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..cells.ecm import Cell
from ..cells.load import load_cell
from .base import (EstimatorBase, RunResult, StepResult, core_class, core_config, core_filter_config, ecm_core_noise, log_arrays,
                   run_columns)
from .consider import apply_consider, checked_consider, consider_saved, noise_mismatches
from .settings import EstimatorSettings, NoiseSettings
from .soh_state import (SOH_FLAGS, SOH_RESIDUAL_MAX_V, SOH_SCALARS, SavedStateMismatchWarning,  # noqa: F401
                        checked_soh_state, saved_settings_mismatches, soh_state_bounds)
from .soh_settings import SohSettings  # noqa: F401  (its home since 2026-12-07; importable from here as before)


@dataclass
class SohRunResult(RunResult):
    """`RunResult` plus the SOH columns (one entry per input sample)."""

    capacity_Ah: np.ndarray = field(default_factory=lambda: np.zeros(0))
    capacity_sigma_Ah: np.ndarray = field(default_factory=lambda: np.zeros(0))
    r0_Ohm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    r0_sigma_Ohm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    capacity_updated: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    r0_updated: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    ocv_shift_V: np.ndarray = field(default_factory=lambda: np.zeros(0))  #: OCV correction at the SOC (V)
    ocv_updated: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


class StartUnderLoadWarning(UserWarning):
    """A log continued from a saved state (`start_log_from`, `estimate --state-in`) opens under load: its first
    voltage is not an OCV, so the SOC taken from it gets the wide initial sigma, not the rested one."""


class SohEstimator(EstimatorBase):
    """SOC + SOH estimator for one cell (same arguments as `Estimator`, plus `soh`)."""

    def __init__(self, cell: str | Cell, filter: str = "ekf", noise: NoiseSettings | None = None,
                 settings: EstimatorSettings | None = None, dtype: str = "float64",
                 initial_soc: float | None = None, soh: SohSettings | None = None) -> None:
        self._setup(filter, dtype, lambda: load_cell(cell), noise, settings, initial_soc)
        if not isinstance(self.cell, Cell):  # the SOH tracker works on the ECM's capacity, R0 and OCV tables
            raise ValueError(f"{getattr(self.cell, 'source', cell)}: state of health (SohEstimator, --soh) needs an "
                             f"ECM cell file; this one is {type(self.cell).__name__} (an SPMe cell: estimate its SOC "
                             "with make_estimator / cellsense estimate without --soh)")
        self.soh_settings = replace(soh) if soh is not None else SohSettings()  # replace: validated again
        q = self.soh_settings.initial_capacity_Ah
        if q is not None and not 0.1 * self.cell.capacity_Ah <= q <= 10.0 * self.cell.capacity_Ah:
            raise ValueError(f"SohSettings.initial_capacity_Ah: {q} A h is not within 0.1 .. 10 x the cell's "
                             f"{self.cell.capacity_Ah} A h ({self.cell.source})")
        s, n = self.settings, self.noise
        cls = core_class("EcmSoh", filter, self.dtype, self.cell.rc_pairs)
        x0, p0 = self.initial_gaussian(0.5 if initial_soc is None else float(initial_soc))
        params = self.cell.core_params()
        soh_cfg = self.soh_settings.core_dict(float(params["capacity_Ah"]), n.current_sigma_A)
        self.soh_core_config = dict(soh_cfg)  #: the tracker's settings as the core got them (rest current, ...)
        try:
            self._impl = cls(params, core_config(s, n), ecm_core_noise(n), core_filter_config(s), x0, p0, 0.0, soh_cfg)
        except (ValueError, KeyError) as e:
            raise ValueError(f"{self.cell.source}: {e}") from None

    def _rested_soc(self, voltage_V: float, temperature_degC: float) -> float:
        """SOC from a rested voltage through the OCV in use: the cell's plus the learned correction."""
        z = super()._rested_soc(voltage_V, temperature_degC)
        if not self.soh_settings.enabled or not self.soh_settings.ocv_learning or not np.any(self.ocv_nodes_V):
            return z
        s = self.settings
        grid = np.linspace(s.soc_min, s.soc_max, 2001)
        ocv = self.cell.ocv(grid, float(temperature_degC)) + self.ocv_shift_V(grid)
        k = int(np.argmin(np.abs(ocv - float(voltage_V))))  # nearest point (the corrected OCV may not be monotonic)
        return float(grid[k])

    def _ocv_init(self, voltage_V: float, temperature_degC: float) -> None:
        pending = self._pending_ocv_init
        super()._ocv_init(voltage_V, temperature_degC)
        if pending and not self._pending_ocv_init:
            self._impl.restart_pairing()  # the OCV filter takes the new SOC

    def start_log(self, voltage_V: float, temperature_degC: float, soc_sigma: float = 0.02, rested: bool = True) -> None:
        """A new log after an unlogged gap (rest / charge): SOC re-initialised from the rested OCV
        at `voltage_V` with sigma `soc_sigma`, RC voltages zero; capacity, R0 and their
        uncertainties carried; the clock restarts at the next sample; the open capacity pair is dropped.
        `rested`: the caller knows the cell had rested (at least `anchor_rest_s`) before `voltage_V`, so the
        log's first rest sample is a trusted anchor (docs/soh.md "Trusted anchors"); False: the SOC is set all
        the same, but anchors wait for a rest the log itself shows (`rest_at_start_s`)."""
        x0, p0 = self.initial_gaussian(self._rested_soc(voltage_V, temperature_degC), soc_sigma)
        if not self._impl.set_state(x0, p0, 0.0):
            raise ValueError("start_log: the initial state was refused")
        if hasattr(self._impl, "set_consider"):  # a SOC from the voltage owes nothing to the counted charge
            self._impl.set_consider(np.zeros(len(x0)), np.zeros(len(x0)))
        self._impl.restart_pairing(bool(rested))  # rested: the first rest sample is a trusted anchor
        self._impl.last_time_s = None
        self._pending_ocv_init = False

    def start_log_from(self, time_s, current_A, voltage_V, temperature_degC) -> bool:
        """`start_log` at a new log's first sample with a finite voltage and temperature (the state carried from
        the previous log, e.g. `cellsense estimate --state-in`). The start is taken as rested - a trusted anchor
        - only if the log itself opens with at least `anchor_rest_s` at rest (`rest_at_start_s`); True when it
        was. Nothing happens (False) when no sample has a finite voltage and temperature."""
        v = np.asarray(voltage_V, float)
        th = np.asarray(temperature_degC, float)
        ok = np.flatnonzero(np.isfinite(v) & np.isfinite(th))
        if not ok.size:
            return False
        rest_A = self.soh_core_config["rest_current_A"]
        rested = rest_at_start_s(time_s, current_A, rest_A) >= self.soh_settings.anchor_rest_s
        i0 = float(np.asarray(current_A, float)[ok[0]])
        # under load: above C/20, the estimator's own rest rule (EstimatorConfig::dt_max_rest_s); a BMS sensor's offset
        # (50 mA on the 18650PF's case B, above the SOH rest threshold C/100) is not a load: its IR drop is ~1 mV
        if abs(i0) * 20.0 <= self.cell.capacity_Ah:
            self.start_log(float(v[ok[0]]), float(th[ok[0]]), rested=rested)
        else:
            # under load the first voltage is the OCV minus the overpotential (a 5 A start on the 18650PF read SOC
            # 0.54 against 0.80, and the rested sigma 0.02 made that 12 sigma; 2026-12-07): the SOC from it with the
            # wide initial sigma, which the filter narrows within minutes
            self.start_log(float(v[ok[0]]), float(th[ok[0]]), soc_sigma=self.noise.initial_soc_sigma, rested=False)
            warnings.warn(f"the log opens under load ({i0:g} A at its first sample): the SOC is taken from that "
                          f"voltage with the wide initial sigma ({self.noise.initial_soc_sigma:g}), not as a rested "
                          "OCV; start the log at rest for a trusted start", StartUnderLoadWarning, stacklevel=2)
        return rested

    def end_log(self) -> bool:
        """The log ended (e.g. under load at a cut-off, the rest not logged): close the open capacity
        pair now if its gates pass (|SOC change|, SOC sigma). True when the capacity was updated."""
        return bool(self._impl.close_pair())

    def step(self, dt_s: float, current_A: float, voltage_V: float, temperature_degC: float) -> StepResult:
        """One sample, as `Estimator.step` (dt since the previous sample, current held over it, voltage and
        temperature at its end; a rejected step changes nothing), SOH updated as in `run()`; the capacity, R0 and
        OCV correction after it: the properties. The SOH core has no per-sample call: this is a one-sample run()
        on a clock set to 0 (so the core steps exactly `dt_s`), the log clock then restored and moved by dt_s as
        `Estimator.step` moves it (`_advance_clock`: only a started clock, only by a finite dt > 0)."""
        last = self._impl.last_time_s
        self._ocv_init(voltage_V, temperature_degC)
        arrays = log_arrays([float(dt_s)], [float(current_A)], [float(voltage_V)], [float(temperature_degC)])
        self._impl.last_time_s = 0.0
        try:
            r = self._run_result(arrays[0], self._impl.run(*arrays))
        finally:
            self._impl.last_time_s = last
        self._advance_clock(dt_s)
        return StepResult(str(r.status[0]), float(r.soc[0]), float(r.soc_sigma[0]), float(r.voltage_pred_V[0]),
                          float(r.innovation_V[0]), float(r.innovation_variance_V2[0]), float(r.nis[0]))

    def run(self, time_s, current_A, voltage_V, temperature_degC) -> SohRunResult:
        arrays = log_arrays(time_s, current_A, voltage_V, temperature_degC)
        self._ocv_init_from_log(arrays)
        return self._run_result(arrays[0], self._impl.run(*arrays))

    def _run_result(self, time_s, o: dict) -> SohRunResult:
        """The core's whole-log columns as a SohRunResult (also for cellsense.estimators.power.estimate_power)."""
        fl = o["soh_flags"]
        return SohRunResult(**run_columns(time_s, o, self._status_names), capacity_Ah=o["capacity_Ah"],
                            capacity_sigma_Ah=o["capacity_sigma_Ah"], r0_Ohm=o["r0_Ohm"], r0_sigma_Ohm=o["r0_sigma_Ohm"],
                            capacity_updated=(fl & 1) != 0, r0_updated=(fl & 2) != 0,
                            ocv_shift_V=o["ocv_shift_V"], ocv_updated=(fl & 4) != 0)

    # -- estimates ------------------------------------------------------------------------------
    @property
    def capacity_Ah(self) -> float:
        return self._impl.capacity_Ah

    @property
    def capacity_sigma_Ah(self) -> float:
        return self._impl.capacity_sigma_Ah

    @property
    def r0_scale(self) -> float:
        return self._impl.r0_scale

    @property
    def r0_scale_sigma(self) -> float:
        return self._impl.r0_scale_sigma

    @property
    def ocv_nodes_V(self) -> np.ndarray:
        """The learned OCV correction's node values (V) at SOC 1/6, 2/6 .. 5/6 (0 at SOC 0 and 1)."""
        return np.asarray(self._impl.ocv_nodes_V())

    def ocv_shift_V(self, soc) -> np.ndarray:
        """The learned OCV correction at `soc` (V): linear between the nodes, 0 at and beyond SOC 0 / 1."""
        k = len(self.ocv_nodes_V)
        return np.interp(np.asarray(soc, float), np.linspace(0.0, 1.0, k + 2), np.r_[0.0, self.ocv_nodes_V, 0.0],
                         left=0.0, right=0.0)

    def r0_Ohm(self, soc: float = 0.5, temperature_degC: float = 25.0) -> float:
        """R0 in use at (soc, temperature): the factor times the cell's R0 table (Ohm)."""
        return self._impl.r0_scale * self._impl.r0_table_Ohm(soc, temperature_degC)

    def r0_sigma_Ohm(self, soc: float = 0.5, temperature_degC: float = 25.0) -> float:
        return self._impl.r0_scale_sigma * self._impl.r0_table_Ohm(soc, temperature_degC)

    # -- persistence ----------------------------------------------------------------------------
    def save_state(self) -> dict[str, Any]:
        """SOC and SOH state (JSON-serialisable): what a BMS keeps between drives."""
        return {"cell": self.cell.name, "filter": self.filter, "dtype": self.dtype, "state_names": self.state_names,
                "x": self.state.tolist(), "P": self.covariance.tolist(), "hysteresis_sign": self._impl.hysteresis_sign,
                "last_time_s": self._impl.last_time_s, "pending_ocv_init": self._pending_ocv_init,
                **consider_saved(self._impl),
                "soh": self._impl.soh_state(),
                "noise": asdict(self.noise), "soh_settings": asdict(self.soh_settings)}

    def restore_state(self, saved: dict[str, Any]) -> None:
        """Continue from `save_state()` output. Refused (ValueError naming the field, nothing changed) if any
        part is missing, of the wrong type, not finite or outside the bounds the estimator keeps while running:
        the whole saved dict (SOC part as `Estimator.restore_state`, SOH part by `soh_state_bounds()`) is
        validated before anything is applied. A saved filter, dtype or soh_settings (a dict, else refused) other
        than this estimator's is restored with a `SavedStateMismatchWarning` naming both values: the SOC / SOH state
        does not depend on them, and this estimator's settings apply from here on (e.g. saved ocv_learning False,
        restored into a learning estimator: it learns from the carried OCV correction)."""
        x, p, sign, last_time = self._checked_soc_state(saved)
        if "soh" not in saved:
            raise ValueError("restore_state: soh: missing")
        soh = self._checked_soh_state(saved["soh"])
        consider = checked_consider(saved, len(self.state_names))
        mismatches = saved_settings_mismatches(self, saved) + noise_mismatches(self, saved)
        before = (self.state, self.covariance, self._impl.hysteresis_sign)
        if not self._impl.set_state(x, p, sign):
            raise ValueError("restore_state: P: SOC covariance not positive definite (or the state was refused by the core)")
        try:
            ok = self._impl.set_soh_state(soh)
        except Exception as e:  # noqa: BLE001 - the binding's own type checks; validated above, so not expected
            self._impl.set_state(*before)
            raise ValueError(f"restore_state: soh: {e}") from None
        if not ok:
            self._impl.set_state(*before)
            raise ValueError("restore_state: soh: refused by the core (ocv_P not positive definite, or capacity "
                             "outside the tracker's bounds)")
        apply_consider(self._impl, consider)
        self._impl.last_time_s = last_time
        self._pending_ocv_init = self._saved_pending(saved)
        for m in mismatches:
            warnings.warn(f"restore_state: {m}", SavedStateMismatchWarning, stacklevel=3)

    #: SOH state fields and bound constants (their home: soh_state.py)
    SOH_SCALARS = SOH_SCALARS
    SOH_FLAGS = SOH_FLAGS
    SOH_RESIDUAL_MAX_V = SOH_RESIDUAL_MAX_V

    def soh_state_bounds(self) -> dict[str, tuple[float, float]]:
        """[lo, hi] of each scalar SOH field a restored state must respect (what the tracker keeps while
        running): capacity 0.3 .. 1.5 x the initial capacity (the tracker's clamp); a_xx such that the capacity
        sigma 1/sqrt(a_xx) is within 1e-5 x the initial capacity .. the larger of the initial sigma and 1.5 x the
        initial capacity (`soh_state.capacity_sigma_bounds`); R0 factor within [r0_scale_min, r0_scale_max], its
        variance in (0, r0_scale_sigma^2] (the core's cap); anchor SOC within the SOC bounds, its variance in
        [0, 1]; the previous current within the cell's current range, the previous R0 drop within max R0 x max
        |current|; |charge since the anchor| and its 1 sigma <= 100 initial capacities; b_xx, b_yy >= 0."""
        return soh_state_bounds(self)

    def _checked_soh_state(self, d: Any) -> dict[str, Any]:
        """The SOH part of a saved state, validated field by field (ValueError naming it); returns a clean dict."""
        return checked_soh_state(self, d)


def rest_at_start_s(time_s, current_A, rest_current_A: float) -> float:
    """How long a log shows the cell at rest from its first sample (s): the time up to the first sample whose
    |current| exceeds `rest_current_A` (the whole log if none does)."""
    t = np.asarray(time_s, float)
    i = np.asarray(current_A, float)
    if t.size == 0:
        return 0.0
    busy = np.flatnonzero(~(np.abs(i) <= rest_current_A))
    end = t[busy[0]] if busy.size else t[-1]
    return float(end - t[0]) if np.isfinite(end - t[0]) else 0.0


def estimate_soh(model: str | Cell, logs, filter: str = "ekf", dtype: str = "float64",
                 noise: NoiseSettings | None = None, settings: EstimatorSettings | None = None,
                 soh: SohSettings | None = None, restart_soc_sigma: float = 0.02) -> tuple[SohEstimator, list[SohRunResult]]:
    """Run one estimator through several logs in order, as a BMS would: SOC re-initialised from
    the rested OCV at the first sample of each log (`SohEstimator.start_log`), capacity / R0 and
    their uncertainties carried; at the end of each log an open capacity pair is closed
    (`SohEstimator.end_log`: the log ends where the load ended). `logs`: iterable of (time_s, current_A, voltage_V, temperature_degC)."""
    est = SohEstimator(model, filter=filter, noise=noise, settings=settings, dtype=dtype, soh=soh)
    out = []
    for t, i, v, th in logs:
        est.start_log(v[0], th[0], restart_soc_sigma)
        r = est.run(t, i, v, th)
        if est.end_log():
            r.capacity_Ah[-1] = est.capacity_Ah
            r.capacity_sigma_Ah[-1] = est.capacity_sigma_Ah
            r.capacity_updated[-1] = True
        out.append(r)
    return est, out
