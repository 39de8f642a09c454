"""Stuck sensors in a pack log (docs/replay.md, "Stuck sensors"): a signal that repeats exactly the same value for a
long stretch while the physics says a live sensor would have moved. A quantised signal repeats its value at rest, so
each rule asks for a stimulus first:

- a **cell voltage** (or the pack voltage of a mean-cell pack) unchanged to the bit for >= STUCK_MIN_S while the
  pack current spans enough amps that even the lowest plausible resistance of a series element (R_FLOOR_OHM) moves
  a live cell's voltage by >= STUCK_MIN_LSB of the signal's own step (its quantum, the smallest change it shows):
  the span after its first sample becomes a dropped reading (NaN) for that cell only, so the estimator rejects those
  steps without it (`predicted_only`: the pack counts the cell's charge with the string's current, CS-PACK-008) instead
  of fusing a frozen value; a warning names the signal, the cell and the span.
  A charge whose current tapers towards zero with the voltage held is a constant-voltage charge, not a stuck sensor.
- a **cell voltage** unchanged to the bit for >= STUCK_MIN_S while the charge counted through it, |integral i dt|,
  moves the cell's SOC by dz so far that its OCV alone must move by >= max(STUCK_MIN_LSB steps, CHARGE_MIN_MOVE_V):
  a frozen reading during a constant current, which the rule above cannot see (no current swing). The threshold is
  the core's (charge_threshold_Ah: estimator/stuck_voltage.hpp's stuck_charge_Ah, CS-CLK-010, the rule the
  single-cell estimator applies), the least charge after which OCV(z + dz) - OCV(z) reaches that move anywhere on the
  cell file's curve at any of its temperatures, so a flat plateau (LFP) needs more charge and a rest (no charge)
  never counts; same treatment and warning as above. A span
  whose current tapers by CHARGE_TAPER, or whose reading sits within REGULATED_MARGIN_V of the cut-off the current
  drives it towards, is a voltage-regulated phase (a charger's CV, a CV discharge), not a stuck sensor.
- the **current** unchanged to the bit for >= STUCK_MIN_S while the cells' mean voltage both rises and falls by
  >= CURRENT_REVERSAL_V: at a constant current the terminal voltage only drifts one way (relaxation, OCV), so a
  swing both ways means the current changed. A warning (the estimate through the span integrates the frozen value).
- a **temperature** sensor unchanged for >= TEMP_STUCK_MIN_S while the pack's other temperature sensors move by
  >= TEMP_OTHERS_MOVE_K on average. A warning (one sensor: nothing to compare it with, no check).
"""
from __future__ import annotations

import numpy as np

from ..estimators.base import _core
from ..pack import PackLog, PackSpec

#: a value repeated for at least this long (s) is a candidate (a live cell answers a current step at once, through
#: its ohmic resistance; the length keeps a few repeated readings between frames out)
STUCK_MIN_S = 10.0
#: the lowest plausible DC resistance of one series element (ohm): a large-format automotive cell (60+ Ah pouch) at
#: warm temperature is about 0.5-1 mOhm; smaller cells and parallel groups of them are higher
R_FLOOR_OHM = 0.5e-3
#: a live sensor would have moved by at least this many of its quantisation steps before a span counts as stuck
STUCK_MIN_LSB = 4
#: a voltage signal that never changes in the log has no step of its own: a typical BMS cell-voltage step is taken (V)
UNKNOWN_STEP_V = 1e-3
#: the cells' mean voltage rising and falling by this much (V) within a span of constant current means the current
#: changed (20 A through R_FLOOR_OHM; well above a sensor's noise of a few mV)
CURRENT_REVERSAL_V = 0.010
#: a temperature repeated for this long (s) while the other sensors of the pack move by TEMP_OTHERS_MOVE_K (K)
TEMP_STUCK_MIN_S = 600.0
TEMP_OTHERS_MOVE_K = 3.0
#: at most this many spans are described one by one per check (all are counted: `stuck_samples`)
MAX_NOTES = 6
#: the charge rule: a live cell's OCV moves at least this much (V) over the span (several times a BMS sensor's noise
#: of 1-2 mV; a coarser signal's own STUCK_MIN_LSB steps when larger)
CHARGE_MIN_MOVE_V = 0.005
#: a span whose |current| (median of its last third) ends below this fraction of its start (first third): tapering
CHARGE_TAPER = 0.8
#: a reading this close (V) to the cut-off voltage the current drives it towards: a regulated (CV) phase
REGULATED_MARGIN_V = 0.03


def quantum(v: np.ndarray) -> float:
    """The signal's step: the smallest nonzero change between consecutive finite readings (NaN if it never changes)."""
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    d = np.abs(np.diff(v))
    d = d[d > 1e-12 * max(1.0, float(np.max(np.abs(v))) if v.size else 1.0)]
    return float(d.min()) if d.size else float("nan")


