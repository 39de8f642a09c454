"""Reduced electrochemical cell model (SPMe): cell files, derivation from PyBaMM, estimator.

The core model is ``cpp/include/cellsense/model/spme.hpp`` (equations and sources in docs/spme.md).
This module

* derives an SPMe cell file from a PyBaMM parameter set (``cellsense fit --from-pybamm SET --model
  spme --out CELL``, :func:`derive_from_pybamm`);
* loads and validates such files (:func:`load_spme_cell`; ``cellsense.load_cell`` dispatches here on
  ``"model": "spme"``) and reduces them to the core's parameters (:meth:`SpmeCell.core_params`:
  the electrolyte's modal reduction is computed here, at load time, from the physical parameters);
* runs the estimator over the compiled core (:class:`SpmeEstimator`, which ``cellsense.Estimator``
  becomes for an SPMe cell) and the model open loop (:func:`open_loop`);
* simulates the plating-margin truth (a constant-current charge with PyBaMM's DFN, exporting the
  negative electrode's surface potential difference at the separator, :func:`dfn_charge_truth`).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .ecm import CellFileError

F_C_PER_MOL = 96485.33212   # CODATA 2018, as spme.hpp
RG_J_PER_MOL_K = 8.314462618
PADE_ORDER = 3              # [3/3] per electrode (docs/spme.md: reduction order)
ELECTROLYTE_MODES = 2
MAX_OCP_POINTS = 96
READOUTS = ("negative", "positive", "separator")

#: exact Taylor coefficients of G(s) = tanh(sqrt s)/(sqrt s - tanh(sqrt s)) - 3/s at s = 0
#: (series of the sphere's surface transfer function; docs/spme.md)
G_SERIES = [(1, 5), (-1, 175), (2, 7875), (-37, 3031875), (118, 197071875), (-5506, 186232921875),
            (3308, 2261399765625)]


class SpmeCellError(CellFileError):
    """An SPMe cell file is malformed or physically inconsistent. The message names file and key."""


# ----------------------------------------------------------------------------------------------
# Particle reduction: Pade approximants of the sphere's transfer function
# ----------------------------------------------------------------------------------------------
def pade_particle(order: int) -> tuple[np.ndarray, np.ndarray, float]:
    """[order/order] Pade approximant of G at s = 0 in partial fractions: (poles p_k, residues r_k,
    feedthrough d) with G(s) ~ d + sum r_k / (s + p_k). The core hard-codes these numbers
    (model/spme.hpp, PadeParticle); tests compare the two."""
    from fractions import Fraction

    n = int(order)
    c = [Fraction(a, b) for a, b in G_SERIES]
    if not 1 <= n <= 3:
        raise ValueError("Pade order must be 1, 2 or 3")
    # denominator Q(s) = 1 + q1 s + ... + qn s^n: coefficients n+1 .. 2n of Q C vanish
    a = np.array([[float(c[n + i - j]) for j in range(1, n + 1)] for i in range(1, n + 1)])
    rhs = -np.array([float(c[n + i]) for i in range(1, n + 1)])
    q = np.r_[1.0, np.linalg.solve(a, rhs)]
    p = np.array([sum(float(c[i - j]) * q[j] for j in range(0, i + 1)) for i in range(n + 1)])
    den = np.poly1d(q[::-1])
    num = np.poly1d(p[::-1])
    d = p[n] / q[n]
    rem = num - d * den
    roots = np.roots(den.coeffs)
    poles = -np.real(roots)
    residues = np.real(np.array([rem(r) / den.deriv()(r) for r in roots]))
    order_idx = np.argsort(-poles)
    return poles[order_idx], residues[order_idx], float(d)


# ----------------------------------------------------------------------------------------------
# Electrolyte reduction: finite volumes -> slowest modes + static correction
# ----------------------------------------------------------------------------------------------
def electrolyte_modes(thickness_m: tuple[float, float, float], porosity: tuple[float, float, float],
                      bruggeman: tuple[float, float, float], diffusivity_m2_s: float, transference: float,
                      area_m2: float, n_modes: int = ELECTROLYTE_MODES, cells_per_region: int = 30):
    """Modal reduction of eps dc/dt = d/dx(D eps^b dc/dx) + (1 - t+) a j / F (Marquis et al. 2019,
    eq. 4.12, uniform reaction) on negative | separator | positive with zero-flux ends.

    Finite volumes (cell-centred, harmonic face conductances), M dc/dt = -K c + s i; the generalised
    eigenproblem K v = lambda M v (v^T M v = 1) gives c = c_e0 + sum_k q_k v_k with
    dq_k/dt = -lambda_k q_k + (v_k^T s) i. The constant mode (lambda = 0) carries the electrolyte's
    lithium and is never excited (the sources sum to zero): the reduction conserves it exactly.
    Returns (tau_s[n_modes], gain[n_modes, 3], feedthrough[3], conservation_residual) where gain
    is each kept mode's steady-state read-out per A (negative average, positive average, negative /
    separator interface) and feedthrough the truncated modes' (static correction); the residual is
    max |sum_i eps_i dx_i v_k,i| over the kept modes (zero up to rounding)."""
    import scipy.linalg

    n = cells_per_region
    dx, eps, deff, src, reg = [], [], [], [], []
    for r, (L, e, b) in enumerate(zip(thickness_m, porosity, bruggeman)):
        sign = (1.0, 0.0, -1.0)[r]
        for _ in range(n):
            dx.append(L / n)
            eps.append(e)
            deff.append(diffusivity_m2_s * e ** b)
            # (1 - t+) a j / F integrated over the cell: a_n j_n = i / (A L_n), a_p j_p = -i / (A L_p)
            src.append(sign * (1.0 - transference) / (F_C_PER_MOL * area_m2 * L) * (L / n))
            reg.append(r)
    dx, eps, deff, src, reg = map(np.asarray, (dx, eps, deff, src, reg))
    m = len(dx)
    k = np.zeros((m, m))
    for i in range(m - 1):
        g = 1.0 / (dx[i] / (2 * deff[i]) + dx[i + 1] / (2 * deff[i + 1]))
        k[i, i] += g
        k[i + 1, i + 1] += g
        k[i, i + 1] -= g
        k[i + 1, i] -= g
    mass = np.diag(eps * dx)
    lam, vec = scipy.linalg.eigh(k, mass)
    c_neg = np.where(reg == 0, dx, 0.0) / thickness_m[0]
    c_pos = np.where(reg == 2, dx, 0.0) / thickness_m[2]
    i = n - 1
    gl, gr = deff[i] / (dx[i] / 2), deff[i + 1] / (dx[i + 1] / 2)
    c_sep = np.zeros(m)
    c_sep[i], c_sep[i + 1] = gl / (gl + gr), gr / (gl + gr)
    read = np.vstack([c_neg, c_pos, c_sep])
    b = vec.T @ src
    modes = [(1.0 / lam[j], (b[j] / lam[j]) * (read @ vec[:, j]), vec[:, j]) for j in range(1, m)]
    kept, rest = modes[:n_modes], modes[n_modes:]
    tau = np.array([t for t, _, _ in kept])
    gain = np.array([g for _, g, _ in kept])
    feed = np.sum([g for _, g, _ in rest], axis=0)
    residual = max(abs(float(np.sum(eps * dx * v))) for _, _, v in kept)
    return tau, gain, feed, residual


# ----------------------------------------------------------------------------------------------
# Cell file
# ----------------------------------------------------------------------------------------------
ELECTRODES = ("Negative", "Positive")


def _ekey(e: str, what: str) -> str:
    return what.replace("{E}", e).replace("{e}", e.lower())


ELECTRODE_KEYS = {
    "thickness_m": "{E} electrode thickness [m]",
    "particle_radius_m": "{E} particle radius [m]",
    "active_fraction": "{E} electrode active material volume fraction",
    "porosity": "{E} electrode porosity",
    "bruggeman": "{E} electrode Bruggeman coefficient (electrolyte)",
    "max_concentration_mol_m3": "Maximum concentration in {e} electrode [mol.m-3]",
    "diffusivity_m2_s": "{E} particle diffusivity [m2.s-1]",
    "diffusivity_activation_J_mol": "{E} particle diffusivity activation energy [J.mol-1]",
    "exchange_current_A_m2": "{E} electrode exchange-current density [A.m-2]",
    "exchange_current_activation_J_mol": "{E} electrode exchange-current density activation energy [J.mol-1]",
    "conductivity_S_m": "{E} electrode conductivity [S.m-1]",
    "stoichiometry_full": "{E} electrode stoichiometry at 100% SOC",
    "ocp_stoichiometry": "{E} electrode OCP stoichiometry",
    "ocp_V": "{E} electrode OCP [V]",
}
CELL_KEYS = {
    "capacity_Ah": "Nominal cell capacity [A.h]",
    "area_m2": "Electrode area [m2]",
    "reference_temperature_K": "Reference temperature [K]",
    "separator_thickness_m": "Separator thickness [m]",
    "separator_porosity": "Separator porosity",
    "separator_bruggeman": "Separator Bruggeman coefficient (electrolyte)",
    "electrolyte_concentration_mol_m3": "Initial concentration in electrolyte [mol.m-3]",
    "transference_number": "Cation transference number",
    "thermodynamic_factor": "Thermodynamic factor",
    "electrolyte_diffusivity_m2_s": "Electrolyte diffusivity [m2.s-1]",
    "electrolyte_diffusivity_activation_J_mol": "Electrolyte diffusivity activation energy [J.mol-1]",
    "electrolyte_conductivity_S_m": "Electrolyte conductivity [S.m-1]",
    "electrolyte_conductivity_activation_J_mol": "Electrolyte conductivity activation energy [J.mol-1]",
    "contact_resistance_Ohm": "Contact resistance [Ohm]",
    "lower_cutoff_V": "Lower voltage cut-off [V]",
    "upper_cutoff_V": "Upper voltage cut-off [V]",
}
#: keys that may be absent (default)
OPTIONAL_DEFAULTS = {"Thermodynamic factor": 1.0, "Contact resistance [Ohm]": 0.0,
                     "Reference temperature [K]": 298.15}
ZERO_OK = ("activation", "Contact resistance", "Bruggeman")


@dataclass
class SpmeCell:
    """A validated SPMe cell (SI units; electrode dicts keyed like ELECTRODE_KEYS)."""

    name: str
    source: str
    capacity_Ah: float
    values: dict[str, float]
    negative: dict[str, Any]
    positive: dict[str, Any]
    voltage_cutoff_V: tuple[float, float]
    voltage_range_V: tuple[float, float]
    current_range_A: tuple[float, float]
    temperature_range_degC: tuple[float, float]
    model_voltage_error_V: float | None = None
    placeholder: bool = False
    description: str = ""
    provenance: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    model: str = "spme"
    rc_pairs: int = 0  # not an ECM: lets ECM-only code paths tell

    def __repr__(self) -> str:  # one line; parameters are in the attributes
        return (f"SpmeCell({self.name!r}, SPMe, {self.capacity_Ah:.4g} Ah, source={self.source!r}"
                + (", placeholder" if self.placeholder else "") + ")")

    # -- derived ----------------------------------------------------------------------------
    def stoichiometry_per_soc(self, e: dict[str, Any], sign: float) -> float:
        """d x_bulk / d SOC = sign 3600 Q / (F eps_s L A c_max): lithium conservation."""
        return sign * 3600.0 * self.capacity_Ah / (F_C_PER_MOL * e["active_fraction"] * e["thickness_m"]
                                                    * self.values["area_m2"] * e["max_concentration_mol_m3"])

    def bulk_stoichiometry(self, soc, electrode: str = "negative"):
        e = self.negative if electrode == "negative" else self.positive
        sign = 1.0 if electrode == "negative" else -1.0
        return e["stoichiometry_full"] + (np.asarray(soc, float) - 1.0) * self.stoichiometry_per_soc(e, sign)

    def soc_from_stoichiometry(self, x_negative: float) -> float:
        return 1.0 + (x_negative - self.negative["stoichiometry_full"]) / self.stoichiometry_per_soc(self.negative, 1.0)

    def ocv(self, soc, temperature_degC: float = 25.0) -> np.ndarray:
        """Rest voltage U_p(x_p(z)) - U_n(x_n(z)) (linear tables, continued linearly at the ends)."""
        def u(e, x):
            xs, us = np.asarray(e["ocp_stoichiometry"]), np.asarray(e["ocp_V"])
            x = np.asarray(x, float)
            lo = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
            return us[lo] + (us[lo + 1] - us[lo]) / (xs[lo + 1] - xs[lo]) * (x - xs[lo])
        return u(self.positive, self.bulk_stoichiometry(soc, "positive")) - u(self.negative, self.bulk_stoichiometry(soc))

    def soc_from_ocv(self, voltage_V: float, temperature_degC: float = 25.0) -> float:
        """SOC whose rest voltage is voltage_V (bisection on [-0.1, 1.1]; clamped at the ends)."""
        lo, hi = -0.1, 1.1
        if voltage_V <= float(self.ocv(lo)):
            return lo
        if voltage_V >= float(self.ocv(hi)):
            return hi
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if float(self.ocv(mid)) < voltage_V:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def reduction(self) -> dict[str, Any]:
        """The electrolyte's modal reduction (tau, gains, feedthrough) and the lumped resistances."""
        v = self.values
        n, p = self.negative, self.positive
        tau, gain, feed, residual = electrolyte_modes(
            (n["thickness_m"], v["separator_thickness_m"], p["thickness_m"]),
            (n["porosity"], v["separator_porosity"], p["porosity"]),
            (n["bruggeman"], v["separator_bruggeman"], p["bruggeman"]),
            v["electrolyte_diffusivity_m2_s"], v["transference_number"], v["area_m2"])
        kappa = v["electrolyte_conductivity_S_m"]
        k_n = kappa * n["porosity"] ** n["bruggeman"]
        k_s = kappa * v["separator_porosity"] ** v["separator_bruggeman"]
        k_p = kappa * p["porosity"] ** p["bruggeman"]
        area = v["area_m2"]
        return {
            "electrolyte_tau_s": tau, "electrolyte_gain_mol_m3_per_A": gain,
            "electrolyte_feedthrough_mol_m3_per_A": feed, "electrolyte_conservation_residual": residual,
            # Marquis et al. 2019 eq. 4.16: x-averaged ohmic terms of a uniform reaction
            "electrolyte_resistance_Ohm": (n["thickness_m"] / (3 * k_n) + v["separator_thickness_m"] / k_s
                                           + p["thickness_m"] / (3 * k_p)) / area,
            "negative_electrolyte_resistance_Ohm": n["thickness_m"] / (3 * k_n * area),
            "solid_resistance_Ohm": (n["thickness_m"] / (3 * n["conductivity_S_m"])
                                     + p["thickness_m"] / (3 * p["conductivity_S_m"])) / area,
            "negative_solid_resistance_Ohm": n["thickness_m"] / (6 * n["conductivity_S_m"] * area),
        }

    def core_params(self) -> dict[str, Any]:
        """The parameter dict the compiled core takes (python/bindings/spme.cpp)."""
        red = self.reduction()
        v = self.values

        def electrode(e, sign):
            return {k: float(e[k]) for k in ("thickness_m", "particle_radius_m", "active_fraction",
                                             "max_concentration_mol_m3", "diffusivity_m2_s",
                                             "diffusivity_activation_J_mol", "exchange_current_A_m2",
                                             "exchange_current_activation_J_mol", "stoichiometry_full")} | {
                "stoichiometry_per_soc": self.stoichiometry_per_soc(e, sign),
                "ocp_stoichiometry": np.asarray(e["ocp_stoichiometry"], float),
                "ocp_V": np.asarray(e["ocp_V"], float)}

        return {
            "capacity_Ah": self.capacity_Ah, "area_m2": v["area_m2"],
            "reference_temperature_K": v["reference_temperature_K"],
            "negative": electrode(self.negative, 1.0), "positive": electrode(self.positive, -1.0),
            "electrolyte_concentration_mol_m3": v["electrolyte_concentration_mol_m3"],
            "transference_number": v["transference_number"], "thermodynamic_factor": v["thermodynamic_factor"],
            "electrolyte_diffusivity_activation_J_mol": v["electrolyte_diffusivity_activation_J_mol"],
            "electrolyte_conductivity_activation_J_mol": v["electrolyte_conductivity_activation_J_mol"],
            "electrolyte_tau_s": red["electrolyte_tau_s"],
            "electrolyte_gain_mol_m3_per_A": red["electrolyte_gain_mol_m3_per_A"],
            "electrolyte_feedthrough_mol_m3_per_A": red["electrolyte_feedthrough_mol_m3_per_A"],
            "electrolyte_resistance_Ohm": red["electrolyte_resistance_Ohm"],
            "negative_electrolyte_resistance_Ohm": red["negative_electrolyte_resistance_Ohm"],
            "solid_resistance_Ohm": red["solid_resistance_Ohm"],
            "negative_solid_resistance_Ohm": red["negative_solid_resistance_Ohm"],
            "contact_resistance_Ohm": v["contact_resistance_Ohm"],
            "voltage_min_V": self.voltage_range_V[0], "voltage_max_V": self.voltage_range_V[1],
            "current_min_A": self.current_range_A[0], "current_max_A": self.current_range_A[1],
            "temperature_min_degC": self.temperature_range_degC[0],
            "temperature_max_degC": self.temperature_range_degC[1],
        }


