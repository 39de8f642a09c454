"""Pack estimation over the core (the pack file is pack.spec).

`PackEstimator` runs `cellsense::pack::PackEstimator` (cpp/include/cellsense/pack/pack.hpp): one
ECM estimator per series element sharing one parameter set; the whole log runs in C++ with the GIL
released.

    spec = load_pack("pack.json")
    log = cellsense.replay.read_log("drive.csv", spec)
    res = PackEstimator(spec, dtype="float32").run(log)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import status as _status
from ..estimators.base import _core, core_class
from ..estimators.settings import EstimatorSettings, NoiseSettings, resolved_noise
from .spec import PackSpec


# Per-cell status and pack event codes: the core's (cellsense.status, held to the core's tables by a test).
STATUS_INITIAL = _status.INITIAL
STATUS_REST = _status.REST
STATUS_REINIT = _status.REINIT
STATUS_REINIT_FAILED = _status.REINIT_FAILED
STATUS_CLOCK_REANCHORED = _status.CLOCK_REANCHORED  #: the clock re-anchored on this sample (no step); as a single estimator's
EVENT_CLOCK_REANCHORED = _status.EVENT_CLOCK_REANCHORED
EVENTS = dict(_status.EVENT_NAMES)
#: Backwards timestamps in a row after which the log clock re-anchors on the latest one (the core's
#: cellsense::LogClock::kReanchorAfter, exposed as _core.CLOCK_REANCHOR_AFTER; tests hold them equal).
CLOCK_REANCHOR_AFTER = 3


@dataclass
class PackLog:
    """A pack log converted to the package's conventions (SI units, current + = discharge).

    voltage_V is (n, cells), temperature_degC (n, sensors). `counts` says what the reader skipped, `notes` what it
    repaired (one line each, e.g. a capture's clock stepping back, re-anchored)."""

    time_s: np.ndarray
    current_A: np.ndarray
    voltage_V: np.ndarray
    temperature_degC: np.ndarray
    reference_soc: np.ndarray | None = None
    source: str = "<memory>"
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.time_s)


