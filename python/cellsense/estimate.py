"""`cellsense estimate`: run the estimator over a cell log and write the estimate CSV."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ._io import StagedWrites, load_json_file, refuse_overwriting_inputs
from .estimator import Estimator, EstimatorSettings, NoiseSettings, RunResult
from .logs import CellLog, read_cell_log
from .metrics import SocMetrics, soc_metrics


class StateFileError(ValueError):
    """A saved state file (--state-in) cannot be used: unreadable, invalid JSON, or a state the estimator
    refuses. The message names the file."""


@dataclass
class EstimateResult:
    log: CellLog
    result: RunResult
    metrics: SocMetrics | None
    estimator: Estimator

    def __repr__(self) -> str:  # one line; .log, .result, .metrics, .estimator hold the data
        m = self.metrics
        acc = (f", RMSE {100 * m.rmse:.3f} % (SOC points), outside 3 sigma {100 * m.outside_3sigma_after:.1f} %"
               if m is not None else "")
        return f"EstimateResult({len(self.log)} samples, cell {self.estimator.cell.name!r}{acc})"


def estimate(model: str, data: str | os.PathLike | CellLog, filter: str = "ekf", out: str | os.PathLike | None = None,
             initial_soc: float | None = None, dtype: str = "float64", noise: NoiseSettings | None = None,
             settings: EstimatorSettings | None = None, soh=None, state_in: str | os.PathLike | None = None,
             state_out: str | os.PathLike | None = None) -> EstimateResult:
    """Estimate SOC over a cell log; write EST.csv if `out` is given; metrics when the log has soc_true.

    soh: None / False (SOC only), True or a `cellsense.soh.SohSettings`: also track capacity and R0
    (docs/soh.md); the CSV then has capacity_Ah,capacity_sigma_Ah,r0_Ohm,r0_sigma_Ohm,ocv_shift_V (the learned
    OCV correction at the estimated SOC).
    state_in / state_out (with soh): JSON state (SOC + SOH) to continue from / to save at the end.
    With state_in the SOC is re-initialised from the log's first (rested) voltage and SOH carried; state_in
    and initial_soc together are refused (both would set the SOC).

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
        from .soh import SohEstimator, SohSettings

        est = SohEstimator(model, filter=filter, noise=noise, settings=settings, dtype=dtype, initial_soc=initial_soc,
                           soh=soh if isinstance(soh, SohSettings) else None)
        if state_in is not None:
            try:
                est.restore_state(saved)
            except ValueError as e:
                raise StateFileError(f"{state_in}: {e}") from None
            ok = np.flatnonzero(np.isfinite(log.voltage_V) & np.isfinite(log.temperature_degC))
            if ok.size:
                est.start_log(log.voltage_V[ok[0]], log.temperature_degC[ok[0]])
    else:
        est = Estimator(model, filter=filter, noise=noise, settings=settings, dtype=dtype, initial_soc=initial_soc)
    res = est.run(log.time_s, log.current_A, log.voltage_V, log.temperature_degC)
    metrics = None
    if log.soc_true is not None and np.isfinite(log.soc_true).any():
        metrics = soc_metrics(log.time_s, res.soc, res.soc_sigma, log.soc_true)
    with StagedWrites() as stage:
        if out is not None:
            with stage.open(out) as f:
                _write_estimate_rows(f, res, log)
        if state_out is not None:
            import json

            with stage.open(state_out) as f:
                f.write(json.dumps(est.save_state(), indent=1) + "\n")
        stage.commit()
    return EstimateResult(log, res, metrics, est)


def write_estimate_csv(path: str | os.PathLike, res: RunResult, log: CellLog | None = None) -> None:
    """Write the estimate CSV atomically."""
    with StagedWrites() as stage:
        with stage.open(path) as f:
            _write_estimate_rows(f, res, log)
        stage.commit()


def _write_estimate_rows(f, res: RunResult, log: CellLog | None = None) -> None:
    cols = ["time_s", "soc", "soc_sigma", "voltage_pred_V", "innovation_V", "nis", "status"]
    with_truth = log is not None and log.soc_true is not None
    with_soh = getattr(res, "capacity_Ah", None) is not None  # SOH results (soh.py)
    if with_soh:
        cols += ["capacity_Ah", "capacity_sigma_Ah", "r0_Ohm", "r0_sigma_Ohm", "ocv_shift_V"]
    if with_truth:
        cols.append("soc_true")
    # SPMe results (spme.py) also carry the plating margin and the surface stoichiometries
    spme_cols = [c for c in ("anode_surface_potential_V", "negative_surface_stoichiometry",
                             "positive_surface_stoichiometry") if getattr(res, c, None) is not None]
    cols += spme_cols
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
        f.write(",".join(row) + "\n")


def format_metrics(m: SocMetrics) -> str:
    return (f"SOC RMSE {100 * m.rmse:.3f} %  |  max |error| after {m.settle_s / 60:.0f} min {100 * m.max_abs_after:.3f} %  |  "
            f"|error| > 3 sigma after {m.settle_s / 60:.0f} min: {100 * m.outside_3sigma_after:.2f} % of samples")