def is_spme_cell(model) -> bool:
    """True when `model` (path, bundled name, dict or cell) is an SPMe cell."""
    if isinstance(model, SpmeCell):
        return True
    if isinstance(model, dict):
        return model.get("model") == "spme"
    if not isinstance(model, (str, os.PathLike)):
        return False
    from .ecm import resolve_cell_path

    try:
        path = resolve_cell_path(model)
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError, RecursionError):  # the cell loader reports these, naming the file
        return False
    return isinstance(data, dict) and data.get("model") == "spme"


def load_spme_cell(data: dict[str, Any], source: str = "<cell>") -> SpmeCell:
    """Validate an SPMe cell dict (docs/cell-file.md, "model": "spme"). Errors name file and key."""
    def err(where: str, msg: str) -> SpmeCellError:
        return SpmeCellError(f"{source}: {where}: {msg}")

    if data.get("cellsense cell file") != 1:
        raise err('"cellsense cell file"', "expected format 1")
    if data.get("model") != "spme":
        raise err('"model"', f"expected 'spme', got {data.get('model')!r}")
    p = data.get("parameters")
    if not isinstance(p, dict):
        raise err('"parameters"', "missing or not an object")

    def number(key: str) -> float:
        if key not in p:
            if key in OPTIONAL_DEFAULTS:
                return OPTIONAL_DEFAULTS[key]
            raise err(f'parameters."{key}"', "missing")
        v = p[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise err(f'parameters."{key}"', f"must be a finite number, got {v!r}")
        v = float(v)
        zero_ok = any(z in key for z in ZERO_OK)
        if "activation" not in key and (v < 0 or (v == 0 and not zero_ok)):
            raise err(f'parameters."{key}"', f"must be {'>= 0' if zero_ok else '> 0'}, got {v}")
        return v

    values = {k: number(key) for k, key in CELL_KEYS.items()}
    for k in ("transference_number",):
        if not 0 <= values[k] < 1:
            raise err(f'parameters."{CELL_KEYS[k]}"', f"must be in [0, 1), got {values[k]}")
    for k in ("separator_porosity",):
        if not 0 < values[k] < 1:
            raise err(f'parameters."{CELL_KEYS[k]}"', f"must be in (0, 1), got {values[k]}")
    electrodes = {}
    for E in ELECTRODES:
        d: dict[str, Any] = {}
        for k, tmpl in ELECTRODE_KEYS.items():
            key = _ekey(E, tmpl)
            if k in ("ocp_stoichiometry", "ocp_V"):
                arr = p.get(key)
                if not isinstance(arr, list) or not all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                                        and math.isfinite(a) for a in arr):
                    raise err(f'parameters."{key}"', "must be a list of finite numbers")
                d[k] = np.asarray(arr, float)
            else:
                d[k] = number(key)
        xs = d["ocp_stoichiometry"]
        if not 2 <= len(xs) <= MAX_OCP_POINTS or len(d["ocp_V"]) != len(xs):
            raise err(f'parameters."{_ekey(E, ELECTRODE_KEYS["ocp_V"])}"',
                      f"OCP table needs 2..{MAX_OCP_POINTS} points, as many as its stoichiometry breakpoints")
        bad = np.flatnonzero(np.diff(xs) <= 0)
        if bad.size:
            raise err(f'parameters."{_ekey(E, ELECTRODE_KEYS["ocp_stoichiometry"])}"[{bad[0] + 1}]',
                      "breakpoints must increase strictly")
        for k in ("active_fraction", "porosity"):
            if not 0 < d[k] < 1:
                raise err(f'parameters."{_ekey(E, ELECTRODE_KEYS[k])}"', f"must be in (0, 1), got {d[k]}")
        if not 0 < d["stoichiometry_full"] < 1:
            raise err(f'parameters."{_ekey(E, ELECTRODE_KEYS["stoichiometry_full"])}"', "must be in (0, 1)")
        electrodes[E.lower()] = d
    lim = data.get("limits", {}) or {}

    def rng(key: str, default: tuple[float, float]) -> tuple[float, float]:
        v = lim.get(key, default)
        if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(a, (int, float)) for a in v)
                and float(v[0]) < float(v[1])):
            raise err(f'limits."{key}"', f"must be [min, max] with min < max, got {v!r}")
        return float(v[0]), float(v[1])

    q = values["capacity_Ah"]
    cell = SpmeCell(
        name=str(data.get("name", Path(source).stem)), source=source, capacity_Ah=q, values=values,
        negative=electrodes["negative"], positive=electrodes["positive"],
        voltage_cutoff_V=(values["lower_cutoff_V"], values["upper_cutoff_V"]),
        voltage_range_V=rng("Voltage range [V]", (0.0, values["upper_cutoff_V"] + 1.0)),
        current_range_A=rng("Current range [A]", (-20.0 * q, 20.0 * q)),
        temperature_range_degC=rng("Temperature range [degC]", (-40.0, 85.0)),
        placeholder=bool(data.get("placeholder", False)), description=str(data.get("description", "")),
        provenance=dict(data.get("provenance", {})), raw=data)
    if "Model voltage error [V]" in p:
        e = number("Model voltage error [V]")
        if not 0 <= e <= 1:
            raise err('parameters."Model voltage error [V]"', f"must be in [0, 1] V, got {e}")
        cell.model_voltage_error_V = e
    for E, sign in (("Negative", 1.0), ("Positive", -1.0)):
        e = electrodes[E.lower()]
        x_full = e["stoichiometry_full"]
        x_zero = x_full - cell.stoichiometry_per_soc(e, sign)
        if not 0 < x_zero < 1:
            raise err(f'parameters."{_ekey(E, ELECTRODE_KEYS["stoichiometry_full"])}"',
                      f"the bulk stoichiometry at SOC 0 would be {x_zero:.4f}, outside (0, 1): capacity, "
                      "geometry and stoichiometry disagree")
    return cell


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
      at 25 degC (cellsense.simulate; the estimator's default voltage sigma uses it).
    """
    import pybamm

    pv = pybamm.ParameterValues(parameter_set)
    t_ref = float(pv["Reference temperature [K]"]) if "Reference temperature [K]" in pv.keys() else 298.15
    ce0 = float(pv["Initial concentration in electrolyte [mol.m-3]"])
    n_par = float(pv["Number of electrodes connected in parallel to make a cell"]) \
        if "Number of electrodes connected in parallel to make a cell" in pv.keys() else 1.0
    area = float(pv["Electrode height [m]"]) * float(pv["Electrode width [m]"]) * n_par
    from ..truth.simulate import reference_capacity

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
            key = _ekey(E, what)
            put(key, float(pv[key]), "copied")
        cmax = float(pv[_ekey(E, "Maximum concentration in {e} electrode [mol.m-3]")])
        kd = _ekey(E, "{E} particle diffusivity [m2.s-1]")
        put(kd, _evaluate(pv, kd, 0.5, t_ref), "evaluated at stoichiometry 0.5 and T_ref")
        put(_ekey(E, ELECTRODE_KEYS["diffusivity_activation_J_mol"]),
            _activation(pv, kd, lambda T: (0.5, T), t_ref), "Arrhenius fit of the diffusivity between T_ref and T_ref + 10 K")
        kj = _ekey(E, "{E} electrode exchange-current density [A.m-2]")
        j_ref = _evaluate(pv, kj, ce0, 0.5 * cmax, cmax, t_ref)
        # form check: sqrt(c_e x (1 - x)) scaling
        for ce, x in ((0.5 * ce0, 0.2), (1.5 * ce0, 0.8)):
            got = _evaluate(pv, kj, ce, x * cmax, cmax, t_ref)
            want = j_ref * math.sqrt(ce / ce0) * math.sqrt(x * (1 - x) / 0.25)
            if abs(got / want - 1) > 0.02:
                raise ValueError(f"{parameter_set}: {kj} is not of the form j0 ~ sqrt(c_e x (1 - x)) "
                                 f"({got:.4g} vs {want:.4g} at c_e {ce:g}, x {x:g}); the SPMe cannot represent it")
        put(kj, j_ref, "evaluated at c_e0, x_s = 0.5, T_ref")
        put(_ekey(E, ELECTRODE_KEYS["exchange_current_activation_J_mol"]),
            _activation(pv, kj, lambda T: (ce0, 0.5 * cmax, cmax, T), t_ref),
            "Arrhenius fit of j0 between T_ref and T_ref + 10 K")
        x_full = x100 if e == "negative" else y100
        put(_ekey(E, ELECTRODE_KEYS["stoichiometry_full"]), float(x_full),
            "pybamm.lithium_ion.get_min_max_stoichiometries (upper cut-off)")
    # OCP tables over the reachable window (SOC -0.1 .. 1.1)
    for E, sign in (("Negative", 1.0), ("Positive", -1.0)):
        e = E.lower()
        eps = params[_ekey(E, "{E} electrode active material volume fraction")]
        L = params[_ekey(E, "{E} electrode thickness [m]")]
        cmax = params[_ekey(E, "Maximum concentration in {e} electrode [mol.m-3]")]
        dx = sign * 3600.0 * q / (F_C_PER_MOL * eps * L * area * cmax)
        xf = params[_ekey(E, ELECTRODE_KEYS["stoichiometry_full"])]
        a, b = sorted((xf + 0.1 * dx, xf - 1.1 * dx))
        a, b = max(a - 0.05, 1e-4), min(b + 0.05, 1 - 1e-4)
        fn = lambda x, k=_ekey(E, "{E} electrode OCP [V]"): _evaluate(pv, k, np.asarray(x, float))  # noqa: E731
        bp = _ocp_breakpoints(fn, a, b, ocp_points)
        put(_ekey(E, ELECTRODE_KEYS["ocp_stoichiometry"]), [float(v) for v in bp],
            f"{ocp_points} breakpoints over x in [{a:.4f}, {b:.4f}] (SOC -0.1 .. 1.1 +- 0.05), placed by curvature")
        put(_ekey(E, ELECTRODE_KEYS["ocp_V"]), [float(v) for v in fn(bp)], "PyBaMM OCP function at the breakpoints")
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
        "limits": {"Voltage range [V]": [0.0, params["Upper voltage cut-off [V]"] + 1.0],
                   "Current range [A]": [-20.0 * q, 20.0 * q], "Temperature range [degC]": [-40.0, 85.0]},
        "provenance": prov,
    }
    if check_model_error:
        from ..truth.simulate import simulate

        sim = simulate(cell=parameter_set, protocol="cc", model="DFN", temperature_degC=25.0)
        c = load_spme_cell(cell, "<derived>")
        ol = open_loop(c, sim.time_s, sim.current_A, sim.temperature_degC, soc0=1.0)
        rmse = float(np.sqrt(np.mean((ol["voltage_V"] - sim.voltage_V) ** 2)))
        put("Model voltage error [V]", rmse, "open-loop RMSE against PyBaMM DFN, 1C discharge at 25 degC (cellsense simulate)")
        cell["fit residuals"] = {"DFN 1C discharge 25 degC": {"voltage RMSE [mV]": 1e3 * rmse,
                                                              "max abs error [mV]": float(1e3 * np.max(np.abs(ol["voltage_V"] - sim.voltage_V)))}}
    load_spme_cell(cell, "<derived>")  # self-check
    if out is not None:
        from .._io import atomic_write

        with atomic_write(out) as f:
            json.dump(cell, f, indent=1)
            f.write("\n")
    return cell


# ----------------------------------------------------------------------------------------------
# Running the core
# ----------------------------------------------------------------------------------------------
def _core():
    from .. import _core

    return _core


def as_spme_cell(cell) -> SpmeCell:
    if isinstance(cell, SpmeCell):
        return cell
    from .ecm import load_cell

    c = load_cell(cell)
    if not isinstance(c, SpmeCell):
        raise ValueError(f"{cell}: not an SPMe cell file")
    return c


def open_loop(cell, time_s, current_A, temperature_degC, soc0: float = 1.0, dtype: str = "float64") -> dict[str, np.ndarray]:
    """The SPMe without a filter from a rested cell at soc0 (nominal-capacity SOC): voltage, SOC, surface
    stoichiometries, anode surface potential, electrolyte read-outs per sample."""
    c = as_spme_cell(cell)
    fn = getattr(_core(), "spme_open_loop_f64" if str(np.dtype(dtype)) == "float64" else "spme_open_loop_f32")
    arr = [np.ascontiguousarray(a, dtype=np.float64) for a in (time_s, current_A, temperature_degC)]
    return dict(fn(c.core_params(), *arr, float(soc0)))


@dataclass
class SpmeNoise:
    """SPMe-specific filter tuning (the shared fields come from estimator.NoiseSettings)."""

    particle_per_sqrt_s: float = 2e-5        #: particle mode random walk (stoichiometry/sqrt(s))
    electrolyte_A_per_sqrt_s: float = 0.02   #: electrolyte mode random walk (A/sqrt(s))
    initial_particle_sigma: float = 0.005    #: 1 sigma of the initial particle modes (stoichiometry)
    initial_electrolyte_sigma_A: float = 1.0 #: 1 sigma of the initial electrolyte modes (A)


def _make_estimator_class():
    from ..estimators.ecm import Estimator, RunResult, StepResult, core_config, core_filter_config, log_arrays, run_columns

    @dataclass
    class SpmeRunResult(RunResult):
        """RunResult plus the SPMe's outputs (evaluated at each step's estimate and current)."""

        anode_surface_potential_V: np.ndarray | None = None
        negative_surface_stoichiometry: np.ndarray | None = None
        positive_surface_stoichiometry: np.ndarray | None = None

    class SpmeEstimator(Estimator):
        """`cellsense.Estimator` for an SPMe cell (same constructor, run, step, save/restore)."""

        def __init__(self, cell, filter: str = "ekf", noise=None, settings=None, dtype: str = "float64",
                     initial_soc: float | None = None, spme_noise: SpmeNoise | None = None) -> None:
            core = self._setup(filter, dtype, lambda: as_spme_cell(cell), noise, settings, initial_soc)
            self.spme_noise = spme_noise or SpmeNoise()
            self._cls = getattr(core, f"Spme{filter.capitalize()}_{'f64' if self.dtype == 'float64' else 'f32'}")
            x0, p0 = self.initial_gaussian(0.5 if initial_soc is None else float(initial_soc))
            s, n, sn = self.settings, self.noise, self.spme_noise
            try:
                self._impl = self._cls(
                    self.cell.core_params(), core_config(s, n),
                    {"soc_per_sqrt_s": n.soc_per_sqrt_s, "particle_per_sqrt_s": sn.particle_per_sqrt_s,
                     "electrolyte_A_per_sqrt_s": sn.electrolyte_A_per_sqrt_s, "current_sigma_A": n.current_sigma_A},
                    core_filter_config(s), x0, p0)
            except ValueError as e:
                raise ValueError(f"{self.cell.source}: {e}") from None

        @property
        def state_names(self) -> list[str]:
            return (["soc"] + [f"negative_particle{k}" for k in range(1, PADE_ORDER + 1)]
                    + [f"positive_particle{k}" for k in range(1, PADE_ORDER + 1)]
                    + [f"electrolyte{k}_A" for k in range(1, ELECTROLYTE_MODES + 1)])

        def initial_gaussian(self, soc: float) -> tuple[np.ndarray, np.ndarray]:
            nx = 1 + 2 * PADE_ORDER + ELECTROLYTE_MODES
            x0 = np.zeros(nx)
            x0[0] = soc
            sn = self.spme_noise
            p0 = np.diag([self.noise.initial_soc_sigma ** 2] + [sn.initial_particle_sigma ** 2] * (2 * PADE_ORDER)
                         + [sn.initial_electrolyte_sigma_A ** 2] * ELECTROLYTE_MODES)
            return x0, p0

        def step(self, dt_s, current_A, voltage_V, temperature_degC):
            self._ocv_init(voltage_V, temperature_degC)
            code, *vals = self._impl.step(float(dt_s), float(current_A), float(voltage_V), float(temperature_degC))
            return StepResult(self._status_names.get(code, str(code)), *vals[:6])

        def run(self, time_s, current_A, voltage_V, temperature_degC):
            arrays = log_arrays(time_s, current_A, voltage_V, temperature_degC)
            self._ocv_init_from_log(arrays)
            out = self._impl.run(*arrays)
            return SpmeRunResult(**run_columns(arrays[0], out, self._status_names),
                                 anode_surface_potential_V=out["anode_surface_potential_V"],
                                 negative_surface_stoichiometry=out["negative_surface_stoichiometry"],
                                 positive_surface_stoichiometry=out["positive_surface_stoichiometry"])

    return SpmeEstimator, SpmeRunResult


_CLASSES: tuple | None = None


def spme_estimator_class():
    """The SpmeEstimator class (built on first use: cellsense.estimator imports this module lazily)."""
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _make_estimator_class()
    return _CLASSES[0]


def __getattr__(name):  # SpmeEstimator / SpmeRunResult as module attributes, built lazily
    if name in ("SpmeEstimator", "SpmeRunResult"):
        spme_estimator_class()
        return _CLASSES[0] if name == "SpmeEstimator" else _CLASSES[1]
    raise AttributeError(name)


# ----------------------------------------------------------------------------------------------
# Plating-margin truth: constant-current charge with PyBaMM's DFN
# ----------------------------------------------------------------------------------------------
PLATING_VARIABLE = "Negative electrode surface potential difference at separator interface [V]"


def dfn_charge_truth(cell: str = "Chen2020", c_rate: float = 1.5, temperature_degC: float = 5.0,
                     initial_soc: float = 0.1, rest_s: float = 60.0, cache_dir=None, use_cache: bool = True) -> dict:
    """A constant-current charge (rest, then -c_rate C until the upper cut-off) with PyBaMM's DFN and a
    lumped thermal model, ambient = initial = temperature_degC, solver tolerances as cellsense.simulate.
    Returns time_s, current_A (+ = discharge; row k's current held over (t_{k-1}, t_k]), voltage_V,
    temperature_degC, soc_true (initial_soc - Q_dis / Q_ref, simulate.reference_capacity) and anode_surface_potential_V =
    PyBaMM's PLATING_VARIABLE (phi_s - phi_e of the negative at the separator interface). Cached
    by content like cellsense.simulate."""
    import pybamm

    from ..truth.simulate import ATOL, RTOL, default_cache_dir, reference_capacity

    key_obj = {"kind": "spme plating truth v2", "cell": cell, "c_rate": c_rate, "T": temperature_degC,
               "soc0": initial_soc, "rest": rest_s, "pybamm": pybamm.__version__, "rtol": RTOL, "atol": ATOL,
               "variable": PLATING_VARIABLE}
    key = hashlib.sha256(json.dumps(key_obj, sort_keys=True).encode()).hexdigest()[:32]
    cdir = Path(cache_dir) if cache_dir else default_cache_dir()
    cfile = cdir / f"{key}.npz"
    if use_cache and cfile.exists():
        with np.load(cfile) as z:
            return {k: z[k] for k in z.files}
    pybamm.set_logging_level("ERROR")
    model = pybamm.lithium_ion.DFN({"thermal": "lumped"})
    pv = pybamm.ParameterValues(cell)
    pv.set_initial_state(initial_soc, options=model.options)
    tk = temperature_degC + 273.15
    pv["Ambient temperature [K]"] = tk
    pv["Initial temperature [K]"] = tk
    pv["Lower voltage cut-off [V]"] = float(pv["Lower voltage cut-off [V]"]) - 0.3
    q = float(pv["Nominal cell capacity [A.h]"])
    i = -c_rate * q
    ramp = 1e-3
    t_end = rest_s + 3600.0 / c_rate * (1.0 - initial_soc) * 1.2
    pv["Current function [A]"] = pybamm.Interpolant(np.array([0.0, rest_s, rest_s + ramp, t_end + 10.0]),
                                                    np.array([0.0, 0.0, i, i]), pybamm.t, interpolator="linear")
    grid = np.arange(0.0, math.floor(t_end) + 1.0)
    sim = pybamm.Simulation(model, parameter_values=pv, solver=pybamm.IDAKLUSolver(rtol=RTOL, atol=ATOL))
    sol = sim.solve(t_eval=np.array([0.0, rest_s, rest_s + ramp, grid[-1]]), t_interp=grid)
    t = np.asarray(sol.t, float)
    on = np.abs(t - np.round(t)) < 1e-7
    on[-1] = True
    t = t[on]

    def g(k):
        return np.asarray(sol[k].entries, float)[on]

    out = {"time_s": t, "current_A": np.where(t > rest_s, i, 0.0), "voltage_V": g("Voltage [V]"),
           "temperature_degC": g("Volume-averaged cell temperature [C]"),
           "soc_true": initial_soc - g("Discharge capacity [A.h]") / reference_capacity(cell)[0],
           "anode_surface_potential_V": g(PLATING_VARIABLE),
           "anode_surface_potential_xavg_V": g("X-averaged negative electrode surface potential difference [V]")}
    if use_cache:
        cdir.mkdir(parents=True, exist_ok=True)
        tmp = cfile.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        os.replace(tmp, cfile)
    return out


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


# ----------------------------------------------------------------------------------------------
# Reference implementation in numpy (an independent transcription of docs/spme.md for tests and
# for the firmware's generated log; the core is cpp/include/cellsense/model/spme.hpp)
# ----------------------------------------------------------------------------------------------
def reference_open_loop(cell, time_s, current_A, temperature_degC, soc0: float = 1.0) -> dict[str, np.ndarray]:
    """The SPMe open loop in numpy (float64), same conventions as :func:`open_loop`."""
    c = as_spme_cell(cell)
    cp = c.core_params()
    poles, residues, d = pade_particle(PADE_ORDER)
    t = np.asarray(time_s, float)
    cur = np.asarray(current_A, float)
    temp = np.asarray(temperature_degC, float)
    n = len(t)
    t_ref = cp["reference_temperature_K"]
    ce0 = cp["electrolyte_concentration_mol_m3"]
    tau_e = np.asarray(cp["electrolyte_tau_s"], float)
    gain_e = np.asarray(cp["electrolyte_gain_mol_m3_per_A"], float)
    feed_e = np.asarray(cp["electrolyte_feedthrough_mol_m3_per_A"], float)

    def arr(e_act, tk):
        return math.exp(e_act / RG_J_PER_MOL_K * (1 / t_ref - 1 / tk))

    def ocp(e, x):
        xs, us = e["ocp_stoichiometry"], e["ocp_V"]
        lo = int(np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2))
        return us[lo] + (us[lo + 1] - us[lo]) / (xs[lo + 1] - xs[lo]) * (x - xs[lo])

    soc = float(soc0)
    w = {"negative": np.zeros(PADE_ORDER), "positive": np.zeros(PADE_ORDER)}
    q = np.zeros(ELECTROLYTE_MODES)
    out = {k: np.empty(n) for k in ("voltage_V", "soc", "negative_surface_stoichiometry",
                                    "positive_surface_stoichiometry", "anode_surface_potential_V")}
    area = cp["area_m2"]
    for k in range(n):
        dt = 1.0 if k == 0 else t[k] - t[k - 1]
        i, tk = cur[k], temp[k] + 273.15
        geo = {}
        for name, sign in (("negative", 1.0), ("positive", -1.0)):
            e = cp[name]
            a_s = 3 * e["active_fraction"] / e["particle_radius_m"]
            j = sign * i / (area * a_s * e["thickness_m"])
            D = e["diffusivity_m2_s"] * arr(e["diffusivity_activation_J_mol"], tk)
            g = e["particle_radius_m"] / (D * e["max_concentration_mol_m3"] * F_C_PER_MOL)
            if k > 0 and dt > 0:
                a = np.exp(-poles * D * dt / e["particle_radius_m"] ** 2)
                w[name] = a * w[name] + (1 - a) * (-g * residues / poles) * j
            geo[name] = (j, g, e)
        if k > 0 and dt > 0:
            a = np.exp(-dt * arr(cp["electrolyte_diffusivity_activation_J_mol"], tk) / tau_e)
            q = a * q + (1 - a) * i
            soc = soc - i * dt / (3600.0 * cp["capacity_Ah"])
        conc = np.maximum(ce0 + q @ gain_e + feed_e * i, 0.01 * ce0)
        vals = {}
        for name, idx in (("negative", 0), ("positive", 1)):
            j, g, e = geo[name]
            x = e["stoichiometry_full"] + (soc - 1) * e["stoichiometry_per_soc"] + w[name].sum() - g * d * j
            xc = min(max(x, 1e-4), 1 - 1e-4)
            j0 = (e["exchange_current_A_m2"] * arr(e["exchange_current_activation_J_mol"], tk)
                  * math.sqrt(conc[idx] / ce0) * math.sqrt(xc * (1 - xc) / 0.25))
            eta = 2 * RG_J_PER_MOL_K * tk / F_C_PER_MOL * math.asinh(j / (2 * j0))
            vals[name] = (ocp(e, x), eta, x)
        kc = 2 * (1 - cp["transference_number"]) * cp["thermodynamic_factor"] * RG_J_PER_MOL_K * tk / F_C_PER_MOL
        inv_arr_k = 1.0 / arr(cp["electrolyte_conductivity_activation_J_mol"], tk)
        ohm = i * (cp["electrolyte_resistance_Ohm"] * inv_arr_k + cp["solid_resistance_Ohm"] + cp["contact_resistance_Ohm"])
        out["voltage_V"][k] = (vals["positive"][0] - vals["negative"][0] + vals["positive"][1] - vals["negative"][1]
                               + kc * (math.log(conc[1]) - math.log(conc[0])) - ohm)
        out["soc"][k] = soc
        out["negative_surface_stoichiometry"][k] = vals["negative"][2]
        out["positive_surface_stoichiometry"][k] = vals["positive"][2]
        out["anode_surface_potential_V"][k] = (
            vals["negative"][0] + vals["negative"][1]
            + i * (cp["negative_electrolyte_resistance_Ohm"] * inv_arr_k - cp["negative_solid_resistance_Ohm"])
            - kc * (math.log(conc[2]) - math.log(conc[0])))
    return out
