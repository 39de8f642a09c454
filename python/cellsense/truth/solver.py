"""The PyBaMM solve every truth goes through: the solver settings, the reference capacity soc_true is defined
on (docs/truth.md), the solve of a piecewise-constant schedule, and the progress lines. pybamm is imported
inside the functions that solve."""
from __future__ import annotations

import functools
import math
import re
import sys
import time as _time

import numpy as np

from .schedules import _Schedule


CACHE_FORMAT = 4  # bump when the truth generation changes
RTOL = 1e-5
RAMP_S = 1e-3  # current ramp at each change of the applied current (see _pybamm_solve)
ATOL = 1e-7
MODELS = ("DFN", "SPMe", "SPM")
SOC_DEFINITION = (
    "soc_true = initial_soc - Q_dis / Q_ref, where Q_dis is PyBaMM's 'Discharge capacity [A.h]' "
    "(time integral of the applied current, positive = discharge, 0 at t = 0) and Q_ref is the cell's "
    "capacity between the parameter set's own voltage cut-offs from its electrode stoichiometry "
    "windows (PyBaMM ElectrodeSOHSolver, 'reference capacity [A.h]' in this sidecar; the parameter "
    "set's 'Nominal cell capacity [A.h]' only if that solve fails). The applied current is piecewise "
    "constant on the sample grid (row k's current is held over (t_{k-1}, t_k]), so "
    "initial_soc - sum_k current_A[k] * (t_k - t_{k-1}) / (3600 * Q_ref) reproduces soc_true. "
    "initial_soc is PyBaMM's initial state of charge (set_initial_state: stoichiometry interpolated "
    "between the same windows), so soc_true 1 / 0 is the rested cell at the upper / lower cut-off."
)


@functools.lru_cache(maxsize=None)
def reference_capacity(cell: str) -> tuple[float, str]:
    """(Q_ref [A.h], how): the parameter set's capacity between its own voltage cut-offs, from its
    electrode stoichiometry windows (PyBaMM's electrode SOH solver; Mohtat et al., J. Electrochem.
    Soc. 166 (2019) A3245). This is the capacity PyBaMM's initial_soc is defined on; a parameter set's
    'Nominal cell capacity [A.h]' can differ from it by tens of percent (Marquis2019: 0.681 vs 0.873 Ah),
    which would put a nominal-scale SOC far outside 0..1. Falls back to the nominal capacity."""
    import pybamm

    pv = pybamm.ParameterValues(cell)
    q_nom = float(pv["Nominal cell capacity [A.h]"])
    try:
        param = pybamm.LithiumIonParameters()
        esoh = pybamm.lithium_ion.ElectrodeSOHSolver(pv, param=param)
        sol = esoh.solve({"V_min": float(pv["Lower voltage cut-off [V]"]), "V_max": float(pv["Upper voltage cut-off [V]"]),
                          "Q_n": float(pv.evaluate(param.n.Q_init)), "Q_p": float(pv.evaluate(param.p.Q_init)),
                          "Q_Li": float(pv.evaluate(param.Q_Li_particles_init))})
        q = float(sol["Q"])
        if math.isfinite(q) and q > 0:
            return q, f"PyBaMM {pybamm.__version__} ElectrodeSOHSolver between the parameter set's cut-offs"
    except Exception as e:  # composite / half-cell sets: the nominal capacity is the best we have
        return q_nom, f"nominal capacity (electrode SOH solve failed: {type(e).__name__})"
    return q_nom, "nominal capacity (electrode SOH gave no positive capacity)"