def clock_dt(time_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dt per sample by the core's log clock, and the samples on which the clock re-anchored.

    The rule is `cellsense::LogClock` (cpp/include/cellsense/estimator/log_clock.hpp), the one the single-cell
    estimators' whole-log loop runs, so a cell and a pack see the same clock. dt is what the pack binding and
    the replay link take: NaN = no step (the first finite sample sets the clock: "initial"; the
    CLOCK_REANCHOR_AFTER-th backwards timestamp in a row re-anchors it: `reanchored` True), +inf = a step on a
    non-finite time (every cell rejects it as non-finite, state unchanged), otherwise time - clock (<= 0 for a
    repeated or backwards timestamp: rejected)."""
    core = _core()
    out = core.log_clock(np.ascontiguousarray(time_s, dtype=float))
    return out["dt_s"], out["action"] == core.CLOCK_ACTION_REANCHOR


def step_dt(time_s: np.ndarray) -> np.ndarray:
    """dt per sample by the core's clock rule (`clock_dt`): NaN where a sample only sets the clock."""
    return clock_dt(time_s)[0]


def mark_reanchored(status: np.ndarray, event: np.ndarray, reanchored: np.ndarray) -> None:
    """Label the samples on which the clock re-anchored (run with dt NaN: no step) in place."""
    m = np.asarray(reanchored, bool)[:len(event)]
    status[:len(m)][m] = STATUS_CLOCK_REANCHORED
    event[:len(m)][m] = EVENT_CLOCK_REANCHORED


def status_names() -> dict[int, str]:
    """Per-cell status code -> name: the core's one status code space (step, pack gap and log-clock codes)."""
    return {int(k): str(v) for k, v in _core().status_names().items()}


@dataclass
class PackResult:
    time_s: np.ndarray
    dt_s: np.ndarray
    status: np.ndarray       #: (n, cells) uint8
    soc: np.ndarray          #: (n, cells) in the estimator's dtype
    soc_sigma: np.ndarray    #: (n, cells)
    event: np.ndarray        #: (n,) uint8 (EVENTS)
    summary: dict[str, np.ndarray]  #: usable_soc, soc_min, soc_max, soc_mean, imbalance, dischargeable_Ah, ...
    reference_soc: np.ndarray | None = None

    def counts(self) -> dict[str, int]:
        names = status_names()
        codes, n = np.unique(self.status, return_counts=True)
        return {names.get(int(c), str(c)): int(k) for c, k in zip(codes, n)}


class PackEstimator:
    """Pack estimation over the core: one estimator per series element, shared parameters."""

    def __init__(self, spec: PackSpec, filter: str | None = None, dtype: str | None = None,
                 noise=None, settings=None) -> None:
        self.spec = spec
        self.filter = filter or spec.filter
        self.dtype = dtype or spec.dtype
        if self.filter not in ("ekf", "ukf") or self.dtype not in ("float32", "float64"):
            raise ValueError(f"filter {self.filter!r} / dtype {self.dtype!r}")
        noise = noise or NoiseSettings()
        if noise.considers_current_sensor:
            # the pack core and the HIL configuration frame do not carry the consider terms: refuse, not ignore
            raise ValueError("NoiseSettings.current_offset_sigma_A / current_gain_sigma: the current sensor's consider "
                             "terms are for the single-cell estimators (Estimator, SohEstimator); the pack estimator "
                             "does not carry them")
        # the cell estimator's measurement noise (resolved_noise): the model error that follows the cell's
        # resistance, or the constant one, each with its correlation time; until 2026-12-07 the pack kept the
        # constant 1 Hz sigma at every temperature and sample rate
        self.noise = resolved_noise(noise, spec.cell)
        self.settings = settings or EstimatorSettings()
        # the core's rule (pack::gap_within): a step the estimators refuse as too long is a gap
        self.gap_s, self._reinit_after_s = _core().pack_gap_within(spec.gaps.gap_s, spec.gaps.reinit_after_s,
                                                                   self.settings.dt_max_s)
        self._cls = core_class("Pack", self.filter, self.dtype, spec.cell.rc_pairs)

    def settings_dict(self) -> dict[str, float]:
        """Every scalar setting, as the core and the HIL configuration frame take them."""
        s, n, g = self.settings, self.noise, self.spec.gaps
        return {"dt_max_s": s.dt_max_s, "soc_min": s.soc_min, "soc_max": s.soc_max,
                "voltage_sigma_V": n.voltage_sigma_V, "gate_nis": s.gate_nis,
                "model_error_current_A": n.model_error_current_A, "model_error_relative": n.model_error_relative,
                "model_error_correlation_s": n.model_error_correlation_s, "model_error_voltage_V": n.model_error_voltage_V,
                "gate_predict_only": 1.0 if s.gate_predict_only else 0.0,
                "gate_timeout_steps": float(s.gate_timeout_steps),
                "soc_per_sqrt_s": n.soc_per_sqrt_s, "v_rc_V_per_sqrt_s": n.v_rc_V_per_sqrt_s,
                "hysteresis_per_sqrt_s": n.hysteresis_per_sqrt_s, "current_sigma_A": n.current_sigma_A,
                "initial_soc_sigma": n.initial_soc_sigma, "initial_v_rc_sigma_V": n.initial_v_rc_sigma_V,
                "initial_hysteresis": n.initial_hysteresis, "initial_hysteresis_sigma": n.initial_hysteresis_sigma,
                "usable_soc_low": 0.0, "usable_soc_high": 1.0, "gap_reinit": 1.0 if g.policy == "reinit" else 0.0,
                "gap_s": self.gap_s, "reinit_after_s": self._reinit_after_s,
                "ukf_alpha": s.ukf_alpha, "ukf_beta": s.ukf_beta, "ukf_kappa": s.ukf_kappa}

    def initial_soc(self, log: PackLog) -> np.ndarray:
        """Per cell: the pack file's initial SOC, else OCV^-1 of the cell's first finite voltage (rested start)."""
        nc = self.spec.n_cells
        if self.spec.initial_soc is not None:
            return np.full(nc, float(self.spec.initial_soc))
        out = np.full(nc, 0.5)
        for k in range(nc):
            v = log.voltage_V[:, k]
            sensor = self.spec.cells[k].temperature_sensor
            ok = np.nonzero(np.isfinite(v) & np.isfinite(log.temperature_degC[:, sensor]))[0]
            if ok.size:
                out[k] = self.spec.cell.soc_from_ocv(float(v[ok[0]]), float(log.temperature_degC[ok[0], sensor]))
        return np.clip(out, self.settings.soc_min, self.settings.soc_max)

    def make_core(self, initial_soc: np.ndarray):
        sd = self.settings_dict()
        return self._cls(self.spec.cell.core_params(), np.array([c.capacity_scale for c in self.spec.cells]),
                         np.array([c.resistance_scale for c in self.spec.cells]), np.asarray(initial_soc, float),
                         sd, {"alpha": sd["ukf_alpha"], "beta": sd["ukf_beta"], "kappa": sd["ukf_kappa"]})

    def cell_sensor(self) -> np.ndarray:
        return np.array([c.temperature_sensor for c in self.spec.cells], dtype=np.int32)

    def run(self, log: PackLog, initial_soc: np.ndarray | None = None) -> PackResult:
        """The whole log in C++ (GIL released). Each call is a log of its own: it starts from `initial_soc` (None:
        the OCV at the log's first sample, `initial_soc(log)`) with a fresh clock, and does not continue the
        previous call (unlike `Estimator.run`); to continue a log in pieces, pass the previous result's last SOCs
        (`result.soc[-1]`) as `initial_soc`, which carries the SOC but not the RC voltages or the covariance."""
        return self.run_core(log, initial_soc)[0]

    def run_core(self, log: PackLog, initial_soc: np.ndarray | None = None,
                 power: tuple[np.ndarray, dict] | None = None) -> tuple[PackResult, dict]:
        """`run`, and the core's whole output dict. `power` = (horizons_s, PowerConfig dict): the core's
        run_power (the series string's limits after every sample, cellsense.pack.power); the estimate is
        the same as without."""
        soc0 = self.initial_soc(log) if initial_soc is None else np.asarray(initial_soc, float)
        core = self.make_core(soc0)
        dt, reanchored = clock_dt(log.time_s)
        args = (dt, np.ascontiguousarray(log.current_A, float), np.ascontiguousarray(log.voltage_V, float),
                np.ascontiguousarray(log.temperature_degC, float), self.cell_sensor())
        out = core.run(*args) if power is None else core.run_power(*args, *power)
        mark_reanchored(out["status"], out["event"], reanchored)
        self.last_core = core  # the pack's state at the log's end (cellsense.estimators.power.pack_power_limits_now)
        summary = {k: out[k] for k in ("usable_soc", "soc_min", "soc_max", "soc_mean", "imbalance", "dischargeable_Ah",
                                       "chargeable_Ah", "index_min", "index_max", "n_rejected")}
        return PackResult(time_s=np.asarray(log.time_s, float), dt_s=dt, status=out["status"], soc=out["soc"],
                          soc_sigma=out["soc_sigma"], event=out["event"], summary=summary,
                          reference_soc=log.reference_soc), out

    @staticmethod
    def sizeof_cell(filter: str = "ekf", rc_pairs: int = 2, dtype: str = "float32") -> int:
        """Host bytes of one cell's estimator inside a pack (the MCU figure comes from the firmware)."""
        return core_class("Pack", filter, dtype, rc_pairs).sizeof_cell
