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

From a PyBaMM parameter set (:func:`identify_from_pybamm`; ``cellsense fit --pybamm-set SET --physics spme
--transport``): the same pulses on PyBaMM's DFN (lumped thermal where the set has its parameters) at the set's cut-offs, currents in C-rates of the set's
nominal capacity, and the charge direction's columns from charge pulses to the upper cut-off.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import numpy as np

from ..estimators.base import _core
from ..truth.solver import model_options, thermal_option

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
        k0 = round(float(np.min(k - c * i)), 2)
        if not k0 > 0.0:
            # the line through the level's pulses meets i = 0 below zero (a steep c from pulses that all end early,
            # PyBaMM Ecker2015): no cap the core can take (K0 in (0, 1e7]); the level's least i sqrt(t) with c = 0
            # is the most conservative cap its pulses support
            c, k0 = 0.0, round(float(np.min(k)), 2)
        out.append((round(float(np.mean([r[0] for r in lv])), 4), k0, c))
    return out


def add_transport(data: dict, rows: Sequence[Sequence[float]], provenance: str) -> None:
    """Write the rows (SOC, K0, c[, charge K0, charge c]: fit_transport's rows, and the same from charge pulses
    appended) into a cell-file dict (parameters and provenance)."""
    rows = [[float(x) for x in r] for r in rows]
    # the core's rule (check_transport), before writing; unit ratings so that only the table is judged
    issue = _core().power_config_issue({"transport": rows, "discharge_current_max_A": 1.0, "charge_current_max_A": 1.0})
    if issue is not None:
        raise ValueError(f"transport limit table {rows!r}: {issue[2]} ({issue[1]}): the pulses do not support a cap "
                         "the core can use; nothing written")
    data.setdefault("parameters", {})[K_TRANSPORT] = rows
    data.setdefault("provenance", {})[K_TRANSPORT] = provenance


#: the characterisation :func:`identify_from_pybamm` runs by default (docs/power.md "Transport limit"): constant-current
#: pulses from rest at these SOC levels, temperatures and C-rates of the nominal capacity, each until the cut-off
PULSE_SOCS = (0.1, 0.15, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9)
PULSE_TEMPERATURES_DEGC = (0.0, 25.0, 40.0)
DISCHARGE_C_RATES = (6.0, 9.0, 12.0)
#: charge (above SOC 0.4 a 6C charge of Chen2020 reaches the upper cut-off at once, by the ohmic drop)
CHARGE_C_RATES = (3.0, 6.0, 9.0, 12.0)
#: a pulse that does not reach the cut-off within PULSE_MAX_S says nothing about K (left out)
PULSE_MAX_S = 120.0
#: a pulse that reaches it sooner is limited by the ohmic and kinetic drop (the voltage model's own), not by transport
PULSE_MIN_S = 5.0
#: K0 of a level where no charge pulse reached the cut-off by transport (near full the voltage limit is reached at
#: once): no cap there
NO_CAP = 1.0e7


def pybamm_pulses(parameter_set: str, direction: int, socs: Sequence[float], currents_A: Sequence[float],
                  temperatures_degC: Sequence[float], model_name: str = "DFN",
                  progress: Callable[[str], None] | None = None) -> list[tuple[float, float, float]]:
    """(SOC, current magnitude A, time to the cut-off s) of PyBaMM's constant-current pulses from rest (lumped thermal
    where the set allows it, else isothermal: cellsense.truth.solver.thermal_option; ambient = initial temperature):
    `direction` 1 discharges to the set's lower cut-off, -1 charges to its upper one (the other cut-off moved out of
    the way); pulses outside [PULSE_MIN_S, PULSE_MAX_S) are left out."""
    import pybamm

    pybamm.set_logging_level("ERROR")
    base = pybamm.ParameterValues(parameter_set)
    v_lo, v_hi = float(base["Lower voltage cut-off [V]"]), float(base["Upper voltage cut-off [V]"])
    out = []
    for T in temperatures_degC:
        for z in socs:
            model = getattr(pybamm.lithium_ion, model_name)(model_options(parameter_set, model_name))
            pv = base.copy()  # set_initial_state changes it: one per level
            pv.set_initial_state(z, options=model.options)
            pv["Ambient temperature [K]"] = T + 273.15
            pv["Initial temperature [K]"] = T + 273.15
            pv["Lower voltage cut-off [V]"] = v_lo if direction > 0 else v_lo - 0.5
            pv["Upper voltage cut-off [V]"] = v_hi + 0.4 if direction > 0 else v_hi
            pv["Current function [A]"] = "[input]"
            sim = pybamm.Simulation(model, parameter_values=pv, solver=pybamm.IDAKLUSolver(rtol=1e-5, atol=1e-7))
            for i in currents_A:
                try:
                    sol = sim.solve([0.0, PULSE_MAX_S], inputs={"Current function [A]": direction * i},
                                    t_interp=np.linspace(0.0, PULSE_MAX_S, 1201))
                except pybamm.SolverError:
                    continue
                t_cut = float(sol.t[-1])
                if PULSE_MIN_S <= t_cut < PULSE_MAX_S - 1e-6:
                    out.append((z, i, t_cut))
                    if progress is not None:
                        progress(f"  transport pulse {T:g} degC SOC {z:.2f} {direction * i:g} A: cut-off after "
                                 f"{t_cut:.2f} s, i sqrt(t) {i * t_cut ** 0.5:.1f} A s^0.5")
    return out


