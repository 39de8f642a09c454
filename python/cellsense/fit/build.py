"""Identify an equivalent-circuit cell model from an OCV test and HPPC tests (``cellsense fit``).

Method (details in docs/fitting.md):

* OCV test (C/20 discharge then C/20 charge, starting full): capacity Q = charge discharged in the
  discharge branch; SOC = 1 - Ah/Q; OCV(SOC) = mean of the two branches; half the branch gap minus
  the C/20 resistive drop I_C20 * (R0 + sum R_j) is the hysteresis magnitude M(SOC) (>= 0).
* Each HPPC file (one per temperature, taken as the median of its temperature column): the pulse
  sets are located; for each one, R0, R_j, tau_j are fitted with scipy.optimize.least_squares
  (bounded, log-parameterised so everything stays positive) to the voltage of the exact discrete
  ECM below over a window covering the pulse set, the following SOC step and its relaxation.
* Tables over SOC x temperature, filled/extrapolated in SOC by log-linear interpolation / nearest.
* The fitted model is run open-loop over every file and the voltage RMSE is reported.

The ECM (same equations as the C++ core), sample k covers (t_{k-1}, t_k], i = current_A[k] > 0
discharge::
    z_k   = z_{k-1} - eta i dt / (3600 Q)                    (eta = 1 discharge, Coulombic eff. charge)
    v_j,k = a_j v_j,k-1 + R_j (1 - a_j) i,  a_j = exp(-dt / tau_j)  (R_j, tau_j at z_{k-1}, T_k)
    h_k   = A_h h_{k-1} - (1 - A_h) sgn(i), A_h = exp(-|i| gamma eta dt / (3600 Q))
    s_k   = sgn(i) if |i| > deadband else s_{k-1}   (deadband default Q/100 A)
    v_k   = OCV(z_k, T) + M(z_k, T) h_k - M0(z_k, T) s_k - sum_j v_j,k - R0(z_k, T) i

Tables are bilinear in (SOC, T), clamped at the grid ends. The equations are cellsense.cells.ecm_reference
(`simulate`, the one NumPy ECM, held to the core by tests/python/cells/test_ecm_reference.py).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .._cliopts import add_pybamm_set, alias, physics_value
from .._io import Progress, require, write_atomically
from ..cells.ecm_reference import ecm_simulate, table
from ..io.logs import read_log
from .from_pybamm import cli_fit_from_pybamm

DEFAULT_SOC_BREAKPOINTS = [0.0, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.12, 0.14,
                           0.16, 0.18, 0.2, 0.225, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65,
                           0.7, 0.75, 0.8, 0.85, 0.875, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.99,
                           0.995, 1.0]
MAX_RC_PAIRS = 3  # the core supports 1..3 (docs/cell-file.md)
TAU_MIN_S = 0.5
TAU_MAX_S = 20000.0


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
#: the columns of a cell log, in the order a plain 2-D array gives them (docs/fitting.md, "Inputs")
LOG_COLUMNS = ("time_s", "current_A", "voltage_V", "temperature_degC", "soc_true")


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
    elif all(hasattr(src, c) for c in LOG_COLUMNS[:4]):  # cellsense.logs.CellLog, SimResult, realdata logs
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
        raise TypeError(f"{what}: expected a cell-log CSV path, a cell log (cellsense.logs.read_cell_log, "
                        f"cellsense.simulate), a dict of columns or an n x 4/5 array ({', '.join(LOG_COLUMNS)}); "
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
    if n is None or n < 2:
        raise ValueError(f"{what}: needs at least 2 samples, has {n or 0}")
    for c, arr in out.items():
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ValueError(f"{what}: row {bad[0]}: non-finite {c} ({arr[bad[0]]!r}); a fit needs every sample "
                             f"(drop or fill the gaps first)")
    bad = np.flatnonzero(np.diff(out["time_s"]) <= 0)
    if bad.size:
        raise ValueError(f"{what}: row {bad[0] + 1}: time_s not strictly increasing")
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


def _runs(mask: np.ndarray):
    """(start, end_exclusive) index pairs of True runs."""
    m = np.r_[False, mask, False].astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _fmt(x, sig=6):
    return float(f"{x:.{sig}g}")


# ----------------------------------------------------------------------------------------------
# OCV
# ----------------------------------------------------------------------------------------------
def _offset_gap_std(log, d_run, c_run, thr, delta, lo=0.2, hi=0.9):
    """Std of the charge-discharge gap over SOC [lo, hi] with the current corrected by -delta while it
    flows; None if the branches do not cover [lo, hi] or the charge would end above SOC 1."""
    i, v, dt = log["current_A"], log["voltage_V"], log["dt"]
    ic = np.where(np.abs(i) > thr, i - delta, i)
    ah = np.cumsum(ic * dt) / 3600.0
    d0, d1 = d_run
    c0, c1 = c_run
    Q = ah[d1 - 1]
    if Q <= 0:
        return None
    soc = 1.0 - ah / Q
    if soc[c1 - 1] > 1.0 + 1e-9:
        return None
    z = np.linspace(lo, hi, 71)
    sd, sc = soc[d0:d1], soc[c0:c1]
    if sd.min() > lo or sc.min() > lo or sc.max() < hi:
        return None
    Vd = np.interp(z, sd[::-1], v[d0:d1][::-1])
    oc = np.argsort(sc)
    Vc = np.interp(z, sc[oc], v[c0:c1][oc])
    return float(np.std(Vc - Vd))


def fit_ocv(log: dict, soc_bp: np.ndarray, transient_soc: float = 0.015, capacity_Ah: Optional[float] = None,
            current_offset_A=None) -> dict:
    """OCV(SOC), half branch gap and capacity from a C/20 discharge + charge log (starts full).

    The SOC scale (the model's capacity) is, in order: `capacity_Ah` if given; else the scale of the
    log's own `soc_true` column if it has one (so the model's SOC is the SOC the logs are scored
    against); else the charge discharged in the C/20 branch.

    `current_offset_A` (None = 0): an offset of the tester's current reading while current flows; the
    log's current is corrected to ``i - offset`` (cellsense sign, + = discharge) wherever |i| > 2 % of
    its maximum, before any coulomb counting (capacity, SOC axis). A positive offset means discharge
    read too large and charge too small. "auto": the offset that makes the charge-discharge gap
    flattest (least standard deviation) over 20-90 % SOC, searched within +-30 % of the discharge
    current, never letting the charge branch end above SOC 1 (docs/real-data.md: the Panasonic
    C/20 test). The corrected current is returned as ``current_A`` for the residuals."""
    path = log["path"]
    i, v, t = log["current_A"], log["voltage_V"], log["time_s"]
    imax = np.max(np.abs(i))
    if imax <= 0:
        raise ValueError(f"{path}: OCV test has no current")
    thr = 0.02 * imax
    dis_runs = [r for r in _runs(i > thr)]
    chg_runs = [r for r in _runs(i < -thr)]
    if not dis_runs:
        raise ValueError(f"{path}: OCV test has no discharge branch (current_A > 0)")
    d0, d1 = max(dis_runs, key=lambda r: t[r[1] - 1] - t[r[0]])
    off, off_note = 0.0, "none"
    if current_offset_A is not None:
        chg_after = [r for r in chg_runs if r[0] >= d1]
        if isinstance(current_offset_A, str):
            if current_offset_A != "auto":
                raise ValueError(f"current_offset_A must be a number, None or 'auto', got {current_offset_A!r}")
            if not chg_after:
                raise ValueError(f"{path}: current_offset_A='auto' needs a charge branch after the discharge")
            c_run = max(chg_after, key=lambda r: t[r[1] - 1] - t[r[0]])
            i_d = float(np.median(i[d0:d1]))
            cands = np.linspace(-0.3 * i_d, 0.3 * i_d, 241)
            res = [(_offset_gap_std(log, (d0, d1), c_run, thr, dl), dl) for dl in cands]
            res = [(sd_, dl) for sd_, dl in res if sd_ is not None]
            if not res:
                raise ValueError(f"{path}: current_offset_A='auto': no offset makes both branches cover 20-90 % SOC")
            sd_best, off = min(res)
            off_note = (f"auto: {1e3 * off:.2f} mA ({100 * off / i_d:.2f} % of the C/20 discharge current), "
                        f"charge-discharge gap std {1e3 * sd_best:.1f} mV over 20-90 % SOC")
        else:
            off = float(current_offset_A)
            if not math.isfinite(off):
                raise ValueError(f"current_offset_A must be finite, got {current_offset_A!r}")
            off_note = f"given: {1e3 * off:.2f} mA"
    if off != 0.0:
        i = np.where(np.abs(i) > thr, i - off, i)
        Ah = np.cumsum(i * log["dt"]) / 3600.0
    else:
        Ah = log["Ah"]
    Q_c20 = float(Ah[d1 - 1])
    if Q_c20 <= 0:
        raise ValueError(f"{path}: non-positive discharged capacity")
    Q, q_source = Q_c20, "c20"
    st = log.get("soc_true")
    if capacity_Ah is not None:
        if not (capacity_Ah > 0 and math.isfinite(capacity_Ah)):
            raise ValueError(f"capacity_Ah must be positive, got {capacity_Ah!r}")
        Q, q_source = float(capacity_Ah), "given"
    elif st is not None and np.isfinite(st[d0]) and np.isfinite(st[d1 - 1]) and st[d0] - st[d1 - 1] > 0.5:
        Q, q_source = float((Ah[d1 - 1] - Ah[d0]) / (st[d0] - st[d1 - 1])), "soc_true"
    soc = 1.0 - Ah / Q
    i_dis = float(np.median(i[d0:d1]))
    branches = {}
    sd, vd = soc[d0:d1], v[d0:d1]
    ok = sd <= sd[0] - transient_soc
    branches["discharge"] = (sd[ok], vd[ok])
    chg = [r for r in chg_runs if r[0] >= d1]
    i_chg = None
    if chg:
        c0, c1 = max(chg, key=lambda r: t[r[1] - 1] - t[r[0]])
        sc, vc = soc[c0:c1], v[c0:c1]
        ok = sc >= sc[0] + transient_soc
        branches["charge"] = (sc[ok], vc[ok])
        i_chg = float(np.median(i[c0:c1]))
    else:
        raise ValueError(f"{path}: OCV test has no charge branch after the discharge (current_A < 0)")

    def on_grid(sv):
        s_, v_ = sv
        order = np.argsort(s_)
        s_, v_ = s_[order], v_[order]
        val = np.interp(soc_bp, s_, v_)
        valid = (soc_bp >= s_[0]) & (soc_bp <= s_[-1])
        return np.where(valid, val, np.nan)

    Vd = on_grid(branches["discharge"])
    Vc = on_grid(branches["charge"])
    both = np.isfinite(Vd) & np.isfinite(Vc)
    if both.sum() < 3:
        raise ValueError(f"{path}: discharge and charge branches overlap on fewer than 3 SOC breakpoints")
    half = (Vc - Vd) / 2.0
    hb = np.interp(soc_bp, soc_bp[both], half[both])  # nearest extension at the ends
    ocv = np.where(both, (Vd + Vc) / 2.0, np.nan)
    # anchors: end of each rest longer than 10 min, and the file start (at rest, SOC 1)
    anchors_s, anchors_v = [], []
    rest_runs = _runs(np.abs(i) <= thr)
    for r0, r1 in rest_runs:
        if t[r1 - 1] - t[r0] >= 600.0 or r0 == 0:
            anchors_s.append(soc[r1 - 1])
            anchors_v.append(v[r1 - 1])
    pts_s = list(soc_bp[both]) + anchors_s
    pts_v = list(ocv[both]) + anchors_v
    order = np.argsort(pts_s)
    ps, pv = np.asarray(pts_s)[order], np.asarray(pts_v)[order]
    lo_ok, hi_ok = soc_bp[both][0], soc_bp[both][-1]
    fill = np.interp(soc_bp, ps, pv)
    single = np.where(np.isfinite(Vd), Vd + hb, Vc - hb)
    for k in range(len(soc_bp)):
        if both[k]:
            continue
        s_ = soc_bp[k]
        inside_anchor = (s_ < lo_ok and ps[0] <= s_) or (s_ > hi_ok and ps[-1] >= s_)
        if inside_anchor:
            ocv[k] = fill[k]
        elif np.isfinite(single[k]):
            ocv[k] = single[k]
        else:
            ocv[k] = fill[k]
    # strictly increasing (>= 10 uV per breakpoint)
    for k in range(1, len(ocv)):
        ocv[k] = max(ocv[k], ocv[k - 1] + 1e-5)
    T_med = float(np.median(log["temperature_degC"]))
    return {"capacity_Ah": Q, "capacity_source": q_source, "c20_capacity_Ah": Q_c20,
            "current_offset_A": off, "current_offset_note": off_note, "current_A": i,
            "soc_data_min": float(np.min(soc[d0:d1])),
            "ocv_V": ocv, "half_gap_V": hb, "i_discharge_A": i_dis,
            "i_charge_A": i_chg, "temperature_degC": T_med, "v_min": float(v.min()),
            "v_max": float(v.max()), "overlap": (float(lo_ok), float(hi_ok))}


# ----------------------------------------------------------------------------------------------
# HPPC
# ----------------------------------------------------------------------------------------------
def _pulse_windows(log: dict, max_pulse_s: float = 30.0, pre_s: float = 30.0):
    path = log["path"]
    i, t = log["current_A"], log["time_s"]
    imax = np.max(np.abs(i))
    if imax <= 0:
        raise ValueError(f"{path}: HPPC log has no current")
    thr = 0.02 * imax
    segs = []
    for r0, r1 in _runs(np.abs(i) > thr):
        # duration of the segment: from t[r0-1] (start of the first interval) to t[r1-1]
        dur = t[r1 - 1] - t[max(r0 - 1, 0)]
        segs.append((r0, r1, dur))
    # split runs where the current changes sign (discharge pulse followed directly by charge)
    pulses_idx = [k for k, s in enumerate(segs) if s[2] <= max_pulse_s]
    sets = []
    cur = []
    for k, s in enumerate(segs):
        if s[2] <= max_pulse_s:
            cur.append(k)
        else:
            if cur:
                sets.append((cur, k))
            cur = []
    if cur:
        sets.append((cur, None))
    if not sets:
        raise ValueError(f"{path}: no HPPC pulses (current segments <= {max_pulse_s:g} s) found")
    wins = []
    for n_, (members, next_long) in enumerate(sets):
        first = segs[members[0]]
        k_start_pulse = first[0]
        t_pre = t[max(k_start_pulse - 1, 0)] - pre_s
        k0 = int(np.searchsorted(t, t_pre, side="left"))
        k0 = max(k0, segs[members[0] - 1][1] if members[0] > 0 else 0)
        if n_ + 1 < len(sets):
            nxt = segs[sets[n_ + 1][0][0]]
            k1 = int(np.searchsorted(t, t[max(nxt[0] - 1, 0)] - pre_s, side="left"))
            k1 = max(k1, segs[sets[n_ + 1][0][0] - 1][1])
        else:
            k1 = segs[next_long][0] if next_long is not None else len(t)
        wins.append({"k0": k0, "k1": k1, "pulse_start": k_start_pulse,
                     "has_long": next_long is not None and n_ + 1 < len(sets)})
    return wins


def _tau_bounds(n_rc):
    edges = np.exp(np.linspace(math.log(TAU_MIN_S), math.log(TAU_MAX_S), n_rc + 1))
    return [(edges[j], edges[j + 1]) for j in range(n_rc)]


def _rc_response(i, dt, R, tau, v0):
    """v_k = a v_{k-1} + R (1 - a) i_k over a window (k = 0 is the first step)."""
    a = np.exp(-dt / tau)
    if np.ptp(dt) < 1e-9 * max(1.0, dt[0]):
        from scipy.signal import lfilter
        a0 = float(a[0])
        y, _ = lfilter([R * (1 - a0)], [1.0, -a0], i, zi=[a0 * v0])
        return y
    out = np.empty(len(i))
    x = v0
    b = R * (1 - a) * i
    for k in range(len(i)):
        x = a[k] * x + b[k]
        out[k] = x
    return out


def _fit_window(log, w, n_rc, ocv_fn, M_fn, h, soc, v_rc0, fixed_slow=None):
    from scipy.optimize import least_squares

    k0, k1 = w["k0"], w["k1"]
    ks = np.arange(k0 + 1, k1)  # intervals ending at k0+1 .. k1-1 ; row k0 is the initial state
    i = log["current_A"][ks]
    v = log["voltage_V"][ks]
    dt = log["dt"][ks]
    z = soc[ks]
    base = ocv_fn(z) + M_fn(z) * h[ks]
    # initial guess: instantaneous step at the first pulse edge
    kp = w["pulse_start"]
    di = log["current_A"][kp] - log["current_A"][kp - 1]
    R0_step = abs((log["voltage_V"][kp] - log["voltage_V"][kp - 1]) / di) if abs(di) > 0 else 0.01
    R0_step = float(np.clip(R0_step, 1e-4, 1.0))
    tb = _tau_bounds(n_rc)
    free = list(range(n_rc)) if fixed_slow is None else list(range(n_rc - 1))

    def unpack(x):
        R0 = math.exp(x[0])
        Rs, taus = [], []
        for j in range(n_rc):
            if j in free:
                m = free.index(j)
                Rs.append(math.exp(x[1 + 2 * m]))
                taus.append(math.exp(x[2 + 2 * m]))
            else:
                Rs.append(fixed_slow[0])
                taus.append(fixed_slow[1])
        return R0, Rs, taus

    def model(x):
        R0, Rs, taus = unpack(x)
        out = base - R0 * i
        for j in range(n_rc):
            out = out - _rc_response(i, dt, Rs[j], taus[j], v_rc0[j])
        return out

    x0 = [math.log(R0_step * 0.8)]
    lb = [math.log(1e-5)]
    ub = [math.log(2.0)]
    for j in free:
        x0 += [math.log(R0_step * 0.3), math.log(math.sqrt(tb[j][0] * tb[j][1]))]
        lb += [math.log(1e-6), math.log(tb[j][0])]
        ub += [math.log(2.0), math.log(tb[j][1])]
    x0 = np.clip(x0, np.asarray(lb) + 1e-9, np.asarray(ub) - 1e-9)
    best = None
    # two starts for the time constants (short / long within their bounds)
    for frac in (0.5, 0.2, 0.8):
        xs = x0.copy()
        for m, j in enumerate(free):
            xs[2 + 2 * m] = lb[2 + 2 * m] + frac * (ub[2 + 2 * m] - lb[2 + 2 * m])
        r = least_squares(lambda x: model(x) - v, xs, bounds=(lb, ub), method="trf", x_scale=1.0,
                          max_nfev=400)
        if best is None or r.cost < best.cost:
            best = r
    R0, Rs, taus = unpack(best.x)
    # RC states at the window end (initial state for the next window)
    v_end = [float(_rc_response(i, dt, Rs[j], taus[j], v_rc0[j])[-1]) if len(i) else v_rc0[j]
             for j in range(n_rc)]
    rmse = float(np.sqrt(np.mean(best.fun ** 2))) if len(i) else float("nan")
    return {"R0": R0, "R": Rs, "tau": taus, "R0_step": R0_step, "rmse_V": rmse, "v_end": v_end,
            "soc": float(soc[w["pulse_start"] - 1]), "n": int(len(i))}


def _rest_offsets(log, Q, initial_soc, gamma, ocv_fn, M_fn, min_rest_s=900.0):
    """(SOC, measured - modelled rested voltage) at the end of every rest >= min_rest_s of a log;
    levels closer than 0.5 % SOC are averaged. Sorted by SOC."""
    i, v, t = log["current_A"], log["voltage_V"], log["time_s"]
    thr = 0.02 * np.max(np.abs(i))
    soc = initial_soc - log["Ah"] / Q
    h = _hysteresis_state(log, Q, gamma)
    zs, ds = [], []
    for r0, r1 in _runs(np.abs(i) <= thr):
        if t[r1 - 1] - t[max(r0 - 1, 0)] < min_rest_s:
            continue
        k = r1 - 1
        zs.append(float(soc[k]))
        ds.append(float(v[k] - (ocv_fn(soc[k]) + M_fn(soc[k]) * h[k])))
    if not zs:
        return np.array([]), np.array([])
    order = np.argsort(zs)
    zs, ds = np.asarray(zs)[order], np.asarray(ds)[order]
    gz, gd, cur = [], [], [0]
    for k in range(1, len(zs) + 1):
        if k == len(zs) or zs[k] - zs[cur[0]] > 0.005:
            gz.append(float(np.mean(zs[cur])))
            gd.append(float(np.mean(ds[cur])))
            cur = [k]
        else:
            cur.append(k)
    return np.asarray(gz), np.asarray(gd)


def _hysteresis_state(log, Q, gamma, ce=1.0, h0=0.0):
    i, dt = log["current_A"], log["dt"]
    eta = np.where(i < 0, ce, 1.0)
    A = np.exp(-np.abs(eta * i * gamma * dt / (3600.0 * Q)))
    sg = np.sign(i)
    h = np.empty(len(i))
    x = h0
    h[0] = x
    for k in range(1, len(i)):
        x = A[k] * x - (1 - A[k]) * sg[k]
        h[k] = x
    return h


def fit_hppc(log: dict, n_rc: int, Q: float, ocv_fn, M_fn, gamma: float, initial_soc: float = 1.0,
             min_window_s: float = 600.0, on_window=None) -> list:
    """Per pulse-set fits of R0, R_j, tau_j. Returns a list of dicts (one per SOC level). `on_window`, if
    given, is called after each pulse set (progress)."""
    wins = _pulse_windows(log)
    soc = initial_soc - log["Ah"] / Q
    h = _hysteresis_state(log, Q, gamma)
    t = log["time_s"]
    out = []
    v_rc = [0.0] * n_rc
    prev = None
    for w in wins:
        dur = t[w["k1"] - 1] - t[w["k0"]]
        short = dur < min_window_s and prev is not None and n_rc > 1
        fixed = (prev["R"][-1], prev["tau"][-1]) if short else None
        r = _fit_window(log, w, n_rc, ocv_fn, M_fn, h, soc, v_rc, fixed_slow=fixed)
        r["window_s"] = float(dur)
        r["slow pair fixed"] = bool(short)
        out.append(r)
        v_rc = r["v_end"]
        prev = r
        if on_window is not None:
            on_window()
    return out


def _extrapolate_warm(tabs: dict, T_bp: np.ndarray, dT: float):
    """Append a temperature row at T_bp[-1] + dT: each resistance table continued by the Arrhenius law
    R ~ exp(E/(R_gas T)) with the activation temperature E/R_gas = median over the SOC breakpoints of
    d ln R / d(1/T) between the two warmest fitted rows (clipped at >= 0: never more resistive when
    warmer); time constants held at the warmest row. Returns (tabs, T_bp, {key: details})."""
    K = T_bp + 273.15
    Kn = K[-1] + dT
    out, info = {}, {}
    for k, tab in tabs.items():
        if k.startswith("R"):
            slope = np.median((np.log(tab[-1]) - np.log(tab[-2])) / (1.0 / K[-1] - 1.0 / K[-2]))
            slope = max(float(slope), 0.0)
            ratio = math.exp(slope * (1.0 / Kn - 1.0 / K[-1]))
            new = tab[-1] * ratio
            info[k] = {"activation_K": slope, "ratio": ratio}
        else:
            new = tab[-1]
        out[k] = np.vstack([tab, new])
    return out, np.r_[T_bp, T_bp[-1] + dT], info


def _to_grid(levels_soc, values, soc_bp):
    """log-linear interpolation in SOC, nearest beyond the measured range."""
    s = np.asarray(levels_soc)
    order = np.argsort(s)
    s = s[order]
    lv = np.log(np.asarray(values)[order])
    if len(s) == 1:
        return np.full(len(soc_bp), math.exp(lv[0]))
    # merge duplicated SOC levels
    us, inv = np.unique(np.round(s, 6), return_inverse=True)
    lvu = np.array([lv[inv == k].mean() for k in range(len(us))])
    return np.exp(np.interp(soc_bp, us, lvu))


# ----------------------------------------------------------------------------------------------
# top level
# ----------------------------------------------------------------------------------------------
def fit(ocv_csv, hppc_csvs: Sequence, out=None, rc_pairs: int = 2, name: str = "cell",
        description: Optional[str] = None, soc_breakpoints: Optional[Sequence[float]] = None,
        hysteresis_rate: float = 10.0, hppc_initial_soc: float = 1.0,
        lower_cutoff_V: Optional[float] = None, upper_cutoff_V: Optional[float] = None,
        capacity_Ah: Optional[float] = None, verbose: bool = False, ocv_current_offset_A=None,
        ocv_rest_correction: bool = False, temperature_extrapolation_K: float = 0.0, progress=None,
        plot=None) -> dict:
    """Fit an ECM cell file from an OCV test log and one HPPC log per temperature.

    ``ocv_csv`` and each of ``hppc_csvs`` is a cell log in any of these forms: a cell-log CSV path; a log
    object with ``time_s``, ``current_A``, ``voltage_V``, ``temperature_degC`` (and optionally ``soc_true``)
    attributes, such as `cellsense.logs.read_cell_log`'s `CellLog` or `cellsense.simulate.simulate`'s
    `SimResult`; a mapping of those columns (e.g. `cellsense.simulate.read_log`'s dict); a structured
    array with those fields; or an n x 4 / n x 5 array whose columns are in that order (current + =
    discharge). ``hppc_csvs`` may also be a single log. Logs are named in messages, residuals and provenance by
    their file name (a log object's ``source`` or sidecar file name, a simulated log's parameter set, model
    and protocol), else by the argument (``ocv_csv``, ``hppc_csvs[1]``); a bad log raises ValueError (or
    TypeError for an unusable type) naming the argument.

    Assumes the OCV test and each HPPC test start fully charged (SOC 1; ``hppc_initial_soc``
    overrides that for the HPPC files).  Returns the cell-file dict and writes it to ``out``.
    ``progress``: None / False (default) shows nothing; True a progress line with an ETA on stderr while
    the pulse sets are fitted (`cellsense._io.Progress`); a callable taking one str gets the lines instead.
    ``plot``: a PNG path (any matplotlib format by its suffix): the fitted model's open-loop voltage against the
    measured one for each HPPC file (one per temperature) and the OCV test, with the residuals (`plot_fit`;
    needs matplotlib, checked before any fitting).
    ``ocv_current_offset_A``: see `fit_ocv` (``current_offset_A``); None uses the OCV log's current as logged.
    ``temperature_extrapolation_K``: if > 0, append a temperature row that many K above the warmest HPPC
    file, resistances continued by the Arrhenius law fitted between the two warmest files (`_extrapolate_warm`).
    ``ocv_rest_correction``: shift the OCV so that the model's rested voltage (OCV + M h) matches the
    end of every rest >= 15 min in the HPPC file at the OCV test's temperature (within 5 degC); the
    shift is linear in SOC between those levels and constant beyond them (docs/real-data.md).
    """
    if (isinstance(hppc_csvs, (str, os.PathLike)) or hasattr(hppc_csvs, "time_s")
            or (isinstance(hppc_csvs, np.ndarray) and (hppc_csvs.ndim == 2 or hppc_csvs.dtype.names))
            or (hasattr(hppc_csvs, "keys") and "time_s" in hppc_csvs.keys())):
        hppc_csvs = [hppc_csvs]  # one HPPC log
    try:
        hppc_csvs = list(hppc_csvs)
    except TypeError:
        raise TypeError(f"hppc_csvs: expected HPPC logs (paths, log objects or arrays), one per temperature; "
                        f"got {type(hppc_csvs).__name__}") from None
    if not hppc_csvs:
        raise ValueError("fit: at least one HPPC file is required")
    if not (isinstance(rc_pairs, int) and 1 <= rc_pairs <= MAX_RC_PAIRS):
        raise ValueError(f"rc_pairs must be an integer in 1..{MAX_RC_PAIRS}, got {rc_pairs!r}")
    if not (hysteresis_rate >= 0 and math.isfinite(hysteresis_rate)):
        raise ValueError(f"hysteresis_rate must be >= 0, got {hysteresis_rate!r}")
    soc_bp = np.asarray(DEFAULT_SOC_BREAKPOINTS if soc_breakpoints is None else soc_breakpoints, float)
    if (soc_bp.ndim != 1 or len(soc_bp) < 2 or len(soc_bp) > 64 or np.any(np.diff(soc_bp) <= 0)
            or soc_bp[0] > 0 or soc_bp[-1] < 1):
        raise ValueError("soc_breakpoints must be 2..64 strictly increasing values covering 0..1")
    say = print if verbose else (lambda *a, **k: None)
    if plot is not None:  # before the work: a missing matplotlib is one line naming the extra
        require("matplotlib", "cellsense fit --plot", "fit")

    ocv_log = _load(ocv_csv, "ocv_csv")
    o = fit_ocv(ocv_log, soc_bp, capacity_Ah=capacity_Ah, current_offset_A=ocv_current_offset_A)
    if soc_breakpoints is None and o["soc_data_min"] < soc_bp[0] - 0.005 and len(soc_bp) < 64:
        # The cell delivered more than the SOC scale's capacity before its lower cut-off: extend the
        # grid below 0 to where the data goes, so the OCV is tabulated, not extrapolated, there.
        soc_bp = np.r_[math.floor(o["soc_data_min"] * 200.0) / 200.0, soc_bp]
        o = fit_ocv(ocv_log, soc_bp, capacity_Ah=capacity_Ah, current_offset_A=ocv_current_offset_A)
    Q = o["capacity_Ah"]
    say(f"OCV: capacity {Q:.4f} Ah from {ocv_log['path']}")
    ocv_tab = o["ocv_V"]

    def ocv_fn(z):
        return np.interp(z, soc_bp, ocv_tab)

    hppc = []
    seen = {Path(ocv_log["path"]).name}
    for k, path in enumerate(hppc_csvs):
        lg = _load(path, f"hppc_csvs[{k}]")
        if Path(lg["path"]).name in seen:  # names key the residuals and the provenance: keep them apart
            lg["path"] = f"{lg['path']} (hppc_csvs[{k}])"
        seen.add(Path(lg["path"]).name)
        T = round(float(np.median(lg["temperature_degC"])), 1)
        hppc.append((T, lg["path"], lg))
    hppc.sort(key=lambda x: x[0])
    T_bp = np.array([h[0] for h in hppc])
    if np.any(np.diff(T_bp) <= 0):
        raise ValueError(f"HPPC files must have distinct temperatures (column medians: {list(T_bp)})")
    if len(T_bp) > 8:
        raise ValueError("at most 8 HPPC temperatures are supported")

    names = ["R0 [Ohm]"] + [f"{p}{j + 1} {u}" for j in range(rc_pairs) for p, u in (("R", "[Ohm]"), ("tau", "[s]"))]

    # every pulse set is fitted once without hysteresis and, when the OCV branches show some, once more with
    # it: the progress line counts the fits (the second pass is expected when the branch gap is not zero)
    n_windows = sum(len(_pulse_windows(lg)) for _, _, lg in hppc)
    two_passes = bool((hysteresis_rate > 0 and np.any(o["half_gap_V"] > 0)) or ocv_rest_correction)
    bar = Progress("fit: HPPC pulse sets", total=(2 if two_passes else 1) * n_windows, unit="fitted",
                   enabled=bool(progress), emit=progress if callable(progress) else None)

    def build_tables(M_tab):
        def M_fn(z):
            return np.interp(z, soc_bp, M_tab)
        tabs = {k: np.zeros((len(T_bp), len(soc_bp))) for k in names}
        details = []
        for it, (T, path, lg) in enumerate(hppc):
            levels = fit_hppc(lg, rc_pairs, Q, ocv_fn, M_fn, hysteresis_rate, hppc_initial_soc,
                              on_window=bar.update)
            lv_soc = [L["soc"] for L in levels]
            tabs["R0 [Ohm]"][it] = _to_grid(lv_soc, [L["R0"] for L in levels], soc_bp)
            for j in range(rc_pairs):
                tabs[f"R{j + 1} [Ohm]"][it] = _to_grid(lv_soc, [L["R"][j] for L in levels], soc_bp)
                tabs[f"tau{j + 1} [s]"][it] = _to_grid(lv_soc, [L["tau"][j] for L in levels], soc_bp)
            details.append(levels)
        return tabs, details

    # pass 1 without hysteresis, then M from the OCV half gap, then pass 2 with it
    M_tab = np.zeros(len(soc_bp))
    tabs, details = build_tables(M_tab)
    r_tot = tabs["R0 [Ohm]"] + sum(tabs[f"R{j + 1} [Ohm]"] for j in range(rc_pairs))
    r_tot_ocvT = np.array([np.interp(o["temperature_degC"], T_bp, r_tot[:, k]) for k in range(len(soc_bp))])
    i_c20 = 0.5 * (abs(o["i_discharge_A"]) + abs(o["i_charge_A"]))
    M_tab = np.clip(o["half_gap_V"] - i_c20 * r_tot_ocvT, 0.0, None)
    if not (hysteresis_rate > 0 and np.any(M_tab > 0)):
        M_tab = np.zeros(len(soc_bp))
    rest_note = None
    if ocv_rest_correction:
        it = int(np.argmin(np.abs(T_bp - o["temperature_degC"])))
        if abs(T_bp[it] - o["temperature_degC"]) > 5.0:
            raise ValueError(f"ocv_rest_correction: no HPPC file within 5 degC of the OCV test "
                             f"({o['temperature_degC']:.1f} degC; HPPC at {list(T_bp)})")
        T_r, path_r, lg_r = hppc[it]
        zs, ds = _rest_offsets(lg_r, Q, hppc_initial_soc, hysteresis_rate, ocv_fn, lambda z: np.interp(z, soc_bp, M_tab))
        if len(zs) < 2:
            raise ValueError(f"{path_r}: ocv_rest_correction needs at least 2 rests of >= 15 min")
        shift = np.interp(soc_bp, zs, ds)
        ocv_tab = ocv_tab + shift
        for k in range(1, len(ocv_tab)):
            ocv_tab[k] = max(ocv_tab[k], ocv_tab[k - 1] + 1e-5)
        rest_note = (f"; then shifted so that the model's rested voltage OCV + M h equals the voltage at the end of "
                     f"each rest >= 15 min of {Path(path_r).name} ({len(zs)} SOC levels {zs[0]:.3f}..{zs[-1]:.3f}, "
                     f"shift {1e3 * ds.min():+.1f}..{1e3 * ds.max():+.1f} mV), linear in SOC between levels and "
                     f"constant beyond them")
        say(f"OCV rest correction from {path_r}: {len(zs)} levels, shift {1e3 * ds.min():+.1f}..{1e3 * ds.max():+.1f} mV")
    second = bool(np.any(M_tab > 0) or ocv_rest_correction)
    bar.total = bar.done + (n_windows if second else 0)  # now known: one pass or two
    bar.set(bar.done)
    if second:
        tabs, details = build_tables(M_tab)
    bar.close()
    T_fit = T_bp.copy()  # the measured temperatures (T_bp may gain an extrapolated warm row below)
    arrhenius = {}
    if temperature_extrapolation_K:
        if not (temperature_extrapolation_K > 0 and math.isfinite(temperature_extrapolation_K)):
            raise ValueError(f"temperature_extrapolation_K must be >= 0, got {temperature_extrapolation_K!r}")
        if len(T_bp) < 2:
            raise ValueError("temperature_extrapolation_K needs HPPC files at >= 2 temperatures")
        if len(T_bp) >= 8:
            raise ValueError("temperature_extrapolation_K: already 8 temperatures (the format's maximum)")
        tabs, T_bp, arrhenius = _extrapolate_warm(tabs, T_bp, float(temperature_extrapolation_K))
        say("warm extrapolation to " + f"{T_bp[-1]:g} degC: " + ", ".join(
            f"{k} x{a['ratio']:.3f}" for k, a in arrhenius.items()))

    v_lo = float(round(o["v_min"], 3)) if lower_cutoff_V is None else float(lower_cutoff_V)
    v_hi = float(round(o["v_max"], 3)) if upper_cutoff_V is None else float(upper_cutoff_V)
    nT = len(T_bp)
    params = {
        "Nominal cell capacity [A.h]": _fmt(Q, 7),
        "Coulombic efficiency": 1.0,
        "SOC breakpoints": [float(x) for x in soc_bp],
        "Temperature breakpoints [degC]": [float(x) for x in T_bp],
        "Open-circuit voltage [V]": [[round(float(x), 6) for x in ocv_tab] for _ in range(nT)],
    }
    for k in names:
        params[k] = [[_fmt(x) for x in row] for row in tabs[k]]
    params["Hysteresis maximum [V]"] = [[round(float(x), 6) for x in M_tab] for _ in range(nT)]
    params["Instantaneous hysteresis [V]"] = [[0.0] * len(soc_bp) for _ in range(nT)]
    params["Hysteresis rate constant"] = float(hysteresis_rate)
    params["Lower voltage cut-off [V]"] = v_lo
    params["Upper voltage cut-off [V]"] = v_hi

    ocv_name = Path(ocv_log["path"]).name
    hp_names = ", ".join(f"{Path(p).name} ({T:g} degC)" for T, p, _ in hppc)
    lv_txt = ", ".join(f"{L['soc']:.3f}" for L in details[len(details) // 2])
    prov = {
        "Nominal cell capacity [A.h]": {
            "c20": f"charge discharged in the C/20 discharge branch of {ocv_name} "
                   + ("" if o["current_offset_A"] == 0.0 else f"(current corrected for the tester offset, {o['current_offset_note']}) ")
                   + f"({abs(o['i_discharge_A']):.4g} A, from full to {v_lo:g} V), coulomb counted",
            "soc_true": f"the SOC scale of {ocv_name}'s soc_true column (charge / change of soc_true over the C/20 "
                        f"discharge branch), so the model's SOC is the SOC its logs are scored against; the C/20 "
                        f"branch itself discharged {o['c20_capacity_Ah']:.4f} Ah",
            "given": f"given by the user (--capacity-Ah); the C/20 branch of {ocv_name} discharged "
                     f"{o['c20_capacity_Ah']:.4f} Ah"}[o["capacity_source"]],
        "Coulombic efficiency": "assumed 1.0 (not identifiable from these tests)",
        "SOC breakpoints": "fixed grid, denser near 0 and 1 where the OCV is steep; SOC = 1 - Ah / capacity; "
                           "extended below 0 to the C/20 discharge's end when the cell delivered more than the capacity",
        "Temperature breakpoints [degC]": f"median of the temperature column of each HPPC file: {hp_names}"
                                          + ("" if not arrhenius else
                                             f"; plus {T_bp[-1]:g} degC ({temperature_extrapolation_K:g} K above the "
                                             f"warmest HPPC): resistances extrapolated by the Arrhenius law, "
                                             f"activation temperature E/R = median over SOC of d ln R / d(1/T) "
                                             f"between the two warmest HPPC files ("
                                             + ", ".join(f"{k.split(' ')[0]}: {a['activation_K']:.0f} K, x{a['ratio']:.3f}"
                                                         for k, a in arrhenius.items())
                                             + "), time constants, OCV and hysteresis held at the warmest HPPC's "
                                               "values, so a self-heated cell is not modelled with the resistances "
                                               "of the characterisation temperature (docs/real-data.md)"),
        "Open-circuit voltage [V]": f"mean of the C/20 discharge and charge branches of {ocv_name} "
                                    f"(measured at {o['temperature_degC']:.1f} degC, used at all temperatures); "
                                    f"outside the branch overlap [{o['overlap'][0]:.3f}, {o['overlap'][1]:.3f}] "
                                    f"interpolated towards rested voltages (file start, end of rests >= 10 min); "
                                    f"forced strictly increasing"
                                    + (rest_note or "")
                                    + ("" if o["current_offset_A"] == 0.0 else
                                       f"; the OCV log's current was corrected for a tester offset while current "
                                       f"flows ({o['current_offset_note']})"),
        "R0 [Ohm]": f"least-squares fit (scipy.optimize.least_squares, bounded, log-parameterised) of the discrete "
                    f"ECM to each HPPC pulse set + following SOC step and relaxation, initialised from the "
                    f"instantaneous voltage step at the first pulse edge; files {hp_names}; SOC levels {lv_txt}; "
                    f"log-linear interpolation in SOC between levels, nearest value outside",
        "Hysteresis maximum [V]": f"half the gap between the C/20 charge and discharge branches of {ocv_name} "
                                  f"minus the C/20 resistive drop {i_c20:.4g} A x (R0 + sum R_j) at "
                                  f"{o['temperature_degC']:.1f} degC, clipped at 0; the same at all temperatures",
        "Instantaneous hysteresis [V]": "set to 0 (not separable from R0 with these tests)",
        "Hysteresis rate constant": f"assumed {hysteresis_rate:g} (not identified)",
        "Identified current range [A]": f"the smallest (charge) and largest (discharge) current of the HPPC files "
                                        f"{hp_names} (0 where a direction was not exercised): the model is a fit to "
                                        f"these currents; cellsense.estimators.power limits default to them (docs/power.md)",
        "Lower voltage cut-off [V]": f"minimum voltage of {ocv_name}" if lower_cutoff_V is None else "given by the caller of fit()",
        "Upper voltage cut-off [V]": f"maximum voltage of {ocv_name}" if upper_cutoff_V is None else "given by the caller of fit()",
    }
    for j in range(rc_pairs):
        b = _tau_bounds(rc_pairs)[j]
        prov[f"R{j + 1} [Ohm]"] = f"joint fit with R0 (see R0), RC pair {j + 1}"
        prov[f"tau{j + 1} [s]"] = (f"joint fit with R0 (see R0), bounded to [{b[0]:.3g}, {b[1]:.3g}] s "
                                   f"(pairs ordered by time constant)")
    if rc_pairs > 1:
        prov[f"R{rc_pairs} [Ohm]"] += ("; at a pulse set without a following long step and relaxation "
                                       "(the last one) the slowest pair is copied from the previous level")
    cell = {
        "cellsense cell file": 1,
        "name": name,
        "description": description or f"ECM ({rc_pairs} RC pairs) fitted by cellsense fit to {ocv_name} and {hp_names}",
        "placeholder": False,
        "model": "ecm",
        "RC pairs": rc_pairs,
        "parameters": params,
        "limits": {"Voltage range [V]": [0.0, 5.0],
                   "Current range [A]": [-_fmt(10 * Q, 3), _fmt(10 * Q, 3)],
                   "Temperature range [degC]": [-40.0, 80.0],
                   # the currents the model was identified on (power limits default to them, docs/power.md)
                   "Identified current range [A]": [
                       _fmt(max(-10 * Q, min(0.0, min(float(np.min(lg["current_A"])) for _, _, lg in hppc))), 4),
                       _fmt(min(10 * Q, max(0.0, max(float(np.max(lg["current_A"])) for _, _, lg in hppc))), 4)]},
        "provenance": prov,
        "fit residuals": {},
    }
    # open-loop residuals
    curves = []  # (label, time_s, measured V, model V) for the plot
    for T, path, lg in hppc:
        r = ecm_simulate(cell, lg["time_s"], lg["current_A"], lg["temperature_degC"], initial_soc=hppc_initial_soc)
        e = r["voltage_V"] - lg["voltage_V"]
        curves.append((f"HPPC {T:g} degC ({Path(path).name})", lg["time_s"], lg["voltage_V"], r["voltage_V"]))
        cell["fit residuals"][Path(path).name] = {"voltage RMSE [mV]": round(1e3 * float(np.sqrt(np.mean(e ** 2))), 3),
                                                  "max abs error [mV]": round(1e3 * float(np.max(np.abs(e))), 3),
                                                  "test": f"HPPC at {T:g} degC, open loop from SOC {hppc_initial_soc:g}"}
    r = ecm_simulate(cell, ocv_log["time_s"], o["current_A"], ocv_log["temperature_degC"], initial_soc=1.0)
    e = r["voltage_V"] - ocv_log["voltage_V"]
    curves.append((f"OCV C/20 {o['temperature_degC']:.0f} degC ({ocv_name})", ocv_log["time_s"], ocv_log["voltage_V"],
                   r["voltage_V"]))
    cell["fit residuals"][ocv_name] = {"voltage RMSE [mV]": round(1e3 * float(np.sqrt(np.mean(e ** 2))), 3),
                                       "max abs error [mV]": round(1e3 * float(np.max(np.abs(e))), 3),
                                       "test": "C/20 OCV test, open loop from SOC 1"
                                               + ("" if o["current_offset_A"] == 0.0 else
                                                  f", current corrected by {1e3 * o['current_offset_A']:.2f} mA while flowing")}
    # the model's identified voltage error (docs/cell-file.md): open-loop RMSE over the HPPC file at the
    # temperature nearest the OCV test (where OCV and dynamics are both measured)
    it_ref = int(np.argmin(np.abs(T_fit - o["temperature_degC"])))
    T_ref, path_ref, _ = hppc[it_ref]
    e_ref = cell["fit residuals"][Path(path_ref).name]["voltage RMSE [mV]"] * 1e-3
    params["Model voltage error [V]"] = round(float(e_ref), 6)
    prov["Model voltage error [V]"] = (f"open-loop voltage RMSE of the fitted model over {Path(path_ref).name} "
                                       f"(HPPC at {T_ref:g} degC, the file nearest the OCV test's "
                                       f"{o['temperature_degC']:.1f} degC; whole file from SOC {hppc_initial_soc:g}, "
                                       f"h = 0, RC voltages 0): the model error the estimator's default voltage "
                                       f"sigma accounts for (cellsense.estimators.settings.NoiseSettings)")
    for fname, res in cell["fit residuals"].items():
        say(f"{fname}: voltage RMSE {res['voltage RMSE [mV]']:.2f} mV (max {res['max abs error [mV]']:.1f} mV)")
    check_cell(cell)
    if out is not None:
        text = json.dumps(cell, indent=1) + "\n"
        write_atomically(Path(out), lambda fh: fh.write(text))
    if plot is not None:
        plot_fit(curves, plot, title=f"{name}: ECM ({rc_pairs} RC pairs) fitted vs measured, open loop")
    return cell


def plot_fit(curves, path, title: str | None = None) -> str:
    """Write the fit's plot (PNG, or any matplotlib format by the suffix of `path`); returns the path.

    `curves`: (label, time_s, measured voltage, model voltage) per log, as `fit(plot=...)` collects them.
    Per log one row: left, the measured voltage and the fitted model's open-loop voltage against time;
    right, the residual (model - measured) in mV with its RMSE. Needs matplotlib (``cellsense[fit]``)."""
    require("matplotlib", "cellsense fit --plot", "fit")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(curves)
    fig, axes = plt.subplots(n, 2, figsize=(12, 2.3 * n + 0.8), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 2]})
    for k, (label, t, v_meas, v_model) in enumerate(curves):
        t_h = (np.asarray(t, float) - float(t[0])) / 3600.0
        res_mV = 1e3 * (np.asarray(v_model, float) - np.asarray(v_meas, float))
        ax = axes[k][0]
        ax.plot(t_h, v_meas, color="k", lw=1.0, label="measured")
        ax.plot(t_h, v_model, color="C1", lw=0.8, ls="--", label="fitted model (open loop)")
        ax.set_ylabel("voltage (V)")
        ax.set_title(label, fontsize=9, loc="left")
        ax.legend(loc="lower left", fontsize=7)
        ax = axes[k][1]
        ax.plot(t_h, res_mV, color="C3", lw=0.6)
        ax.axhline(0.0, color="k", lw=0.5)
        rmse = float(np.sqrt(np.mean(res_mV ** 2)))
        ax.set_title(f"residual: RMSE {rmse:.2f} mV, max |e| {float(np.max(np.abs(res_mV))):.1f} mV",
                     fontsize=9, loc="left")
        ax.set_ylabel("model - measured (mV)")
    axes[-1][0].set_xlabel("time (h)")
    axes[-1][1].set_xlabel("time (h)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(str(path), dpi=100)
    plt.close(fig)
    return str(path)


def insert_arrhenius_rows(cell: dict, max_rows: int = 8, min_gap_K: float = 5.0) -> list[float]:
    """Fill the cell file's temperature grid up to `max_rows` (the format's maximum is 8) with rows between
    the measured ones, coldest gap first (a gap must be wider than `min_gap_K`; each new row at the gap's
    midpoint; one row per gap between measured rows). In a new row every resistance ("R0 [Ohm]", "R<j> [Ohm]") and time constant ("tau<j> [s]") is
    interpolated log-linearly in 1/T, the Arrhenius law ln R = a + E/(R_gas T) (Plett, "Battery Management
    Systems, Vol. I", 2015, sec. 2.11; the kinetics and transport behind R and tau are thermally activated),
    every other table linearly in T. The filter's table look-up is linear in T between rows; the extra rows
    make it follow the Arrhenius curve where it bends most, in the cold (on the Panasonic 18650PF the 10 K
    gaps below 0 degC: linear interpolation overstated R between -19.9 and -9.7 degC). Changes `cell` in
    place, records it in its provenance and returns the temperatures added (degC)."""
    p = cell["parameters"]
    T = [float(t) for t in p["Temperature breakpoints [degC]"]]
    n0 = len(T)
    tables = [k for k, v in p.items() if isinstance(v, list) and v and isinstance(v[0], list) and len(v) == n0]
    gaps = [(T[j], T[j + 1]) for j in range(n0 - 1) if T[j + 1] - T[j] > min_gap_K]  # measured rows, coldest first
    added = [round(0.5 * (lo + hi), 2) for lo, hi in gaps[:max(0, max_rows - n0)]]
    T = sorted(T + added)
    if not added:
        return added
    T0 = [float(t) for t in p["Temperature breakpoints [degC]"]]
    inv = lambda t: 1.0 / (t + 273.15)  # noqa: E731
    for k in tables:
        tab = np.asarray(p[k], float)
        arrh = (k.startswith("R") and k.endswith("[Ohm]")) or (k.startswith("tau") and k.endswith("[s]"))
        rows = []
        for t in T:
            if t in T0:
                rows.append(list(p[k][T0.index(t)]))  # a measured row: as it was
                continue
            j = int(np.searchsorted(T0, t))
            a, b = j - 1, j
            if arrh and np.all(tab[a] > 0) and np.all(tab[b] > 0):
                w = (inv(t) - inv(T0[a])) / (inv(T0[b]) - inv(T0[a]))
                new = np.exp((1.0 - w) * np.log(tab[a]) + w * np.log(tab[b]))
            else:
                w = (t - T0[a]) / (T0[b] - T0[a])
                new = (1.0 - w) * tab[a] + w * tab[b]
            rows.append([_fmt(float(x)) for x in new])
        p[k] = rows
    p["Temperature breakpoints [degC]"] = [float(t) for t in T]
    prov = cell.setdefault("provenance", {})
    prov["Temperature breakpoints [degC]"] = (str(prov.get("Temperature breakpoints [degC]", "")) +
        f"; plus {', '.join(f'{t:g}' for t in added)} degC between measured rows (cellsense.fit.insert_arrhenius_rows): "
        "resistances and time constants log-linear in 1/T (Arrhenius), other tables linear in T")
    return added


def check_cell(cell: dict) -> None:
    """Light validation of a cell-file dict against the format (raises ValueError naming the field)."""
    p = cell["parameters"]
    soc = np.asarray(p["SOC breakpoints"], float)
    T = np.asarray(p["Temperature breakpoints [degC]"], float)
    if len(soc) > 64 or np.any(np.diff(soc) <= 0) or soc[0] > 0 or soc[-1] < 1:
        raise ValueError("parameters.SOC breakpoints: must be <= 64 strictly increasing values covering [0, 1]")
    if len(T) > 8 or np.any(np.diff(T) <= 0):
        raise ValueError("parameters.Temperature breakpoints [degC]: must be <= 8 strictly increasing values")
    ocv = table(p, "Open-circuit voltage [V]", len(T), len(soc))
    if np.any(np.diff(ocv, axis=1) <= 0):
        raise ValueError("parameters.Open-circuit voltage [V]: must be strictly increasing in SOC")
    keys = ["R0 [Ohm]"] + [f"{a}{j + 1} {u}" for j in range(int(cell["RC pairs"])) for a, u in (("R", "[Ohm]"), ("tau", "[s]"))]
    for k in keys:
        tab = table(p, k, len(T), len(soc))
        if not np.all(np.isfinite(tab)) or np.any(tab <= 0):
            raise ValueError(f"parameters.{k}: must be finite and > 0")
    for k in ("Hysteresis maximum [V]", "Instantaneous hysteresis [V]"):
        if k in p and np.any(table(p, k, len(T), len(soc)) < 0):
            raise ValueError(f"parameters.{k}: must be >= 0")


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------
def add_cli(subparsers):
    p = subparsers.add_parser("fit", help="fit an ECM cell file from OCV + HPPC cell logs",
                              description="Identify OCV(SOC), hysteresis, R0 and RC pairs over SOC x "
                                          "temperature from a C/20 OCV log and one HPPC log per temperature.")
    p.add_argument("--ocv", default=None, help="C/20 discharge + charge cell log (starts full); required for an ECM")
    p.add_argument("--hppc", default=None, action="append", help="HPPC cell log (repeat per temperature); required for an ECM")

    add_pybamm_set(p, default=None, old="--from-pybamm")
    p.add_argument("--physics", dest="physics", default=None, type=physics_value, metavar="spme",
                   help="spme: derive a reduced electrochemical (SPMe) cell file from --pybamm-set instead of fitting "
                        "an ECM (python/cellsense/fit/from_pybamm.py)")
    alias(p, "--model", "--physics spme (or --ecm-rc N for an ECM)", "physics",
          convert=lambda v: {"ecm": None, "spme": "SPMe"}[str(v).lower()])
    p.add_argument("--out", required=True, help="output cell file (JSON)")
    p.add_argument("--ecm-rc", type=int, default=2, dest="rc_pairs", metavar="N",
                   help="fit an equivalent-circuit model with N RC pairs (1..3, default 2) from --ocv/--hppc")
    alias(p, "--rc-pairs", "--ecm-rc", "rc_pairs", convert=int)
    p.add_argument("--name", default=None, help="cell name (default: the output file stem)")
    p.add_argument("--description", default=None)
    p.add_argument("--hysteresis-rate", type=float, default=10.0, dest="hysteresis_rate")
    p.add_argument("--hppc-initial-soc", type=float, default=1.0, dest="hppc_initial_soc")
    p.add_argument("--capacity-Ah", type=float, default=None, dest="capacity_Ah",
                   help="SOC scale of the model (default: the OCV log's soc_true scale if present, else the C/20 charge)")
    p.add_argument("--ocv-current-offset-A", default=None, dest="ocv_current_offset_A",
                   help="offset of the OCV test's current reading while current flows (A, subtracted; + = discharge "
                        "reads high), or 'auto': the offset that makes the charge-discharge gap flattest")
    p.add_argument("--ocv-rest-correction", action="store_true", dest="ocv_rest_correction",
                   help="shift the OCV to the rested voltages of the HPPC file at the OCV test's temperature")
    p.add_argument("--temperature-extrapolation-K", type=float, default=0.0, dest="temperature_extrapolation_K",
                   help="add a temperature row this many K above the warmest HPPC, resistances continued by the "
                        "Arrhenius law from the two warmest files (default 0: none)")
    p.add_argument("--lower-cutoff-V", type=float, default=None, dest="lower_cutoff_V",
                   help="default: minimum voltage of the OCV log")
    p.add_argument("--upper-cutoff-V", type=float, default=None, dest="upper_cutoff_V",
                   help="default: maximum voltage of the OCV log")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="also draw the fitted model's open-loop voltage against the measured one per temperature "
                        "(each HPPC file, and the OCV test) with the residuals (needs matplotlib: cellsense[fit])")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.set_defaults(func=_cli_fit)
    return p


def _cli_fit(args) -> int:
    if args.physics is not None or args.pybamm_set:
        if args.physics != "SPMe" or not args.pybamm_set:
            raise ValueError("an SPMe cell is derived from a PyBaMM parameter set: use --pybamm-set SET --physics spme")
        if args.plot is not None:
            raise ValueError("--plot draws an ECM fit against its --ocv / --hppc logs; an SPMe cell derived from "
                             "--pybamm-set has none")

        args.from_pybamm = args.pybamm_set
        return cli_fit_from_pybamm(args)
    if not args.ocv or not args.hppc:
        raise ValueError("--ocv and --hppc are required to fit an ECM")
    if args.plot is not None:  # before the work: a missing matplotlib is one line, exit 2, nothing written
        require("matplotlib", "cellsense fit --plot", "fit")
    name = args.name or Path(args.out).stem
    cell = fit(args.ocv, args.hppc, out=args.out, rc_pairs=args.rc_pairs, name=name,
               description=args.description, hysteresis_rate=args.hysteresis_rate,
               hppc_initial_soc=args.hppc_initial_soc, lower_cutoff_V=args.lower_cutoff_V,
               upper_cutoff_V=args.upper_cutoff_V, capacity_Ah=args.capacity_Ah,
               ocv_current_offset_A=(None if args.ocv_current_offset_A is None else args.ocv_current_offset_A
                                     if args.ocv_current_offset_A == "auto" else float(args.ocv_current_offset_A)),
               ocv_rest_correction=args.ocv_rest_correction,
               temperature_extrapolation_K=args.temperature_extrapolation_K,
               progress=not args.quiet, plot=args.plot)
    p = cell["parameters"]
    print(f"{args.out}: capacity {p['Nominal cell capacity [A.h]']:.4g} Ah, {cell['RC pairs']} RC pairs, "
          f"temperatures {p['Temperature breakpoints [degC]']} degC")
    for fname, res in cell["fit residuals"].items():
        print(f"  {fname}: voltage RMSE {res['voltage RMSE [mV]']:.2f} mV (max {res['max abs error [mV]']:.1f} mV)")
    if args.plot is not None:
        print(f"wrote {args.plot}")
    return 0
