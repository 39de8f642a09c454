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


#: share of a log's samples above which a rejection reason, or samples outside the cell's temperature rows, get a
#: warning of their own (with the column's span)
SELF_CHECK_SHARE = 0.10

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
                         f"{lim[0]:g}..{lim[1]:g} {unit} (limits in the cell file; {other}?)")
        elif reason == "rejected_dt_too_large":
            dt = np.diff(np.asarray(log.time_s, float))
            dt = dt[np.isfinite(dt) & (dt > 0)]
            if dt.size:
                text += (f": the log's median time step is {np.median(dt):.4g} s, longer than the largest accepted step "
                         f"(--max-dt-s; a time column in milliseconds?)")
        out.append(text)
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


#: current steps that count for the sign check: |delta i| above this share of the log's largest |i|, at least this many
SIGN_CHECK_STEP_SHARE = 0.05
SIGN_CHECK_MIN_STEPS = 20


def _finite_steps(time_s, current_A, voltage_V):
    """The changes (di, dv, dt) between consecutive samples where time, current and voltage are all finite, and the
    current step that counts (SIGN_CHECK_STEP_SHARE of the largest |i|); None with fewer than 3 such samples."""
    t, i, v = (np.asarray(a, float) for a in (time_s, current_A, voltage_V))
    ok = np.isfinite(t) & np.isfinite(i) & np.isfinite(v)
    if ok.sum() < 3:
        return None
    t, i, v = t[ok], i[ok], v[ok]
    return np.diff(i), np.diff(v), np.diff(t), SIGN_CHECK_STEP_SHARE * float(np.max(np.abs(i)))


def _step_correlations(time_s, current_A, voltage_V):
    """(number of current steps, {lag: (correlation, slope)}) of the voltage's change against the current's over the
    samples where the current steps by more than SIGN_CHECK_STEP_SHARE of its largest magnitude (at most 10 s apart),
    the voltage taken one sample before (lag -1), at (0) or after (+1) the current's step; None if fewer than
    SIGN_CHECK_MIN_STEPS steps (a constant-current test has no verdict)."""
    steps = _finite_steps(time_s, current_A, voltage_V)
    if steps is None:
        return None
    di, dv, dt, step_A = steps
    big = (np.abs(di) > step_A) & (dt > 0) & (dt <= 10.0)
    if big.sum() < SIGN_CHECK_MIN_STEPS or not np.any(di[big]):
        return None
    out = {}
    for lag in (-1, 0, 1):
        k = np.flatnonzero(big)
        k = k[(k + lag >= 0) & (k + lag < len(dv))]
        x, y = di[k], dv[k + lag]
        denom = float(np.sqrt(np.dot(x, x) * np.dot(y, y)))
        out[lag] = (float(np.dot(x, y) / denom) if denom > 0 else 0.0, float(np.dot(x, y) / np.dot(x, x)))
    return int(big.sum()), out


def current_sign_warning(time_s, current_A, voltage_V, remedy: str = "negate the column") -> str | None:
    """The warning when a log's current looks positive on CHARGE, else None: a terminal voltage always steps against
    a discharge current's step (dV = -R0 di, whatever the SOC, temperature or model), so a voltage that rises with
    the logged current (`_step_correlations`: at the lag that correlates most, regression slope > 0 and correlation
    above 0.5; loggers may skew the two columns by a sample) means the column has the other sign. `remedy` ends the
    message (what the user changes: the column, or a pack file's current.positive)."""
    c = _step_correlations(time_s, current_A, voltage_V)
    if c is None:
        return None
    n, by_lag = c
    lag = max(by_lag, key=lambda k: abs(by_lag[k][0]))
    corr, slope = by_lag[lag]
    if slope <= 0 or corr <= 0.5:
        return None
    skew = f", the voltage {'one sample ahead of' if lag < 0 else 'one sample behind'} the current" if lag else ""
    return (f"the voltage rises when the logged current rises ({n} current steps: {1000 * slope:+.3g} mV/A, "
            f"correlation {corr:.2f}{skew}); a cell's voltage steps against a discharge current, so this log's current "
            f"looks positive on charge. cellsense takes current_A positive on discharge: {remedy}")


def current_skew_warning(time_s, current_A, voltage_V) -> str | None:
    """The warning when the voltage answers the current's steps a sample early or late, else None. The current of row
    k is held over (t[k-1], t[k]], so row k's voltage carries row k's current step: regressing each voltage change on
    the current's steps one row before, at and after it (samples at most 10 s apart), the coefficient at the row is
    -R0 and the others are small. A log whose columns are skewed by a row has its -R0 one row off instead (the one
    row off at least 3 x larger than the one at the row, the fit explaining more than half of the voltage changes),
    and every current step is then a model error of R0 di (the pack fixture's voltages led its current by a row until
    2026-12-07)."""
    found = _finite_steps(time_s, current_A, voltage_V)
    if found is None or len(found[0]) + 1 < 4 * SIGN_CHECK_MIN_STEPS:
        return None
    di, dv, dt, step_A = found
    k = np.arange(1, len(di) - 1)
    k = k[(dt[k] > 0) & (dt[k] <= 10.0) & (dt[k - 1] <= 10.0) & (dt[k + 1] <= 10.0)]
    steps = int(np.sum(np.abs(di[k]) > step_A))
    if steps < SIGN_CHECK_MIN_STEPS:
        return None
    a = np.column_stack([di[k - 1], di[k], di[k + 1]])
    y = dv[k]
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - a @ coef) ** 2)) / ss if ss > 0 else 0.0
    j = int(np.argmax(np.abs(coef)))
    if j == 1 or not (abs(coef[j]) > 3.0 * abs(coef[1]) and r2 > 0.5):
        return None
    where = "one row after" if j == 0 else "one row before"
    return (f"the voltage steps {where} the logged current ({steps} current steps; {1000 * coef[j]:+.3g} mOhm there, "
            f"{1000 * coef[1]:+.3g} mOhm at the same row): the current of row k must be the current held over "
            "(t[k-1], t[k]] (docs/conventions.md), so each current step is a model error here; shift the current "
            "column by one row")


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
    than 5 % of the time (the filter is overconfident); without truth, a mean normalised innovation squared above
    3 (the model error is larger than the filter assumes). Empty when none applies."""
    out = sign_warnings(r) + rejection_warnings(r) + temperature_warnings(r) + time_scale_warnings(r)
    m = r.metrics
    if m is not None and m.outside_3sigma_after > SELF_CHECK_OUTSIDE_3SIGMA:
        out.append(f"the truth is outside the 3-sigma band on {100 * m.outside_3sigma_after:.1f} % of the samples after "
                   f"{settle_s / 60:.0f} min (> {100 * SELF_CHECK_OUTSIDE_3SIGMA:.0f} %): the reported sigma is too small for "
                   "this log (cell model or sensor worse than assumed; raise --voltage-sigma-V or --current-sigma-A, or "
                   "fit the cell to this data)")
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
