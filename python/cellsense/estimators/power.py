"""State of power and energy (issue #15, docs/power.md): how much current and power the cell can take for the
next 2, 10 and 30 s, how much energy is left, time to empty and to full - from the estimator's state, with
the core's heap-free implementation (cpp/include/cellsense/power/power_limits.hpp, also in the C API).

Conventions: current + = discharge; every limit is a positive magnitude. Method: Plett, IEEE Trans. Veh.
Technol. 53(5), 2004 (the model run forward over the horizon at a constant current; the largest current whose
predicted voltage stays within the cut-offs, the SOC window and the current rating).

    from cellsense import Estimator
    from cellsense.estimators.power import PowerSettings, estimate_power, power_limits_now
    est = Estimator("panasonic_18650pf", initial_soc=0.8)
    res = estimate_power(est, log.time_s, log.current_A, log.voltage_V, log.temperature_degC)
    res.discharge_current_A[:, 1]     # 10 s discharge limit per sample (A)
"""
from __future__ import annotations

import functools
import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .base import RunResult, _core, log_arrays, run_columns
from .power_cli import (  # noqa: F401  (the CLI options; their names stay importable from here)
    add_derating_cli, add_power_cli, add_rating_cli, check_rating, parse_derating, power_settings_from_cli)
from .power_settings import RATING_HOW, PowerSettings  # noqa: F401
from .power_tables import (  # noqa: F401  (the cell-file tables; their names stay importable from here)
    K_OVERPOTENTIAL, K_OVERPOTENTIAL_CHARGE, K_TRANSPORT, L_DERATING, L_IDENTIFIED, RatingBelowLogWarning,
    RatingFallbackWarning, _derating_rows, _float_rows, _pair_rows, _per_temperature, _transport_rows, cell_overpotential, cell_transport,
    current_derating, identified_current_range, rating_below_log_message, rating_sources, warn_rating_fallback)

#: limited_by codes (power::LimitedBy) -> name; 255 = _core.LIMITED_BY_NOT_COMPUTED (bindings/power_columns.hpp): not
#: computed (non-finite temperature or refused); test_power holds the codes to the core's
LIMITED_BY = {0: "voltage", 1: "soc", 2: "current", 3: "none", 4: "transport", 255: "not computed"}


def limit_columns(res) -> dict[str, np.ndarray]:
    """The CSV columns of whole-log limits (`res`: horizons_s and [sample, horizon] arrays discharge/charge
    current and power, as PowerResult and cellsense.pack.PackPowerResult have): i_dis_max_<h>s_A, i_chg_max_<h>s_A,
    p_dis_max_<h>s_W, p_chg_max_<h>s_W per horizon, the one naming of estimate's and replay's CSVs."""
    out = {}
    for j, h in enumerate(res.horizons_s):
        tag = f"{h:g}s"
        out[f"i_dis_max_{tag}_A"] = res.discharge_current_A[:, j]
        out[f"i_chg_max_{tag}_A"] = res.charge_current_A[:, j]
        out[f"p_dis_max_{tag}_W"] = res.discharge_power_W[:, j]
        out[f"p_chg_max_{tag}_W"] = res.charge_power_W[:, j]
    return out


@dataclass
class PowerResult:
    """A whole log with the limits after every sample: arrays [sample, horizon] (positive magnitudes, NaN where
    not computed); `run` is the estimator's RunResult for the same samples."""

    horizons_s: tuple
    discharge_current_A: np.ndarray
    charge_current_A: np.ndarray
    discharge_power_W: np.ndarray
    charge_power_W: np.ndarray
    discharge_limited_by: np.ndarray    #: codes, LIMITED_BY
    charge_limited_by: np.ndarray
    run: Any = field(repr=False, default=None)

    def __repr__(self) -> str:
        n = self.discharge_current_A.shape[0]
        return f"PowerResult({n} samples, horizons {list(self.horizons_s)} s)"

    def columns(self) -> dict[str, np.ndarray]:
        """Flat columns for a CSV: i_dis_max_<h>s_A, i_chg_max_<h>s_A, p_dis_max_<h>s_W, p_chg_max_<h>s_W."""
        return limit_columns(self)