def repeated_runs(v: np.ndarray, time_s: np.ndarray, gap_s: float, min_s: float) -> list[tuple[int, int]]:
    """(first, last) sample of each stretch where `v` repeats exactly, finite, at least `min_s` long, not across a
    time step longer than `gap_s` (a gap in the log: nothing was measured)."""
    v = np.asarray(v, float)
    t = np.asarray(time_s, float)
    if v.size < 2:
        return []
    dt = np.diff(t)
    same = (v[1:] == v[:-1]) & np.isfinite(v[1:]) & np.isfinite(dt) & (dt >= 0) & (dt <= gap_s)
    edges = np.diff(np.concatenate(([0], same.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # diff positions [start, stop)
    return [(int(a), int(b)) for a, b in zip(starts, stops) if t[b] - t[a] >= min_s]


def _span(t: np.ndarray, a: int, b: int) -> str:
    return f"t = {t[a]:.1f}..{t[b]:.1f} s ({t[b] - t[a]:.0f} s, {b - a + 1} samples)"


def _cv_taper(i: np.ndarray) -> bool:
    """A charge (current <= 0: + = discharge) whose magnitude ends lower than it starts: a constant-voltage phase."""
    i = i[np.isfinite(i)]
    return bool(i.size) and bool(np.all(i <= 0)) and abs(i[-1]) < abs(i[0])


def charge_threshold_Ah(cell, min_move_V: float) -> float:
    """The least charge (A h, at the cell file's capacity) after which a live cell's OCV has moved by >= `min_move_V`
    wherever it started on its curve, at any of its temperatures: the core's stuck_charge_Ah (CS-CLK-010; the
    single-cell estimator's rule uses 5 mV). +inf when no charge within the curve is enough (a plateau) or the cell
    has no OCV table (then the charge rule does not fire)."""
    params = cell.core_params()
    if "rc_r_Ohm" not in params:
        return float("inf")
    return float(_core().stuck_charge_Ah(params, float(min_move_V)))


def _tapers(i: np.ndarray) -> bool:
    """|current| ends below CHARGE_TAPER of its start (medians of the span's first and last thirds), one sign."""
    i = i[np.isfinite(i)]
    if i.size < 3 or not (np.all(i >= 0) or np.all(i <= 0)):
        return False
    k = max(1, i.size // 3)
    return float(np.median(np.abs(i[-k:]))) < CHARGE_TAPER * float(np.median(np.abs(i[:k])))


def _charge_rule(spec: PackSpec, c: int, v0: float, t: np.ndarray, i: np.ndarray, floor_v: float) -> str | None:
    """Why the span (times `t`, currents `i`: the current held over each step is the one at its end, as the
    estimator counts it) is stuck by the charge it moved, or None."""
    dq = float(np.sum(np.where(np.isfinite(i[1:]), i[1:], 0.0) * np.diff(t))) / 3600.0  # Ah, + = discharge
    scale = spec.cells[c].capacity_scale
    cap = spec.cell.capacity_Ah * scale
    if not dq or not cap > 0 or _tapers(i):
        return None
    cut = getattr(spec.cell, "voltage_cutoff_V", None)
    if cut is not None and (v0 - cut[0] <= REGULATED_MARGIN_V if dq > 0 else cut[1] - v0 <= REGULATED_MARGIN_V):
        return None
    need = charge_threshold_Ah(spec.cell, floor_v) * scale  # this element's capacity
    if not abs(dq) >= need:
        return None
    return (f"while {abs(dq):.3g} Ah flows ({'discharge' if dq > 0 else 'charge'}, {spec.current.name} "
            f"{np.nanmin(i):.1f}..{np.nanmax(i):.1f} A, {100 * abs(dq) / cap:.1f} % of the cell's {cap:.3g} Ah): "
            f"{need:.3g} Ah moves a live cell's OCV alone by >= {1e3 * floor_v:.1f} mV anywhere on its curve")


def stuck_voltages(spec: PackSpec, log: PackLog, gap_s: float) -> tuple[np.ndarray, list[str], int]:
    """The log's voltages with every stuck span (after its first sample) set to NaN, the warnings, the samples set.
    A span is stuck by the current swing through it or by the charge moved through it (the module's docstring)."""
    t, cur = np.asarray(log.time_s, float), np.asarray(log.current_A, float)
    volts = np.array(log.voltage_V, float, copy=True)
    notes: list[str] = []
    n_set = n_spans = 0
    for c in range(volts.shape[1]):
        v = volts[:, c]
        runs = repeated_runs(v, t, gap_s, STUCK_MIN_S)
        if not runs:
            continue
        q = quantum(v)
        step = UNKNOWN_STEP_V if np.isnan(q) else q
        for a, b in runs:
            i = cur[a:b + 1]
            if not np.isfinite(i).any():
                continue
            di = float(np.nanmax(i) - np.nanmin(i))
            move = R_FLOOR_OHM * di
            if move >= STUCK_MIN_LSB * step and not _cv_taper(i):
                why = (f"while the current spans {np.nanmin(i):.1f}..{np.nanmax(i):.1f} A ({spec.current.name}): a "
                       f"live cell moves >= {1e3 * move:.1f} mV at >= {1e3 * R_FLOOR_OHM:g} mOhm")
            else:
                why = _charge_rule(spec, c, float(v[a]), t[a:b + 1], i, max(STUCK_MIN_LSB * step, CHARGE_MIN_MOVE_V))
                if why is None:
                    continue
            v0 = float(v[a])
            v[a + 1:b + 1] = np.nan
            n_set += b - a
            n_spans += 1
            if len(notes) < MAX_NOTES:
                if spec.mean_cell:
                    what = f"the pack voltage {spec.pack_voltage.name if spec.pack_voltage else '?'} (mean cell)"
                else:
                    what = f"cell {c + 1}'s voltage {spec.cells[c].voltage.name}"
                lsb = "it never changes in the log" if np.isnan(q) else f"its step is {1e3 * q:.3g} mV"
                notes.append(f"stuck sensor: {what} repeats {v0:.4f} V exactly over {_span(t, a, b)} {why}, {lsb}; "
                             f"those {b - a} samples stepped without that cell's reading (its charge counted), not "
                             "fused")
    if n_spans > MAX_NOTES:
        notes.append(f"stuck sensor: ... and {n_spans - MAX_NOTES} more stuck voltage spans rejected")
    return volts, notes, n_set


def stuck_current(spec: PackSpec, log: PackLog, gap_s: float) -> list[str]:
    """Warnings for the spans where the current repeats while the cells' mean voltage swings both ways."""
    t, cur = np.asarray(log.time_s, float), np.asarray(log.current_A, float)
    runs = repeated_runs(cur, t, gap_s, STUCK_MIN_S)
    if not runs:
        return []
    vol = np.asarray(log.voltage_V, float)
    with np.errstate(all="ignore"):
        fin = np.isfinite(vol)
        mean_v = np.where(fin.any(axis=1), np.nansum(np.where(fin, vol, 0.0), axis=1) / np.maximum(fin.sum(axis=1), 1),
                          np.nan)
    out = []
    for a, b in runs:
        m = mean_v[a:b + 1]
        m = m[np.isfinite(m)]
        if m.size < 3:
            continue
        rise = float(np.max(m - np.minimum.accumulate(m)))
        fall = float(np.max(np.maximum.accumulate(m) - m))
        if min(rise, fall) >= CURRENT_REVERSAL_V and len(out) < MAX_NOTES:
            out.append(f"stuck sensor: the current {spec.current.name} repeats {cur[a]:.3f} A exactly over "
                       f"{_span(t, a, b)} while the cells' mean voltage rises {1e3 * rise:.0f} mV and falls "
                       f"{1e3 * fall:.0f} mV (at a constant current it drifts one way only): the current changed; the "
                       "estimate through that span counts the frozen value")
    return out


def stuck_temperatures(spec: PackSpec, log: PackLog, gap_s: float) -> list[str]:
    """Warnings for a temperature sensor that repeats while the pack's other sensors move."""
    t = np.asarray(log.time_s, float)
    temps = np.asarray(log.temperature_degC, float)
    if temps.ndim != 2 or temps.shape[1] < 2:
        return []
    out = []
    for s in range(temps.shape[1]):
        others = np.delete(temps, s, axis=1)
        for a, b in repeated_runs(temps[:, s], t, gap_s, TEMP_STUCK_MIN_S):
            with np.errstate(all="ignore"):
                o = np.nanmean(others[a:b + 1], axis=1) if np.isfinite(others[a:b + 1]).any() else np.array([])
            o = o[np.isfinite(o)]
            if o.size and float(o.max() - o.min()) >= TEMP_OTHERS_MOVE_K and len(out) < MAX_NOTES:
                name = spec.temperatures[s].name if s < len(spec.temperatures) else f"#{s + 1}"
                out.append(f"stuck sensor: the temperature {name} repeats {temps[a, s]:.2f} degC exactly over "
                           f"{_span(t, a, b)} while the pack's other sensors move {o.max() - o.min():.1f} K: its "
                           "reading is the frozen value there")
    return out


def check_stuck(spec: PackSpec, log: PackLog) -> PackLog:
    """The log with stuck cell-voltage spans as dropped readings, a note for each stuck span found (voltage, current,
    temperature: log.notes, the report's warnings) and `stuck_samples` counted."""
    gap_s = float(spec.gaps.gap_s)
    volts, notes, n_set = stuck_voltages(spec, log, gap_s)
    notes += stuck_current(spec, log, gap_s) + stuck_temperatures(spec, log, gap_s)
    if not notes:
        return log
    counts = dict(log.counts)
    if n_set:
        counts["stuck_samples"] = counts.get("stuck_samples", 0) + n_set
    return PackLog(log.time_s, log.current_A, volts, log.temperature_degC, log.reference_soc, log.source, counts,
                   list(log.notes) + notes)
