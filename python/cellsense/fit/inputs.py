"""What fitting accepts as a log (a CSV path, a log object, a dict of columns, an n x 4/5 array) as the dict of
columns the fitting functions use."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..io.logs import COLUMNS, incomplete, read_log


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
#: the columns of a cell log, in the order a plain 2-D array gives them (docs/fitting.md, "Inputs"): io.logs.COLUMNS
LOG_COLUMNS = COLUMNS


def _log_arrays(src, what: str) -> tuple[dict, str]:
    """The columns of a cell log given as a log object, a mapping or an array, and a name for it (the
    file stem of its source if it has one, else `what`). Raises TypeError / ValueError naming `what`."""
    cols: dict = {}
    name = what
    if isinstance(src, np.ndarray) and src.dtype.names:  # a structured array: the fields by name
        missing = [c for c in LOG_COLUMNS[:4] if c not in src.dtype.names]
        if missing:
            raise ValueError(f"{what}: structured array lacks field(s) {missing} (has {list(src.dtype.names)})")
        cols = {c: src[c] for c in LOG_COLUMNS if c in src.dtype.names}
    elif isinstance(src, np.ndarray) or (isinstance(src, (list, tuple)) and src and isinstance(src[0], (list, tuple, np.ndarray))):
        a = np.asarray(src)
        if a.ndim != 2 or a.shape[1] not in (4, 5):
            raise ValueError(f"{what}: an array must be n x 4 or n x 5, columns {', '.join(LOG_COLUMNS[:4])}"
                             f"[, soc_true] (current + = discharge); got shape {a.shape}")
        cols = {c: a[:, j] for j, c in enumerate(LOG_COLUMNS[:a.shape[1]])}
    elif all(hasattr(src, c) for c in LOG_COLUMNS[:4]):  # cellsense.io.logs.CellLog, SimResult, realdata logs
        cols = {c: getattr(src, c) for c in LOG_COLUMNS if getattr(src, c, None) is not None}
        source = getattr(src, "source", None)
        meta = getattr(src, "meta", None) or {}
        if isinstance(source, str) and source and not source.startswith("<"):
            name = Path(source).name
        elif isinstance(meta, dict) and meta.get("log file"):
            name = str(meta["log file"])
        elif isinstance(meta, dict) and meta.get("protocol"):
            name = " ".join(str(meta[k]) for k in ("parameter set", "model", "protocol") if meta.get(k)) + \
                (f" {meta['temperature [degC]']:g} degC" if isinstance(meta.get("temperature [degC]"), (int, float)) else "")
    elif hasattr(src, "keys") and hasattr(src, "__getitem__"):  # a dict of columns (read_log's), a DataFrame
        keys = set(src.keys())
        missing = [c for c in LOG_COLUMNS[:4] if c not in keys]
        if missing:
            raise ValueError(f"{what}: mapping lacks column(s) {missing} (has {sorted(map(str, keys))})")
        cols = {c: src[c] for c in LOG_COLUMNS if c in keys and src[c] is not None}
    else:
        raise TypeError(f"{what}: expected a cell-log CSV path, a cell log (cellsense.io.logs.read_cell_log, "
                        f"cellsense.truth.simulate), a dict of columns or an n x 4/5 array ({', '.join(LOG_COLUMNS)}); "
                        f"got {type(src).__name__}")
    out = {}
    n = None
    for c, v in cols.items():
        try:
            arr = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: column {c} is not numeric") from None
        if arr.ndim == 0:
            arr = np.full(n if n is not None else 1, float(arr)) if c == "temperature_degC" else arr.reshape(1)
        if arr.ndim != 1:
            raise ValueError(f"{what}: column {c} must be one-dimensional, got shape {arr.shape}")
        if n is None:
            n = len(arr)
        elif len(arr) != n:
            raise ValueError(f"{what}: column {c} has {len(arr)} values, time_s has {n}")
        out[c] = arr
    issue = incomplete(out)  # the complete-log rule read_log applies to a file
    if issue is not None:
        kind, row, c = issue
        if kind == "rows":
            raise ValueError(f"{what}: needs at least 2 samples, has {row}")
        if kind == "nonfinite":
            raise ValueError(f"{what}: row {row}: non-finite {c} ({out[c][row]!r}); a fit needs every sample "
                             f"(drop or fill the gaps first)")
        raise ValueError(f"{what}: row {row}: time_s not strictly increasing")
    return out, name


def _load(path, what: str | None = None) -> dict:
    """A cell log for the fit as a dict of columns with "path" (its name in messages and provenance), "dt"
    and "Ah". `path`: a cell-log CSV path, or a log object / mapping / array (`_log_arrays`); `what` names the
    argument in errors (e.g. "hppc_csvs[1]")."""
    if isinstance(path, (str, os.PathLike)):
        try:
            d = read_log(path)
        except ValueError as e:
            raise ValueError(f"{what}: {e}" if what else str(e)) from None
        d["path"] = str(path)
    else:
        d, name = _log_arrays(path, what or "log")
        d["path"] = name
    t = d["time_s"]
    d["dt"] = np.r_[0.0, np.diff(t)]
    d["Ah"] = np.cumsum(d["current_A"] * d["dt"]) / 3600.0  # piecewise-constant rule, row 0 excluded
    return d