#: the ranges of the functions' scalar arguments: the core's (power::power_limits / remaining_energy / time_to_full
#: refuse outside them with one kBadInput for all), checked here first to name the argument: (low, high, low
#: included, unit)
TEMPERATURE_RANGE = (-100.0, 200.0, True, "degC")
POWER_RANGE = (0.0, 1.0e9, False, "W")
CHARGE_CURRENT_RANGE = (0.0, 1.0e6, False, "A")
#: time_to_full's soc_max: a SOC fraction, full = 1 (the core's range too: power::time_to_full refuses above 1)
SOC_MAX_RANGE = (0.0, 1.0, False, "")


def _impl(est, need: str = "run_power", fn: str = "power"):
    """The binding object of an estimator that has `need` (the limits: every cell estimator, ECM and SPMe; the
    energy and time to full: the ECM ones, which have the hysteresis state and coulombic efficiency they use);
    TypeError naming the function `fn` and its argument `est` otherwise."""
    impl = getattr(est, "_impl", None)
    if impl is None or not hasattr(impl, need) or getattr(est, "cell", None) is None:
        what = "an Estimator, SohEstimator or SpmeEstimator" if need == "run_power" else \
            "an Estimator or SohEstimator over an ECM cell (the SPMe has power limits, not energy)"
        raise TypeError(f"{fn}: est: needs {what}, got {type(est).__name__}")
    return impl


def _exclusive(fn):
    """The estimator's one-thread guard (EstimatorBase._exclusive_block) around a function of the estimator `est`
    (its first argument): these functions call into its core as its own methods do, so a second thread inside the
    same estimator gets RuntimeError at once instead of racing it (two threads in one core with the GIL released)."""

    @functools.wraps(fn)
    def guarded(est, *args, **kwargs):
        block = getattr(est, "_exclusive_block", None)
        if block is None:
            return fn(est, *args, **kwargs)
        with block():
            return fn(est, *args, **kwargs)

    return guarded


def _temperature_limits(cell) -> tuple[float, float, bool, str]:
    """The temperatures the power functions take for `cell`: its plausible range (the cell file's limits, what a step
    accepts; the core refuses the limits and the energy outside it) within TEMPERATURE_RANGE."""
    lo, hi = getattr(cell, "temperature_range_degC", TEMPERATURE_RANGE[:2])
    return max(TEMPERATURE_RANGE[0], float(lo)), min(TEMPERATURE_RANGE[1], float(hi)), True, \
        "degC (the cell file's plausible range)"


