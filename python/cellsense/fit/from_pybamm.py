"""Derive an SPMe cell file from a PyBaMM parameter set (``cellsense fit --from-pybamm SET --model spme --out
CELL``): every number with its provenance (docs/cell-file.md, "SPMe cells"; docs/spme.md)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write
from ..cells.spme import (ELECTRODE_KEYS, ELECTRODES, ELECTROLYTE_MODES, F_C_PER_MOL, MAX_OCP_POINTS, PADE_ORDER,
                          RG_J_PER_MOL_K, SpmeCell, electrode_key, load_spme_cell)
from ..estimators.spme import open_loop
from ..truth.simulate import simulate
from ..truth.solver import reference_capacity
from .checks import plausible_voltage_range


# ----------------------------------------------------------------------------------------------
# Derivation from PyBaMM
# ----------------------------------------------------------------------------------------------
def _evaluate(pv, key: str, *args):
    """A PyBaMM parameter (number or function) evaluated at numeric arguments."""
    import pybamm

    f = pv[key]
    if not callable(f):
        return float(f)
    vector = any(np.ndim(a) for a in args)
    syms = [pybamm.Vector(np.atleast_1d(np.asarray(a, float))) if np.ndim(a) else pybamm.Scalar(float(a))
            for a in args]
    r = f(*syms)
    if isinstance(r, pybamm.Symbol):
        r = pv.process_symbol(r).evaluate()
    r = np.asarray(r, float).reshape(-1)
    return r if vector else float(r[0])


def _activation(pv, key: str, args_at, t_ref: float) -> float:
    """Arrhenius activation energy E = R ln(f(T2)/f(T1)) / (1/T1 - 1/T2), T1 = T_ref, T2 = T_ref + 10 K
    (0 when the parameter does not depend on temperature)."""
    f1 = _evaluate(pv, key, *args_at(t_ref))
    f2 = _evaluate(pv, key, *args_at(t_ref + 10.0))
    if f1 <= 0 or f2 <= 0 or abs(f2 / f1 - 1) < 1e-12:
        return 0.0
    return float(RG_J_PER_MOL_K * math.log(f2 / f1) / (1 / t_ref - 1 / (t_ref + 10.0)))


def _ocp_breakpoints(fn, lo: float, hi: float, n: int) -> np.ndarray:
    """Breakpoints in [lo, hi] for linear interpolation of fn: dense where it curves (points placed at
    equal steps of the integral of sqrt(|U''|), the optimal density for piecewise-linear
    interpolation; de Boor, "A Practical Guide to Splines", 2001, ch. III), n points."""
    x = np.linspace(lo, hi, 4001)
    u = fn(x)
    d2 = np.abs(np.gradient(np.gradient(u, x), x))
    w = np.sqrt(d2)
    w = w + 0.05 * np.mean(w)  # sqrt(|U''|), floored so flat stretches still get points
    cum = np.r_[0.0, np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(x))]
    bp = np.interp(np.linspace(0, cum[-1], n), cum, x)
    bp[0], bp[-1] = lo, hi
    return np.unique(bp)


def derive_from_pybamm(parameter_set: str = "Chen2020", name: str | None = None, out=None,
                       ocp_points: int = MAX_OCP_POINTS, check_model_error: bool = True) -> dict[str, Any]:
    """An SPMe cell file from a PyBaMM parameter set (every number traced in "provenance").

    * geometry, volume fractions, Bruggeman exponents, c_max, t+, c_e0: copied;
    * D_s, j0, D_e, kappa: PyBaMM's functions evaluated at the reference (D_s at x = 1/2; j0 at
      c_e0, x_s = 1/2; D_e and kappa at c_e0), each with the Arrhenius activation energy that
      reproduces the function between T_ref and T_ref + 10 K (0 when it has none);
    * j0's dependence on c_e and x_s is checked to be the usual sqrt(c_e x (1 - x)) form;
    * OCPs: tables over each electrode's reachable stoichiometry (SOC -0.1 .. 1.1), breakpoints
      placed by curvature;
    * stoichiometries at 100 % SOC: PyBaMM's at its upper cut-off (get_min_max_stoichiometries);
    * "Model voltage error [V]": open-loop RMSE of this cell against PyBaMM's DFN on a 1C discharge
      at 25 degC (cellsense.truth.simulate; the estimator's default voltage sigma uses it).
    """
    import pybamm

    pv = pybamm.ParameterValues(parameter_set)
    t_ref = float(pv["Reference temperature [K]"]) if "Reference temperature [K]" in pv.keys() else 298.15
    ce0 = float(pv["Initial concentration in electrolyte [mol.m-3]"])
    n_par = float(pv["Number of electrodes connected in parallel to make a cell"]) \
        if "Number of electrodes connected in parallel to make a cell" in pv.keys() else 1.0
    area = float(pv["Electrode height [m]"]) * float(pv["Electrode width [m]"]) * n_par
    # the SOC scale: capacity between the cut-offs from the stoichiometry windows, as simulate's
    # soc_true (docs/truth.md), so SOC 0 / 1 sit exactly at the windows' ends x0 / x100
    q, q_how = reference_capacity(parameter_set)
    x0, x100, y100, y0 = pybamm.lithium_ion.get_min_max_stoichiometries(pv)
    prov: dict[str, str] = {}
    params: dict[str, Any] = {}
    src = f"PyBaMM {pybamm.__version__} parameter set {parameter_set!r}"

    def put(key, value, how):
        params[key] = value
        prov[key] = f"{src}: {how}"

    put("Nominal cell capacity [A.h]", q, f"reference capacity: {q_how} (the parameter set's nominal "
        f"{float(pv['Nominal cell capacity [A.h]']):.6g} A.h sets only the C-rates)")
    put("Electrode area [m2]", area, "Electrode height x width x electrodes in parallel")
    put("Reference temperature [K]", t_ref, "copied (Arrhenius reference)")
    for E in ELECTRODES:
        e = E.lower()
        for what in ("{E} electrode thickness [m]", "{E} particle radius [m]",
                     "{E} electrode active material volume fraction", "{E} electrode porosity",
                     "{E} electrode Bruggeman coefficient (electrolyte)", "Maximum concentration in {e} electrode [mol.m-3]",
                     "{E} electrode conductivity [S.m-1]"):
            key = electrode_key(E, what)
            put(key, float(pv[key]), "copied")
        cmax = float(pv[electrode_key(E, "Maximum concentration in {e} electrode [mol.m-3]")])
        kd = electrode_key(E, "{E} particle diffusivity [m2.s-1]")
        put(kd, _evaluate(pv, kd, 0.5, t_ref), "evaluated at stoichiometry 0.5 and T_ref")
        put(electrode_key(E, ELECTRODE_KEYS["diffusivity_activation_J_mol"]),
            _activation(pv, kd, lambda T: (0.5, T), t_ref), "Arrhenius fit of the diffusivity between T_ref and T_ref + 10 K")
        kj = electrode_key(E, "{E} electrode exchange-current density [A.m-2]")
        j_ref = _evaluate(pv, kj, ce0, 0.5 * cmax, cmax, t_ref)
        # form check: sqrt(c_e x (1 - x)) scaling
        for ce, x in ((0.5 * ce0, 0.2), (1.5 * ce0, 0.8)):
            got = _evaluate(pv, kj, ce, x * cmax, cmax, t_ref)
            want = j_ref * math.sqrt(ce / ce0) * math.sqrt(x * (1 - x) / 0.25)
            if abs(got / want - 1) > 0.02:
                raise ValueError(f"{parameter_set}: {kj} is not of the form j0 ~ sqrt(c_e x (1 - x)) "
                                 f"({got:.4g} vs {want:.4g} at c_e {ce:g}, x {x:g}); the SPMe cannot represent it")
        put(kj, j_ref, "evaluated at c_e0, x_s = 0.5, T_ref")
        put(electrode_key(E, ELECTRODE_KEYS["exchange_current_activation_J_mol"]),
            _activation(pv, kj, lambda T: (ce0, 0.5 * cmax, cmax, T), t_ref),
            "Arrhenius fit of j0 between T_ref and T_ref + 10 K")
        x_full = x100 if e == "negative" else y100
        put(electrode_key(E, ELECTRODE_KEYS["stoichiometry_full"]), float(x_full),
            "pybamm.lithium_ion.get_min_max_stoichiometries (upper cut-off)")
    # OCP tables over the reachable window (SOC -0.1 .. 1.1)
    for E, sign in (("Negative", 1.0), ("Positive", -1.0)):
        e = E.lower()
        eps = params[electrode_key(E, "{E} electrode active material volume fraction")]
        L = params[electrode_key(E, "{E} electrode thickness [m]")]
        cmax = params[electrode_key(E, "Maximum concentration in {e} electrode [mol.m-3]")]
        dx = sign * 3600.0 * q / (F_C_PER_MOL * eps * L * area * cmax)
        xf = params[electrode_key(E, ELECTRODE_KEYS["stoichiometry_full"])]
        a, b = sorted((xf + 0.1 * dx, xf - 1.1 * dx))
        a, b = max(a - 0.05, 1e-4), min(b + 0.05, 1 - 1e-4)
        fn = lambda x, k=electrode_key(E, "{E} electrode OCP [V]"): _evaluate(pv, k, np.asarray(x, float))  # noqa: E731
        bp = _ocp_breakpoints(fn, a, b, ocp_points)
        put(electrode_key(E, ELECTRODE_KEYS["ocp_stoichiometry"]), [float(v) for v in bp],
            f"{ocp_points} breakpoints over x in [{a:.4f}, {b:.4f}] (SOC -0.1 .. 1.1 +- 0.05), placed by curvature")
        put(electrode_key(E, ELECTRODE_KEYS["ocp_V"]), [float(v) for v in fn(bp)], "PyBaMM OCP function at the breakpoints")
    for key in ("Separator thickness [m]", "Separator porosity", "Separator Bruggeman coefficient (electrolyte)",
                "Initial concentration in electrolyte [mol.m-3]", "Cation transference number"):
        put(key, float(pv[key]), "copied")
    put("Thermodynamic factor", float(pv["Thermodynamic factor"]) if "Thermodynamic factor" in pv.keys() else 1.0,
        "copied (1 if absent)")
    # D_e: the mean of D_e(c) over c_e0 (1 +- 1/2), the Kirchhoff-transform equivalent of a concentration-
    # dependent diffusivity for a +-50 % swing (steady 1-D flux = (1/L) int D(c) dc; Crank, "The
    # Mathematics of Diffusion", 2nd ed., 1975, sec. 9.3): at 1-2C the electrolyte swings that far.
    kd = "Electrolyte diffusivity [m2.s-1]"
    cs = ce0 * np.linspace(0.5, 1.5, 101)
    put(kd, float(np.mean(_evaluate(pv, kd, cs, t_ref))),
        "mean of the function over c_e0 x [0.5, 1.5] at T_ref (Kirchhoff-transform equivalent, docs/spme.md)")
    put("Electrolyte diffusivity activation energy [J.mol-1]", _activation(pv, kd, lambda T: (ce0, T), t_ref),
        "Arrhenius fit between T_ref and T_ref + 10 K")
    kk = "Electrolyte conductivity [S.m-1]"
    put(kk, _evaluate(pv, kk, ce0, t_ref), "evaluated at c_e0 and T_ref (the SPMe's leading order, Marquis 2019)")
    put("Electrolyte conductivity activation energy [J.mol-1]", _activation(pv, kk, lambda T: (ce0, T), t_ref),
        "Arrhenius fit between T_ref and T_ref + 10 K")
    put("Contact resistance [Ohm]", float(pv["Contact resistance [Ohm]"]) if "Contact resistance [Ohm]" in pv.keys() else 0.0,
        "copied (0 if absent)")
    put("Lower voltage cut-off [V]", float(pv["Lower voltage cut-off [V]"]), "copied")
    put("Upper voltage cut-off [V]", float(pv["Upper voltage cut-off [V]"]), "copied")
    cell = {
        "cellsense cell file": 1,
        "name": name or parameter_set.lower() + "_spme",
        "description": f"SPMe (Pade [3/3] particles, {ELECTROLYTE_MODES} electrolyte modes) derived from "
                       f"{src} by cellsense fit --from-pybamm",
        "placeholder": False,
        "model": "spme",
        "SPMe reduction": {"particle": f"Pade [{PADE_ORDER}/{PADE_ORDER}]", "electrolyte modes": ELECTROLYTE_MODES},
        "parameters": params,
        "limits": {"Voltage range [V]": plausible_voltage_range(params["Lower voltage cut-off [V]"],
                                                                params["Upper voltage cut-off [V]"]),
                   "Current range [A]": [-20.0 * q, 20.0 * q], "Temperature range [degC]": [-40.0, 85.0]},
        "provenance": prov,
    }
    if check_model_error:
        sim = simulate(cell=parameter_set, protocol="cc", model="DFN", temperature_degC=25.0)
        c = load_spme_cell(cell, "<derived>")
        ol = open_loop(c, sim.time_s, sim.current_A, sim.temperature_degC, soc0=1.0)
        rmse = float(np.sqrt(np.mean((ol["voltage_V"] - sim.voltage_V) ** 2)))
        put("Model voltage error [V]", rmse, "open-loop RMSE against PyBaMM DFN, 1C discharge at 25 degC (cellsense simulate)")
        cell["fit residuals"] = {"DFN 1C discharge 25 degC": {"voltage RMSE [mV]": 1e3 * rmse,
                                                              "max abs error [mV]": float(1e3 * np.max(np.abs(ol["voltage_V"] - sim.voltage_V)))}}
    load_spme_cell(cell, "<derived>")  # self-check
    if out is not None:
        with atomic_write(out) as f:
            json.dump(cell, f, indent=1)
            f.write("\n")
    return cell


def pybamm_initial_soc(cell: SpmeCell, parameter_set: str, pybamm_soc: float) -> float:
    """The SPMe cell's SOC for PyBaMM's set_initial_state(pybamm_soc) (PyBaMM interpolates the
    stoichiometry between its cut-off windows; a cell converted by this module has its capacity on the
    same windows, so this is pybamm_soc up to rounding; cells with another capacity map through it)."""
    import pybamm

    pv = pybamm.ParameterValues(parameter_set)
    x0, x100, _, _ = pybamm.lithium_ion.get_min_max_stoichiometries(pv)
    return cell.soc_from_stoichiometry(x0 + pybamm_soc * (x100 - x0))


# ----------------------------------------------------------------------------------------------
# CLI (cellsense fit --from-pybamm SET --model spme --out CELL)
# ----------------------------------------------------------------------------------------------
def cli_fit_from_pybamm(args) -> int:
    name = args.name or Path(args.out).stem
    cell = derive_from_pybamm(args.from_pybamm, name=name, out=args.out)
    p = cell["parameters"]
    print(f"{args.out}: SPMe from PyBaMM {args.from_pybamm}: capacity {p['Nominal cell capacity [A.h]']:.4g} Ah, "
          f"Pade [{PADE_ORDER}/{PADE_ORDER}] particles, {ELECTROLYTE_MODES} electrolyte modes")
    for fname, res in cell.get("fit residuals", {}).items():
        print(f"  {fname}: open-loop voltage RMSE {res['voltage RMSE [mV]']:.2f} mV (max {res['max abs error [mV]']:.1f} mV)")
    return 0
