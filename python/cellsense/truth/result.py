"""A PyBaMM truth as a cell log: SimResult (the columns, the sidecar metadata, extra per-row truth columns)
and its CSV + JSON sidecar on disk."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .._io import write_atomically
from ..io.logs import REQUIRED as CSV_COLUMNS
from ..io.logs import read_log


# ----------------------------------------------------------------------------------------------
# Result container and cell-log I/O
# ----------------------------------------------------------------------------------------------
@dataclass
class SimResult:
    time_s: np.ndarray
    current_A: np.ndarray
    voltage_V: np.ndarray
    temperature_degC: np.ndarray
    soc_true: Optional[np.ndarray]
    meta: dict = field(default_factory=dict)
    #: further per-row columns written after soc_true (the aging protocol: capacity_true_Ah, r0_ref_Ohm)
    extra: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.time_s)

    def __repr__(self) -> str:  # one line; the sidecar is in .meta
        m = self.meta or {}
        what = " ".join(str(m[k]) for k in ("parameter set", "model", "protocol") if m.get(k) is not None)
        span = (float(self.time_s[-1] - self.time_s[0]) / 3600.0) if len(self.time_s) else 0.0
        return (f"SimResult({what or 'log'}, {len(self)} rows, {span:.2f} h"
                + (f", {m['temperature [degC]']:g} degC" if isinstance(m.get("temperature [degC]"), (int, float)) else "")
                + (", soc_true" if self.soc_true is not None else "") + (f", +{', '.join(self.extra)}" if self.extra else "")
                + (", sensor applied" if m.get("sensor") else "") + ")")

    def to_csv(self, path, sidecar: bool = True) -> Path:
        """Write the cell log (and ``<path>.json`` sidecar with ``meta``) atomically."""
        path = Path(path)
        cols = [self.time_s, self.current_A, self.voltage_V, self.temperature_degC]
        header = list(CSV_COLUMNS)
        fmts = ["%.12g", "%.10g", "%.10g", "%.8g"]
        if self.soc_true is not None:
            cols.append(self.soc_true)
            header.append("soc_true")
            fmts.append("%.12g")
        for name, col in self.extra.items():
            cols.append(col)
            header.append(name)
            fmts.append("%.10g")
        data = np.column_stack([np.asarray(c, dtype=float) for c in cols])
        write_atomically(path, lambda fh: np.savetxt(fh, data, fmt=fmts, delimiter=",",
                                                   header=",".join(header), comments=""))
        if sidecar:
            meta = dict(self.meta)
            meta["log file"] = path.name
            meta["rows"] = int(len(self.time_s))
            text = json.dumps(jsonable(meta), indent=2) + "\n"
            write_atomically(sidecar_path(path), lambda fh: fh.write(text))
        return path

    @classmethod
    def from_csv(cls, path) -> "SimResult":
        d = read_log(path)
        meta = {}
        sc = sidecar_path(path)
        if sc.exists():
            with open(sc) as fh:
                meta = json.load(fh)
        extra = {k: v for k, v in d.items() if k not in CSV_COLUMNS and k != "soc_true"}
        return cls(d["time_s"], d["current_A"], d["voltage_V"], d["temperature_degC"],
                   d.get("soc_true"), meta, extra)


def sidecar_path(log_path) -> Path:
    """The sidecar of ``LOG.csv`` is ``LOG.csv.json`` (same directory)."""
    p = Path(log_path)
    return p.with_name(p.name + ".json")


def jsonable(x):
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
