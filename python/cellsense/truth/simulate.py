"""Ground-truth cell logs from PyBaMM (``cellsense simulate``).

A protocol is turned into a piecewise-constant current on a uniform sample grid: the current of
row k is the current held over (t_{k-1}, t_k] (row 0 is at rest, current 0).  PyBaMM is given that
exact current (an interpolant whose only kinks are at grid points, all passed to the solver as
breakpoints), so coulomb counting of the logged current reproduces PyBaMM's own
"Discharge capacity [A.h]" and therefore ``soc_true``:

    soc_true(t) = initial_soc - Q_dis(t) / Q_ref

with Q_dis PyBaMM's "Discharge capacity [A.h]" (integral of the current, 0 at t = 0) and Q_ref the
cell's capacity between its own voltage cut-offs, from the electrode stoichiometry windows (PyBaMM's
electrode state-of-health solver): the capacity PyBaMM's initial_soc is defined on, so 0 <= soc_true
<= 1 spans the usable capacity.  C-rates stay relative to the nominal capacity.  See docs/truth.md.

pybamm / scipy are imported inside functions only.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from .._cliopts import add_fresh, add_physics, add_pybamm_set, add_quiet, add_temperature
from .._io import Progress, require
from .aging import simulate_aging
from .cache import shipped_truths  # noqa: F401  (cellsense.simulate.shipped_truths, as before the split)
from .cache import TRUTH_COLUMNS, _find_shipped, _load_shipped, _truth_key_obj, _TruthCache
from .result import SimResult, sidecar_path
from .schedules import drive_cycle_shape  # noqa: F401  (cellsense.simulate.drive_cycle_shape)
from .schedules import PROTOCOLS, _build_schedule, _resolve_settings
from .sensor import SensorModel
from .solver import reference_capacity  # noqa: F401  (cellsense.simulate.reference_capacity)
from .solver import (ATOL, MODELS, RTOL, _cell_info, _fmt_duration, _progress_fn, _pybamm_solve, _rescale_soc_true,
                     thermal_option)

#: measured PyBaMM solve times [s], Chen2020 at 25 degC, default settings, 2 shared cores (docs/truth.md,
#: "Timings"); only used for the "typically ..." estimate printed before a solve, never for results
TYPICAL_SOLVE_S = {"DFN": {"cc": 0.5, "ocv": 1.2, "hppc": 2.9, "udds": 261.0, "us06": 153.0, "hwfet": 80.0,
                           "wltc": 112.0},
                   "SPMe": {"cc": 0.3, "ocv": 0.7, "hppc": 1.1, "udds": 27.0, "us06": 17.0, "hwfet": 7.1,
                            "wltc": 11.8}}


def _solve_estimate(model: str, protocol: str, cell: str, T: float) -> str:
    """'typically 4.4 min ...; SPMe is ~10x faster (--model SPMe)' from TYPICAL_SOLVE_S (Chen2020, 25 degC)."""
    typ = TYPICAL_SOLVE_S.get(model, {}).get(protocol)
    if typ is None:
        return "no typical solve time measured for this protocol"
    where = "" if (cell == "Chen2020" and T == 25.0) else " for Chen2020 at 25 degC"
    txt = f"typically {_fmt_duration(typ)} on 2 cores{where}"
    if T < 20.0:
        txt += " (longer when cold: a 10 degC DFN UDDS took 11 min)"
    if model == "DFN" and typ > 30.0:
        fast = TYPICAL_SOLVE_S["SPMe"][protocol]
        txt += (f"; SPMe is ~{typ / fast:.0f}x faster ({_fmt_duration(fast)}): --physics spme (Python: "
                f"model='SPMe'), a simpler model than the DFN, so a different truth")
    return txt


#: the most aging blocks (--repeats with --protocol aging): each one is several drive cycles and a charge to solve
MAX_AGING_BLOCKS = 1000
#: how far beyond the parameter set's own cut-offs --lower-cutoff-V / --upper-cutoff-V may go (the defaults go 0.3 V
#: beyond them, 0.5 V for hppc)
CUTOFF_MARGIN_V = 0.5


def _check_cutoffs(upper, lower, cell=None, v_low=None, v_high=None) -> None:
    """--upper-cutoff-V / --lower-cutoff-V: finite, lower < upper and (once the set is known) each within the set's
    cut-offs widened by CUTOFF_MARGIN_V, a lower one below the set's upper cut-off and an upper one above its lower
    cut-off; ValueError naming the option, before PyBaMM is asked (it fails with an event violated at t = 0)."""
    for opt, v in (("--upper-cutoff-V (upper_cutoff_V)", upper), ("--lower-cutoff-V (lower_cutoff_V)", lower)):
        if v is not None and not math.isfinite(float(v)):
            raise ValueError(f"{opt} must be a finite voltage, got {v!r}")
    if upper is not None and lower is not None and not float(lower) < float(upper):
        raise ValueError(f"--lower-cutoff-V {float(lower):g} must be below --upper-cutoff-V {float(upper):g}")
    if v_low is None:
        return
    lo_ok, hi_ok = (v_low - CUTOFF_MARGIN_V, v_high), (v_low, v_high + CUTOFF_MARGIN_V)
    for opt, v, (a, b) in (("--lower-cutoff-V", lower, lo_ok), ("--upper-cutoff-V", upper, hi_ok)):
        if v is not None and not a <= float(v) <= b:
            raise ValueError(f"{opt} {float(v):g} is outside [{a:g}, {b:g}] V: the parameter set {cell}'s cut-offs are "
                             f"{v_low:g} to {v_high:g} V (a lower cut-off may go {CUTOFF_MARGIN_V:g} V below them, an "
                             f"upper one {CUTOFF_MARGIN_V:g} V above)")


def simulate(cell: str = "Chen2020", protocol: str = "udds", temperature_degC: float = 25.0,
             model: str = "DFN", out=None, initial_soc: Optional[float] = None,
             sensor: Optional[SensorModel] = None, cache_dir=None, repeats: Optional[int] = None,
             c_rate: Optional[float] = None, peak_c_rate: Optional[float] = None,
             rest_s: Optional[float] = None, pulse_c_rate: Optional[float] = None,
             sample_period_s: Optional[float] = None, upper_cutoff_V: Optional[float] = None,
             lower_cutoff_V: Optional[float] = None, use_cache: bool = True,
             quiet: bool = True, progress=None, fresh: bool = False) -> SimResult:
    """Simulate a protocol with PyBaMM (lumped thermal, ambient = initial = temperature_degC).

    Parameters
    ----------
    cell : PyBaMM parameter-set name (e.g. "Chen2020").
    protocol : "cc", "ocv", "ocv-discharge", "ocv-charge", "hppc", "udds", "us06", "hwfet", "wltc".
    model : "DFN" (default), "SPMe" or "SPM".
    initial_soc : PyBaMM initial SOC (default 1.0; 0.0 for "ocv-charge").
    sensor : optional :class:`SensorModel` (or dict) applied after the truth cache.
    cache_dir : truth cache directory (default ``$CELLSENSE_CACHE`` or ``~/.cache/cellsense/sim``).
    repeats : drive cycles: number of repeats (default: until the lower cut-off).
    c_rate : cc / ocv* C-rate (defaults 1 and 1/20), hppc 10 % step C-rate (default 1).
    peak_c_rate : drive cycles: peak discharge current in C (defaults udds 3, us06 3, hwfet 2, wltc 3).
    rest_s : ocv: rest between discharge and charge (3600); hppc: relaxation rest (3600);
        drive cycles: rest after each repeat (60).
    pulse_c_rate : hppc pulse C-rate (default 1).
    sample_period_s : truth grid (default 1 s; 10 s for ocv protocols; drive cycles need 1 s).
    upper_cutoff_V / lower_cutoff_V : override the cut-offs used during the run (the defaults are
        the parameter set's, with the upper one raised by 0.3 V (0.5 V for hppc) for protocols
        other than ocv/ocv-charge, see the sidecar).
    out : if given, write the cell log CSV there and the sidecar ``<out>.json``.
    quiet : True (default): no progress lines and PyBaMM logs errors only. False: progress lines on
        stderr (what is simulated, truth cache hit / miss, the typical solve time and how to get a faster
        SPMe truth, the solve time), PyBaMM's log level left as it is.
    progress : a callable taking one line (str) to send the progress lines to instead (e.g. ``print``);
        given, it is used whatever ``quiet`` says (the CLI: stderr with PyBaMM's logs quiet).
    fresh : False (default): a truth shipped with the package for exactly this request (the demo's: Chen2020
        DFN UDDS and US06 at 25 degC, default settings; ``shipped_truths()``, provenance in
        ``cellsense/data/truth/*.json``) is used without PyBaMM, else the cache, else PyBaMM solves it.
        True: solve with the installed PyBaMM whatever is shipped or cached (the result is cached).
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    try:
        T = float(temperature_degC)
    except (TypeError, ValueError):
        raise ValueError(f"temperature_degC must be a number, got {temperature_degC!r}") from None
    if not (-40.0 <= T <= 80.0):
        raise ValueError(f"temperature_degC {T} outside [-40, 80] degC")
    if isinstance(sensor, dict):
        sensor = SensorModel.from_dict(sensor)
    if str(protocol).lower() == "aging":
        unused = [opt for opt, v in (("--initial-soc", initial_soc), ("--c-rate", c_rate), ("--peak-c-rate", peak_c_rate),
                                     ("--rest-s", rest_s), ("--pulse-c-rate", pulse_c_rate),
                                     ("--sample-period-s", sample_period_s), ("--upper-cutoff-V", upper_cutoff_V),
                                     ("--lower-cutoff-V", lower_cutoff_V)) if v is not None]
        if unused:  # refused, not silently ignored
            raise ValueError(f"{', '.join(unused)}: not used by protocol aging (its blocks are fixed; --repeats sets "
                             "their number, docs/soh.md)")
        if repeats is not None and not 1 <= int(repeats) <= MAX_AGING_BLOCKS:  # each block is minutes of solving
            raise ValueError(f"--repeats (repeats: the aging blocks) must be within [1, {MAX_AGING_BLOCKS}], got {repeats!r}")
        return simulate_aging(cell="OKane2022" if cell == "Chen2020" else cell, model="SPMe" if model == "DFN" else model,
                              temperature_degC=T, out=out, sensor=sensor, cache_dir=cache_dir,
                              use_cache=use_cache, blocks=repeats, quiet=quiet, progress=progress)
    settings = _resolve_settings(protocol, c_rate, peak_c_rate, repeats, rest_s, sample_period_s,
                                 pulse_c_rate, initial_soc)
    _check_cutoffs(upper_cutoff_V, lower_cutoff_V)
    soc0 = settings["initial SOC"]
    say = _progress_fn(quiet, progress)
    what = f"{cell} {model} (lumped thermal), {settings['protocol']} at {T:g} degC"
    shipped = None if fresh else _find_shipped(cell, model, settings, T, upper_cutoff_V, lower_cutoff_V)
    q_ref_how = None
    if shipped is not None:  # the demo's truths: no PyBaMM import, no solve
        truth, meta = _load_shipped(shipped)
        q_ref_how = (shipped["reference capacity [A.h]"], shipped["reference capacity source"])
        meta["cache"] = {"key": None, "hit": False, "file": None, "shipped": str(shipped["_data"])}
        say(f"simulate: {what}: shipped PyBaMM truth ({shipped['_data'].name}: PyBaMM {shipped['pybamm version']}, "
            f"IDAKLU rtol {RTOL:g} atol {ATOL:g}, solved in {_fmt_duration(shipped['solve time [s]'])}; "
            f"provenance {shipped['_json'].name}); --fresh re-solves it with your PyBaMM"
            + (f" (typically {_fmt_duration(TYPICAL_SOLVE_S[model][settings['protocol']])} on 2 cores)"
               if settings["protocol"] in TYPICAL_SOLVE_S.get(model, {}) else ""))
    else:
        require("pybamm", "cellsense.simulate()", "simulate")  # MissingExtraError: pip install 'cellsense[sim]'
        q_nom, v_low, v_high, pb_version = _cell_info(cell)
        _check_cutoffs(upper_cutoff_V, lower_cutoff_V, cell, v_low, v_high)
        if settings["protocol"] == "hppc":  # its SOC steps are 10 % of Q_ref (docs/truth.md)
            q_ref_how = reference_capacity(cell)
        sched = _build_schedule(settings, q_nom, v_low, v_high, upper_cutoff_V, lower_cutoff_V,
                                q_ref=None if q_ref_how is None else q_ref_how[0])
        thermal, why = thermal_option(cell, model)
        if why is not None:  # recovered and reported: the sidecar's "thermal model" says it too
            what = what.replace("(lumped thermal)", "(isothermal)")
            say(f"simulate: {why}")
        key_obj = _truth_key_obj(cell, model, settings, T, sched, pb_version, thermal)
        cache = _TruthCache(key_obj, cache_dir, use_cache)
        truth, meta = (None, None) if fresh else cache.load(TRUTH_COLUMNS)
    if shipped is not None:
        pass
    elif truth is not None:
        say(f"simulate: {what}: truth cache hit ({cache.file})")
    else:
        state = "fresh solve requested (--fresh)" if fresh else f"truth cache {'miss' if use_cache else 'off'}"
        say(f"simulate: {what}: {state}"
            + (f" ({cache.file})" if use_cache else "") + f"; solving with PyBaMM: "
            + _solve_estimate(model, settings["protocol"], cell, T))
        total_solve = 0.0
        # a line with the elapsed time and the ETA from the typical solve time every 15 s while PyBaMM
        # solves (the IDAKLU solve reports nothing until it is done); quiet: nothing
        typ = TYPICAL_SOLVE_S.get(model, {}).get(settings["protocol"])
        solving = Progress(f"simulate: {what}: solving", expected_s=typ if (cell == "Chen2020" and T >= 20.0) else None,
                           enabled=not (quiet and progress is None), emit=say, delay_s=5.0, interval_s=15.0, done_line=False)
        if settings["protocol"] == "ocv":
            with solving.ticking():
                first = _pybamm_solve(cell, model, T, soc0, sched, quiet)
            total_solve += first["solve_s"]
            if "Minimum voltage" not in first["termination"]:
                raise ValueError(f"{what}: the C/20 discharge did not reach the lower cut-off {sched.lower_cutoff_V:g} V "
                                 f"within 1.5 x the set's capacity of {q_nom:.4g} A h (PyBaMM stopped at: "
                                 f"{first['termination']}): the set's capacity or cut-off does not describe this cell "
                                 "(another parameter set, or cellsense simulate --lower-cutoff-V)")
            dt = settings["sample period [s]"]
            t_dis = first["time_s"][-1] - settings["rest before [s]"]
            discharge_s = (math.floor(t_dis / dt - 1e-9) - 1) * dt
            sched = _build_schedule(settings, q_nom, v_low, v_high, upper_cutoff_V, lower_cutoff_V,
                                    discharge_s=discharge_s)
        with solving.ticking():
            r = _pybamm_solve(cell, model, T, soc0, sched, quiet)
        total_solve += r["solve_s"]
        soc_true = soc0 - r["discharge_Ah"] / r["q_nom"]
        t = r["time_s"]
        cc = soc0 - np.r_[0.0, np.cumsum(r["current_A"][1:] * np.diff(t))] / 3600.0 / r["q_nom"]
        truth = dict(time_s=t, current_A=r["current_A"], voltage_V=r["voltage_V"],
                     temperature_degC=r["temperature_degC"], soc_true=soc_true)
        meta = {
            "format": "cellsense simulation sidecar",
            "format version": 1,
            "parameter set": cell,
            "model": model,
            "thermal model": ("lumped (PyBaMM 'thermal': 'lumped')" if thermal == "lumped"
                              else f"isothermal (PyBaMM's default): {why}"),
            "protocol": settings["protocol"],
            "protocol settings": settings,
            "protocol schedule": sched.description,
            "temperature [degC]": T,
            "ambient temperature [degC]": T,
            "initial SOC": soc0,
            "nominal capacity [A.h]": r["q_nom"],
            "pybamm version": r["pybamm_version"],
            "solver": {"name": "IDAKLUSolver", "rtol": RTOL, "atol": ATOL,
                       "breakpoints": "every change of the applied current (t_eval), output on the sample grid (t_interp)"},
            "solve time [s]": round(total_solve, 3),
            "cut-offs": {"lower voltage cut-off [V]": sched.lower_cutoff_V,
                         "upper voltage cut-off [V]": sched.upper_cutoff_V,
                         "parameter set lower cut-off [V]": v_low,
                         "parameter set upper cut-off [V]": v_high,
                         "note": "initial SOC is set with the parameter set's own cut-offs; the "
                                 "run then uses the cut-offs above (PyBaMM termination events)."},
            "termination": r["termination"],
            "current convention": "positive = discharge; row k's current is held over (t_{k-1}, t_k]; row 0 is at rest",
            "soc_true definition": "cached on the nominal scale (initial_soc - Q_dis / nominal capacity); "
                                   "simulate() returns it on the reference capacity (_rescale_soc_true)",
            "soc_true coulomb-counting max abs difference": float(np.max(np.abs(cc - soc_true))),
            "temperature column": ("PyBaMM volume-averaged cell temperature (lumped model) [degC]" if thermal == "lumped"
                                   else "the ambient temperature (isothermal model) [degC]"),
        }
        cache.store(truth, meta)
        say(f"simulate: {what}: solved in {total_solve:.1f} s ({len(truth['time_s'])} rows, {r['termination']})"
            + (f"; cached in {cache.file}" if use_cache else ""))
    truth = dict(truth)
    _rescale_soc_true(truth, meta, cell, soc0, q_ref_how)
    meta["sensor"] = None
    res = SimResult(truth["time_s"], truth["current_A"], truth["voltage_V"], truth["temperature_degC"],
                    truth["soc_true"], meta)
    if sensor is not None:
        m = sensor.apply(res.time_s, res.current_A, res.voltage_V, res.temperature_degC, res.soc_true)
        meta = dict(meta)
        meta["sensor"] = sensor.to_dict()
        meta["sensor"]["note"] = "applied after the truth cache; soc_true is the truth at the kept rows"
        res = SimResult(m["time_s"], m["current_A"], m["voltage_V"], m["temperature_degC"], m["soc_true"], meta)
    if out is not None:
        res.to_csv(out)
    return res


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------
def add_cli(subparsers):
    p = subparsers.add_parser("simulate", help="generate a ground-truth cell log with PyBaMM",
                              description="Simulate a protocol with PyBaMM (lumped thermal) and write a "
                                          "cell-log CSV with soc_true plus a sidecar LOG.csv.json.")

    add_pybamm_set(p, old="--cell")
    p.add_argument("--protocol", default="udds", choices=PROTOCOLS)
    add_temperature(p)
    p.add_argument("--out", required=True, help="output cell-log CSV (sidecar: OUT.json next to it)")
    add_physics(p, old="--model")
    p.add_argument("--initial-soc", type=float, default=None, dest="initial_soc")
    p.add_argument("--c-rate", type=float, default=None, dest="c_rate")
    p.add_argument("--peak-c-rate", type=float, default=None, dest="peak_c_rate")
    p.add_argument("--pulse-c-rate", type=float, default=None, dest="pulse_c_rate")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--rest-s", type=float, default=None, dest="rest_s")
    p.add_argument("--sample-period-s", type=float, default=None, dest="sample_period_s",
                   help="truth sample grid (default 1 s, 10 s for ocv)")
    p.add_argument("--upper-cutoff-V", type=float, default=None, dest="upper_cutoff_V")
    p.add_argument("--lower-cutoff-V", type=float, default=None, dest="lower_cutoff_V")
    p.add_argument("--cache-dir", default=None, dest="cache_dir")
    p.add_argument("--no-cache", action="store_true", dest="no_cache")
    add_fresh(p, help="solve with the installed PyBaMM even when the truth ships with the package (the demo's "
                      "Chen2020 DFN UDDS/US06 at 25 degC) or is cached")
    add_quiet(p, help="no progress lines on stderr (what is solved, the cache, the solve's elapsed time and ETA)")
    g = p.add_argument_group("sensor model (applied after the truth)")
    g.add_argument("--voltage-noise-V", type=float, default=0.0, dest="voltage_noise_V")
    g.add_argument("--current-noise-A", type=float, default=0.0, dest="current_noise_A")
    g.add_argument("--temperature-noise-degC", type=float, default=0.0, dest="temperature_noise_degC")
    g.add_argument("--current-offset-A", type=float, default=0.0, dest="current_offset_A")
    g.add_argument("--current-gain-error", type=float, default=0.0, dest="current_gain_error")
    g.add_argument("--voltage-lsb-V", type=float, default=0.0, dest="voltage_lsb_V")
    g.add_argument("--current-lsb-A", type=float, default=0.0, dest="current_lsb_A")
    g.add_argument("--temperature-lsb-degC", type=float, default=0.0, dest="temperature_lsb_degC")
    g.add_argument("--sensor-sample-period-s", type=float, default=None, dest="sensor_sample_period_s")
    g.add_argument("--drop-fraction", type=float, default=0.0, dest="drop_fraction")
    g.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cli_simulate)
    return p


def _cli_simulate(args) -> int:
    for what, path in (("--out", Path(args.out)), ("the sidecar of --out", sidecar_path(args.out))):
        if path.is_dir():  # refused before the solve (SimResult.to_csv would refuse it too, writing neither file)
            raise ValueError(f"{what} {path}: is a directory (a file name is needed)")
    sensor = SensorModel(voltage_noise_V=args.voltage_noise_V, current_noise_A=args.current_noise_A,
                         temperature_noise_degC=args.temperature_noise_degC,
                         current_offset_A=args.current_offset_A, current_gain_error=args.current_gain_error,
                         voltage_lsb_V=args.voltage_lsb_V, current_lsb_A=args.current_lsb_A,
                         temperature_lsb_degC=args.temperature_lsb_degC,
                         sample_period_s=args.sensor_sample_period_s, drop_fraction=args.drop_fraction,
                         seed=args.seed)
    if sensor.is_identity():
        sensor = None
    r = simulate(cell=args.pybamm_set, protocol=args.protocol, temperature_degC=args.temperature_degC,
                 model=args.physics, out=args.out, initial_soc=args.initial_soc, sensor=sensor,
                 cache_dir=args.cache_dir, repeats=args.repeats, c_rate=args.c_rate,
                 peak_c_rate=args.peak_c_rate, rest_s=args.rest_s, pulse_c_rate=args.pulse_c_rate,
                 sample_period_s=args.sample_period_s, upper_cutoff_V=args.upper_cutoff_V,
                 lower_cutoff_V=args.lower_cutoff_V, use_cache=not args.no_cache, fresh=args.fresh,
                 quiet=True, progress=None if args.quiet else (lambda msg: print(f"cellsense {msg}", file=sys.stderr,
                                                                                   flush=True)))
    m = r.meta
    src = ("cache" if m["cache"]["hit"] else "shipped truth" if m["cache"].get("shipped")
           else f"solved in {m['solve time [s]']:.1f} s")
    print(f"{args.out}: {len(r)} rows, {r.time_s[-1] / 3600:.3f} h, final soc_true {r.soc_true[-1]:.4f}, "
          f"{m['termination']} ({src}); sidecar {sidecar_path(args.out)}")
    return 0
