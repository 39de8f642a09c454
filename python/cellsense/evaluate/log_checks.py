"""The checks `cellsense estimate` (and `cellsense replay`) run on a log and its estimate without changing the exit code
(docs/cli.md): rejection reasons that point at a column in another unit, a log outside the cell's temperature rows,
a time column in minutes or hours, a current that looks positive on charge or skewed by a row, and the two
self-checks of the band (truth outside 3 sigma; mean NIS)."""
from __future__ import annotations

import numpy as np

# The functions take an evaluate.estimate.EstimateResult (named in the annotations only: estimate imports this module).


#: self-check thresholds of `cellsense estimate` (docs/cli.md): truth outside 3 sigma on more than this share
#: of the samples after the settle time, or a mean NIS above this over the fused samples after it (1 for a
#: consistent filter; the bundled cells give ~0.1 on the demo's drive cycles)
SELF_CHECK_OUTSIDE_3SIGMA = 0.05
SELF_CHECK_MEAN_NIS = 3.0
#: with truth, a mean NEES after the settle time below this: the band is wider than the log's errors need (issue #17's
#: lower bound of an honest band)
SELF_CHECK_LOW_NEES = 0.2


#: share of a log's samples above which a rejection reason, or samples outside the cell's temperature rows, get a
#: warning of their own (with the column's span)
SELF_CHECK_SHARE = 0.10

#: a run of consecutive rejected steps at least this long (s) gets a warning of its own, with its time and the charge
#: that flowed over it (a rejected step counts no charge; the SOC variance is widened for it, docs/estimator.md)
REJECTED_RUN_MIN_S = 10.0
#: at most this many such runs are described one by one
REJECTED_RUN_NOTES = 3
#: rejection reasons whose interval's charge is not counted (the core's GapWidening::loses_charge, CS-CLK-011)
_LOSES_CHARGE = ("rejected_nonfinite", "rejected_current_range", "rejected_voltage_range",
                 "rejected_temperature_range", "rejected_innovation_gate", "rejected_numerical")

#: rejection reason -> (log column, the cell's range attribute, unit, what a log in another unit looks like)
_RANGE_REASONS = {
    "rejected_current_range": ("current_A", "current_range_A", "A", "a current logged in mA, or a pack's current"),
    "rejected_voltage_range": ("voltage_V", "voltage_range_V", "V", "a voltage logged in mV, or a pack's voltage"),
    "rejected_temperature_range": ("temperature_degC", "temperature_range_degC", "degC",
                                   "a temperature logged in kelvin (subtract 273.15) or in tenths of a degree"),
}


def rejection_warnings(r: EstimateResult) -> list[str]:
    """One warning per rejection reason that hit more than SELF_CHECK_SHARE of the samples, naming the column,
    the span the log has and the range the cell file accepts (the usual cause is a column in another unit)."""
    res, log = r.result, r.log
    n = len(res.time_s)
    out = []
    for reason, k in sorted(res.counts().items()):
        if not reason.startswith("rejected_") or n == 0 or k <= SELF_CHECK_SHARE * n:
            continue
        text = f"{k} of {n} samples ({100 * k / n:.0f} %) were rejected ({reason}); their SOC is the last accepted one"
        if reason in _RANGE_REASONS:
            col, attr, unit, other = _RANGE_REASONS[reason]
            v = np.asarray(getattr(log, col), float)
            v = v[np.isfinite(v)]
            lim = getattr(r.estimator.cell, attr, None)
            if v.size and lim is not None:
                text += (f": the log's {col} spans {v.min():.4g}..{v.max():.4g} {unit}, the cell file accepts "
                         f"{lim[0]:g}..{lim[1]:g} {unit} (limits in the cell file; "
                         f"{_beyond_range(v, lim, reason) or other + '?'})")
        elif reason == "rejected_dt_too_large":
            dt = np.diff(np.asarray(log.time_s, float))
            dt = dt[np.isfinite(dt) & (dt > 0)]
            if dt.size:
                text += (f": the log's median time step is {np.median(dt):.4g} s, longer than the largest accepted step "
                         f"(--max-dt-s; a time column in milliseconds?)")
        out.append(text)
    return out


