"""``cellsense fit``: the command line (the fit itself is fit.build.fit)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .._cliopts import add_physics, add_pybamm_set, add_quiet, alias
from .._io import atomic_write, require
from . import noise as _noise
from . import transport as _transport
from .build import fit
from .checks import check_cell, check_initial_soc, check_outputs
from .from_pybamm import cli_fit_from_pybamm
from .inputs import _load
from .overpotential import add_overpotential


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------
def add_cli(subparsers):
    p = subparsers.add_parser("fit", help="fit an ECM cell file from OCV + HPPC cell logs",
                              description="Identify OCV(SOC), hysteresis, R0 and RC pairs over SOC x "
                                          "temperature from a C/20 OCV log and one HPPC log per temperature.")
    p.add_argument("--ocv", default=None, help="C/20 discharge + charge cell log (starts full); required for an ECM")
    p.add_argument("--hppc", default=None, action="append", help="HPPC cell log (repeat per temperature); required for an ECM")

    add_pybamm_set(p, default=None, old="--from-pybamm")
    add_physics(p, default=None, old=None, choices=("spme",),
                help="spme: derive a reduced electrochemical (SPMe) cell file from --pybamm-set instead of fitting "
                     "an ECM (python/cellsense/fit/from_pybamm.py)")
    alias(p, "--model", "--physics spme (or --ecm-rc N for an ECM)", "physics",
          convert=lambda v: {"ecm": None, "spme": "SPMe"}[str(v).lower()])
    p.add_argument("--out", required=True, help="output cell file (JSON)")
    p.add_argument("--ecm-rc", type=int, default=2, dest="rc_pairs", metavar="N",
                   help="fit an equivalent-circuit model with N RC pairs (1..3, default 2) from --ocv/--hppc")
    alias(p, "--rc-pairs", "--ecm-rc", "rc_pairs", convert=int)
    p.add_argument("--name", default=None, help="cell name (default: the output file stem)")
    p.add_argument("--description", default=None)
    p.add_argument("--hysteresis-rate", type=float, default=10.0, dest="hysteresis_rate")
    p.add_argument("--hppc-initial-soc", type=float, default=1.0, dest="hppc_initial_soc")
    p.add_argument("--capacity-Ah", type=float, default=None, dest="capacity_Ah",
                   help="SOC scale of the model (default: the OCV log's soc_true scale if present, else the C/20 charge)")
    p.add_argument("--ocv-current-offset-A", default=None, dest="ocv_current_offset_A",
                   help="offset of the OCV test's current reading while current flows (A, subtracted; + = discharge "
                        "reads high), or 'auto': the offset that makes the charge-discharge gap flattest")
    p.add_argument("--ocv-rest-correction", action="store_true", dest="ocv_rest_correction",
                   help="shift the OCV to the rested voltages of the HPPC file at the OCV test's temperature")
    p.add_argument("--temperature-extrapolation-K", type=float, default=0.0, dest="temperature_extrapolation_K",
                   help="add a temperature row this many K above the warmest HPPC, resistances continued by the "
                        "Arrhenius law from the two warmest files (default 0: none)")
    p.add_argument("--lower-cutoff-V", type=float, default=None, dest="lower_cutoff_V",
                   help="default: minimum voltage of the OCV log")
    p.add_argument("--upper-cutoff-V", type=float, default=None, dest="upper_cutoff_V",
                   help="default: maximum voltage of the OCV log")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="also draw the fitted model's open-loop voltage against the measured one per temperature "
                        "(each HPPC file, and the OCV test) with the residuals (needs matplotlib: cellsense[fit])")
    p.add_argument("--overpotential", action="store_true",
                   help="also identify the power limits' current-dependent overpotential from the HPPC's 10 s discharge "
                        "pulses (I_ref per temperature row, parameters.\"Overpotential reference current [A]\"; "
                        "docs/power.md); the SOC filter does not use it")
    p.add_argument("--transport", nargs="?", const="", default=None, metavar="SET",
                   help="also identify the power limits' transport limit (parameters.\"Transport limit [SOC, A.s^0.5, "
                        "s^0.5]\", docs/power.md) from constant-current pulses to the cut-offs on PyBaMM's DFN of the "
                        "parameter set SET (default: --pybamm-set): 6-12C discharge and 3-12C charge at SOC 0.1-0.9 and "
                        "0 / 25 / 40 degC, a few minutes; the SOC filter does not use it")
    p.add_argument("--error-correlation-s", type=float, default=None, dest="model_error_correlation_s",
                   metavar="TAU", help="also write the model error's correlation time (s; measured on drive cycles with a "
                        "reference SOC, e.g. 100): the estimator then scales the model error with the cell's "
                        "resistance over SOC and temperature instead of a constant sigma (docs/tuning.md)")
    add_quiet(p, help="no progress line on stderr")
    p.set_defaults(func=_cli_fit)
    return p


def _cli_fit(args) -> int:
    # before any work: an output over an input, an output that cannot be written, a bad option value
    check_outputs({"--out": args.out, "--plot": args.plot}, [("--ocv", args.ocv)] + [("--hppc", h) for h in args.hppc or ()])
    if args.physics is not None or args.pybamm_set:
        if args.physics != "SPMe" or not args.pybamm_set:
            raise ValueError("an SPMe cell is derived from a PyBaMM parameter set: use --pybamm-set SET --physics spme")
        if args.plot is not None:
            raise ValueError("--plot draws an ECM fit against its --ocv / --hppc logs; an SPMe cell derived from "
                             "--pybamm-set has none")
        if args.model_error_correlation_s is not None:
            raise ValueError("--error-correlation-s sets an ECM's resistance-scaled model error; an SPMe cell "
                             "derived from --pybamm-set has no fitted resistance tables")

        args.from_pybamm = args.pybamm_set
        rc = cli_fit_from_pybamm(args)
        if rc == 0 and args.transport is not None:
            _add_transport(args, args.transport or args.pybamm_set)
        return rc
    if not args.ocv or not args.hppc:
        raise ValueError("--ocv and --hppc are required to fit an ECM")
    if args.transport == "":
        raise ValueError("--transport needs the PyBaMM parameter set whose DFN pulses identify it (--transport SET) "
                         "when the ECM is fitted from --ocv / --hppc logs")
    check_initial_soc(args.hppc_initial_soc, "--hppc-initial-soc")
    if args.model_error_correlation_s is not None:  # before the work: a bad value writes nothing
        _noise.check_correlation_s(args.model_error_correlation_s)
    if args.plot is not None:  # before the work: a missing matplotlib is one line, exit 2, nothing written
        require("matplotlib", "cellsense fit --plot", "fit")
    if args.transport is not None:  # the same for PyBaMM
        require("pybamm", "cellsense fit --transport", "sim")
    name = args.name or Path(args.out).stem
    cell = fit(args.ocv, args.hppc, out=None, rc_pairs=args.rc_pairs, name=name,
               description=args.description, hysteresis_rate=args.hysteresis_rate,
               hppc_initial_soc=args.hppc_initial_soc, lower_cutoff_V=args.lower_cutoff_V,
               upper_cutoff_V=args.upper_cutoff_V, capacity_Ah=args.capacity_Ah,
               ocv_current_offset_A=(None if args.ocv_current_offset_A is None else args.ocv_current_offset_A
                                     if args.ocv_current_offset_A == "auto" else float(args.ocv_current_offset_A)),
               ocv_rest_correction=args.ocv_rest_correction,
               temperature_extrapolation_K=args.temperature_extrapolation_K,
               progress=not args.quiet, plot=args.plot,
               warn=lambda text: print(f"warning: {text}", file=sys.stderr))
    if args.overpotential:
        logs = [_load(h, f"--hppc {h}") for h in args.hppc]
        for t, (ref, rms, lin, n) in sorted(add_overpotential(cell, logs, args.hppc_initial_soc).items()):
            print(f"  overpotential {t:g} degC: I_ref {ref:.2f} A, pulse-end RMS {1000 * lin:.1f} -> {1000 * rms:.1f} mV "
                  f"({n} pulses)")
    if args.model_error_correlation_s is not None:
        _noise.add_model_error_correlation(cell, args.model_error_correlation_s,
                                           f"given to cellsense fit (--error-correlation-s "
                                           f"{args.model_error_correlation_s:g})")
    check_cell(cell, args.out)  # the file as written, with its options' additions, loads: else nothing is written
    try:
        with atomic_write(args.out) as f:
            f.write(json.dumps(cell, indent=1) + "\n")
    except OSError as e:
        raise OSError(f"--out {args.out}: cannot write: {e.strerror or e}") from None
    p = cell["parameters"]
    print(f"{args.out}: capacity {p['Nominal cell capacity [A.h]']:.4g} Ah, {cell['RC pairs']} RC pairs, "
          f"temperatures {p['Temperature breakpoints [degC]']} degC")
    for fname, res in cell["fit residuals"].items():
        print(f"  {fname}: voltage RMSE {res['voltage RMSE [mV]']:.2f} mV (max {res['max abs error [mV]']:.1f} mV)")
    hint = _noise.growth_hint(cell)
    if hint is not None:
        print(hint, file=sys.stderr)
    if args.transport is not None:
        _add_transport(args, args.transport)
    if args.plot is not None:
        print(f"wrote {args.plot}")
    return 0


def _add_transport(args, parameter_set: str) -> None:
    """Identify the transport table from `parameter_set`'s DFN pulses and write it into the cell file at args.out
    (atomically: a failure leaves the file as the fit wrote it). PyBaMM is there: the SPMe path derived the cell with
    it, the ECM path required it before the fit."""
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    rows, how = _transport.identify_from_pybamm(parameter_set, progress=progress)
    cell = json.loads(Path(args.out).read_text())
    _transport.add_transport(cell, rows, how)
    with atomic_write(args.out) as f:
        f.write(json.dumps(cell, indent=1) + "\n")
    print(f"  transport limit: {len(rows)} SOC rows from PyBaMM {parameter_set} DFN pulses "
          f"(K0 {min(r[1] for r in rows):.0f}-{max(r[1] for r in rows if r[1] < 1e7):.0f} A s^0.5 discharging)")
