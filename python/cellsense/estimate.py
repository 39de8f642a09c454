"""`cellsense estimate`: run the estimator over a cell log and write the estimate CSV."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ._io import atomic_write
from .estimator import Estimator, EstimatorSettings, NoiseSettings, RunResult
from .logs import CellLog, read_cell_log
from .metrics import SocMetrics, soc_metrics


@dataclass
class EstimateResult:
    log: CellLog
    result: RunResult
    metrics: SocMetrics | None
    estimator: Estimator


def estimate(model: str, data: str | os.PathLike | CellLog, filter: str = "ekf", out: str | os.PathLike | None = None,
             initial_soc: float | None = None, dtype: str = "float64", noise: NoiseSettings | None = None,
             settings: EstimatorSettings | None = None) -> EstimateResult:
    """Estimate SOC over a cell log; write EST.csv if `out` is given; metrics when the log has soc_true."""
    log = data if isinstance(data, CellLog) else read_cell_log(data)
    est = Estimator(model, filter=filter, noise=noise, settings=settings, dtype=dtype, initial_soc=initial_soc)
    res = est.run(log.time_s, log.current_A, log.voltage_V, log.temperature_degC)
    metrics = None
    if log.soc_true is not None and np.isfinite(log.soc_true).any():
        metrics = soc_metrics(log.time_s, res.soc, res.soc_sigma, log.soc_true)
    if out is not None:
        write_estimate_csv(out, res, log)
    return EstimateResult(log, res, metrics, est)


def write_estimate_csv(path: str | os.PathLike, res: RunResult, log: CellLog | None = None) -> None:
    cols = ["time_s", "soc", "soc_sigma", "voltage_pred_V", "innovation_V", "nis", "status"]
    with_truth = log is not None and log.soc_true is not None
    if with_truth:
        cols.append("soc_true")
    names = res.status

    def fmt(v: float) -> str:
        return repr(float(v)) if np.isfinite(v) else ""

    with atomic_write(path) as f:
        f.write(",".join(cols) + "\n")
        for k in range(len(res.time_s)):
            row = [fmt(res.time_s[k]), fmt(res.soc[k]), fmt(res.soc_sigma[k]), fmt(res.voltage_pred_V[k]),
                   fmt(res.innovation_V[k]), fmt(res.nis[k]), names[k]]
            if with_truth:
                row.append(fmt(log.soc_true[k]))
            f.write(",".join(row) + "\n")


def format_metrics(m: SocMetrics) -> str:
    return (f"SOC RMSE {100 * m.rmse:.3f} %  |  max |error| after {m.settle_s / 60:.0f} min {100 * m.max_abs_after:.3f} %  |  "
            f"|error| > 3 sigma after {m.settle_s / 60:.0f} min: {100 * m.outside_3sigma_after:.2f} % of samples")
