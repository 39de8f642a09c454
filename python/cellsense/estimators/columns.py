"""A log's columns in and the run's columns out: the array rules every estimator's run() shares (numpy arrays in,
numpy arrays out; docs/estimator.md)."""
from __future__ import annotations

from typing import Any

import numpy as np


def _column(name: str, a) -> np.ndarray:
    """One log column as float64: a masked array's masked samples become NaN (rejected per step, not used); a
    datetime64 time column becomes seconds since the epoch and a timedelta64 one seconds (their raw ticks are
    ns, ms or us: stepped as seconds they would be rejected or counted 1e3-1e9 times over); complex values are
    refused (TypeError naming the column) instead of losing their imaginary part."""
    if isinstance(a, np.ma.MaskedArray):
        a = np.ma.filled(a.astype(np.float64), np.nan)
    arr = np.asarray(a)
    if arr.dtype.kind == "M":
        if name != "time_s":
            raise TypeError(f"{name}: expected numbers, got datetime64 values")
        arr = (arr - np.datetime64(0, "s")) / np.timedelta64(1, "s")
    elif arr.dtype.kind == "m":
        if name != "time_s":
            raise TypeError(f"{name}: expected numbers, got timedelta64 values")
        arr = arr / np.timedelta64(1, "s")
    elif arr.dtype.kind == "c":
        raise TypeError(f"{name}: complex values are not a cell reading")
    return np.ascontiguousarray(arr, dtype=np.float64)


def log_arrays(time_s, current_A, voltage_V, temperature_degC) -> list[np.ndarray]:
    """A log's four columns as contiguous float64 arrays (`_column`: masked samples NaN, datetime64 / timedelta64
    time in seconds); ValueError naming a column that is not 1-D or not as long as time_s."""
    arrays = [_column(n, a) for n, a in zip(("time_s", "current_A", "voltage_V", "temperature_degC"),
                                            (time_s, current_A, voltage_V, temperature_degC))]
    n = arrays[0].shape
    for name, a in zip(("time_s", "current_A", "voltage_V", "temperature_degC"), arrays):
        if a.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array, got shape {a.shape}")
        if a.shape != n:
            raise ValueError(f"{name}: length {a.shape[0]} differs from time_s length {n[0]}")
    return arrays


def first_finite_reading(arrays: list[np.ndarray]) -> tuple[float, float] | None:
    """(voltage, temperature) of the log's first sample where both are finite (the rested start an
    estimator without an initial SOC initialises from), or None."""
    ok = np.nonzero(np.isfinite(arrays[2]) & np.isfinite(arrays[3]))[0]
    return (float(arrays[2][ok[0]]), float(arrays[3][ok[0]])) if ok.size else None


def run_columns(time_s: np.ndarray, out: dict, status_names: dict[int, str]) -> dict[str, Any]:
    """The RunResult fields from a core run() dict."""
    return {"time_s": np.array(time_s, dtype=np.float64, copy=True), "soc": out["soc"], "soc_sigma": out["soc_sigma"], "voltage_pred_V": out["voltage_pred_V"],
            "innovation_V": out["innovation_V"], "innovation_variance_V2": out["innovation_variance_V2"],
            "nis": out["nis"], "status_code": out["status"], "status_names": status_names}
