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
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .._io import Progress, require, write_atomically
from ..cells.ecm_reference import ecm_simulate
from .checks import (TEMPERATURE_RANGE_DEGC, check_cell, check_current_sign, check_initial_soc, check_outputs,
                     check_temperature, plausible_voltage_range, weak_data_warnings)
from .hppc import MAX_RC_PAIRS, _pulse_windows, _rest_offsets, _tau_bounds, cap_dc_resistance, fit_hppc
from .inputs import _load
from .ocv import DEFAULT_SOC_BREAKPOINTS, _fmt, fit_ocv
from .plot import plot_fit


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
        plot=None, warn=None) -> dict:
    """Fit an ECM cell file from an OCV test log and one HPPC log per temperature.

    ``ocv_csv`` and each of ``hppc_csvs`` is a cell log in any of these forms: a cell-log CSV path; a log
    object with ``time_s``, ``current_A``, ``voltage_V``, ``temperature_degC`` (and optionally ``soc_true``)
    attributes, such as `cellsense.io.logs.read_cell_log`'s `CellLog` or `cellsense.truth.simulate.simulate`'s
    `SimResult`; a mapping of those columns (e.g. `cellsense.io.logs.read_log`'s dict); a structured
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
    ``warn``: a callable taking each warning on weak data (one temperature, an HPPC covering part of the SOC
    range, voltages beyond the cut-offs; `checks.weak_data_warnings`); None: `warnings.warn` (UserWarning).
    Refused before the fit (ValueError naming the file): an HPPC or OCV test whose median temperature is outside
    -40..80 degC, an HPPC whose voltage rises on discharge steps, ``out`` naming an input file; after it
    (CellFileError, nothing written): a fitted cell the cell loader refuses.
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
    check_initial_soc(hppc_initial_soc)
    check_outputs({"out": out, "plot": plot}, [("ocv_csv", ocv_csv)] + [(f"hppc_csvs[{k}]", h) for k, h in enumerate(hppc_csvs)])
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
    check_temperature(round(float(np.median(ocv_log["temperature_degC"])), 1), ocv_log["path"])
    o = fit_ocv(ocv_log, soc_bp, capacity_Ah=capacity_Ah, current_offset_A=ocv_current_offset_A)
    if soc_breakpoints is None and o["soc_data_min"] < soc_bp[0] - 0.005 and len(soc_bp) < 64:
        # The cell delivered more than the SOC scale's capacity before its lower cut-off: extend the
        # grid below 0 to where the data goes, so the OCV is tabulated, not extrapolated, there.
        soc_bp = np.r_[math.floor(o["soc_data_min"] * 200.0) / 200.0, soc_bp]
        o = fit_ocv(ocv_log, soc_bp, capacity_Ah=capacity_Ah, current_offset_A=ocv_current_offset_A)
    Q = o["capacity_Ah"]
    say(f"OCV: capacity {Q:.4f} Ah from {ocv_log['path']} (its OCV, at {o['temperature_degC']:.1f} degC, is used at "
        f"every temperature row: the format has one OCV test)")
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
        check_temperature(T, lg["path"])
        check_current_sign(lg)
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
    i_c20 = 0.5 * (abs(o["i_discharge_A"]) + abs(o["i_charge_A"]))
    dc_cap = (rc_pairs, o["temperature_degC"], o["half_gap_V"], i_c20)
    cap_note = cap_dc_resistance(tabs, T_bp, *dc_cap)  # the C/20 test bounds the DC resistance (fit.hppc)
    r_tot = tabs["R0 [Ohm]"] + sum(tabs[f"R{j + 1} [Ohm]"] for j in range(rc_pairs))
    r_tot_ocvT = np.array([np.interp(o["temperature_degC"], T_bp, r_tot[:, k]) for k in range(len(soc_bp))])
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
        cap_note = cap_dc_resistance(tabs, T_bp, *dc_cap) or cap_note
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
    for key in ([f"R{rc_pairs} [Ohm]", f"tau{rc_pairs} [s]"] if cap_note else []):
        prov[key] += "; " + cap_note
    cell = {
        "cellsense cell file": 1,
        "name": name,
        "description": description or f"ECM ({rc_pairs} RC pairs) fitted by cellsense fit to {ocv_name} and {hp_names}",
        "placeholder": False,
        "model": "ecm",
        "RC pairs": rc_pairs,
        "parameters": params,
        "limits": {"Voltage range [V]": plausible_voltage_range(v_lo, v_hi),
                   "Current range [A]": [-_fmt(10 * Q, 3), _fmt(10 * Q, 3)],
                   "Temperature range [degC]": list(TEMPERATURE_RANGE_DEGC),
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
    spans = [(float(np.min(hppc_initial_soc - lg["Ah"] / Q)), float(np.max(hppc_initial_soc - lg["Ah"] / Q)))
             for _, _, lg in hppc]
    e_ref = cell["fit residuals"][Path(path_ref).name]["voltage RMSE [mV]"] * 1e-3
    params["Model voltage error [V]"] = round(float(e_ref), 6)
    prov["Model voltage error [V]"] = (f"open-loop voltage RMSE of the fitted model over {Path(path_ref).name} "
                                       f"(HPPC at {T_ref:g} degC, the file nearest the OCV test's "
                                       f"{o['temperature_degC']:.1f} degC; whole file from SOC {hppc_initial_soc:g}, "
                                       f"h = 0, RC voltages 0; {len(details[it_ref])} pulse set(s); the file "
                                       f"spans SOC {spans[it_ref][0]:.3f}..{spans[it_ref][1]:.3f}): the model error the estimator's default voltage "
                                       f"sigma accounts for (cellsense.estimators.settings.NoiseSettings)")
    for fname, res in cell["fit residuals"].items():
        say(f"{fname}: voltage RMSE {res['voltage RMSE [mV]']:.2f} mV (max {res['max abs error [mV]']:.1f} mV)")
    check_cell(cell, "fitted cell" if out is None else out, logs=[ocv_log] + [lg for _, _, lg in hppc])
    emit = warn or (lambda text: warnings.warn(text, UserWarning, stacklevel=3))
    for text in weak_data_warnings(hppc, details, ocv_log, T_fit, v_lo, v_hi, it_ref, spans):
        emit(text)
    if out is not None:
        text = json.dumps(cell, indent=1) + "\n"
        write_atomically(Path(out), lambda fh: fh.write(text))
    if plot is not None:
        plot_fit(curves, plot, title=f"{name}: ECM ({rc_pairs} RC pairs) fitted vs measured, open loop")
    return cell


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

