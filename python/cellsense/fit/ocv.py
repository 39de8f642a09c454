"""The OCV test: capacity, OCV(SOC) and the hysteresis magnitude from a C/20 discharge and charge
(docs/fitting.md, "OCV")."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np


DEFAULT_SOC_BREAKPOINTS = [0.0, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.12, 0.14,
                           0.16, 0.18, 0.2, 0.225, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65,
                           0.7, 0.75, 0.8, 0.85, 0.875, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.99,
                           0.995, 1.0]


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
