"""The transport limit of the state-of-power's discharge current (docs/power.md, "Transport limit"; cell-file key
``parameters."Transport limit [SOC, A.s^0.5, s^0.5]"``).

A constant discharge current i at a high rate drives the cell to its cut-off once the lithium at the particle and
electrolyte interfaces is exhausted, after a time t with i sqrt(t) = K: Sand's law of semi-infinite diffusion (H. J. S.
Sand, Phil. Mag. 1 (1901) 45; Bard & Faulkner, "Electrochemical Methods", 2nd ed. 2001, eq. 8.2.14). A linear ECM has
no such limit: fitted at 1C, its 30 s discharge limit at 6-12C came out 20-57 % above the DFN's (docs/power.md).
The product grows a little with the current (the ohmic drop brings the cut-off earlier at the lower currents):
i sqrt(t) = K0 + c i. So the limits cap the discharge current over a horizon H at K0 / (sqrt(H) - c), K0 and c per SOC
(power::PowerConfig::transport_*).

Identification: constant-current discharge pulses from rest, at several SOC levels and high currents, each run until
the cut-off (a characterisation test: :func:`pulses_from_log` finds them in a cell log); per SOC level c = the
least-squares slope of i sqrt(t_cut) over i, and K0 the lower envelope, min(i sqrt(t_cut) - c i) over the level's
pulses and temperatures (:func:`fit_transport`), so that the cap is at or below every pulse the test saw. Checked on
Chen2020 (PyBaMM DFN): i sqrt(t_cut) at SOC 0.75 is 175 / 185 / 195 A s^0.5 at 30 / 45 / 60 A (c = 0.66 s^0.5) and the
same within 1.5 % at 0, 25 and 40 degC (scripts/make_chen2020_model.py --transport-only prints the pulses).
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

#: cell-file key (under "parameters"): rows [SOC, K0 A s^0.5, c s^0.5]
K_TRANSPORT = "Transport limit [SOC, A.s^0.5, s^0.5]"
#: the core's table size (power::kMaxTransportPoints)
MAX_POINTS = 8


def pulses_from_log(time_s, current_A, voltage_V, soc, cutoff_V: float, min_current_A: float,
                    rest_current_A: float = 0.05, cutoff_tol_V: float = 0.01) -> list[tuple[float, float, float]]:
    """The constant-current discharge pulses of a log that start from rest and end at the cut-off: (SOC at the
    pulse's start, current A, time to the cut-off s) per pulse. A pulse is a run of samples with current >=
    `min_current_A` after a sample at rest (|i| <= `rest_current_A`); it counts when its last voltage is within
    `cutoff_tol_V` of `cutoff_V` (a pulse that ended on time, not on the cut-off, says nothing about K)."""
    t, i, v, z = (np.asarray(a, float) for a in (time_s, current_A, voltage_V, soc))
    if not (len(t) == len(i) == len(v) == len(z)):
        raise ValueError("pulses_from_log: time_s, current_A, voltage_V and soc must have one length")
    on = i >= min_current_A
    out = []
    k, n = 1, len(t)
    while k < n:
        if on[k] and not on[k - 1] and abs(i[k - 1]) <= rest_current_A:
            j = k
            while j + 1 < n and on[j + 1]:
                j += 1
            if abs(v[j] - cutoff_V) <= cutoff_tol_V or v[j] < cutoff_V:
                out.append((float(z[k - 1]), float(np.mean(i[k:j + 1])), float(t[j] - t[k - 1])))
            k = j + 1
        else:
            k += 1
    return out


def fit_transport(pulses: Iterable[Sequence[float]], level_step: float = 0.02) -> list[tuple[float, float, float]]:
    """Rows (SOC, K0 A s^0.5, c s^0.5) from pulses (SOC at start, current A, time to the cut-off s), any temperatures:
    pulses within `level_step` of SOC form one level; c = the least-squares slope of i sqrt(t) over i (0 with one
    current), K0 = min over the level of i sqrt(t) - c i. At most MAX_POINTS rows (more levels: ValueError, as the
    core's table holds 8)."""
    rows = []
    for p in pulses:
        z, i, t = (float(x) for x in p)
        if not (math.isfinite(z) and i > 0 and t > 0 and math.isfinite(i * t)):
            raise ValueError(f"fit_transport: pulse {tuple(p)!r}: expected (SOC, current > 0 A, time > 0 s)")
        rows.append((z, i, i * math.sqrt(t)))
    if not rows:
        raise ValueError("fit_transport: no pulse reached the cut-off")
    rows.sort()
    levels: list[list[tuple[float, float, float]]] = [[rows[0]]]
    for r in rows[1:]:
        if r[0] - levels[-1][0][0] <= level_step:
            levels[-1].append(r)
        else:
            levels.append([r])
    if len(levels) > MAX_POINTS:
        raise ValueError(f"fit_transport: {len(levels)} SOC levels; the table holds {MAX_POINTS}")
    out = []
    for lv in levels:
        i = np.array([r[1] for r in lv])
        k = np.array([r[2] for r in lv])
        c = float(np.polyfit(i, k, 1)[0]) if np.ptp(i) > 0 else 0.0
        c = round(min(max(c, -100.0), 100.0), 4)
        out.append((round(float(np.mean([r[0] for r in lv])), 4), round(float(np.min(k - c * i)), 2), c))
    return out


def add_transport(data: dict, rows: Sequence[Sequence[float]], provenance: str) -> None:
    """Write the rows (SOC, K0, c[, charge K0, charge c]: fit_transport's rows, and the same from charge pulses
    appended) into a cell-file dict (parameters and provenance)."""
    data.setdefault("parameters", {})[K_TRANSPORT] = [[float(x) for x in r] for r in rows]
    data.setdefault("provenance", {})[K_TRANSPORT] = provenance
