"""The ageing truth (``cellsense simulate --protocol aging``): drive-cycle and charge blocks with reference
performance tests, PyBaMM's SEI and plating degradation (docs/truth.md, "Ageing")."""
from __future__ import annotations

import time as _time

import numpy as np

from .._io import Progress, require
from .cache import TRUTH_COLUMNS, _TruthCache
from .result import SimResult
from .schedules import DRIVE_CYCLES, drive_cycle_shape
from .solver import ATOL, CACHE_FORMAT, RAMP_S, RTOL, _progress_fn


# ----------------------------------------------------------------------------------------------
# Ageing truth: --protocol aging
# ----------------------------------------------------------------------------------------------
AGING_FORMAT = 1
#: PyBaMM degradation submodels of the ageing truth (OKane et al. 2022 family of models)
AGING_OPTIONS = {"thermal": "lumped", "SEI": "solvent-diffusion limited", "lithium plating": "irreversible",
                 "loss of active material": "stress-driven", "particle mechanics": "swelling only"}
#: acceleration of the OKane2022 degradation parameters (multipliers), stated in the sidecar
AGING_ACCELERATION = {"Lithium plating kinetic rate constant [m.s-1]": 0.15,
                      "SEI solvent diffusivity [m2.s-1]": 100.0,
                      "Negative electrode LAM constant proportional term [s-1]": 500.0,
                      "Positive electrode LAM constant proportional term [s-1]": 500.0}
AGING_BLOCKS = 10          #: drive-cycle + charge blocks
AGING_RPT_EVERY = 3        #: a reference performance test after every this many blocks (and at the start)
AGING_DRIVE_CYCLE = "us06"
AGING_PEAK_C_RATE = 3.0
AGING_DRIVE_REPEATS = 24   #: cycles per block: more than one full discharge; the block ends at the cut-off


def _aging_rpt(q_nom):
    """Reference performance test: C/20 capacity, then a 10 s 1C pulse near half charge, then full."""
    import pybamm

    return [pybamm.step.string("Discharge at C/20 until 2.5 V", period=20),
            pybamm.step.string("Rest for 30 minutes", period=20),
            pybamm.step.string("Charge at 0.5C for 60 minutes", period=10),
            pybamm.step.string("Rest for 30 minutes", period=10),
            pybamm.step.current(q_nom, duration=10, period=1),
            pybamm.step.string("Rest for 10 minutes", period=5),
            pybamm.step.string("Charge at 0.5C until 4.2 V", period=10),
            pybamm.step.string("Hold at 4.2 V until C/50", period=10),
            pybamm.step.string("Rest for 30 minutes", period=20)]


def _aging_soc_true(t, current_A, voltage_V, capacity_Ah, v_full=4.2):
    """soc_true of the ageing log: 1 at the end of each CV hold at `v_full` (the last charging row with
    |V - v_full| < 2 mV before a rest) and at t = 0, minus the charge since then / capacity_true_Ah."""
    t = np.asarray(t, float)
    i = np.asarray(current_A, float)
    q = np.r_[0.0, np.cumsum(i[1:] * np.diff(t))] / 3600.0
    hold = (i < 0) & (np.abs(np.asarray(voltage_V) - v_full) < 2e-3)
    end = np.flatnonzero(hold[:-1] & (i[1:] == 0.0))
    full = np.zeros(len(t), bool)
    full[0] = True
    full[end] = True
    last = np.maximum.accumulate(np.where(full, np.arange(len(t)), 0))
    return 1.0 - (q - q[last]) / np.asarray(capacity_Ah, float)


