"""`cellsense estimate`: run the estimator over a cell log and write the estimate CSV."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._io import StagedWrites, load_json_file, refuse_overwriting_inputs, require
from ..estimators.base import EstimatorBase, RunResult, make_estimator
from ..estimators.power import estimate_power
from ..estimators.settings import EstimatorSettings, NoiseSettings
from ..estimators.soh import SohEstimator, SohSettings
from ..io.logs import CellLog, read_cell_log
from .metrics import SocMetrics, soc_metrics


class StateFileError(ValueError):
    """A saved state file (--state-in) cannot be used: unreadable, invalid JSON, or a state the estimator
    refuses. The message names the file."""


@dataclass
class EstimateResult:
    log: CellLog
    result: RunResult
    metrics: SocMetrics | None
    estimator: EstimatorBase   #: the estimator make_estimator built for the cell (Estimator, SpmeEstimator) or a SohEstimator
    power: Any = None   #: cellsense.estimators.power.PowerResult when estimate(power=...) was asked

    def __repr__(self) -> str:  # one line; .log, .result, .metrics, .estimator hold the data
        m = self.metrics
        acc = (f", RMSE {100 * m.rmse:.3f} % (SOC points), outside 3 sigma {100 * m.outside_3sigma_after:.1f} %"
               if m is not None else "")
        return f"EstimateResult({len(self.log)} samples, cell {self.estimator.cell.name!r}{acc})"


def estimate(model: str, data: str | os.PathLike | CellLog, filter: str = "ekf", out: str | os.PathLike | None = None,
             initial_soc: float | None = None, dtype: str = "float64", noise: NoiseSettings | None = None,
             settings: EstimatorSettings | None = None, soh=None, state_in: str | os.PathLike | None = None,
             state_out: str | os.PathLike | None = None, power=None) -> EstimateResult:
    """Estimate SOC over a cell log; write EST.csv if `out` is given; metrics when the log has soc_true.

    soh: None / False (SOC only), True or a `cellsense.estimators.soh.SohSettings`: also track capacity and R0
    (docs/soh.md); the CSV then has capacity_Ah,capacity_sigma_Ah,r0_Ohm,r0_sigma_Ohm,ocv_shift_V (the learned
    OCV correction at the estimated SOC).
    state_in / state_out (with soh): JSON state (SOC + SOH) to continue from / to save at the end.
    With state_in the SOC is re-initialised from the log's first (rested) voltage and SOH carried; state_in
    and initial_soc together are refused (both would set the SOC).
    power: a `cellsense.estimators.power.PowerSettings`: also the discharge / charge current and power limits after every
    sample for each of its horizons (docs/power.md); the CSV gains i_dis_max_<h>s_A, i_chg_max_<h>s_A,
    p_dis_max_<h>s_W, p_chg_max_<h>s_W. Not with soh (refused).

    Nothing is written unless everything succeeded: `out` and `state_out` are written to temporary files
    beside their destinations and renamed into place together at the end (a failure leaves both files as
    they were). An output naming the same file as an input (`data`, `model`, `state_in`, also through a
    symlink or a relative path) is refused before anything is read (`OutputOverwritesInputError`); only
    `state_out` may be `state_in` (a state advanced in place)."""
    data_path = None if isinstance(data, CellLog) else data
    model_path = model if isinstance(model, (str, os.PathLike)) and os.path.isfile(model) else None
    refuse_overwriting_inputs({"--out": out, "--state-out": state_out},
                              {"--data": data_path, "--cell": model_path, "--state-in": state_in},
                              allowed=(("--state-out", "--state-in"),))
    with_soh = soh is not None and soh is not False
    if not with_soh and (state_in is not None or state_out is not None):
        raise ValueError("state_in / state_out need soh (--soh)")
    if state_in is not None and initial_soc is not None:
        raise ValueError("--initial-soc and --state-in both set the SOC: give one (with --state-in the SOC is "
                         "re-initialised from the log's first rested voltage, capacity and R0 carried)")
    saved = None
    if state_in is not None:
        saved = load_json_file(state_in, "state file", StateFileError)
    log = data if isinstance(data, CellLog) else read_cell_log(data)
    if with_soh:
        est = SohEstimator(model, filter=filter, noise=noise, settings=settings, dtype=dtype, initial_soc=initial_soc,
                           soh=soh if isinstance(soh, SohSettings) else None)
        if state_in is not None:
            try:
                est.restore_state(saved)
            except ValueError as e:
                raise StateFileError(f"{state_in}: {e}") from None
            # SOC from the first rested voltage; a trusted anchor only if the log shows the rest (docs/soh.md)
            est.start_log_from(log.time_s, log.current_A, log.voltage_V, log.temperature_degC)
    else:
        est = make_estimator(model, filter=filter, noise=noise, settings=settings, dtype=dtype, initial_soc=initial_soc)
    power_res = None
    if power is not None:
        power_res = estimate_power(est, log.time_s, log.current_A, log.voltage_V, log.temperature_degC, power)
        res = power_res.run
    else:
        res = est.run(log.time_s, log.current_A, log.voltage_V, log.temperature_degC)
    metrics = None
    if log.soc_true is not None and np.isfinite(log.soc_true).any():
        metrics = soc_metrics(log.time_s, res.soc, res.soc_sigma, log.soc_true)
    with StagedWrites() as stage:
        if out is not None:
            with stage.open(out) as f:
                _write_estimate_rows(f, res, log, power_res)
        if state_out is not None:
            import json

            with stage.open(state_out) as f:
                f.write(json.dumps(est.save_state(), indent=1) + "\n")
        stage.commit()
    return EstimateResult(log, res, metrics, est, power_res)


def write_estimate_csv(path: str | os.PathLike, res: RunResult, log: CellLog | None = None) -> None:
    """Write the estimate CSV atomically."""
    with StagedWrites() as stage:
        with stage.open(path) as f:
            _write_estimate_rows(f, res, log)
        stage.commit()


def _write_estimate_rows(f, res: RunResult, log: CellLog | None = None, power=None) -> None:
    cols = ["time_s", "soc", "soc_sigma", "voltage_pred_V", "innovation_V", "nis", "status"]
    with_truth = log is not None and log.soc_true is not None
    with_soh = getattr(res, "capacity_Ah", None) is not None  # SOH results (estimators/soh.py)
    if with_soh:
        cols += ["capacity_Ah", "capacity_sigma_Ah", "r0_Ohm", "r0_sigma_Ohm", "ocv_shift_V"]
    if with_truth:
        cols.append("soc_true")
    # SPMe results (estimators/spme.py) also carry the plating margin and the surface stoichiometries
    spme_cols = [c for c in ("anode_surface_potential_V", "negative_surface_stoichiometry",
                             "positive_surface_stoichiometry") if getattr(res, c, None) is not None]
    cols += spme_cols
    power_cols = power.columns() if power is not None else {}
    cols += list(power_cols)
    names = res.status

    def fmt(v: float) -> str:
        return repr(float(v)) if np.isfinite(v) else ""

    f.write(",".join(cols) + "\n")
    for k in range(len(res.time_s)):
        row = [fmt(res.time_s[k]), fmt(res.soc[k]), fmt(res.soc_sigma[k]), fmt(res.voltage_pred_V[k]),
               fmt(res.innovation_V[k]), fmt(res.nis[k]), names[k]]
        if with_soh:
            row += [fmt(res.capacity_Ah[k]), fmt(res.capacity_sigma_Ah[k]), fmt(res.r0_Ohm[k]),
                    fmt(res.r0_sigma_Ohm[k]), fmt(res.ocv_shift_V[k])]
        if with_truth:
            row.append(fmt(log.soc_true[k]))
        row += [fmt(getattr(res, c)[k]) for c in spme_cols]
        row += [fmt(v[k]) for v in power_cols.values()]
        f.write(",".join(row) + "\n")


def format_metrics(m: SocMetrics) -> str:
    after = f"after {m.settle_s / 60:.0f} min"
    if not (np.isfinite(m.max_abs_after) and np.isfinite(m.outside_3sigma_after)):  # no sample after the settle time
        return f"SOC RMSE {100 * m.rmse:.3f} %  |  no samples {after} (the log is shorter): no settled figures"
    return (f"SOC RMSE {100 * m.rmse:.3f} %  |  max |error| {after} {100 * m.max_abs_after:.3f} %  |  "
            f"|error| > 3 sigma {after}: {100 * m.outside_3sigma_after:.2f} % of samples")


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
    out = sign_warnings(r) + rejection_warnings(r) + temperature_warnings(r)
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


def plot_estimate(r: EstimateResult, path, title: str | None = None) -> str:
    """Write a PNG (or any matplotlib format by the suffix): SOC estimate with its 3-sigma band and the truth,
    the error with the 3-sigma band (when the log has soc_true), and the voltage innovation with its
    3-sigma band (3 sqrt(S)). Needs matplotlib (pip install 'cellsense[sim]')."""
    require("matplotlib", "cellsense estimate --plot", "estimate")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res, log = r.result, r.log
    t_h = (np.asarray(res.time_s, float) - float(res.time_s[0])) / 3600.0
    soc, sig = 100 * np.asarray(res.soc, float), 100 * np.asarray(res.soc_sigma, float)
    truth = None if log.soc_true is None else 100 * np.asarray(log.soc_true, float)
    n = 3 if truth is not None else 2
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.6 * n + 0.6), sharex=True)
    ax = axes[0]
    ax.fill_between(t_h, soc - 3 * sig, soc + 3 * sig, color="C0", alpha=0.25, lw=0, label="estimate +- 3 sigma")
    ax.plot(t_h, soc, color="C0", lw=1.0, label="SOC estimate")
    if truth is not None:
        ax.plot(t_h, truth, color="k", lw=0.9, ls="--", label="SOC truth")
    ax.set_ylabel("SOC (%)")
    ax.set_ylim(-5, 105)  # the start-up sigma would otherwise set the scale
    ax.legend(loc="upper right", fontsize=8)
    late = t_h >= t_h[0] + 600.0 / 3600.0
    if not late.any():
        late = np.ones_like(t_h, bool)

    def _lim(*arrays):
        v = np.concatenate([np.abs(a[np.isfinite(a)]) for a in arrays] or [np.zeros(1)])
        return 1.15 * float(v.max()) if v.size and v.max() > 0 else 1.0
    k = 1
    if truth is not None:
        ax = axes[k]
        ax.fill_between(t_h, -3 * sig, 3 * sig, color="C1", alpha=0.25, lw=0, label="+- 3 sigma")
        ax.plot(t_h, soc - truth, color="C1", lw=0.9, label="error (estimate - truth)")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_ylim(-_lim(soc - truth, 3 * sig[late]), _lim(soc - truth, 3 * sig[late]))
        ax.set_ylabel("SOC error (points)")
        ax.legend(loc="upper right", fontsize=8)
        k += 1
    ax = axes[k]
    innov = 1000 * np.asarray(res.innovation_V, float)
    band = 3000 * np.sqrt(np.asarray(res.innovation_variance_V2, float))
    ax.fill_between(t_h, -band, band, color="C2", alpha=0.25, lw=0, label="+- 3 sqrt(S)")
    ax.plot(t_h, innov, color="C2", lw=0.6, label="voltage innovation (measured - predicted)")
    ax.axhline(0.0, color="k", lw=0.5)
    lim = _lim(np.array([np.nanpercentile(np.abs(innov), 99.9) if np.isfinite(innov).any() else 0.0]),
               np.array([np.nanmax(band[late]) if np.isfinite(band[late]).any() else 0.0]))
    ax.set_ylim(-lim, lim)
    ax.set_ylabel("innovation (mV)")
    ax.set_xlabel("time (h)")
    ax.legend(loc="upper right", fontsize=8)
    m = r.metrics
    head = title or f"{r.estimator.cell.name}: {len(log)} samples"
    if m is not None:
        head += (f" | RMSE {100 * m.rmse:.3f} %, truth outside 3 sigma {100 * m.outside_3sigma_after:.1f} % "
                 f"after {m.settle_s / 60:.0f} min")
    fig.suptitle(head, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
