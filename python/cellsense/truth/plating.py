"""The plating-margin truth: a constant-current charge with PyBaMM's DFN exporting the negative electrode's
surface potential difference at the separator (docs/spme.md, "Plating margin")."""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np

from .cache import default_cache_dir
from .solver import ATOL, RTOL, reference_capacity


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