def _beyond_range(v: np.ndarray, lim, reason: str) -> str:
    """What readings beyond the cell's range most likely are when they stay within half the range's width of it: a
    temperature beyond the cell's limit (over- or under-temperature) or a faulty sensor, not a unit. '' otherwise."""
    width = float(lim[1]) - float(lim[0])
    if not (width > 0 and v.min() >= lim[0] - 0.5 * width and v.max() <= lim[1] + 0.5 * width):
        return ""
    if reason == "rejected_temperature_range":
        return ("the readings are a few degrees beyond it: the cell was over (or under) its temperature limit, or its "
                "sensor is faulty; the steps there counted no charge and the SOC sigma was widened after them")
    return ("the readings lie just beyond it: a fault of the cell or of its sensor; the steps there counted no charge and "
            "the SOC sigma was widened after them")


def rejected_run_warnings(r: EstimateResult) -> list[str]:
    """A warning for each run of consecutive steps rejected for a reading (CS-CLK-011) lasting REJECTED_RUN_MIN_S or
    more, whatever its share of the log: its reason, time, length and the charge the log's current moved over it, which
    the SOC did not count (the core widens the SOC variance by it at the next accepted step)."""
    res, log = r.result, r.log
    t = np.asarray(res.time_s, float)
    names = np.asarray(res.status, dtype=object) if hasattr(res, "status") else None
    if names is None or t.size < 2:
        return []
    lost = np.isin(names, _LOSES_CHARGE)
    i = np.asarray(log.current_A, float)
    cap = float(getattr(r.estimator.cell, "capacity_Ah", float("nan")))
    edges = np.diff(np.concatenate(([0], lost.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # [start, stop)
    runs = []
    for a, b in zip(starts, stops):
        t0 = t[a - 1] if a > 0 else t[a]  # the run's interval starts at the last sample before it
        if not (np.isfinite(t0) and np.isfinite(t[b - 1]) and t[b - 1] - t0 >= REJECTED_RUN_MIN_S):
            continue
        dt = np.diff(t[max(a - 1, 0):b])
        ii = i[a:b][-dt.size:] if dt.size else np.array([])
        ok = np.isfinite(dt) & (dt > 0) & np.isfinite(ii)
        q_Ah = float(np.sum(np.abs(ii[ok]) * dt[ok])) / 3600.0
        reasons = sorted(set(names[a:b]))
        runs.append((t0, float(t[b - 1]), int(b - a), q_Ah, reasons))
    out = []
    for t0, t1, n, q, reasons in runs[:REJECTED_RUN_NOTES]:
        share = f", {100 * q / cap:.1f} % of the cell's {cap:.3g} A h" if cap > 0 else ""
        out.append(f"{n} consecutive samples rejected ({', '.join(reasons)}) over t = {t0:.1f}..{t1:.1f} s "
                   f"({t1 - t0:.0f} s): the SOC there is the last accepted one, and the {q:.3g} A h{share} the current "
                   "moved meanwhile was not counted; the SOC sigma was widened by it at the next accepted step")
    if len(runs) > REJECTED_RUN_NOTES:
        out.append(f"... and {len(runs) - REJECTED_RUN_NOTES} more runs of rejected samples of >= {REJECTED_RUN_MIN_S:g} s")
    return out


#: K beyond a cell file's coldest / warmest temperature row where its (constant-held) tables count as unvalidated
SELF_CHECK_TEMPERATURE_MARGIN_K = 5.0


def temperature_warnings(r: EstimateResult) -> list[str]:
    """A warning when more than 10 % of the log's samples lie more than 5 K outside the temperature rows of the cell
    file (an ECM's tables are held constant beyond them, so model and band are unvalidated there: chen2020.json,
    rows 0.9-40.5 degC, on a -10 degC DFN US06 had the truth outside 3 sigma on 23 % of the samples)."""
    rows = getattr(r.estimator.cell, "temperature_degC", None)
    T = np.asarray(r.log.temperature_degC, float)
    T = T[np.isfinite(T)]
    if rows is None or not np.size(rows) or not T.size:
        return []
    lo, hi = float(np.min(rows)), float(np.max(rows))
    m = SELF_CHECK_TEMPERATURE_MARGIN_K
    share = float(np.mean((T < lo - m) | (T > hi + m)))
    if share <= SELF_CHECK_SHARE:
        return []
    span = f"{lo:g} degC" if lo == hi else f"{lo:g}..{hi:g} degC"
    return [f"{100 * share:.0f} % of the samples are more than {m:g} K outside the temperature(s) the cell file was "
            f"identified at ({span}; the log spans {T.min():.4g}..{T.max():.4g} degC): its tables are held constant there, "
            "so neither the model nor its 3-sigma band is validated (fit the cell with HPPC tests at these temperatures)"]


#: the time-scale check: rest samples are |i| <= C / REST_C; the SOC change the rest voltages show (through the cell
#: file's OCV) must be at least TIME_CHECK_MIN_DSOC and TIME_CHECK_MIN_DV_V, and the counted one below 1 / RATIO of it
TIME_CHECK_REST_C = 20.0
TIME_CHECK_MIN_DSOC = 0.15
TIME_CHECK_MIN_DV_V = 0.1
TIME_CHECK_RATIO = 4.0


def time_scale_warnings(r: EstimateResult) -> list[str]:
    """A warning when the log's rest voltages and its counted charge disagree by more than TIME_CHECK_RATIO: between
    the first and the last rest samples (|i| <= C/20; the median of up to 5 at each end) the cell file's OCV reads a
    SOC change of at least 0.15 (and 0.1 V), while the current integrated over the log's time counts less than a
    quarter of it. A time column in minutes or hours (the estimator steps it as seconds: the 25 degC Chen2020 UDDS
    with its time in minutes ended 43 points off with no other warning) or a current in a smaller unit does that.
    The rests after a discharge read a little low (relaxation), which the factor 4 leaves room for; a flat OCV
    (LFP) rarely moves 0.1 V between rests, so it gives no verdict there."""
    log, cell = r.log, r.estimator.cell
    q = float(getattr(cell, "capacity_Ah", float("nan")))
    if not hasattr(cell, "soc_from_ocv") or not q > 0:
        return []
    t, i, v, T = (np.asarray(a, float) for a in (log.time_s, log.current_A, log.voltage_V, log.temperature_degC))
    ok = np.isfinite(t) & np.isfinite(i) & np.isfinite(v) & np.isfinite(T)
    t, i, v, T = t[ok], i[ok], v[ok], T[ok]
    if t.size < 3 or np.any(np.diff(t) <= 0):
        return []  # the clock's own warnings cover a log whose time is not increasing
    rest = np.flatnonzero(np.abs(i) <= q / TIME_CHECK_REST_C)
    if rest.size < 10:
        return []
    a, b = rest[:5], rest[-5:]
    if b[0] <= a[-1]:
        return []
    try:
        z_a = float(cell.soc_from_ocv(float(np.median(v[a])), float(np.median(T[a]))))
        z_b = float(cell.soc_from_ocv(float(np.median(v[b])), float(np.median(T[b]))))
    except (ValueError, TypeError):
        return []
    dz_v = z_a - z_b
    dv = float(np.median(v[a]) - np.median(v[b]))
    k0, k1 = a[-1], b[0]
    dz_c = float(np.sum(i[k0 + 1:k1 + 1] * np.diff(t[k0:k1 + 1]))) / (3600.0 * q)  # sample k holds over (t_k-1, t_k]
    if not (abs(dz_v) >= TIME_CHECK_MIN_DSOC and abs(dv) >= TIME_CHECK_MIN_DV_V):
        return []
    if abs(dz_c) * TIME_CHECK_RATIO >= abs(dz_v):
        return []
    return [f"between the rests at t = {t[k0]:.6g} s and t = {t[k1]:.6g} s the voltage moved as a SOC change of "
            f"{100 * dz_v:+.0f} points (the cell file's OCV, {1000 * dv:+.0f} mV), but the logged current over that time "
            f"counts only {100 * dz_c:+.1f} points: is the time column in minutes or hours (seconds expected), or the "
            "current in a smaller unit than A? The SOC and its band are not to be trusted until they agree"]


from ..io.step_checks import (  # noqa: E402,F401  (the step rules live in the io layer; fit uses them too)
    SIGN_CHECK_MIN_STEPS, SIGN_CHECK_STEP_SHARE, _finite_steps, _step_correlations, current_sign_warning,
    current_skew_warning)


def sign_warnings(r: EstimateResult) -> list[str]:
    """`current_sign_warning` of the estimate's log, as a list. Without it a sign-inverted log gave a 16 % SOC error
    with only a mean-NIS warning that blamed the voltage sigma (PyBaMM Chen2020 US06)."""
    log = r.log
    return [w for w in (current_sign_warning(log.time_s, log.current_A, log.voltage_V),
                        current_skew_warning(log.time_s, log.current_A, log.voltage_V)) if w]


def self_check(r: EstimateResult, settle_s: float = 600.0) -> list[str]:
    """Warnings a user should see about an estimate: a current column that looks positive on charge
    (`sign_warnings`); a rejection reason on more than 10 % of the samples
    (`rejection_warnings`: usually a column in another unit); a log mostly outside the cell's temperature rows
    (`temperature_warnings`); with truth, the truth outside the 3-sigma band more
    than 5 % of the time (the filter is overconfident), or a NEES below 0.2 (its band is wider than needed); without truth, a mean normalised innovation squared above
    3 (the model error is larger than the filter assumes). Empty when none applies."""
    out = (sign_warnings(r) + rejection_warnings(r) + rejected_run_warnings(r) + temperature_warnings(r) +
           time_scale_warnings(r))
    m = r.metrics
    if m is not None and m.outside_3sigma_after > SELF_CHECK_OUTSIDE_3SIGMA:
        out.append(f"the truth is outside the 3-sigma band on {100 * m.outside_3sigma_after:.1f} % of the samples after "
                   f"{settle_s / 60:.0f} min (> {100 * SELF_CHECK_OUTSIDE_3SIGMA:.0f} %): the reported sigma is too small for "
                   "this log (cell model or sensor worse than assumed; raise --voltage-sigma-V or --current-sigma-A, give the "
                   "sensor's offset with --current-offset-sigma-A (a flat OCV: docs/tuning.md), or "
                   "fit the cell to this data)")
    if m is not None and m.outside_3sigma_after <= SELF_CHECK_OUTSIDE_3SIGMA and m.nees_after < SELF_CHECK_LOW_NEES:
        noise = getattr(r.estimator, "noise", None)
        causes = []
        if noise is not None and (getattr(noise, "current_offset_sigma_A", 0) or getattr(noise, "current_gain_sigma", 0)):
            causes.append("the given sensor terms (--current-offset-sigma-A / --current-gain-sigma) add their whole "
                          "1-sigma drift")
        causes.append("a --voltage-sigma-V, if given, above the model's error here, or the model better on this log "
                      "than its error budget says")
        out.append(f"the band is wider than this log's errors need: NEES {m.nees_after:.2f} after {settle_s / 60:.0f} min "
                   f"(1 for an honest band, < {SELF_CHECK_LOW_NEES:g} here): the reported sigma is cautious for this log "
                   f"({'; '.join(causes)}; docs/metrics.md)")
    res = r.result
    t = np.asarray(res.time_s, float)
    ok = np.isfinite(res.nis) & (t >= t[0] + settle_s) & ~np.asarray(res.rejected, bool)
    if m is None and ok.sum() >= 30:
        mean_nis = float(np.mean(np.asarray(res.nis, float)[ok]))
        if mean_nis > SELF_CHECK_MEAN_NIS:
            out.append(f"mean normalised innovation squared {mean_nis:.1f} after {settle_s / 60:.0f} min (1 for a consistent "
                       f"filter, > {SELF_CHECK_MEAN_NIS:g} here): the voltage model error is larger than the filter assumes, "
                       "so its sigma is likely too small (raise --voltage-sigma-V, or fit the cell to this data)")
    return out
