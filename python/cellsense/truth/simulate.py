"""Ground-truth cell logs from PyBaMM (``cellsense simulate``).

A protocol is turned into a piecewise-constant current on a uniform sample grid: the current of
row k is the current held over (t_{k-1}, t_k] (row 0 is at rest, current 0).  PyBaMM is given that
exact current (an interpolant whose only kinks are at grid points, all passed to the solver as
breakpoints), so coulomb counting of the logged current reproduces PyBaMM's own
"Discharge capacity [A.h]" and therefore ``soc_true``:

    soc_true(t) = initial_soc - Q_dis(t) / Q_ref

with Q_dis PyBaMM's "Discharge capacity [A.h]" (integral of the current, 0 at t = 0) and Q_ref the
cell's capacity between its own voltage cut-offs, from the electrode stoichiometry windows (PyBaMM's
electrode state-of-health solver): the capacity PyBaMM's initial_soc is defined on, so 0 <= soc_true
<= 1 spans the usable capacity.  C-rates stay relative to the nominal capacity.  See docs/truth.md.

pybamm / scipy are imported inside functions only.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import sys
import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .._io import Progress, atomic_write, require
from .sensor import SensorModel

CACHE_FORMAT = 4  # bump when the truth generation changes
RTOL = 1e-5
RAMP_S = 1e-3  # current ramp at each change of the applied current (see _pybamm_solve)
ATOL = 1e-7
MODELS = ("DFN", "SPMe", "SPM")
DRIVE_CYCLES = ("udds", "us06", "hwfet", "wltc")
PROTOCOLS = ("cc", "ocv", "ocv-discharge", "ocv-charge", "hppc") + DRIVE_CYCLES + ("aging",)
DEFAULT_PEAK_C_RATE = {"udds": 3.0, "us06": 3.0, "hwfet": 2.0, "wltc": 3.0}
WLTC_NOMINAL_VOLTAGE_V = 3.6
CSV_COLUMNS = ("time_s", "current_A", "voltage_V", "temperature_degC")
SOC_DEFINITION = (
    "soc_true = initial_soc - Q_dis / Q_ref, where Q_dis is PyBaMM's 'Discharge capacity [A.h]' "
    "(time integral of the applied current, positive = discharge, 0 at t = 0) and Q_ref is the cell's "
    "capacity between the parameter set's own voltage cut-offs from its electrode stoichiometry "
    "windows (PyBaMM ElectrodeSOHSolver, 'reference capacity [A.h]' in this sidecar; the parameter "
    "set's 'Nominal cell capacity [A.h]' only if that solve fails). The applied current is piecewise "
    "constant on the sample grid (row k's current is held over (t_{k-1}, t_k]), so "
    "initial_soc - sum_k current_A[k] * (t_k - t_{k-1}) / (3600 * Q_ref) reproduces soc_true. "
    "initial_soc is PyBaMM's initial state of charge (set_initial_state: stoichiometry interpolated "
    "between the same windows), so soc_true 1 / 0 is the rested cell at the upper / lower cut-off."
)


@functools.lru_cache(maxsize=None)
def reference_capacity(cell: str) -> tuple[float, str]:
    """(Q_ref [A.h], how): the parameter set's capacity between its own voltage cut-offs, from its
    electrode stoichiometry windows (PyBaMM's electrode SOH solver; Mohtat et al., J. Electrochem.
    Soc. 166 (2019) A3245). This is the capacity PyBaMM's initial_soc is defined on; a parameter set's
    'Nominal cell capacity [A.h]' can differ from it by tens of percent (Marquis2019: 0.681 vs 0.873 Ah),
    which would put a nominal-scale SOC far outside 0..1. Falls back to the nominal capacity."""
    import pybamm

    pv = pybamm.ParameterValues(cell)
    q_nom = float(pv["Nominal cell capacity [A.h]"])
    try:
        param = pybamm.LithiumIonParameters()
        esoh = pybamm.lithium_ion.ElectrodeSOHSolver(pv, param=param)
        sol = esoh.solve({"V_min": float(pv["Lower voltage cut-off [V]"]), "V_max": float(pv["Upper voltage cut-off [V]"]),
                          "Q_n": float(pv.evaluate(param.n.Q_init)), "Q_p": float(pv.evaluate(param.p.Q_init)),
                          "Q_Li": float(pv.evaluate(param.Q_Li_particles_init))})
        q = float(sol["Q"])
        if math.isfinite(q) and q > 0:
            return q, f"PyBaMM {pybamm.__version__} ElectrodeSOHSolver between the parameter set's cut-offs"
    except Exception as e:  # composite / half-cell sets: the nominal capacity is the best we have
        return q_nom, f"nominal capacity (electrode SOH solve failed: {type(e).__name__})"
    return q_nom, "nominal capacity (electrode SOH gave no positive capacity)"


def _rescale_soc_true(truth: dict, meta: dict, cell: str, soc0: float, q_ref_how=None) -> None:
    """Cached truths store soc_true on the nominal scale (CACHE_FORMAT 4); put it on Q_ref (in place).
    ``q_ref_how``: (Q_ref, how) already known (a shipped truth's provenance: no PyBaMM needed)."""
    q_nom = float(meta["nominal capacity [A.h]"])
    q_ref, how = q_ref_how if q_ref_how is not None else reference_capacity(cell)
    truth["soc_true"] = soc0 - (soc0 - np.asarray(truth["soc_true"], float)) * (q_nom / q_ref)
    t, i = truth["time_s"], truth["current_A"]
    cc = soc0 - np.r_[0.0, np.cumsum(i[1:] * np.diff(t))] / 3600.0 / q_ref
    meta["reference capacity [A.h]"] = q_ref
    meta["reference capacity source"] = how
    meta["soc_true definition"] = SOC_DEFINITION
    meta["soc_true coulomb-counting max abs difference"] = float(np.max(np.abs(cc - truth["soc_true"])))


def _data_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "drive_cycles"


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
        _atomic_write(path, lambda fh: np.savetxt(fh, data, fmt=fmts, delimiter=",",
                                                   header=",".join(header), comments=""))
        if sidecar:
            meta = dict(self.meta)
            meta["log file"] = path.name
            meta["rows"] = int(len(self.time_s))
            text = json.dumps(_jsonable(meta), indent=2) + "\n"
            _atomic_write(sidecar_path(path), lambda fh: fh.write(text))
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


def read_log(path) -> dict:
    """Read a cell-log CSV into a dict of float arrays; validates header, values and time order."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: file not found")
    with open(path) as fh:
        header_line = fh.readline()
        while header_line.startswith("#"):
            header_line = fh.readline()
    names = [h.strip() for h in header_line.strip().split(",")]
    missing = [c for c in CSV_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"{path}: line 1: header {names} lacks column(s) {missing} "
                         f"(expected {','.join(CSV_COLUMNS)}[,soc_true])")
    try:
        arr = np.loadtxt(path, delimiter=",", skiprows=1, comments="#", ndmin=2)
    except ValueError as e:
        raise ValueError(f"{path}: cannot parse numeric data: {e}") from None
    if arr.shape[0] < 2:
        raise ValueError(f"{path}: needs at least 2 data rows, has {arr.shape[0]}")
    if arr.shape[1] != len(names):
        raise ValueError(f"{path}: {arr.shape[1]} columns in the data but {len(names)} in the header")
    out = {}
    for j, n in enumerate(names):
        col = arr[:, j]
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            raise ValueError(f"{path}: line {bad[0] + 2}: non-finite value in column {n!r}")
        out[n] = col
    dt = np.diff(out["time_s"])
    bad = np.flatnonzero(dt <= 0)
    if bad.size:
        raise ValueError(f"{path}: line {bad[0] + 3}: time_s not strictly increasing")
    return out


def _atomic_write(path, writer, mode="w"):
    """writer(fh) into a temporary file renamed over `path` only on success (cellsense._io.atomic_write)."""
    with atomic_write(path, mode) as fh:
        writer(fh)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# ----------------------------------------------------------------------------------------------
# Drive cycles
# ----------------------------------------------------------------------------------------------
def drive_cycle_shape(name: str) -> np.ndarray:
    """Normalised 1 s current shape of a drive cycle (positive = discharge, max = 1).

    Element k-1 is the current over (k-1, k] s.  UDDS and US06 (PyBaMM current files, 1 s): the
    interval value is the mean of the two end samples (keeps the charge of PyBaMM's linear
    interpolation).  WLTC (PyBaMM power file, kW, 0.1 s): the trapezoidal 1 s mean power divided by
    a nominal 3.6 V, i.e. a current shape proportional to power.  HWFET: stored 1 s shape derived
    from the Panasonic 18650PF measurement (see data/drive_cycles/README.md).
    """
    name = name.lower()
    d = _data_dir()
    if name in ("udds", "us06"):
        arr = np.loadtxt(d / f"{name.upper()}.csv", delimiter=",", comments="#")
        t, i = arr[:, 0], arr[:, 1]
        if not np.allclose(np.diff(t), 1.0):
            raise ValueError(f"{name}: expected a 1 s profile")
        shape = 0.5 * (i[1:] + i[:-1])
    elif name == "wltc":
        arr = np.loadtxt(d / "WLTC.csv", delimiter=",", comments="#")
        t, p_kW = arr[:, 0], arr[:, 1]
        e = np.r_[0.0, np.cumsum(0.5 * (p_kW[1:] + p_kW[:-1]) * np.diff(t))]
        grid = np.arange(0.0, math.floor(t[-1]) + 1.0)
        shape = np.diff(np.interp(grid, t, e)) * 1000.0 / WLTC_NOMINAL_VOLTAGE_V
    elif name == "hwfet":
        arr = np.loadtxt(d / "HWFET.csv", delimiter=",", comments="#")
        shape = arr[1:, 1]
    else:
        raise ValueError(f"unknown drive cycle {name!r}; choose from {DRIVE_CYCLES}")
    return shape / shape.max()


# ----------------------------------------------------------------------------------------------
# Protocols -> piecewise-constant schedules
# ----------------------------------------------------------------------------------------------
@dataclass
class _Schedule:
    dt_s: float
    current_A: np.ndarray          # current over each grid interval (len = n_intervals)
    settings: dict
    description: str
    upper_cutoff_V: float
    lower_cutoff_V: float


def _resolve_settings(protocol, c_rate, peak_c_rate, repeats, rest_s, sample_period_s,
                      pulse_c_rate, initial_soc):
    p = protocol.lower()
    if p not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    s = {"protocol": p}
    if initial_soc is None:
        initial_soc = 0.0 if p == "ocv-charge" else 1.0
    if not (0.0 <= float(initial_soc) <= 1.0):
        raise ValueError(f"initial_soc must be in [0, 1], got {initial_soc!r}")
    s["initial SOC"] = float(initial_soc)
    if p == "cc":
        s["C-rate"] = float(1.0 if c_rate is None else c_rate)
        s["rest before [s]"] = 60.0
    elif p.startswith("ocv"):
        s["C-rate"] = float(0.05 if c_rate is None else c_rate)
        s["rest before [s]"] = 60.0
        if p == "ocv":
            s["rest between [s]"] = float(3600.0 if rest_s is None else rest_s)
    elif p == "hppc":
        s["pulse C-rate"] = float(1.0 if pulse_c_rate is None else pulse_c_rate)
        s["step C-rate"] = float(1.0 if c_rate is None else c_rate)
        s["pulse duration [s]"] = 10.0
        s["pulse rest [s]"] = 40.0
        s["relaxation rest [s]"] = float(3600.0 if rest_s is None else rest_s)
        s["SOC step"] = 0.1
    else:
        s["peak C-rate"] = float(DEFAULT_PEAK_C_RATE[p] if peak_c_rate is None else peak_c_rate)
        s["rest between repeats [s]"] = float(60.0 if rest_s is None else rest_s)
        s["repeats"] = None if repeats is None else int(repeats)
        s["rest before [s]"] = 60.0
        if repeats is not None and int(repeats) < 1:
            raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    for k in ("C-rate", "peak C-rate", "pulse C-rate", "step C-rate"):
        if k in s and not (s[k] > 0 and math.isfinite(s[k])):
            raise ValueError(f"{k} must be > 0, got {s[k]!r}")
    if sample_period_s is None:
        sample_period_s = 10.0 if p.startswith("ocv") else 1.0
    sample_period_s = float(sample_period_s)
    if not (sample_period_s > 0):
        raise ValueError(f"sample_period_s must be > 0, got {sample_period_s!r}")
    if p in DRIVE_CYCLES and sample_period_s != 1.0:
        raise ValueError("drive cycles are defined on a 1 s grid: sample_period_s must be 1")
    s["sample period [s]"] = sample_period_s
    return s


def _steps(dt, segments):
    """segments: list of (duration_s, current_A) -> per-interval current array."""
    out = []
    for dur, cur in segments:
        n = int(round(dur / dt))
        if abs(n * dt - dur) > 1e-9 * max(1.0, dur):
            raise ValueError(f"segment duration {dur} s is not a multiple of the sample period {dt} s")
        out.append(np.full(n, float(cur)))
    return np.concatenate(out) if out else np.zeros(0)


def _build_schedule(s, q_nom, v_low, v_high, upper_cutoff_V, lower_cutoff_V, discharge_s=None):
    p = s["protocol"]
    dt = s["sample period [s]"]
    soc0 = s["initial SOC"]
    lo = v_low if lower_cutoff_V is None else float(lower_cutoff_V)
    if p in ("cc", "ocv-discharge"):
        i = s["C-rate"] * q_nom
        t_max = 1.5 * 3600.0 / s["C-rate"] * max(soc0, 0.05) + 3600.0
        cur = _steps(dt, [(s["rest before [s]"], 0.0), (math.ceil(t_max / dt) * dt, i)])
        desc = (f"rest {s['rest before [s]']:g} s; discharge at {s['C-rate']:g}C ({i:g} A) until the "
                f"lower voltage cut-off {lo:g} V")
        hi = v_high + 0.3 if upper_cutoff_V is None else float(upper_cutoff_V)
        return _Schedule(dt, cur, s, desc, hi, lo)
    if p == "ocv-charge":
        i = s["C-rate"] * q_nom
        t_max = 1.5 * 3600.0 / s["C-rate"] * max(1 - soc0, 0.05) + 3600.0
        cur = _steps(dt, [(s["rest before [s]"], 0.0), (math.ceil(t_max / dt) * dt, -i)])
        hi = v_high if upper_cutoff_V is None else float(upper_cutoff_V)
        desc = (f"rest {s['rest before [s]']:g} s; charge at {s['C-rate']:g}C ({i:g} A) until the "
                f"upper voltage cut-off {hi:g} V")
        return _Schedule(dt, cur, s, desc, hi, lo - 0.3 if lower_cutoff_V is None else lo)
    if p == "ocv":
        i = s["C-rate"] * q_nom
        # +1 mV: the run starts at exactly the parameter set's upper cut-off when initial_soc = 1,
        # which PyBaMM rejects as an event violated at t = 0
        hi = v_high + 0.001 if upper_cutoff_V is None else float(upper_cutoff_V)
        t_chg = 1.5 * 3600.0 / s["C-rate"] + 3600.0
        if discharge_s is None:  # first pass: discharge only, to find the cut-off time
            t_max = 1.5 * 3600.0 / s["C-rate"] * max(soc0, 0.05) + 3600.0
            cur = _steps(dt, [(s["rest before [s]"], 0.0), (math.ceil(t_max / dt) * dt, i)])
        else:
            cur = _steps(dt, [(s["rest before [s]"], 0.0), (discharge_s, i),
                              (s["rest between [s]"], 0.0), (math.ceil(t_chg / dt) * dt, -i)])
        desc = (f"rest {s['rest before [s]']:g} s; discharge at {s['C-rate']:g}C ({i:g} A) until the "
                f"lower cut-off {lo:g} V (stopped at the last sample before it: "
                f"{discharge_s if discharge_s is None else round(discharge_s)} s of discharge); "
                f"rest {s['rest between [s]']:g} s; charge at {s['C-rate']:g}C until the upper cut-off "
                f"{hi:g} V")
        return _Schedule(dt, cur, s, desc, hi, lo)
    if p == "hppc":
        ip = s["pulse C-rate"] * q_nom
        istep = s["step C-rate"] * q_nom
        tp, tr, trel = s["pulse duration [s]"], s["pulse rest [s]"], s["relaxation rest [s]"]
        t_step = s["SOC step"] * 3600.0 / s["step C-rate"]
        if abs(t_step / dt - round(t_step / dt)) > 1e-9:
            raise ValueError(f"hppc: the 10 % step ({t_step} s) is not a multiple of the sample period")
        levels = []
        z = soc0
        while z > 0.1 - 1e-9:
            levels.append(round(z, 6))
            z -= s["SOC step"]
        segs = [(60.0, 0.0)]
        for k, z in enumerate(levels):
            segs += [(tp, ip), (tr, 0.0), (tp, -ip), (tr, 0.0)]
            if k < len(levels) - 1:
                segs += [(t_step, istep), (trel, 0.0)]
        segs.append((math.ceil((1.5 * 3600.0 / s["step C-rate"] * 0.2 + 600) / dt) * dt, istep))
        cur = _steps(dt, segs)
        s["pulse SOC levels"] = levels
        hi = v_high + 0.5 if upper_cutoff_V is None else float(upper_cutoff_V)
        desc = (f"rest 60 s; then at each SOC level {', '.join(f'{100 * z:g} %' for z in levels)}: "
                f"discharge pulse {s['pulse C-rate']:g}C ({ip:g} A) for {tp:g} s, rest {tr:g} s, charge "
                f"pulse {s['pulse C-rate']:g}C for {tp:g} s, rest {tr:g} s; between levels discharge "
                f"{100 * s['SOC step']:g} % of nominal capacity at {s['step C-rate']:g}C ({t_step:g} s) "
                f"then rest {trel:g} s; after the last pulse set discharge at {s['step C-rate']:g}C until "
                f"the lower cut-off {lo:g} V. Upper cut-off raised to {hi:g} V for the charge pulses.")
        return _Schedule(dt, cur, s, desc, hi, lo)
    # drive cycles
    shape = drive_cycle_shape(p)
    peak = s["peak C-rate"] * q_nom
    cyc = shape * peak
    rest = s["rest between repeats [s]"]
    if s["repeats"] is None:
        ah_per = cyc.sum() / 3600.0
        n_rep = int(math.ceil(1.5 * q_nom * max(soc0, 0.05) / ah_per)) + 1
    else:
        n_rep = s["repeats"]
    parts = [np.zeros(int(round(s["rest before [s]"])))]
    for _ in range(n_rep):
        parts += [cyc, np.zeros(int(round(rest)))]
    cur = np.concatenate(parts)
    hi = v_high + 0.3 if upper_cutoff_V is None else float(upper_cutoff_V)
    s["cycle duration [s]"] = float(len(cyc))
    s["cycle mean current [A]"] = float(cyc.mean())
    s["peak current [A]"] = float(peak)
    s["peak regen current [A]"] = float(-cyc.min())
    rep_txt = "until the lower voltage cut-off" if s["repeats"] is None else f"{n_rep} times (or until the lower cut-off)"
    desc = (f"rest {s['rest before [s]']:g} s; then the {p.upper()} current shape ({len(cyc)} s, 1 s "
            f"piecewise constant) scaled to a peak discharge current of {s['peak C-rate']:g}C = {peak:g} A "
            f"(mean {cyc.mean():.4g} A, peak regen {-cyc.min():.4g} A) followed by {rest:g} s rest, repeated "
            f"{rep_txt} {lo:g} V. Upper cut-off raised to {hi:g} V so regen near full charge does not stop "
            f"the run.")
    return _Schedule(dt, cur, s, desc, hi, lo)


# ----------------------------------------------------------------------------------------------
# PyBaMM solve
# ----------------------------------------------------------------------------------------------
def _pybamm_solve(cell, model_name, T_degC, soc0, sched: _Schedule, quiet=True):
    import pybamm

    if quiet:
        pybamm.set_logging_level("ERROR")
    model_cls = {"DFN": pybamm.lithium_ion.DFN, "SPMe": pybamm.lithium_ion.SPMe,
                 "SPM": pybamm.lithium_ion.SPM}[model_name]
    model = model_cls({"thermal": "lumped"})
    pv = pybamm.ParameterValues(cell)
    pv.set_initial_state(soc0, options=model.options)  # uses the parameter set's own cut-offs
    T_K = T_degC + 273.15
    pv["Ambient temperature [K]"] = T_K
    pv["Initial temperature [K]"] = T_K
    pv["Upper voltage cut-off [V]"] = sched.upper_cutoff_V
    pv["Lower voltage cut-off [V]"] = sched.lower_cutoff_V
    dt = sched.dt_s
    cur = sched.current_A
    n = len(cur)
    grid = np.arange(n + 1) * dt
    # Each change of current is a linear ramp over the first RAMP_S of the interval; both ends of
    # every ramp are solver breakpoints, so IDA re-initialises consistently at each of them (a
    # discontinuous current makes the DFN's algebraic states jump and IDA fail).  The logged current
    # is the nominal piecewise-constant one: the charge difference telescopes to at most
    # RAMP_S * |I_k - I_0| / 2 at any time (never accumulates).
    ramp = min(RAMP_S, 0.01 * dt)
    tk = np.empty(2 * n)
    ik = np.empty(2 * n)
    tk[0::2] = grid[:-1] + ramp
    tk[1::2] = grid[1:]
    tk[0] = 0.0
    ik[0::2] = cur
    ik[1::2] = cur
    pv["Current function [A]"] = pybamm.Interpolant(tk, ik, pybamm.t, interpolator="linear",
                                                    name="cellsense current")
    change = np.flatnonzero(np.diff(cur) != 0)  # current changes at grid[change + 1]
    t_eval = np.unique(np.r_[0.0, grid[change + 1], grid[change + 1] + ramp, grid[-1]])
    solver = pybamm.IDAKLUSolver(rtol=RTOL, atol=ATOL)
    sim = pybamm.Simulation(model, parameter_values=pv, solver=solver)
    t0 = _time.perf_counter()
    try:
        sol = sim.solve(t_eval=t_eval, t_interp=grid)
    except pybamm.SolverError as e:
        raise RuntimeError(f"PyBaMM failed for {cell} {model_name} at {T_degC} degC: {e}") from e
    solve_s = _time.perf_counter() - t0
    t = np.asarray(sol.t, dtype=float)
    # keep the sample grid (drop the ramp-end breakpoints) and the final (event) time
    on_grid = np.abs(t / dt - np.round(t / dt)) < 1e-7
    on_grid[-1] = True
    keep = on_grid & np.r_[True, np.diff(t) > 0]
    t = t[keep]
    V = sol["Voltage [V]"].entries[keep]
    try:
        T = sol["Volume-averaged cell temperature [C]"].entries[keep]
    except KeyError:
        T = sol["X-averaged cell temperature [C]"].entries[keep]
    Q = sol["Discharge capacity [A.h]"].entries[keep]
    q_nom = float(pv["Nominal cell capacity [A.h]"])
    # current of row k = interval containing t_k (row 0: first interval's current, which is a rest)
    kidx = np.clip(np.ceil(t / dt - 1e-9).astype(np.int64) - 1, 0, n - 1)
    I = cur[kidx]
    I[0] = 0.0 if t[0] == 0.0 else I[0]
    return dict(time_s=t, current_A=I, voltage_V=np.asarray(V, float), temperature_degC=np.asarray(T, float),
                discharge_Ah=np.asarray(Q, float), termination=str(sol.termination), solve_s=solve_s,
                q_nom=q_nom, pybamm_version=pybamm.__version__)


def _cell_info(cell):
    import pybamm

    try:
        pv = pybamm.ParameterValues(cell)
    except Exception as e:  # pybamm raises various errors for unknown sets
        raise ValueError(f"unknown PyBaMM parameter set {cell!r}: {e}") from None
    return (float(pv["Nominal cell capacity [A.h]"]), float(pv["Lower voltage cut-off [V]"]),
            float(pv["Upper voltage cut-off [V]"]), pybamm.__version__)


def default_cache_dir() -> Path:
    env = os.environ.get("CELLSENSE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "cellsense" / "sim"


#: measured PyBaMM solve times [s], Chen2020 at 25 degC, default settings, 2 shared cores (docs/truth.md,
#: "Timings"); only used for the "typically ..." estimate printed before a solve, never for results
TYPICAL_SOLVE_S = {"DFN": {"cc": 0.5, "ocv": 1.2, "hppc": 2.9, "udds": 261.0, "us06": 153.0, "hwfet": 80.0,
                           "wltc": 112.0},
                   "SPMe": {"cc": 0.3, "ocv": 0.7, "hppc": 1.1, "udds": 27.0, "us06": 17.0, "hwfet": 7.1,
                            "wltc": 11.8}}


def _progress_fn(quiet: bool, progress):
    """Where progress lines go: `progress` if given (a callable taking one str), else stderr unless quiet."""
    if progress is not None:
        return progress
    if quiet:
        return lambda msg: None
    return lambda msg: print(msg, file=sys.stderr, flush=True)


def _fmt_duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _solve_estimate(model: str, protocol: str, cell: str, T: float) -> str:
    """'typically 4.4 min ...; SPMe is ~10x faster (--model SPMe)' from TYPICAL_SOLVE_S (Chen2020, 25 degC)."""
    typ = TYPICAL_SOLVE_S.get(model, {}).get(protocol)
    if typ is None:
        return "no typical solve time measured for this protocol"
    where = "" if (cell == "Chen2020" and T == 25.0) else " for Chen2020 at 25 degC"
    txt = f"typically {_fmt_duration(typ)} on 2 cores{where}"
    if T < 20.0:
        txt += " (longer when cold: a 10 degC DFN UDDS took 11 min)"
    if model == "DFN" and typ > 30.0:
        fast = TYPICAL_SOLVE_S["SPMe"][protocol]
        txt += (f"; SPMe is ~{typ / fast:.0f}x faster ({_fmt_duration(fast)}): --physics spme (Python: "
                f"model='SPMe'), a simpler model than the DFN, so a different truth")
    return txt


#: the demo's DFN truths shipped with the package (python/cellsense/data/truth; regenerate with
#: `python scripts/make_demo_truths.py --fresh`): the cell log as .csv.gz (soc_true on the nominal scale, as
#: cached) and its provenance .json (PyBaMM version, parameter set, solver settings, the cache key)
TRUTH_DIR = Path(__file__).resolve().parents[1] / "data" / "truth"
TRUTH_COLUMNS = ("time_s", "current_A", "voltage_V", "temperature_degC", "soc_true")


def _truth_key_obj(cell, model, settings, T, sched, pb_version) -> dict:
    """What identifies a truth: the cache key object (without it, two runs of different settings could share a file)."""
    return {"cache format": CACHE_FORMAT, "cell": cell, "model": model, "settings": settings,
            "temperature [degC]": T, "upper cut-off [V]": sched.upper_cutoff_V,
            "lower cut-off [V]": sched.lower_cutoff_V, "pybamm": pb_version,
            "solver": {"name": "IDAKLUSolver", "rtol": RTOL, "atol": ATOL}, "thermal": "lumped"}


def _key_without_version(key_obj: dict) -> str:
    k = {a: b for a, b in key_obj.items() if a != "pybamm"}
    return hashlib.sha256(json.dumps(_jsonable(k), sort_keys=True).encode()).hexdigest()


def shipped_truths() -> list[dict]:
    """Provenance records of the truths shipped with the package (one per .json in TRUTH_DIR)."""
    out = []
    for f in sorted(TRUTH_DIR.glob("*.json")) if TRUTH_DIR.is_dir() else []:
        rec = json.loads(f.read_text(encoding="utf-8"))
        rec["_json"] = f
        rec["_data"] = f.with_name(rec["data file"])
        out.append(rec)
    return out


def _find_shipped(cell, model, settings, T, upper_cutoff_V, lower_cutoff_V):
    """The shipped truth for exactly this request, or None. Matched on the cache key (all settings and
    cut-offs, the cell's nominal capacity and cut-offs from the record), whatever PyBaMM is installed:
    nothing here imports PyBaMM."""
    for rec in shipped_truths():
        if rec["key"]["cell"] != cell or rec["key"]["model"] != model:
            continue
        info = rec["cell info"]
        sched = _build_schedule(settings, info["nominal capacity [A.h]"], info["lower cut-off [V]"],
                                info["upper cut-off [V]"], upper_cutoff_V, lower_cutoff_V)
        key_obj = _truth_key_obj(cell, model, settings, T, sched, rec["key"]["pybamm"])
        if _key_without_version(key_obj) == rec["key sha256 (without pybamm)"] and rec["_data"].exists():
            return rec
    return None


def _load_shipped(rec) -> tuple[dict, dict]:
    """(truth arrays as cached, meta) of a shipped truth record; checks the data file's sha256."""
    import gzip

    raw = rec["_data"].read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != rec["data sha256"]:
        raise ValueError(f"{rec['_data']}: sha256 {digest} differs from its provenance {rec['_json'].name} "
                         f"({rec['data sha256']}): the shipped truth is damaged; --fresh re-solves it")
    text = gzip.decompress(raw).decode("utf-8")
    header, _, body = text.partition("\n")
    if tuple(header.strip().split(",")) != TRUTH_COLUMNS:
        raise ValueError(f"{rec['_data']}: header {header!r}, expected {','.join(TRUTH_COLUMNS)}")
    a = np.loadtxt(body.splitlines(), delimiter=",", dtype=float, ndmin=2)
    truth = {c: np.ascontiguousarray(a[:, j]) for j, c in enumerate(TRUTH_COLUMNS)}
    meta = json.loads(json.dumps(rec["meta"]))
    return truth, meta


def write_shipped_truth(res_truth: dict, meta: dict, key_obj: dict, cell_info: dict, q_ref_how, stem: str,
                        command: str, out_dir=None) -> Path:
    """Write <stem>.csv.gz (reproducible gzip: mtime 0) and <stem>.json (provenance). Used by
    scripts/make_demo_truths.py."""
    import gzip

    out_dir = Path(out_dir) if out_dir else TRUTH_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [",".join(TRUTH_COLUMNS)]
    cols = [np.asarray(res_truth[c], float) for c in TRUTH_COLUMNS]
    for row in zip(*cols):
        lines.append(",".join(repr(float(v)) for v in row))  # shortest repr: reads back bit for bit
    data = out_dir / f"{stem}.csv.gz"
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(("\n".join(lines) + "\n").encode("utf-8"))
    data.write_bytes(buf.getvalue())
    rec = {"format": "cellsense shipped truth", "format version": 1,
           "what": f"{key_obj['cell']} {key_obj['model']} (lumped thermal), {key_obj['settings']['protocol']} at "
                   f"{key_obj['temperature [degC]']:g} degC: the PyBaMM truth `cellsense demo` compares against",
           "data file": data.name, "data sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
           "columns": list(TRUTH_COLUMNS),
           "soc_true scale": "nominal (initial_soc - Q_dis / nominal capacity), as cached; simulate() puts it on "
                             "the reference capacity below",
           "pybamm version": meta.get("pybamm version"), "parameter set": key_obj["cell"],
           "model": key_obj["model"], "solver": meta.get("solver"), "solve time [s]": meta.get("solve time [s]"),
           "regenerate": command,
           "cell info": cell_info,
           "reference capacity [A.h]": q_ref_how[0], "reference capacity source": q_ref_how[1],
           "key": key_obj, "key sha256 (without pybamm)": _key_without_version(key_obj),
           "meta": _jsonable({k: v for k, v in meta.items() if k not in ("cache", "sensor")})}
    j = out_dir / f"{stem}.json"
    j.write_text(json.dumps(_jsonable(rec), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return j


class _TruthCache:
    """One content-addressed truth file: `<cache dir>/<prefix><sha256 of key_obj>.npz` holding the arrays and
    the sidecar meta (JSON). Shared by simulate() and simulate_aging()."""

    def __init__(self, key_obj: dict, cache_dir, enabled: bool, prefix: str = ""):
        self.key = prefix + hashlib.sha256(json.dumps(_jsonable(key_obj), sort_keys=True).encode()).hexdigest()[:32]
        self.dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.file = self.dir / f"{self.key}.npz"
        self.enabled = enabled

    def load(self, names) -> tuple[dict, dict] | tuple[None, None]:
        """(arrays, meta) on a hit (meta["cache"] says so); (None, None) when absent, disabled or unreadable."""
        if not (self.enabled and self.file.exists()):
            return None, None
        try:
            with np.load(self.file, allow_pickle=False) as z:
                truth = {k: z[k] for k in names}
                meta = json.loads(str(z["meta"]))
        except Exception:  # a damaged or foreign file is a miss: the truth is solved again
            return None, None
        meta["cache"] = {"key": self.key, "hit": True, "file": str(self.file)}
        return truth, meta

    def store(self, truth: dict, meta: dict) -> None:
        """Mark meta as a miss and, if enabled, write arrays + meta atomically."""
        meta["cache"] = {"key": self.key, "hit": False, "file": str(self.file) if self.enabled else None}
        if self.enabled:
            self.dir.mkdir(parents=True, exist_ok=True)
            payload = dict(truth)
            payload["meta"] = np.array(json.dumps(_jsonable(meta)))
            _atomic_write(self.file, lambda fh: np.savez(fh, **payload), mode="wb")


def simulate(cell: str = "Chen2020", protocol: str = "udds", temperature_degC: float = 25.0,
             model: str = "DFN", out=None, initial_soc: Optional[float] = None,
             sensor: Optional[SensorModel] = None, cache_dir=None, repeats: Optional[int] = None,
             c_rate: Optional[float] = None, peak_c_rate: Optional[float] = None,
             rest_s: Optional[float] = None, pulse_c_rate: Optional[float] = None,
             sample_period_s: Optional[float] = None, upper_cutoff_V: Optional[float] = None,
             lower_cutoff_V: Optional[float] = None, use_cache: bool = True,
             quiet: bool = True, progress=None, fresh: bool = False) -> SimResult:
    """Simulate a protocol with PyBaMM (lumped thermal, ambient = initial = temperature_degC).

    Parameters
    ----------
    cell : PyBaMM parameter-set name (e.g. "Chen2020").
    protocol : "cc", "ocv", "ocv-discharge", "ocv-charge", "hppc", "udds", "us06", "hwfet", "wltc".
    model : "DFN" (default), "SPMe" or "SPM".
    initial_soc : PyBaMM initial SOC (default 1.0; 0.0 for "ocv-charge").
    sensor : optional :class:`SensorModel` (or dict) applied after the truth cache.
    cache_dir : truth cache directory (default ``$CELLSENSE_CACHE`` or ``~/.cache/cellsense/sim``).
    repeats : drive cycles: number of repeats (default: until the lower cut-off).
    c_rate : cc / ocv* C-rate (defaults 1 and 1/20), hppc 10 % step C-rate (default 1).
    peak_c_rate : drive cycles: peak discharge current in C (defaults udds 3, us06 3, hwfet 2, wltc 3).
    rest_s : ocv: rest between discharge and charge (3600); hppc: relaxation rest (3600);
        drive cycles: rest after each repeat (60).
    pulse_c_rate : hppc pulse C-rate (default 1).
    sample_period_s : truth grid (default 1 s; 10 s for ocv protocols; drive cycles need 1 s).
    upper_cutoff_V / lower_cutoff_V : override the cut-offs used during the run (the defaults are
        the parameter set's, with the upper one raised by 0.3 V (0.5 V for hppc) for protocols
        other than ocv/ocv-charge, see the sidecar).
    out : if given, write the cell log CSV there and the sidecar ``<out>.json``.
    quiet : True (default): no progress lines and PyBaMM logs errors only. False: progress lines on
        stderr (what is simulated, truth cache hit / miss, the typical solve time and how to get a faster
        SPMe truth, the solve time), PyBaMM's log level left as it is.
    progress : a callable taking one line (str) to send the progress lines to instead (e.g. ``print``);
        given, it is used whatever ``quiet`` says (the CLI: stderr with PyBaMM's logs quiet).
    fresh : False (default): a truth shipped with the package for exactly this request (the demo's: Chen2020
        DFN UDDS and US06 at 25 degC, default settings; ``shipped_truths()``, provenance in
        ``cellsense/data/truth/*.json``) is used without PyBaMM, else the cache, else PyBaMM solves it.
        True: solve with the installed PyBaMM whatever is shipped or cached (the result is cached).
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    try:
        T = float(temperature_degC)
    except (TypeError, ValueError):
        raise ValueError(f"temperature_degC must be a number, got {temperature_degC!r}") from None
    if not (-40.0 <= T <= 80.0):
        raise ValueError(f"temperature_degC {T} outside [-40, 80] degC")
    if isinstance(sensor, dict):
        sensor = SensorModel.from_dict(sensor)
    if str(protocol).lower() == "aging":
        return simulate_aging(cell="OKane2022" if cell == "Chen2020" else cell, model="SPMe" if model == "DFN" else model,
                              temperature_degC=T, out=out, sensor=sensor, cache_dir=cache_dir,
                              use_cache=use_cache, blocks=repeats, quiet=quiet, progress=progress)
    settings = _resolve_settings(protocol, c_rate, peak_c_rate, repeats, rest_s, sample_period_s,
                                 pulse_c_rate, initial_soc)
    soc0 = settings["initial SOC"]
    say = _progress_fn(quiet, progress)
    what = f"{cell} {model} (lumped thermal), {settings['protocol']} at {T:g} degC"
    shipped = None if fresh else _find_shipped(cell, model, settings, T, upper_cutoff_V, lower_cutoff_V)
    q_ref_how = None
    if shipped is not None:  # the demo's truths: no PyBaMM import, no solve
        truth, meta = _load_shipped(shipped)
        q_ref_how = (shipped["reference capacity [A.h]"], shipped["reference capacity source"])
        meta["cache"] = {"key": None, "hit": False, "file": None, "shipped": str(shipped["_data"])}
        say(f"simulate: {what}: shipped PyBaMM truth ({shipped['_data'].name}: PyBaMM {shipped['pybamm version']}, "
            f"IDAKLU rtol {RTOL:g} atol {ATOL:g}, solved in {_fmt_duration(shipped['solve time [s]'])}; "
            f"provenance {shipped['_json'].name}); --fresh re-solves it with your PyBaMM"
            + (f" (typically {_fmt_duration(TYPICAL_SOLVE_S[model][settings['protocol']])} on 2 cores)"
               if settings["protocol"] in TYPICAL_SOLVE_S.get(model, {}) else ""))
    else:
        require("pybamm", "cellsense.simulate()", "simulate")  # MissingExtraError: pip install 'cellsense[sim]'
        q_nom, v_low, v_high, pb_version = _cell_info(cell)
        sched = _build_schedule(settings, q_nom, v_low, v_high, upper_cutoff_V, lower_cutoff_V)
        key_obj = _truth_key_obj(cell, model, settings, T, sched, pb_version)
        cache = _TruthCache(key_obj, cache_dir, use_cache)
        truth, meta = (None, None) if fresh else cache.load(TRUTH_COLUMNS)
    if shipped is not None:
        pass
    elif truth is not None:
        say(f"simulate: {what}: truth cache hit ({cache.file})")
    else:
        state = "fresh solve requested (--fresh)" if fresh else f"truth cache {'miss' if use_cache else 'off'}"
        say(f"simulate: {what}: {state}"
            + (f" ({cache.file})" if use_cache else "") + f"; solving with PyBaMM: "
            + _solve_estimate(model, settings["protocol"], cell, T))
        total_solve = 0.0
        # a line with the elapsed time and the ETA from the typical solve time every 15 s while PyBaMM
        # solves (the IDAKLU solve reports nothing until it is done); quiet: nothing
        typ = TYPICAL_SOLVE_S.get(model, {}).get(settings["protocol"])
        solving = Progress(f"simulate: {what}: solving", expected_s=typ if (cell == "Chen2020" and T >= 20.0) else None,
                           enabled=not (quiet and progress is None), emit=say, delay_s=5.0, interval_s=15.0, done_line=False)
        if settings["protocol"] == "ocv":
            with solving.ticking():
                first = _pybamm_solve(cell, model, T, soc0, sched, quiet)
            total_solve += first["solve_s"]
            if "Minimum voltage" not in first["termination"]:
                raise RuntimeError(f"ocv: the C/20 discharge did not reach the lower cut-off ({first['termination']})")
            dt = settings["sample period [s]"]
            t_dis = first["time_s"][-1] - settings["rest before [s]"]
            discharge_s = (math.floor(t_dis / dt - 1e-9) - 1) * dt
            sched = _build_schedule(settings, q_nom, v_low, v_high, upper_cutoff_V, lower_cutoff_V,
                                    discharge_s=discharge_s)
        with solving.ticking():
            r = _pybamm_solve(cell, model, T, soc0, sched, quiet)
        total_solve += r["solve_s"]
        soc_true = soc0 - r["discharge_Ah"] / r["q_nom"]
        t = r["time_s"]
        cc = soc0 - np.r_[0.0, np.cumsum(r["current_A"][1:] * np.diff(t))] / 3600.0 / r["q_nom"]
        truth = dict(time_s=t, current_A=r["current_A"], voltage_V=r["voltage_V"],
                     temperature_degC=r["temperature_degC"], soc_true=soc_true)
        meta = {
            "format": "cellsense simulation sidecar",
            "format version": 1,
            "parameter set": cell,
            "model": model,
            "thermal model": "lumped (PyBaMM 'thermal': 'lumped')",
            "protocol": settings["protocol"],
            "protocol settings": settings,
            "protocol schedule": sched.description,
            "temperature [degC]": T,
            "ambient temperature [degC]": T,
            "initial SOC": soc0,
            "nominal capacity [A.h]": r["q_nom"],
            "pybamm version": r["pybamm_version"],
            "solver": {"name": "IDAKLUSolver", "rtol": RTOL, "atol": ATOL,
                       "breakpoints": "every change of the applied current (t_eval), output on the sample grid (t_interp)"},
            "solve time [s]": round(total_solve, 3),
            "cut-offs": {"lower voltage cut-off [V]": sched.lower_cutoff_V,
                         "upper voltage cut-off [V]": sched.upper_cutoff_V,
                         "parameter set lower cut-off [V]": v_low,
                         "parameter set upper cut-off [V]": v_high,
                         "note": "initial SOC is set with the parameter set's own cut-offs; the "
                                 "run then uses the cut-offs above (PyBaMM termination events)."},
            "termination": r["termination"],
            "current convention": "positive = discharge; row k's current is held over (t_{k-1}, t_k]; row 0 is at rest",
            "soc_true definition": "cached on the nominal scale (initial_soc - Q_dis / nominal capacity); "
                                   "simulate() returns it on the reference capacity (_rescale_soc_true)",
            "soc_true coulomb-counting max abs difference": float(np.max(np.abs(cc - soc_true))),
            "temperature column": "PyBaMM volume-averaged cell temperature (lumped model) [degC]",
        }
        cache.store(truth, meta)
        say(f"simulate: {what}: solved in {total_solve:.1f} s ({len(truth['time_s'])} rows, {r['termination']})"
            + (f"; cached in {cache.file}" if use_cache else ""))
    truth = dict(truth)
    _rescale_soc_true(truth, meta, cell, soc0, q_ref_how)
    meta["sensor"] = None
    res = SimResult(truth["time_s"], truth["current_A"], truth["voltage_V"], truth["temperature_degC"],
                    truth["soc_true"], meta)
    if sensor is not None:
        m = sensor.apply(res.time_s, res.current_A, res.voltage_V, res.temperature_degC, res.soc_true)
        meta = dict(meta)
        meta["sensor"] = sensor.to_dict()
        meta["sensor"]["note"] = "applied after the truth cache; soc_true is the truth at the kept rows"
        res = SimResult(m["time_s"], m["current_A"], m["voltage_V"], m["temperature_degC"], m["soc_true"], meta)
    if out is not None:
        res.to_csv(out)
    return res


# ----------------------------------------------------------------------------------------------
# Ageing truth: --protocol aging
# ----------------------------------------------------------------------------------------------
AGING_FORMAT = 1
#: PyBaMM degradation submodels of the ageing truth (OKane et al. 2022 family of models)
AGING_OPTIONS = {"thermal": "lumped", "SEI": "solvent-diffusion limited", "lithium plating": "irreversible",
                 "loss of active material": "stress-driven", "particle mechanics": "swelling only"}
#: acceleration of the OKane2022 degradation parameters (multipliers), stated in the sidecar
AGING_ACCELERATION = {"Lithium plating kinetic rate constant [m.s-1]": 0.15,
                      "SEI solvent diffusivity [m2.s-1]": 100.0,
                      "Negative electrode LAM constant proportional term [s-1]": 500.0,
                      "Positive electrode LAM constant proportional term [s-1]": 500.0}
AGING_BLOCKS = 10          #: drive-cycle + charge blocks
AGING_RPT_EVERY = 3        #: a reference performance test after every this many blocks (and at the start)
AGING_DRIVE_CYCLE = "us06"
AGING_PEAK_C_RATE = 3.0
AGING_DRIVE_REPEATS = 24   #: cycles per block: more than one full discharge; the block ends at the cut-off


def _aging_rpt(q_nom):
    """Reference performance test: C/20 capacity, then a 10 s 1C pulse near half charge, then full."""
    import pybamm

    return [pybamm.step.string("Discharge at C/20 until 2.5 V", period=20),
            pybamm.step.string("Rest for 30 minutes", period=20),
            pybamm.step.string("Charge at 0.5C for 60 minutes", period=10),
            pybamm.step.string("Rest for 30 minutes", period=10),
            pybamm.step.current(q_nom, duration=10, period=1),
            pybamm.step.string("Rest for 10 minutes", period=5),
            pybamm.step.string("Charge at 0.5C until 4.2 V", period=10),
            pybamm.step.string("Hold at 4.2 V until C/50", period=10),
            pybamm.step.string("Rest for 30 minutes", period=20)]


def _aging_soc_true(t, current_A, voltage_V, capacity_Ah, v_full=4.2):
    """soc_true of the ageing log: 1 at the end of each CV hold at `v_full` (the last charging row with
    |V - v_full| < 2 mV before a rest) and at t = 0, minus the charge since then / capacity_true_Ah."""
    t = np.asarray(t, float)
    i = np.asarray(current_A, float)
    q = np.r_[0.0, np.cumsum(i[1:] * np.diff(t))] / 3600.0
    hold = (i < 0) & (np.abs(np.asarray(voltage_V) - v_full) < 2e-3)
    end = np.flatnonzero(hold[:-1] & (i[1:] == 0.0))
    full = np.zeros(len(t), bool)
    full[0] = True
    full[end] = True
    last = np.maximum.accumulate(np.where(full, np.arange(len(t)), 0))
    return 1.0 - (q - q[last]) / np.asarray(capacity_Ah, float)


def simulate_aging(cell="OKane2022", model="SPMe", temperature_degC=25.0, out=None, sensor=None, cache_dir=None,
                   use_cache=True, blocks=None, quiet=True, drive_cycle=None, progress=None) -> SimResult:
    """Ageing truth: PyBaMM with SEI growth, lithium plating and loss of active material.

    Schedule: rest 10 min; reference performance test (RPT: C/20 discharge to 2.5 V = the capacity
    check, 1 h of 0.5C charge, 30 min rest, a 10 s 1C discharge pulse = the resistance check, CC-CV
    charge at 0.5C to 4.2 V / C/50, rest); then `blocks` blocks of [US06 drive cycles (peak 3C, 60 s
    rest after each) until the 2.5 V cut-off, rest 10 min, CC-CV 0.5C to 4.2 V / C/20, rest 30 min],
    with an RPT after every AGING_RPT_EVERY blocks and after the last.  Degradation parameters are
    accelerated (AGING_ACCELERATION, stated in the sidecar) so that >10 % of the capacity is lost in
    a few hours of solving instead of hundreds of cycles.

    Columns besides the cell log: ``capacity_true_Ah`` (the RPTs' C/20 discharge capacities, linear in
    cumulative charge throughput between RPTs, held after the last), ``r0_ref_Ohm`` (the RPT pulses'
    instantaneous resistance, dV/dI over the pulse's first 1 s sample, interpolated the same way).
    ``soc_true`` = 1 - (charge discharged since the end of the last CV hold) / capacity_true_Ah.
    ``drive_cycle``: the blocks' cycle (default AGING_DRIVE_CYCLE, US06; any of DRIVE_CYCLES).
    """
    pybamm = require("pybamm", "cellsense.simulate_aging()", "simulate")

    cycle = AGING_DRIVE_CYCLE if drive_cycle is None else str(drive_cycle).lower()
    if cycle not in DRIVE_CYCLES:
        raise ValueError(f"aging: drive_cycle must be one of {', '.join(DRIVE_CYCLES)}, got {drive_cycle!r}")

    if model == "DFN":
        model = "SPMe"  # the DFN is far too slow for an ageing campaign on 2 cores
    if model not in ("SPMe", "SPM"):
        raise ValueError(f"aging: model must be SPMe or SPM, got {model!r}")
    blocks = AGING_BLOCKS if blocks is None else int(blocks)
    if blocks < 1:
        raise ValueError("aging: need at least one block")
    T = float(temperature_degC)
    key_obj = {"aging format": AGING_FORMAT, "cache format": CACHE_FORMAT, "cell": cell, "model": model,
               "options": AGING_OPTIONS, "acceleration": AGING_ACCELERATION, "blocks": blocks,
               "rpt every": AGING_RPT_EVERY, "cycle": cycle, "peak C": AGING_PEAK_C_RATE,
               "repeats": AGING_DRIVE_REPEATS, "temperature [degC]": T, "pybamm": pybamm.__version__,
               "solver": {"name": "IDAKLUSolver", "rtol": RTOL, "atol": ATOL}}
    cache = _TruthCache(key_obj, cache_dir, use_cache, prefix="aging-")
    names = ("time_s", "current_A", "voltage_V", "temperature_degC", "soc_true", "capacity_true_Ah", "r0_ref_Ohm")
    truth, meta = cache.load(names)
    say = _progress_fn(quiet, progress)
    what = f"{cell} {model} ageing campaign ({blocks} blocks of {cycle.upper()}) at {T:g} degC"
    if truth is not None:
        say(f"simulate: {what}: truth cache hit ({cache.file})")
    else:
        say(f"simulate: {what}: truth cache {'miss' if use_cache else 'off'}"
            + (f" ({cache.file})" if use_cache else "") + "; solving with PyBaMM: a few hours on 2 cores")
        if quiet:
            pybamm.set_logging_level("ERROR")
        pv = pybamm.ParameterValues(cell)
        for k, f in AGING_ACCELERATION.items():
            pv[k] = pv[k] * f
        T_K = T + 273.15
        pv["Ambient temperature [K]"] = T_K
        pv["Initial temperature [K]"] = T_K
        pv["Upper voltage cut-off [V]"] = 4.5  # regen near full charge must not stop a drive cycle
        q_nom = float(pv["Nominal cell capacity [A.h]"])
        shape = drive_cycle_shape(cycle) * AGING_PEAK_C_RATE * q_nom
        cyc = np.r_[shape, np.zeros(60)]
        prof = np.tile(cyc, AGING_DRIVE_REPEATS)
        # piecewise constant on the 1 s grid: each value held over (k, k+1], with a 1 ms ramp
        n = len(prof)
        tk = np.empty(2 * n)
        ik = np.empty(2 * n)
        tk[0::2] = np.arange(n) + RAMP_S
        tk[1::2] = np.arange(1, n + 1)
        tk[0] = 0.0
        ik[0::2] = prof
        ik[1::2] = prof
        drive = pybamm.step.current(np.column_stack([tk, ik]), termination="< 2.5 V", period=1)
        charge = [pybamm.step.string("Rest for 10 minutes", period=10),
                  pybamm.step.string("Charge at 0.5C until 4.2 V", period=10),
                  pybamm.step.string("Hold at 4.2 V until C/20", period=10),
                  pybamm.step.string("Rest for 30 minutes", period=20)]
        rpt_kinds = ["rpt"] * 7 + ["rpt_hold"] + ["rpt"]
        steps = [pybamm.step.string("Rest for 10 minutes", period=10)] + _aging_rpt(q_nom)
        kinds = ["rest"] + rpt_kinds
        for b in range(blocks):
            steps += [drive] + charge
            kinds += ["drive", "charge", "charge", "hold", "charge"]
            if (b + 1) % AGING_RPT_EVERY == 0 or b == blocks - 1:
                steps += _aging_rpt(q_nom)
                kinds += rpt_kinds
        mdl = {"SPMe": pybamm.lithium_ion.SPMe, "SPM": pybamm.lithium_ion.SPM}[model](dict(AGING_OPTIONS))
        sim = pybamm.Simulation(mdl, parameter_values=pv, experiment=pybamm.Experiment(steps),
                                solver=pybamm.IDAKLUSolver(rtol=RTOL, atol=ATOL))
        # progress: a line with the steps done and the ETA every 30 s (PyBaMM's experiment callbacks)
        bar = Progress(f"simulate: {what}: solving", total=len(steps), unit="experiment steps",
                       enabled=not (quiet and progress is None), emit=say, delay_s=5.0, interval_s=30.0,
                       done_line=False)

        class _StepProgress(pybamm.callbacks.Callback):
            def on_step_end(self, logs):
                bar.update(1)

        t0 = _time.perf_counter()
        try:
            sol = sim.solve(initial_soc=1.0, callbacks=[_StepProgress()])
        finally:
            bar.close()
        solve_s = _time.perf_counter() - t0
        subs = sol.sub_solutions
        if len(subs) != len(steps):
            raise RuntimeError(f"aging: PyBaMM stopped after {len(subs)} of {len(steps)} steps ({sol.termination})")
        ts, vs, Ts, qs, step_id = [], [], [], [], []
        for j, s_ in enumerate(subs):
            ts.append(np.asarray(s_["Time [s]"].entries, float))
            vs.append(np.asarray(s_["Voltage [V]"].entries, float))
            Ts.append(np.asarray(s_["Volume-averaged cell temperature [C]"].entries, float))
            qs.append(np.asarray(s_["Discharge capacity [A.h]"].entries, float))
            step_id.append(np.full(len(ts[-1]), j))
        t = np.concatenate(ts)
        V = np.concatenate(vs)
        Tc = np.concatenate(Ts)
        Q = np.concatenate(qs)
        sid = np.concatenate(step_id)
        keep = np.r_[True, np.diff(t) > 1e-6]  # step boundaries repeat the time: keep the first
        t, V, Tc, Q, sid = t[keep], V[keep], Tc[keep], Q[keep], sid[keep]
        # logged current: the exact mean over (t_{k-1}, t_k] (an integrating front end), so coulomb
        # counting of the log reproduces PyBaMM's discharge capacity
        I = np.r_[0.0, np.diff(Q) * 3600.0 / np.diff(t)]
        # reference checks
        thr = np.r_[0.0, np.cumsum(np.abs(np.diff(Q)))]  # cumulative charge throughput (Ah)
        rpt_thr, rpt_cap, rpt_r0, rpt_t = [], [], [], []
        j = 0
        while j < len(steps):
            if kinds[j] == "rpt" and (j == 0 or not kinds[j - 1].startswith("rpt")):
                dis = subs[j]
                qd = dis["Discharge capacity [A.h]"].entries
                rpt_cap.append(float(qd[-1] - qd[0]))
                pulse = subs[j + 4]
                before = subs[j + 3]["Voltage [V]"].entries[-1]
                pt = pulse["Time [s]"].entries
                pv1 = np.interp(pt[0] + 1.0, pt, pulse["Voltage [V]"].entries)
                rpt_r0.append(float((before - pv1) / q_nom))
                m = sid == j
                rpt_thr.append(float(thr[m][-1]))
                rpt_t.append(float(t[m][-1]))
                j += 9
            else:
                j += 1
        cap = np.interp(thr, rpt_thr, rpt_cap)
        r0 = np.interp(thr, rpt_thr, rpt_r0)
        soc = _aging_soc_true(t, I, V, cap)
        truth = dict(time_s=t, current_A=I, voltage_V=V, temperature_degC=Tc, soc_true=soc,
                     capacity_true_Ah=cap, r0_ref_Ohm=r0)
        drive_steps = [j for j, k in enumerate(kinds) if k == "drive"]
        meta = {
            "format": "cellsense simulation sidecar", "format version": 1,
            "parameter set": cell, "model": model, "model options": AGING_OPTIONS,
            "protocol": "aging",
            "protocol schedule": simulate_aging.__doc__.split("\n\n")[1].strip(),
            "degradation acceleration (multipliers of the parameter set's values)": AGING_ACCELERATION,
            "acceleration note": "accelerated ageing: the degradation rates are scaled so that the campaign "
                                 "loses >10 % capacity in a few hours of solving; the mechanisms and the "
                                 "electrical behaviour are PyBaMM's, the rates are not the cell's",
            "blocks": blocks, "drive cycle": cycle.upper(), "peak C-rate": AGING_PEAK_C_RATE,
            "temperature [degC]": T, "initial SOC": 1.0, "nominal capacity [A.h]": q_nom,
            "pybamm version": pybamm.__version__,
            "solver": {"name": "IDAKLUSolver", "rtol": RTOL, "atol": ATOL},
            "solve time [s]": round(solve_s, 1),
            "rpt": {"time [s]": rpt_t, "throughput [A.h]": rpt_thr, "C/20 capacity [A.h]": rpt_cap,
                    "R0 1 s pulse [Ohm]": rpt_r0},
            "drive blocks": [{"start [s]": float(t[sid == j][0]), "end [s]": float(t[sid == j][-1]),
                              "discharged [A.h]": float(Q[sid == j][-1] - Q[sid == j][0])} for j in drive_steps],
            "capacity lost [%]": round(100 * (1 - rpt_cap[-1] / rpt_cap[0]), 2),
            "current convention": "positive = discharge; row k's current is the mean over (t_{k-1}, t_k] "
                                  "(from PyBaMM's discharge capacity); row 0 is at rest",
            "soc_true definition": "1 - (discharge capacity since the end of the last CV hold, or t = 0) / capacity_true_Ah",
            "capacity_true_Ah definition": "C/20 discharge capacity of the RPTs (2.5 V cut-off), linear in "
                                           "cumulative |charge| throughput between RPTs",
            "r0_ref_Ohm definition": "RPT pulse: (V before - V after 1 s of a 1C discharge pulse) / 1C current, "
                                     "near half charge, linear in throughput between RPTs",
        }
        cache.store(truth, meta)
        say(f"simulate: {what}: solved in {solve_s:.1f} s ({len(t)} rows)" + (f"; cached in {cache.file}" if use_cache else ""))
    meta["sensor"] = None
    # soc_true is (re)derived from the arrays: end of each CV hold = SOC 1 (see _aging_soc_true)
    truth["soc_true"] = _aging_soc_true(truth["time_s"], truth["current_A"], truth["voltage_V"],
                                        truth["capacity_true_Ah"])
    extra = {"capacity_true_Ah": truth["capacity_true_Ah"], "r0_ref_Ohm": truth["r0_ref_Ohm"]}
    res = SimResult(truth["time_s"], truth["current_A"], truth["voltage_V"], truth["temperature_degC"],
                    truth["soc_true"], meta, extra)
    if sensor is not None:
        m = sensor.apply(res.time_s, res.current_A, res.voltage_V, res.temperature_degC, res.soc_true)
        idx = np.searchsorted(res.time_s, m["time_s"])
        meta = dict(meta)
        meta["sensor"] = sensor.to_dict()
        res = SimResult(m["time_s"], m["current_A"], m["voltage_V"], m["temperature_degC"], m["soc_true"], meta,
                        {k: v[idx] for k, v in extra.items()})
    if out is not None:
        res.to_csv(out)
    return res


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------
def add_cli(subparsers):
    p = subparsers.add_parser("simulate", help="generate a ground-truth cell log with PyBaMM",
                              description="Simulate a protocol with PyBaMM (lumped thermal) and write a "
                                          "cell-log CSV with soc_true plus a sidecar LOG.csv.json.")
    from .._cliopts import add_physics, add_pybamm_set

    add_pybamm_set(p, old="--cell")
    p.add_argument("--protocol", default="udds", choices=PROTOCOLS)
    p.add_argument("--temperature-degC", type=float, default=25.0, dest="temperature_degC")
    p.add_argument("--out", required=True, help="output cell-log CSV (sidecar: OUT.json next to it)")
    add_physics(p, old="--model")
    p.add_argument("--initial-soc", type=float, default=None, dest="initial_soc")
    p.add_argument("--c-rate", type=float, default=None, dest="c_rate")
    p.add_argument("--peak-c-rate", type=float, default=None, dest="peak_c_rate")
    p.add_argument("--pulse-c-rate", type=float, default=None, dest="pulse_c_rate")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--rest-s", type=float, default=None, dest="rest_s")
    p.add_argument("--sample-period-s", type=float, default=None, dest="sample_period_s",
                   help="truth sample grid (default 1 s, 10 s for ocv)")
    p.add_argument("--upper-cutoff-V", type=float, default=None, dest="upper_cutoff_V")
    p.add_argument("--lower-cutoff-V", type=float, default=None, dest="lower_cutoff_V")
    p.add_argument("--cache-dir", default=None, dest="cache_dir")
    p.add_argument("--no-cache", action="store_true", dest="no_cache")
    p.add_argument("--fresh", "--resolve", action="store_true", dest="fresh",
                   help="solve with the installed PyBaMM even when the truth ships with the package (the demo's "
                        "Chen2020 DFN UDDS/US06 at 25 degC) or is cached")
    p.add_argument("--quiet", action="store_true",
                   help="no progress lines on stderr (what is solved, the cache, the solve's elapsed time and ETA)")
    g = p.add_argument_group("sensor model (applied after the truth)")
    g.add_argument("--voltage-noise-V", type=float, default=0.0, dest="voltage_noise_V")
    g.add_argument("--current-noise-A", type=float, default=0.0, dest="current_noise_A")
    g.add_argument("--temperature-noise-degC", type=float, default=0.0, dest="temperature_noise_degC")
    g.add_argument("--current-offset-A", type=float, default=0.0, dest="current_offset_A")
    g.add_argument("--current-gain-error", type=float, default=0.0, dest="current_gain_error")
    g.add_argument("--voltage-lsb-V", type=float, default=0.0, dest="voltage_lsb_V")
    g.add_argument("--current-lsb-A", type=float, default=0.0, dest="current_lsb_A")
    g.add_argument("--temperature-lsb-degC", type=float, default=0.0, dest="temperature_lsb_degC")
    g.add_argument("--sensor-sample-period-s", type=float, default=None, dest="sensor_sample_period_s")
    g.add_argument("--drop-fraction", type=float, default=0.0, dest="drop_fraction")
    g.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cli_simulate)
    return p


def _cli_simulate(args) -> int:
    sensor = SensorModel(voltage_noise_V=args.voltage_noise_V, current_noise_A=args.current_noise_A,
                         temperature_noise_degC=args.temperature_noise_degC,
                         current_offset_A=args.current_offset_A, current_gain_error=args.current_gain_error,
                         voltage_lsb_V=args.voltage_lsb_V, current_lsb_A=args.current_lsb_A,
                         temperature_lsb_degC=args.temperature_lsb_degC,
                         sample_period_s=args.sensor_sample_period_s, drop_fraction=args.drop_fraction,
                         seed=args.seed)
    if sensor.is_identity():
        sensor = None
    r = simulate(cell=args.pybamm_set, protocol=args.protocol, temperature_degC=args.temperature_degC,
                 model=args.physics, out=args.out, initial_soc=args.initial_soc, sensor=sensor,
                 cache_dir=args.cache_dir, repeats=args.repeats, c_rate=args.c_rate,
                 peak_c_rate=args.peak_c_rate, rest_s=args.rest_s, pulse_c_rate=args.pulse_c_rate,
                 sample_period_s=args.sample_period_s, upper_cutoff_V=args.upper_cutoff_V,
                 lower_cutoff_V=args.lower_cutoff_V, use_cache=not args.no_cache, fresh=args.fresh,
                 quiet=True, progress=None if args.quiet else (lambda msg: print(f"cellsense {msg}", file=sys.stderr,
                                                                                   flush=True)))
    m = r.meta
    src = ("cache" if m["cache"]["hit"] else "shipped truth" if m["cache"].get("shipped")
           else f"solved in {m['solve time [s]']:.1f} s")
    print(f"{args.out}: {len(r)} rows, {r.time_s[-1] / 3600:.3f} h, final soc_true {r.soc_true[-1]:.4f}, "
          f"{m['termination']} ({src}); sidecar {sidecar_path(args.out)}")
    return 0
