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
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import file_number
from .files import MAX_CELL_NUMBER, CellFileError

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


def electrode_key(e: str, what: str) -> str:
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


def known_spme_keys() -> tuple[frozenset, frozenset, frozenset]:
    """(top-level, parameters, limits) keys an SPMe cell file may have (docs/cell-file.md); any other is refused as
    the ECM loader refuses it (cells.ecm._unknown_key)."""
    from .ecm import K_MODEL_ERROR, K_TRANSPORT, KNOWN_LIMIT_KEYS, KNOWN_TOP_KEYS

    params = set(CELL_KEYS.values()) | {K_MODEL_ERROR, K_TRANSPORT}
    params |= {electrode_key(E, t) for E in ("Negative", "Positive") for t in ELECTRODE_KEYS.values()}
    top = (set(KNOWN_TOP_KEYS) - {"RC pairs"}) | {"SPMe reduction"}
    return frozenset(top), frozenset(params), KNOWN_LIMIT_KEYS


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
    from .ecm import _unknown_key

    top_keys, param_keys, limit_keys = known_spme_keys()
    lim0 = data.get("limits", {}) or {}
    try:
        _unknown_key(source, "", data.keys(), top_keys)
        _unknown_key(source, "parameters.", p.keys(), param_keys)
        if isinstance(lim0, dict):
            _unknown_key(source, "limits.", lim0.keys(), limit_keys)
    except CellFileError as e:
        raise SpmeCellError(str(e)) from None

    def number(key: str) -> float:
        if key not in p:
            if key in OPTIONAL_DEFAULTS:
                return OPTIONAL_DEFAULTS[key]
            raise err(f'parameters."{key}"', "missing")
        v = file_number(err, f'parameters."{key}"', p[key], MAX_CELL_NUMBER, "float32 range")
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
            key = electrode_key(E, tmpl)
            if k in ("ocp_stoichiometry", "ocp_V"):
                arr = p.get(key)
                if not isinstance(arr, list):
                    raise err(f'parameters."{key}"', "must be a list of finite numbers")
                d[k] = np.asarray([file_number(err, f'parameters."{key}"[{i}]', a, MAX_CELL_NUMBER, "float32 range")
                                   for i, a in enumerate(arr)], float)
            else:
                d[k] = number(key)
        xs = d["ocp_stoichiometry"]
        if not 2 <= len(xs) <= MAX_OCP_POINTS or len(d["ocp_V"]) != len(xs):
            raise err(f'parameters."{electrode_key(E, ELECTRODE_KEYS["ocp_V"])}"',
                      f"OCP table needs 2..{MAX_OCP_POINTS} points, as many as its stoichiometry breakpoints")
        bad = np.flatnonzero(np.diff(xs) <= 0)
        if bad.size:
            raise err(f'parameters."{electrode_key(E, ELECTRODE_KEYS["ocp_stoichiometry"])}"[{bad[0] + 1}]',
                      "breakpoints must increase strictly")
        for k in ("active_fraction", "porosity"):
            if not 0 < d[k] < 1:
                raise err(f'parameters."{electrode_key(E, ELECTRODE_KEYS[k])}"', f"must be in (0, 1), got {d[k]}")
        if not 0 < d["stoichiometry_full"] < 1:
            raise err(f'parameters."{electrode_key(E, ELECTRODE_KEYS["stoichiometry_full"])}"', "must be in (0, 1)")
        electrodes[E.lower()] = d
    lim = data.get("limits", {}) or {}

    def rng(key: str, default: tuple[float, float]) -> tuple[float, float]:
        v = lim.get(key, default)
        if not (isinstance(v, (list, tuple)) and len(v) == 2):
            raise err(f'limits."{key}"', f"must be [min, max] with min < max, got {v!r:.60}")
        lo, hi = (file_number(err, f'limits."{key}"[{i}]', a, MAX_CELL_NUMBER, "float32 range") for i, a in enumerate(v))
        if not lo < hi:
            raise err(f'limits."{key}"', f"must be [min, max] with min < max, got {v!r}")
        return lo, hi

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
            raise err(f'parameters."{electrode_key(E, ELECTRODE_KEYS["stoichiometry_full"])}"',
                      f"the bulk stoichiometry at SOC 0 would be {x_zero:.4f}, outside (0, 1): capacity, "
                      "geometry and stoichiometry disagree")
    return cell