def _rescale_soc_true(truth: dict, meta: dict, cell: str, soc0: float, q_ref_how=None) -> None:
    """Cached truths store soc_true on the nominal scale (CACHE_FORMAT 4); put it on Q_ref (in place).
    ``q_ref_how``: (Q_ref, how) already known (a shipped truth's provenance: no PyBaMM needed)."""
    q_nom = float(meta["nominal capacity [A.h]"])
    q_ref, how = q_ref_how if q_ref_how is not None else reference_capacity(cell)
    truth["soc_true"] = soc0 - (soc0 - np.asarray(truth["soc_true"], float)) * (q_nom / q_ref)
    t, i = truth["time_s"], truth["current_A"]
    cc = soc0 - np.r_[0.0, np.cumsum(i[1:] * np.diff(t))] / 3600.0 / q_ref
    meta["reference capacity [A.h]"] = q_ref
    meta["reference capacity source"] = how
    meta["soc_true definition"] = SOC_DEFINITION
    meta["soc_true coulomb-counting max abs difference"] = float(np.max(np.abs(cc - truth["soc_true"])))


# ----------------------------------------------------------------------------------------------
# PyBaMM solve
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def thermal_option(cell: str, model_name: str = "DFN") -> tuple[str, str | None]:
    """PyBaMM's thermal option for this parameter set: "lumped" when the set has every parameter the lumped thermal
    model needs, else "isothermal" (the cell at the ambient temperature) and the reason, naming the missing parameter
    (e.g. Prada2013, LFP, has no current-collector or cooling geometry). Checked by substituting the set into the
    lumped model (a fraction of a second), not by solving."""
    import pybamm

    model_cls = getattr(pybamm.lithium_ion, model_name)
    try:
        pybamm.ParameterValues(cell).process_model(model_cls({"thermal": "lumped"}), inplace=False)
    except KeyError as e:
        missing = _missing_parameter(e)
        try:  # the isothermal model: a set that lacks even its parameters is not a full cell cellsense can solve
            pybamm.ParameterValues(cell).process_model(model_cls(), inplace=False)
        except KeyError as e2:
            raise ValueError(f"PyBaMM parameter set {cell!r} has no {_missing_parameter(e2)!r}, which PyBaMM's "
                             f"full-cell {model_name} needs (a half-cell or composite-electrode set?): cellsense "
                             "simulates full cells with one active material per electrode, e.g. Chen2020, "
                             "Marquis2019, OKane2022, Ecker2015") from None
        return "isothermal", (f"PyBaMM parameter set {cell!r} has no {missing!r}, which the lumped thermal model needs: "
                              "solved isothermal (the cell at the ambient temperature, no self-heating)")
    return "lumped", None


def _missing_parameter(e: KeyError) -> str:
    """The parameter name PyBaMM's KeyError quotes first (its message: "Parameter 'X' not found. ...")."""
    msg = str(e.args[0]) if e.args else str(e)
    m = re.search(r"'([^']+)'", msg)
    return m.group(1) if m else msg


def model_options(cell: str, model_name: str = "DFN") -> dict:
    """The options PyBaMM's model is built with for this set: {"thermal": "lumped"} where the set allows it
    (thermal_option), else {} (isothermal)."""
    return {"thermal": "lumped"} if thermal_option(cell, model_name)[0] == "lumped" else {}


