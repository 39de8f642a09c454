"""The HPPC tests: R0 and the RC pairs from the pulse sets, fitted to the exact discrete ECM over each pulse's
window (docs/fitting.md, "HPPC")."""
from __future__ import annotations

import math

import numpy as np

from .ocv import _runs


MAX_RC_PAIRS = 3  # the core supports 1..3 (docs/cell-file.md)
TAU_MIN_S = 0.5
TAU_MAX_S = 20000.0


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


def cap_dc_resistance(tabs: dict, T_bp, rc_pairs: int, T_ocv: float, half_gap_V, i_c20_A: float,
                      margin: float = 1.5, floor_V: float = 0.005) -> str | None:
    """Hold the fitted DC resistance to what the C/20 OCV test measured. At C/20 every RC pair is at steady state,
    so the two branches differ by 2 (i R_dc + M h) with R_dc = R0 + sum R_j: i_c20 R_dc <= half gap. 10 s HPPC
    pulses measure a slow pair's initial slope R / tau, not its R: PyBaMM's ORegan2022 gave R2 0.97 Ohm (tau2 290 s)
    against R0 27 mOhm, a 250 mV drop at C/20 where the branches are 2 x 24 mV apart. Where i_c20 R_dc exceeds
    `margin` x the half gap + `floor_V` at the OCV test's temperature row (nearest, within 5 K), the slowest pair is
    scaled down to the half gap (at every SOC breakpoint and temperature row, by that SOC's factor), with its tau
    scaled alike so that R / tau, what the pulses measured, is kept. Modifies `tabs` in place; returns a note for the
    provenance, or None when nothing was changed."""
    T_bp = np.asarray(T_bp, float)
    it = int(np.argmin(np.abs(T_bp - T_ocv)))
    if rc_pairs < 1 or abs(T_bp[it] - T_ocv) > 5.0 or not (i_c20_A > 0):
        return None
    slow_R, slow_tau = f"R{rc_pairs} [Ohm]", f"tau{rc_pairs} [s]"
    r_fast = np.array(tabs["R0 [Ohm]"][it] + sum(tabs[f"R{j} [Ohm]"][it] for j in range(1, rc_pairs)), float)
    r_slow = np.array(tabs[slow_R][it], float)  # copies: the rows are scaled in place below
    gap = np.asarray(half_gap_V, float)
    drop_V = i_c20_A * (r_fast + r_slow)  # the fitted model's resistive drop at C/20
    over = drop_V > margin * gap + floor_V
    if not np.any(over):
        return None
    allowed = np.clip(gap / i_c20_A - r_fast, 0.0, None)
    f = np.where(over, np.clip(allowed / np.maximum(r_slow, 1e-12), 1e-3, 1.0), 1.0)
    for row in range(len(T_bp)):
        tabs[slow_R][row] = tabs[slow_R][row] * f
        tabs[slow_tau][row] = np.maximum(tabs[slow_tau][row] * f, TAU_MIN_S)
    return (f"slow RC pair {rc_pairs} scaled by {f.min():.3g}..{f.max():.3g} (R and tau alike, keeping R / tau) at "
            f"{int(over.sum())} of {len(over)} SOC breakpoints, where the fitted DC resistance R0 + sum R_j times the C/20 "
            f"current {i_c20_A:.4g} A exceeded {margin:g} x the C/20 branches' half gap + {1e3 * floor_V:g} mV "
            f"(up to {1e3 * float(np.max(drop_V - gap)):.0f} mV more): 10 s pulses measure a "
            f"slow pair's R / tau, the C/20 test its DC value")