def _arg(fn: str, name: str, value, limits: tuple[float, float, bool, str]) -> float:
    """A scalar argument as a float; ValueError naming the function, the argument and its range when it is not a
    finite real number within `limits` (low, high, low included, unit)."""
    lo, hi, lo_in, unit = limits
    span = f"{'[' if lo_in else '('}{lo:g}, {hi:g}]" + (f" {unit}" if unit else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{fn}: {name}: expected a finite number in {span}, got {value!r:.40}")
    v = float(value)
    if not ((v >= lo if lo_in else v > lo) and v <= hi):
        raise ValueError(f"{fn}: {name} = {v:g}: must be in {span}")
    return v


@_exclusive
def estimate_power(est, time_s, current_A, voltage_V, temperature_degC,
                   settings: PowerSettings | None = None) -> PowerResult:
    """Run the estimator over a log (as `Estimator.run`, same rules for clock, gaps, bad samples) and compute the
    limits of the state after every sample for every horizon."""
    impl = _impl(est, fn="estimate_power")
    s = settings or PowerSettings()
    cfg = s.core_dict(est.cell)
    arrays = log_arrays(time_s, current_A, voltage_V, temperature_degC)
    _warn_ratings_below_log(est.cell, s, cfg, arrays[1])
    est._ocv_init_from_log(arrays)
    hz = np.asarray([float(h) for h in s.horizons_s], float)
    out = impl.run_power(*arrays, hz, cfg)
    power_cols = {k: out.pop(k) for k in ("discharge_current_A", "charge_current_A", "discharge_power_W",
                                            "charge_power_W", "discharge_limited_by", "charge_limited_by")}
    make = getattr(est, "_run_result", None)  # the SOH / SPMe estimators: their results with their own columns
    run = make(arrays[0], out) if make is not None else RunResult(**run_columns(arrays[0], out, est._status_names))
    return PowerResult(tuple(float(h) for h in hz), run=run, **power_cols)


def _warn_ratings_below_log(cell, s: PowerSettings, cfg: dict, current_A) -> None:
    """RatingBelowLogWarning for each direction whose default rating (not given) is below the log's own peak current
    in that direction by more than 5 % (the identified range is the characterisation tests' peak)."""
    i = np.asarray(current_A, float)
    i = i[np.isfinite(i)]
    if not i.size:
        return
    for direction, given, peak in (("discharge", s.discharge_current_max_A, float(np.max(i))),
                                   ("charge", s.charge_current_max_A, float(-np.min(i)))):
        rating = float(cfg[f"{direction}_current_max_A"])
        if given is None and peak > 1.05 * rating:
            warnings.warn(rating_below_log_message(cell, direction, rating, peak, RATING_HOW), RatingBelowLogWarning,
                          stacklevel=3)


@_exclusive
def power_limits_now(est, temperature_degC: float, settings: PowerSettings | None = None) -> list[dict[str, Any]]:
    """The limits of the estimator's present state, one dict per horizon (currents and powers positive; which
    constraint bound each: 'voltage', 'soc', 'current' or 'none'). `temperature_degC` in [-100, 200] degC."""
    impl = _impl(est, fn="power_limits_now")
    t = _arg("power_limits_now", "temperature_degC", temperature_degC, _temperature_limits(est.cell))
    s = settings or PowerSettings()
    cfg = s.core_dict(est.cell)
    out = []
    for h in s.horizons_s:
        d = impl.power_limits(t, {**cfg, "horizon_s": float(h)})
        d["horizon_s"] = float(h)
        out.append(d)
    return out


@_exclusive
def remaining_energy(est, temperature_degC: float, power_W: float, settings: PowerSettings | None = None) -> dict:
    """Energy left to the discharge cut-off at a constant power (W h), time to empty (s), their 1 sigma from the
    SOC sigma. `settings.soc_sigma_k` > 0 takes the SOC that many sigma lower (conservative). `temperature_degC` in
    the cell file's plausible range, `power_W` (a positive magnitude) in (0, 1e9] W.

    ``sustainable``: False when the SOC is above the window's floor but the quasi-static model (every RC pair at its
    steady state) cannot hold `power_W` above the cut-off even there (i v(i) = P has no root above it): the energy and
    time are then 0 +- 0 by the model, while a short pulse may still be possible (the RC transients: the power limits
    of `power_limits_now` say how long); not a measured empty cell."""
    impl = _impl(est, "energy", fn="remaining_energy")
    t = _arg("remaining_energy", "temperature_degC", temperature_degC, _temperature_limits(est.cell))
    p = _arg("remaining_energy", "power_W (discharge power, a positive magnitude)", power_W, POWER_RANGE)
    s = settings or PowerSettings()
    cfg = s.core_dict(est.cell, warn_ratings=False)  # the energy does not use the ratings
    out = impl.energy(t, p, cfg["voltage_min_V"], cfg["soc_min"], cfg["soc_sigma_k"])
    z = float(est.soc) - float(cfg["soc_sigma_k"]) * float(est.soc_sigma)
    out["sustainable"] = bool(out["energy_Wh"] > 0 or z <= float(cfg["soc_min"]))
    return out


@_exclusive
def time_to_full(est, charge_current_A: float, soc_max: float = 1.0) -> tuple[float, float]:
    """Time to full (constant-current phase, s) at a charge current (a positive magnitude, in (0, 1e6] A) up to
    `soc_max` (a SOC fraction in (0, 1]: full is 1), and its 1 sigma."""
    impl = _impl(est, "time_to_full", fn="time_to_full")
    i = _arg("time_to_full", "charge_current_A (a positive magnitude)", charge_current_A, CHARGE_CURRENT_RANGE)
    z = _arg("time_to_full", "soc_max (the SOC to charge to; full = 1)", soc_max, SOC_MAX_RANGE)
    return impl.time_to_full(i, z)


def _pack(pack_est, fn: str):
    """`pack_est`'s spec (a cellsense.pack.PackEstimator's), TypeError naming `fn` and the argument otherwise."""
    spec = getattr(pack_est, "spec", None)
    if spec is None or getattr(spec, "cell", None) is None or not hasattr(pack_est, "run_core"):
        raise TypeError(f"{fn}: pack_est: needs a cellsense.pack.PackEstimator, got {type(pack_est).__name__}")
    return spec


def pack_power_config(pack_est, settings: PowerSettings | None = None) -> dict[str, float]:
    """The core's PowerConfig fields (horizon_s excepted) for a pack's series elements (`pack_est`: a
    cellsense.pack.PackEstimator): the cell file's, through `PowerSettings.core_dict` (checked by the core's rule),
    with a default rating (None) scaled to the parallel group, which shares the string's current; a rating given
    explicitly is the string's current."""
    spec = _pack(pack_est, "pack_power_config")
    s = settings or PowerSettings()
    cfg = s.core_dict(spec.cell)
    p = float(spec.parallel)
    if s.discharge_current_max_A is None:
        cfg["discharge_current_max_A"] *= p
    if s.charge_current_max_A is None:
        cfg["charge_current_max_A"] *= p
    return cfg


def _pack_temperatures(temperature_degC, n_cells: int, cell=None) -> np.ndarray:
    """pack_power_limits_now's temperature_degC as n_cells floats (one value: every cell's); ValueError naming the
    argument for another count, a value that is not a number, or one not finite or outside [-100, 200] degC (the
    core refuses the call for any cell's: the whole-log rows leave such a sample not computed instead)."""
    fn = "pack_power_limits_now: temperature_degC"
    try:
        t = np.asarray(temperature_degC, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: expected numbers (degC), got {temperature_degC!r:.40}") from None
    if t.ndim > 1 or t.size not in (1, n_cells):
        raise ValueError(f"{fn}: needs 1 value (every cell) or {n_cells} (one per cell, n_cells of the pack), got "
                         f"{t.size} value(s) of shape {t.shape}")
    lo, hi = _temperature_limits(cell)[:2]
    bad = np.flatnonzero(~((t >= lo) & (t <= hi)))  # NaN included
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{fn}" + (f"[{k}]" if t.ndim else "") + f" = {t.ravel()[k]:g}: must be a finite number in "
                         f"[{lo:g}, {hi:g}] degC (the cell file's plausible range)")
    return np.broadcast_to(t, (n_cells,)).copy()


def pack_power_limits_now(pack_est, temperature_degC, settings: PowerSettings | None = None) -> list[dict[str, Any]]:
    """A series string's limits after `PackEstimator.run` (its state at the log's end), one dict per horizon: the
    smallest limit over the cells in each direction, which cell sets it (``discharge_cell`` / ``charge_cell``,
    0-based) and why, the string's power (that current times the sum of the cells' predicted voltages; a mean-cell
    pack's times the series count). Ratings as `pack_power_config`: the same as cellsense.pack.estimate_pack_power's
    rows, whose last row this is. `temperature_degC`: one value per cell (n_cells of them), or one for all, in
    [-100, 200] degC."""
    spec = _pack(pack_est, "pack_power_limits_now")
    core = getattr(pack_est, "last_core", None)
    if core is None:
        raise ValueError("pack_power_limits_now: run the PackEstimator over a log first (PackEstimator.run)")
    t = _pack_temperatures(temperature_degC, core.n_cells, spec.cell)
    s = settings or PowerSettings()
    cfg = pack_power_config(pack_est, s)
    k = float(spec.series) if spec.mean_cell else 1.0
    out = []
    for h in s.horizons_s:
        d = core.power_limits(t, {**cfg, "horizon_s": float(h)})
        d["discharge_power_W"] *= k
        d["charge_power_W"] *= k
        d["horizon_s"] = float(h)
        out.append(d)
    return out
