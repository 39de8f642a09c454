"""The SPMe open loop in numpy: an independent transcription of docs/spme.md for tests and for the
firmware's generated log (the core is cpp/include/cellsense/model/spme.hpp)."""
from __future__ import annotations

import math

import numpy as np

from .load import as_spme_cell
from .spme import ELECTROLYTE_MODES, F_C_PER_MOL, PADE_ORDER, RG_J_PER_MOL_K, pade_particle


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