def merge_charge(discharge_rows: Sequence[Sequence[float]],
                 charge_rows: Sequence[Sequence[float]]) -> list[tuple[float, ...]]:
    """Rows (SOC, K0, c, charge K0, charge c) over the SOC levels of both fits (matched to 0.01): each direction's
    (K0, c) where its pulses reached the cut-off, (NO_CAP, 0) at a level where they did not (near full a charge pulse
    reaches the upper cut-off at once; a discharge one may not reach the lower one within PULSE_MAX_S). At most
    MAX_POINTS levels (more: ValueError, as the core's table holds 8)."""
    dis = {round(r[0], 2): tuple(r) for r in discharge_rows}
    chg = {round(r[0], 2): tuple(r) for r in charge_rows}
    levels = sorted(set(dis) | set(chg))
    if len(levels) > MAX_POINTS:
        raise ValueError(f"transport: {len(levels)} SOC levels over both directions; the table holds {MAX_POINTS}")
    return [(dis[z][0] if z in dis else chg[z][0],) + (dis[z][1:3] if z in dis else (NO_CAP, 0.0))
            + (chg[z][1:3] if z in chg else (NO_CAP, 0.0)) for z in levels]


def identify_from_pybamm(parameter_set: str, model_name: str = "DFN", socs: Sequence[float] = PULSE_SOCS,
                         temperatures_degC: Sequence[float] = PULSE_TEMPERATURES_DEGC,
                         discharge_c_rates: Sequence[float] = DISCHARGE_C_RATES,
                         charge_c_rates: Sequence[float] = CHARGE_C_RATES,
                         progress: Callable[[str], None] | None = None) -> tuple[list[tuple[float, ...]], str]:
    """The transport table (rows SOC, K0, c, charge K0, charge c) of a PyBaMM parameter set from its pulses
    (:func:`pybamm_pulses`, currents = C-rate x the set's nominal capacity), and the provenance text."""
    import pybamm

    q = float(pybamm.ParameterValues(parameter_set)["Nominal cell capacity [A.h]"])
    dis_A = [round(c * q, 6) for c in discharge_c_rates]
    chg_A = [round(c * q, 6) for c in charge_c_rates]
    dis = pybamm_pulses(parameter_set, 1, socs, dis_A, temperatures_degC, model_name, progress)
    if not dis:
        raise ValueError(f"transport: no discharge pulse of {parameter_set} reached the cut-off between {PULSE_MIN_S:g} "
                         f"and {PULSE_MAX_S:g} s at {', '.join(f'{c:g}' for c in discharge_c_rates)}C")
    chg = pybamm_pulses(parameter_set, -1, socs, chg_A, temperatures_degC, model_name, progress)
    # without a charge pulse to the cut-off by transport: no charge cap (0 at every row)
    rows = merge_charge(fit_transport(dis), fit_transport(chg)) if chg else [tuple(r) + (0.0, 0.0) for r in fit_transport(dis)]
    # as pybamm_pulses built the model
    thermal = "lumped thermal" if thermal_option(parameter_set, model_name)[0] == "lumped" else "isothermal"
    how = (f"PyBaMM {pybamm.__version__} {parameter_set} {model_name} ({thermal}): constant-current discharge "
           f"pulses from rest at SOC {', '.join(f'{z:g}' for z in socs)}, {', '.join(f'{i:g}' for i in dis_A)} A "
           f"({', '.join(f'{c:g}' for c in discharge_c_rates)}C) and {', '.join(f'{T:g}' for T in temperatures_degC)} "
           f"degC until the lower cut-off; per SOC level i sqrt(t_cut) = K0 + c i, c the least-squares slope, K0 the "
           f"lower envelope over the pulses (Sand's law; cellsense.fit.transport.identify_from_pybamm); the last two "
           f"columns the same from charge pulses of {', '.join(f'{i:g}' for i in chg_A)} A until the upper cut-off "
           + (f"({NO_CAP:g}: no pulse of that direction reached it by transport)" if chg else "(0: none reached it: no charge cap)")
           + f"; pulses that reach the cut-off within {PULSE_MIN_S:g} s are left out (the ohmic and kinetic drop, the "
           f"model's own)")
    return rows, how
