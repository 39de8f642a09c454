"""The current column against the voltage's steps (docs/cli.md): a cell's terminal voltage steps against a discharge
current's step (dV = -R0 di), so a log whose voltage rises with its current has the current's sign the other way,
and one whose voltage answers a row early or late has its columns skewed. The one home of these rules: `cellsense
estimate` and `cellsense replay` warn with them (evaluate.log_checks), `cellsense fit` refuses an HPPC with them."""
from __future__ import annotations

import numpy as np


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
