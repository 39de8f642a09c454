"""A PyBaMM truth as a cell log: SimResult (the columns, the sidecar metadata, extra per-row truth columns)
and its CSV + JSON sidecar on disk."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .._io import StagedWrites
from ..io.logs import REQUIRED as CSV_COLUMNS
from ..io.logs import log_lines, read_log

#: the printf format of each column of a truth's CSV; EXTRA_FORMAT: each of SimResult.extra's columns
TRUTH_FORMATS = {"time_s": "%.12g", "current_A": "%.10g", "voltage_V": "%.10g", "temperature_degC": "%.8g",
                 "soc_true": "%.12g"}
EXTRA_FORMAT = "%.10g"


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

    def columns(self) -> dict[str, np.ndarray]:
        """The log's columns in file order: the four cell-log columns, soc_true (if any), then `extra`."""
        cols = {"time_s": self.time_s, "current_A": self.current_A, "voltage_V": self.voltage_V,
                "temperature_degC": self.temperature_degC}
        if self.soc_true is not None:
            cols["soc_true"] = self.soc_true
        clash = [k for k in self.extra if k in cols or k == "soc_true"]
        if clash:
            raise ValueError(f"SimResult.extra: column(s) {', '.join(clash)} would repeat a cell-log column")
        cols.update(self.extra)
        return cols

    def to_csv(self, path, sidecar: bool = True) -> Path:
        """Write the cell log (the lines of io.logs.write_log: TRUTH_FORMATS, EXTRA_FORMAT) and ``<path>.json`` sidecar
        with ``meta`` all-or-nothing (`StagedWrites`: both staged, then renamed into place; a failure, e.g. a
        directory where the sidecar goes, leaves neither)."""
        path = Path(path)
        lines = log_lines(self.columns(), {**{k: EXTRA_FORMAT for k in self.extra}, **TRUTH_FORMATS}, path)
        with StagedWrites() as staged:
            if sidecar:  # checked first: a sidecar that cannot be written fails before the long CSV is written
                meta = dict(self.meta)
                meta["log file"] = path.name
                meta["rows"] = int(len(self.time_s))
                with staged.open(sidecar_path(path), label="the sidecar of --out") as fh:
                    fh.write(json.dumps(jsonable(meta), indent=2) + "\n")
            with staged.open(path, label="--out") as fh:
                fh.writelines(lines)
            staged.commit()
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
