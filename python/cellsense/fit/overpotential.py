"""The current-dependent overpotential of the state-of-power prediction (docs/power.md, "Current-dependent
overpotential"; cell-file key ``parameters."Overpotential reference current [A]"``).

A cold cell's 10 s resistance falls with the current (docs/real-data.md: at -20 degC 360 mOhm at 1 A, 177 mOhm at
6 A): the charge-transfer overpotential follows Butler-Volmer, with symmetric transfer coefficients
``eta(i) = R I_ref asinh(i / I_ref)`` (Bard & Faulkner, "Electrochemical Methods", 2nd ed. 2001, eq. 3.4.11 with
alpha = 1/2; Plett, "Battery Management Systems, Vol. I", 2015, sec. 3.10). The SOC filter keeps its linear model
(issue #17: a current-dependent filter model made the drive cycles worse); the power limits, which predict a
constant-current pulse over a horizon as the HPPC measures it, may use it (power::PowerConfig::overpotential_*).

Here: the HPPC's 10 s discharge pulses grouped by SOC level (:func:`pulse_sets`), the current that would reach a
cut-off at 10 s interpolated from their end voltages (:func:`measured_limit`), and :func:`fit_overpotential`: per HPPC
file, the one I_ref that makes the model's horizon prediction (the core's: R0 and the RC inputs at R f(i), f(i) =
asinh(u)/u, u = |i| / I_ref) best match the end voltages of the chosen pulses, the model's state before each pulse
from its open-loop run over the file with the tester's current. Rows of the cell's temperature grid without an HPPC
file: log(I_ref) linear in 1/T (Arrhenius, as the exchange current), continued beyond the ends.
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Callable, Sequence

import numpy as np

from ..cells.ecm_reference import locate, lookup, ocv_and_slope, simulate, tables_of

#: cell-file key (under "parameters"): I_ref per temperature breakpoint (A)
K_OVERPOTENTIAL = "Overpotential reference current [A]"
#: the charge direction's (optional; identified on charge pulses)
K_OVERPOTENTIAL_CHARGE = "Overpotential reference current, charge [A]"
#: I_ref's search range (A): below 0.3 A the 0.5C pulse would already be far in the logarithmic branch; 1000 A is
#: "linear" for any cell the package models. For a cell whose smallest pulse is below 0.6 A the lower end is half of
#: that pulse (fit_reference_current): a 0.16 A h cell's 1C pulses are 0.16 A.
IREF_RANGE_A = (0.3, 1000.0)
#: a pulse is a current above this (A) held within 1.5 x it; for a small cell C/10 when lower (pulse_rows: a
#: 0.16 A h cell's 0.156 A pulses were not seen at all, "no pulses selected", PyBaMM Ecker2015 sweep 2026-12-07)
PULSE_FLOOR_A = 0.2


def pulse_sets(time_s, current_A, soc, pulse_s: tuple[float, float] = (8.5, 11.5), level_step: float = 0.05,
               direction: int = 1, floor_A: float = PULSE_FLOOR_A):
    """The discharge pulses (`direction` -1: the charge pulses) of 8.5-11.5 s of an HPPC log as (first, last) sample
    index pairs, grouped by SOC level (a new level where `soc` moved more than `level_step` from the level's first
    pulse). A pulse: |current| above `floor_A`, held within 1.5 x `floor_A` of its first sample."""
    i, t = np.asarray(current_A, float), np.asarray(time_s, float)
    on = np.abs(i) > floor_A
    runs, k, n = [], 0, len(i)
    while k < n:
        if on[k]:
            j = k
            while j + 1 < n and on[j + 1] and abs(i[j + 1] - i[k]) < 1.5 * floor_A:
                j += 1
            runs.append((k, j))
            k = j + 1
        else:
            k += 1
    pulses = [(a, b) for a, b in runs
              if a > 0 and direction * i[a] > floor_A and pulse_s[0] <= t[b] - t[a - 1] <= pulse_s[1]]
    sets, cur = [], []
    for p in pulses:
        if cur and abs(soc[p[0]] - soc[cur[0][0]]) > level_step:
            sets.append(cur)
            cur = []
        cur.append(p)
    return sets + ([cur] if cur else [])


def measured_limit(current_A, voltage_V, pulses, vmin: float = 2.5, reach: float = 1.25):
    """The current that would bring the voltage to `vmin` at the pulses' end: interpolated between the pulses' end
    voltages, or extrapolated from the two largest by at most `reach` x the largest pulse; (limit A, index in
    `pulses` of the pulse at or below vmin, else of the largest), or (None, None)."""
    amps = np.array([current_A[a] for a, _ in pulses])
    v10 = np.array([voltage_V[b] for _, b in pulses])
    o = np.argsort(amps)
    amps, v10 = amps[o], v10[o]
    below = np.flatnonzero(v10 <= vmin)
    if below.size:
        j = below[0]
        if j == 0:
            return None, None
        return amps[j - 1] + (v10[j - 1] - vmin) * (amps[j] - amps[j - 1]) / (v10[j - 1] - v10[j]), int(o[j])
    if len(amps) < 2:
        return None, None
    lim = amps[-1] + (v10[-1] - vmin) * (amps[-1] - amps[-2]) / (v10[-2] - v10[-1])
    return (lim, int(o[-1])) if lim <= reach * amps[-1] else (None, None)


def horizon_terms(cell: Any, soc: float, rc_V, h: float, sign: float, horizon_s: float, current_A: float,
                  temperature_degC: float) -> tuple[float, float]:
    """The core's horizon prediction (EcmModel::prepare + predict + measure over one step of `horizon_s` at a
    constant current) split as v = v_other - R_eff g: v_other everything but the resistive terms, R_eff = R0(z_end) +
    sum R_j (1 - a_j) (R_j, tau_j at the start's SOC), g the current the resistive terms see (i: the tables)."""
    c = tables_of(cell)
    i = float(current_A)
    loc0 = locate(c.soc, c.temperature_degC, soc, temperature_degC)
    eta = c.coulombic_efficiency if i < 0 else 1.0
    soc_gain = eta * horizon_s / (3600.0 * c.capacity_Ah)
    z = soc - soc_gain * i
    v, r_eff = 0.0, 0.0
    for j in range(c.rc_pairs):
        a = math.exp(-horizon_s / float(lookup(c.rc_tau_s[j], loc0)))
        v -= a * float(rc_V[j])
        r_eff += float(lookup(c.rc_r_Ohm[j], loc0)) * (1.0 - a)
    a_h = math.exp(-abs(i) * c.hysteresis_rate * soc_gain)
    h_end = a_h * h - (1.0 - a_h) * float(np.sign(i))
    s = float(np.sign(i)) if abs(i) > c.sign_deadband_A else sign
    loc = locate(c.soc, c.temperature_degC, z, temperature_degC)
    v += (float(ocv_and_slope(c.ocv_V, c.soc, z, loc)[0]) + float(lookup(c.hysteresis_V, loc)) * h_end
          - float(lookup(c.hysteresis_instant_V, loc)) * s)
    return v, r_eff + float(lookup(c.r0_Ohm, loc))


def overpotential_current(current_A, reference_A):
    """g(i) = I_ref asinh(i / I_ref): the current the resistive terms see (i for I_ref -> infinity)."""
    return reference_A * np.arcsinh(np.asarray(current_A, float) / reference_A)


def _columns(log: Any) -> Any:
    """A log's four columns as attributes: a log object (CellLog, SimpleNamespace) as it is, a mapping of columns
    (cellsense.fit.inputs' loaded logs) as a namespace."""
    if hasattr(log, "time_s"):
        return log
    return SimpleNamespace(**{k: np.asarray(log[k], float) for k in ("time_s", "current_A", "voltage_V", "temperature_degC")})


def pulse_rows(cell: Any, log: Any, initial_soc: float = 1.0,
               select: Callable[[int, list, Any], bool] | None = None, direction: int = 1) -> np.ndarray:
    """Rows (v_other, R_eff, pulse current, measured end voltage) of the selected pulses of one HPPC log: the model
    run open loop over the log from `initial_soc` (the tester's current), each pulse predicted from the state before
    it over its own duration at its mean current. `select(level_index, pulses, log)`: which SOC levels (all: None)."""
    log = _columns(log)
    t, i = np.asarray(log.time_s, float), np.asarray(log.current_A, float)
    v, temp = np.asarray(log.voltage_V, float), np.asarray(log.temperature_degC, float)
    sim = simulate(cell, t, i, temp, initial_soc=initial_soc)
    rows = []
    floor_A = min(PULSE_FLOOR_A, 0.1 * float(tables_of(cell).capacity_Ah))  # C/10 for a small cell
    for li, pulses in enumerate(pulse_sets(t, i, sim["soc"], direction=direction, floor_A=floor_A)):
        if select is not None and not select(li, pulses, log):
            continue
        for a, b in pulses:
            k = a - 1
            vo, r = horizon_terms(cell, float(sim["soc"][k]), sim["rc_V"][k], float(sim["h"][k]), float(sim["s"][k]),
                                  float(t[b] - t[k]), float(np.mean(i[a:b + 1])), float(temp[k]))
            rows.append((vo, r, float(np.mean(i[a:b + 1])), float(v[b])))
    return np.array(rows).reshape(-1, 4)


def fit_reference_current(rows: np.ndarray) -> tuple[float, float, float]:
    """The I_ref (A) minimising the RMS of v_other - R_eff g(i) - v_end over `rows` (pulse_rows): a log-spaced scan
    of IREF_RANGE_A and a golden-section refinement. Returns (I_ref, RMS with it, RMS linear) in V."""
    if len(rows) == 0:
        raise ValueError("fit_overpotential: no pulses selected")

    def rms(ref):
        g = rows[:, 2] if ref is None else overpotential_current(rows[:, 2], ref)
        return float(np.sqrt(np.mean((rows[:, 0] - rows[:, 1] * g - rows[:, 3]) ** 2)))

    lo, hi = math.log(min(IREF_RANGE_A[0], 0.5 * float(np.min(np.abs(rows[:, 2]))))), math.log(IREF_RANGE_A[1])
    grid = np.linspace(lo, hi, 121)
    k = int(np.argmin([rms(math.exp(x)) for x in grid]))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    gr = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(40):
        c, d = b - gr * (b - a), a + gr * (b - a)
        if rms(math.exp(c)) < rms(math.exp(d)):
            b = d
        else:
            a = c
    ref = math.exp(0.5 * (a + b))
    return ref, rms(ref), rms(None)


def arrhenius_fill(temperature_degC: Sequence[float], known: dict[float, float]) -> list[float]:
    """I_ref on every temperature breakpoint: the fitted ones where known (keyed by breakpoint), elsewhere log(I_ref)
    linear in 1/T (K) between the nearest known rows, continued from the two end ones beyond them."""
    kt = sorted(known)
    x = np.array([1.0 / (t + 273.15) for t in kt])
    y = np.array([math.log(known[t]) for t in kt])
    out = []
    for t in temperature_degC:
        if t in known:
            out.append(float(known[t]))
            continue
        xi = 1.0 / (t + 273.15)
        if len(kt) == 1:
            out.append(float(known[kt[0]]))
            continue
        j = int(np.clip(np.searchsorted(-x, -xi), 1, len(kt) - 1))  # x decreases with T
        yi = y[j - 1] + (y[j] - y[j - 1]) * (xi - x[j - 1]) / (x[j] - x[j - 1])
        out.append(float(min(max(math.exp(yi), 1e-3), 1e6)))
    return out


def fit_overpotential(cell: Any, hppc_logs: Sequence, initial_soc: float | Sequence[float] = 1.0,
                      select: Callable[[int, list, Any], bool] | None = None, match_K: float = 3.0,
                      direction: int = 1):
    """I_ref per temperature breakpoint of `cell` (a Cell or cell-file dict) from HPPC logs (one per temperature,
    each log's median temperature within `match_K` of a breakpoint): the list for K_OVERPOTENTIAL (`direction` -1:
    from the charge pulses, for K_OVERPOTENTIAL_CHARGE), and a report {breakpoint: (I_ref, RMS V with it, RMS V
    linear, pulses)} of the fitted rows."""
    c = tables_of(cell)
    socs = [initial_soc] * len(hppc_logs) if np.ndim(initial_soc) == 0 else list(initial_soc)
    known, report = {}, {}
    for log, z0 in zip(hppc_logs, socs):
        log = _columns(log)
        tm = float(np.median(log.temperature_degC))
        k = int(np.argmin(np.abs(c.temperature_degC - tm)))
        if abs(c.temperature_degC[k] - tm) > match_K:
            raise ValueError(f"fit_overpotential: HPPC at {tm:.1f} degC has no temperature breakpoint within {match_K} K")
        rows = pulse_rows(cell, log, float(z0), select, direction)
        ref, rms, rms_lin = fit_reference_current(rows)
        t_bp = float(c.temperature_degC[k])
        known[t_bp] = ref
        report[t_bp] = (ref, rms, rms_lin, len(rows))
    return arrhenius_fill([float(t) for t in c.temperature_degC], known), report


def unmeasured_levels(vmin: float = 2.5) -> Callable[[int, list, Any], bool]:
    """A `select` for fit_overpotential: the SOC levels whose pulses do not give a measured limit at `vmin`
    (measured_limit None), so the levels that do are held out for validation (tests/python/estimators/test_power.py)."""
    return lambda _li, pulses, log: measured_limit(log.current_A, log.voltage_V, pulses, vmin)[0] is None


def add_overpotential(cell: dict, hppc_logs: Sequence, initial_soc: float | Sequence[float] = 1.0,
                      select: Callable[[int, list, Any], bool] | None = None, which: str = "every SOC level") -> dict:
    """fit_overpotential's table written into the cell-file dict `cell` (parameters and provenance; `which` says in
    the provenance which pulses it was fitted on). Returns the fit report."""
    refs, report = fit_overpotential(cell, hppc_logs, initial_soc, select)
    cell["parameters"][K_OVERPOTENTIAL] = [round(r, 3) for r in refs]
    fitted = "; ".join(f"{t:g} degC {r:.2f} A (pulse-end RMS {1000 * lin:.1f} -> {1000 * rms:.1f} mV, {n} pulses)"
                       for t, (r, rms, lin, n) in sorted(report.items()))
    cell.setdefault("provenance", {})[K_OVERPOTENTIAL] = (
        "I_ref of the power limits' current-dependent overpotential R I_ref asinh(i / I_ref) (symmetric Butler-Volmer), "
        "cellsense.fit.overpotential.fit_overpotential: per HPPC file the I_ref whose horizon prediction (the model's "
        f"open-loop state before each pulse) best fits the 10 s discharge pulses' end voltages, on {which}: " + fitted +
        "; other rows log-linear in 1/T. Used by the state of power only (the SOC filter keeps R i)")
    return report