def _pybamm_solve(cell, model_name, T_degC, soc0, sched: _Schedule, quiet=True):
    import pybamm

    if quiet:
        pybamm.set_logging_level("ERROR")
    model_cls = {"DFN": pybamm.lithium_ion.DFN, "SPMe": pybamm.lithium_ion.SPMe,
                 "SPM": pybamm.lithium_ion.SPM}[model_name]
    model = model_cls(model_options(cell, model_name))
    pv = pybamm.ParameterValues(cell)
    pv.set_initial_state(soc0, options=model.options)  # uses the parameter set's own cut-offs
    T_K = T_degC + 273.15
    pv["Ambient temperature [K]"] = T_K
    pv["Initial temperature [K]"] = T_K
    pv["Upper voltage cut-off [V]"] = sched.upper_cutoff_V
    pv["Lower voltage cut-off [V]"] = sched.lower_cutoff_V
    dt = sched.dt_s
    cur = sched.current_A
    n = len(cur)
    grid = np.arange(n + 1) * dt
    # Each change of current is a linear ramp over the first RAMP_S of the interval; both ends of
    # every ramp are solver breakpoints, so IDA re-initialises consistently at each of them (a
    # discontinuous current makes the DFN's algebraic states jump and IDA fail).  The logged current
    # is the nominal piecewise-constant one: the charge difference telescopes to at most
    # RAMP_S * |I_k - I_0| / 2 at any time (never accumulates).
    ramp = min(RAMP_S, 0.01 * dt)
    tk = np.empty(2 * n)
    ik = np.empty(2 * n)
    tk[0::2] = grid[:-1] + ramp
    tk[1::2] = grid[1:]
    tk[0] = 0.0
    ik[0::2] = cur
    ik[1::2] = cur
    pv["Current function [A]"] = pybamm.Interpolant(tk, ik, pybamm.t, interpolator="linear",
                                                    name="cellsense current")
    change = np.flatnonzero(np.diff(cur) != 0)  # current changes at grid[change + 1]
    t_eval = np.unique(np.r_[0.0, grid[change + 1], grid[change + 1] + ramp, grid[-1]])
    solver = pybamm.IDAKLUSolver(rtol=RTOL, atol=ATOL)
    sim = pybamm.Simulation(model, parameter_values=pv, solver=solver)
    t0 = _time.perf_counter()
    try:
        sol = sim.solve(t_eval=t_eval, t_interp=grid)
    except pybamm.SolverError as e:
        if "at initial conditions" in str(e):  # a cut-off the start is already beyond: the options, not a bug
            raise ValueError(f"{cell} {model_name} at {T_degC:g} degC starts beyond a voltage cut-off (lower "
                             f"{sched.lower_cutoff_V:g} V, upper {sched.upper_cutoff_V:g} V; PyBaMM: {e}): "
                             "--lower-cutoff-V / --upper-cutoff-V must bracket the voltage at --initial-soc") from None
        raise RuntimeError(f"PyBaMM failed for {cell} {model_name} at {T_degC} degC: {e}") from e
    solve_s = _time.perf_counter() - t0
    t = np.asarray(sol.t, dtype=float)
    # keep the sample grid (drop the ramp-end breakpoints) and the final (event) time
    on_grid = np.abs(t / dt - np.round(t / dt)) < 1e-7
    on_grid[-1] = True
    keep = on_grid & np.r_[True, np.diff(t) > 0]
    t = t[keep]
    V = sol["Voltage [V]"].entries[keep]
    try:
        T = sol["Volume-averaged cell temperature [C]"].entries[keep]
    except KeyError:
        T = sol["X-averaged cell temperature [C]"].entries[keep]
    Q = sol["Discharge capacity [A.h]"].entries[keep]
    q_nom = float(pv["Nominal cell capacity [A.h]"])
    # current of row k = interval containing t_k (row 0: first interval's current, which is a rest)
    kidx = np.clip(np.ceil(t / dt - 1e-9).astype(np.int64) - 1, 0, n - 1)
    I = cur[kidx]
    I[0] = 0.0 if t[0] == 0.0 else I[0]
    return dict(time_s=t, current_A=I, voltage_V=np.asarray(V, float), temperature_degC=np.asarray(T, float),
                discharge_Ah=np.asarray(Q, float), termination=str(sol.termination), solve_s=solve_s,
                q_nom=q_nom, pybamm_version=pybamm.__version__)


def _cell_info(cell):
    import pybamm

    try:
        pv = pybamm.ParameterValues(cell)
    except Exception as e:  # pybamm raises various errors for unknown sets
        raise ValueError(f"unknown PyBaMM parameter set {cell!r}: {e}") from None
    return (float(pv["Nominal cell capacity [A.h]"]), float(pv["Lower voltage cut-off [V]"]),
            float(pv["Upper voltage cut-off [V]"]), pybamm.__version__)


def _progress_fn(quiet: bool, progress):
    """Where progress lines go: `progress` if given (a callable taking one str), else stderr unless quiet."""
    if progress is not None:
        return progress
    if quiet:
        return lambda msg: None
    return lambda msg: print(msg, file=sys.stderr, flush=True)


def _fmt_duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