def simulate_aging(cell="OKane2022", model="SPMe", temperature_degC=25.0, out=None, sensor=None, cache_dir=None,
                   use_cache=True, blocks=None, quiet=True, drive_cycle=None, progress=None) -> SimResult:
    """Ageing truth: PyBaMM with SEI growth, lithium plating and loss of active material.

    Schedule: rest 10 min; reference performance test (RPT: C/20 discharge to 2.5 V = the capacity
    check, 1 h of 0.5C charge, 30 min rest, a 10 s 1C discharge pulse = the resistance check, CC-CV
    charge at 0.5C to 4.2 V / C/50, rest); then `blocks` blocks of [US06 drive cycles (peak 3C, 60 s
    rest after each) until the 2.5 V cut-off, rest 10 min, CC-CV 0.5C to 4.2 V / C/20, rest 30 min],
    with an RPT after every AGING_RPT_EVERY blocks and after the last.  Degradation parameters are
    accelerated (AGING_ACCELERATION, stated in the sidecar) so that >10 % of the capacity is lost in
    a few hours of solving instead of hundreds of cycles.

    Columns besides the cell log: ``capacity_true_Ah`` (the RPTs' C/20 discharge capacities, linear in
    cumulative charge throughput between RPTs, held after the last), ``r0_ref_Ohm`` (the RPT pulses'
    instantaneous resistance, dV/dI over the pulse's first 1 s sample, interpolated the same way).
    ``soc_true`` = 1 - (charge discharged since the end of the last CV hold) / capacity_true_Ah.
    ``drive_cycle``: the blocks' cycle (default AGING_DRIVE_CYCLE, US06; any of DRIVE_CYCLES).
    """
    pybamm = require("pybamm", "cellsense.simulate_aging()", "simulate")

    cycle = AGING_DRIVE_CYCLE if drive_cycle is None else str(drive_cycle).lower()
    if cycle not in DRIVE_CYCLES:
        raise ValueError(f"aging: drive_cycle must be one of {', '.join(DRIVE_CYCLES)}, got {drive_cycle!r}")

    if model == "DFN":
        model = "SPMe"  # the DFN is far too slow for an ageing campaign on 2 cores
    if model not in ("SPMe", "SPM"):
        raise ValueError(f"aging: model must be SPMe or SPM, got {model!r}")
    blocks = AGING_BLOCKS if blocks is None else int(blocks)
    if blocks < 1:
        raise ValueError("aging: need at least one block")
    T = float(temperature_degC)
    key_obj = {"aging format": AGING_FORMAT, "cache format": CACHE_FORMAT, "cell": cell, "model": model,
               "options": AGING_OPTIONS, "acceleration": AGING_ACCELERATION, "blocks": blocks,
               "rpt every": AGING_RPT_EVERY, "cycle": cycle, "peak C": AGING_PEAK_C_RATE,
               "repeats": AGING_DRIVE_REPEATS, "temperature [degC]": T, "pybamm": pybamm.__version__,
               "solver": {"name": "IDAKLUSolver", "rtol": RTOL, "atol": ATOL}}
    cache = _TruthCache(key_obj, cache_dir, use_cache, prefix="aging-")
    names = TRUTH_COLUMNS + ("capacity_true_Ah", "r0_ref_Ohm")
    truth, meta = cache.load(names)
    say = _progress_fn(quiet, progress)
    what = f"{cell} {model} ageing campaign ({blocks} blocks of {cycle.upper()}) at {T:g} degC"
    if truth is not None:
        say(f"simulate: {what}: truth cache hit ({cache.file})")
    else:
        say(f"simulate: {what}: truth cache {'miss' if use_cache else 'off'}"
            + (f" ({cache.file})" if use_cache else "") + "; solving with PyBaMM: a few hours on 2 cores")
        if quiet:
            pybamm.set_logging_level("ERROR")
        pv = pybamm.ParameterValues(cell)
        for k, f in AGING_ACCELERATION.items():
            pv[k] = pv[k] * f
        T_K = T + 273.15
        pv["Ambient temperature [K]"] = T_K
        pv["Initial temperature [K]"] = T_K
        pv["Upper voltage cut-off [V]"] = 4.5  # regen near full charge must not stop a drive cycle
        q_nom = float(pv["Nominal cell capacity [A.h]"])
        shape = drive_cycle_shape(cycle) * AGING_PEAK_C_RATE * q_nom
        cyc = np.r_[shape, np.zeros(60)]
        prof = np.tile(cyc, AGING_DRIVE_REPEATS)
        # piecewise constant on the 1 s grid: each value held over (k, k+1], with a 1 ms ramp
        n = len(prof)
        tk = np.empty(2 * n)
        ik = np.empty(2 * n)
        tk[0::2] = np.arange(n) + RAMP_S
        tk[1::2] = np.arange(1, n + 1)
        tk[0] = 0.0
        ik[0::2] = prof
        ik[1::2] = prof
        drive = pybamm.step.current(np.column_stack([tk, ik]), termination="< 2.5 V", period=1)
        charge = [pybamm.step.string("Rest for 10 minutes", period=10),
                  pybamm.step.string("Charge at 0.5C until 4.2 V", period=10),
                  pybamm.step.string("Hold at 4.2 V until C/20", period=10),
                  pybamm.step.string("Rest for 30 minutes", period=20)]
        rpt_kinds = ["rpt"] * 7 + ["rpt_hold"] + ["rpt"]
        steps = [pybamm.step.string("Rest for 10 minutes", period=10)] + _aging_rpt(q_nom)
        kinds = ["rest"] + rpt_kinds
        for b in range(blocks):
            steps += [drive] + charge
            kinds += ["drive", "charge", "charge", "hold", "charge"]
            if (b + 1) % AGING_RPT_EVERY == 0 or b == blocks - 1:
                steps += _aging_rpt(q_nom)
                kinds += rpt_kinds
        mdl = {"SPMe": pybamm.lithium_ion.SPMe, "SPM": pybamm.lithium_ion.SPM}[model](dict(AGING_OPTIONS))
        sim = pybamm.Simulation(mdl, parameter_values=pv, experiment=pybamm.Experiment(steps),
                                solver=pybamm.IDAKLUSolver(rtol=RTOL, atol=ATOL))
        # progress: a line with the steps done and the ETA every 30 s (PyBaMM's experiment callbacks)
        bar = Progress(f"simulate: {what}: solving", total=len(steps), unit="experiment steps",
                       enabled=not (quiet and progress is None), emit=say, delay_s=5.0, interval_s=30.0,
                       done_line=False)

        class _StepProgress(pybamm.callbacks.Callback):
            def on_step_end(self, logs):
                bar.update(1)

        t0 = _time.perf_counter()
        try:
            sol = sim.solve(initial_soc=1.0, callbacks=[_StepProgress()])
        finally:
            bar.close()
        solve_s = _time.perf_counter() - t0
        subs = sol.sub_solutions
        if len(subs) != len(steps):
            raise RuntimeError(f"aging: PyBaMM stopped after {len(subs)} of {len(steps)} steps ({sol.termination})")
        ts, vs, Ts, qs, step_id = [], [], [], [], []
        for j, s_ in enumerate(subs):
            ts.append(np.asarray(s_["Time [s]"].entries, float))
            vs.append(np.asarray(s_["Voltage [V]"].entries, float))
            Ts.append(np.asarray(s_["Volume-averaged cell temperature [C]"].entries, float))
            qs.append(np.asarray(s_["Discharge capacity [A.h]"].entries, float))
            step_id.append(np.full(len(ts[-1]), j))
        t = np.concatenate(ts)
        V = np.concatenate(vs)
        Tc = np.concatenate(Ts)
        Q = np.concatenate(qs)
        sid = np.concatenate(step_id)
        keep = np.r_[True, np.diff(t) > 1e-6]  # step boundaries repeat the time: keep the first
        t, V, Tc, Q, sid = t[keep], V[keep], Tc[keep], Q[keep], sid[keep]
        # logged current: the exact mean over (t_{k-1}, t_k] (an integrating front end), so coulomb
        # counting of the log reproduces PyBaMM's discharge capacity
        I = np.r_[0.0, np.diff(Q) * 3600.0 / np.diff(t)]
        # reference checks
        thr = np.r_[0.0, np.cumsum(np.abs(np.diff(Q)))]  # cumulative charge throughput (Ah)
        rpt_thr, rpt_cap, rpt_r0, rpt_t = [], [], [], []
        j = 0
        while j < len(steps):
            if kinds[j] == "rpt" and (j == 0 or not kinds[j - 1].startswith("rpt")):
                dis = subs[j]
                qd = dis["Discharge capacity [A.h]"].entries
                rpt_cap.append(float(qd[-1] - qd[0]))
                pulse = subs[j + 4]
                before = subs[j + 3]["Voltage [V]"].entries[-1]
                pt = pulse["Time [s]"].entries
                pv1 = np.interp(pt[0] + 1.0, pt, pulse["Voltage [V]"].entries)
                rpt_r0.append(float((before - pv1) / q_nom))
                m = sid == j
                rpt_thr.append(float(thr[m][-1]))
                rpt_t.append(float(t[m][-1]))
                j += 9
            else:
                j += 1
        cap = np.interp(thr, rpt_thr, rpt_cap)
        r0 = np.interp(thr, rpt_thr, rpt_r0)
        soc = _aging_soc_true(t, I, V, cap)
        truth = dict(time_s=t, current_A=I, voltage_V=V, temperature_degC=Tc, soc_true=soc,
                     capacity_true_Ah=cap, r0_ref_Ohm=r0)
        drive_steps = [j for j, k in enumerate(kinds) if k == "drive"]
        meta = {
            "format": "cellsense simulation sidecar", "format version": 1,
            "parameter set": cell, "model": model, "model options": AGING_OPTIONS,
            "protocol": "aging",
            "protocol schedule": simulate_aging.__doc__.split("\n\n")[1].strip(),
            "degradation acceleration (multipliers of the parameter set's values)": AGING_ACCELERATION,
            "acceleration note": "accelerated ageing: the degradation rates are scaled so that the campaign "
                                 "loses >10 % capacity in a few hours of solving; the mechanisms and the "
                                 "electrical behaviour are PyBaMM's, the rates are not the cell's",
            "blocks": blocks, "drive cycle": cycle.upper(), "peak C-rate": AGING_PEAK_C_RATE,
            "temperature [degC]": T, "initial SOC": 1.0, "nominal capacity [A.h]": q_nom,
            "pybamm version": pybamm.__version__,
            "solver": {"name": "IDAKLUSolver", "rtol": RTOL, "atol": ATOL},
            "solve time [s]": round(solve_s, 1),
            "rpt": {"time [s]": rpt_t, "throughput [A.h]": rpt_thr, "C/20 capacity [A.h]": rpt_cap,
                    "R0 1 s pulse [Ohm]": rpt_r0},
            "drive blocks": [{"start [s]": float(t[sid == j][0]), "end [s]": float(t[sid == j][-1]),
                              "discharged [A.h]": float(Q[sid == j][-1] - Q[sid == j][0])} for j in drive_steps],
            "capacity lost [%]": round(100 * (1 - rpt_cap[-1] / rpt_cap[0]), 2),
            "current convention": "positive = discharge; row k's current is the mean over (t_{k-1}, t_k] "
                                  "(from PyBaMM's discharge capacity); row 0 is at rest",
            "soc_true definition": "1 - (discharge capacity since the end of the last CV hold, or t = 0) / capacity_true_Ah",
            "capacity_true_Ah definition": "C/20 discharge capacity of the RPTs (2.5 V cut-off), linear in "
                                           "cumulative |charge| throughput between RPTs",
            "r0_ref_Ohm definition": "RPT pulse: (V before - V after 1 s of a 1C discharge pulse) / 1C current, "
                                     "near half charge, linear in throughput between RPTs",
        }
        cache.store(truth, meta)
        say(f"simulate: {what}: solved in {solve_s:.1f} s ({len(t)} rows)" + (f"; cached in {cache.file}" if use_cache else ""))
    meta["sensor"] = None
    # soc_true is (re)derived from the arrays: end of each CV hold = SOC 1 (see _aging_soc_true)
    truth["soc_true"] = _aging_soc_true(truth["time_s"], truth["current_A"], truth["voltage_V"],
                                        truth["capacity_true_Ah"])
    extra = {"capacity_true_Ah": truth["capacity_true_Ah"], "r0_ref_Ohm": truth["r0_ref_Ohm"]}
    res = SimResult(truth["time_s"], truth["current_A"], truth["voltage_V"], truth["temperature_degC"],
                    truth["soc_true"], meta, extra)
    if sensor is not None:
        m = sensor.apply(res.time_s, res.current_A, res.voltage_V, res.temperature_degC, res.soc_true)
        idx = np.searchsorted(res.time_s, m["time_s"])
        meta = dict(meta)
        meta["sensor"] = sensor.to_dict()
        res = SimResult(m["time_s"], m["current_A"], m["voltage_V"], m["temperature_degC"], m["soc_true"], meta,
                        {k: v[idx] for k, v in extra.items()})
    if out is not None:
        res.to_csv(out)
    return res
