"""`cellsense estimate`: run the estimator over a cell log and write the estimate CSV."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import status as _status
from .._io import StagedWrites, load_json_file, refuse_overwriting_inputs, require
from ..estimators.base import EstimatorBase, RunResult, make_estimator
from ..estimators.power import estimate_power
from ..estimators.settings import EstimatorSettings, NoiseSettings
from ..estimators.soh import SohEstimator, SohSettings
from ..io.logs import CellLog, read_cell_log
from .metrics import SocMetrics, soc_metrics


#: the statuses of a sample whose step the estimator took (fused, fused after a gate timeout, predicted only, stepped
#: predict-only in a stuck voltage reading); every other sample left the state as it was or only set the clock
ACCEPTED_STATUSES = (_status.FUSED, _status.FUSED_GATE_TIMEOUT, _status.PREDICTED_ONLY, _status.VOLTAGE_STUCK)


class NoAcceptedSampleError(ValueError):
    """estimate(state_out=...) over a log in which the estimator accepted no sample (e.g. every temperature outside
    the cell's range): the state is not written (nothing is), as it would be saved as if the log had been
    estimated. The CLI exits 2."""


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
             state_out: str | os.PathLike | None = None, power=None, plot: str | os.PathLike | None = None,
             plot_title: str | None = None) -> EstimateResult:
    """Estimate SOC over a cell log; write EST.csv if `out` is given; metrics when the log has soc_true.

    soh: None / False (SOC only), True or a `cellsense.estimators.soh.SohSettings`: also track capacity and R0
    (docs/soh.md); the CSV then has capacity_Ah,capacity_sigma_Ah,r0_Ohm,r0_sigma_Ohm,ocv_shift_V (the learned
    OCV correction at the estimated SOC).
    state_in / state_out (with soh): JSON state (SOC + SOH) to continue from / to save at the end.
    With state_in the SOC is re-initialised from the log's first (rested) voltage and SOH carried; state_in
    and initial_soc together are refused (both would set the SOC). With state_out, a log in which no sample was
    accepted (every one rejected, e.g. out of the cell's temperature range) raises NoAcceptedSampleError
    (ValueError) and writes nothing.
    power: a `cellsense.estimators.power.PowerSettings`: also the discharge / charge current and power limits after every
    sample for each of its horizons (docs/power.md); the CSV gains i_dis_max_<h>s_A, i_chg_max_<h>s_A,
    p_dis_max_<h>s_W, p_chg_max_<h>s_W. Not with soh (refused).

    plot: also the figure of `plot_estimate` (format by the suffix; title `plot_title`, by default the data file,
    the filter and the cell).
    Nothing is written unless everything succeeded: `out`, `state_out` and `plot` are written to temporary files
    beside their destinations and renamed into place together at the end (a failure, e.g. a plot format matplotlib
    does not know or a destination that is a directory, leaves every file as it was). An output naming the same file as an input (`data`, `model`, `state_in`, also through a
    symlink or a relative path) is refused before anything is read (`OutputOverwritesInputError`); only
    `state_out` may be `state_in` (a state advanced in place)."""
    data_path = None if isinstance(data, CellLog) else data
    model_path = model if isinstance(model, (str, os.PathLike)) and os.path.isfile(model) else None
    refuse_overwriting_inputs({"--out": out, "--state-out": state_out, "--plot": plot},
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
    result = EstimateResult(log, res, metrics, est, power_res)
    if state_out is not None and not np.isin(res.status_code, ACCEPTED_STATUSES).any():
        seen = ", ".join(f"{k} {v}" for k, v in sorted(res.counts().items())) or "no samples"
        raise NoAcceptedSampleError(
            f"{data_path if data_path is not None else 'the log'}: the estimator accepted no sample ({seen}): "
            f"--state-out {state_out} not written (a state that saw no accepted sample would be saved as if the log "
            "had been estimated), nor any other output; check the log's temperature, voltage and current columns "
            "against the cell's ranges")
    with StagedWrites() as stage:
        if out is not None:
            with stage.open(out, label="--out") as f:
                _write_estimate_rows(f, res, log, power_res)
        if state_out is not None:
            import json

            with stage.open(state_out, label="--state-out") as f:
                f.write(json.dumps(est.save_state(), indent=1) + "\n")
        if plot is not None:
            if plot_title is None and data_path is not None:
                plot_title = f"{data_path}: {filter.upper()}, cell {est.cell.name}"
            with stage.open(plot, "wb", label="--plot") as f:
                plot_estimate(result, plot, title=plot_title, file=f)
        stage.commit()
    return result


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
            f"|error| > 3 sigma {after}: {100 * m.outside_3sigma_after:.2f} % of samples  |  NEES {after} "
            f"{m.nees_after:.2f} (1: an honest band; < 0.2 too wide, > 3 too narrow; docs/metrics.md)")


# The log checks live in log_checks.py; their names stay importable from here.
from .log_checks import (  # noqa: E402,F401
    SELF_CHECK_MEAN_NIS, SELF_CHECK_OUTSIDE_3SIGMA, SELF_CHECK_SHARE, current_sign_warning, current_skew_warning,
    rejection_warnings, self_check, sign_warnings, temperature_warnings, time_scale_warnings)


def plot_estimate(r: EstimateResult, path, title: str | None = None, file=None) -> str:
    """Write a PNG (or any matplotlib format by the suffix): SOC estimate with its 3-sigma band and the truth,
    the error with the 3-sigma band (when the log has soc_true), and the voltage innovation with its
    3-sigma band (3 sqrt(S)). Needs matplotlib (pip install 'cellsense[sim]'). `file`: a binary file object to
    write instead of `path` (the format still from `path`'s suffix; `estimate(plot=...)` stages it)."""
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
    try:
        if file is None:
            fig.savefig(path, dpi=110)
        else:
            fmt = os.path.splitext(str(path))[1][1:].lower() or "png"
            fig.savefig(file, dpi=110, format=fmt)
    finally:
        plt.close(fig)
    return str(path)
