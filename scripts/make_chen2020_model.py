#!/usr/bin/env python3
"""Regenerate models/chen2020.json: a 2-RC ECM fitted to PyBaMM Chen2020 (DFN, lumped thermal).

Simulates (or loads from the truth cache) a C/20 OCV test at 25 degC and HPPC tests at 0, 25 and
40 degC with ``cellsense.truth.simulate``, then fits them with ``cellsense.fit``.  Needs pybamm + scipy.

    PYTHONPATH=python python3 scripts/make_chen2020_model.py [--out models/chen2020.json] [--workdir DIR]
    PYTHONPATH=python python3 scripts/make_chen2020_model.py --transport-only [--out models/chen2020.json]
        (only (re)identify the limits' "Transport limit [SOC, A.s^0.5, s^0.5]" on the existing file: DFN pulses, below)
    PYTHONPATH=python python3 scripts/make_chen2020_model.py --overpotential-only [--out models/chen2020.json]
        (only (re)identify the limits' "Overpotential reference current [A]": a multi-amplitude DFN HPPC, below)
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from cellsense.fit import fit  # noqa: E402
from cellsense.truth.simulate import simulate  # noqa: E402

TEMPERATURES_DEGC = (0.0, 25.0, 40.0)
MODEL = "DFN"
#: 10 s discharge pulse amplitudes (1, 2, 4, 6C of the 5 Ah cell: the kinetic range, below the transport limit's)
#: at each of 8 SOC levels, at the fit's temperatures
OVERPOTENTIAL_PULSES_A = (5.0, 10.0, 20.0, 30.0)
#: and three 10 s charge pulses (1, 2, 4C) at each level below the first (a 4C charge pulse from SOC 0.95 passes 4.6 V)
OVERPOTENTIAL_CHARGE_PULSES_A = (5.0, 10.0, 20.0)
OVERPOTENTIAL_START_SOC = 0.95


def multi_pulse_current(q_Ah: float):
    """The HPPC's current (1 s steps, + = discharge): 600 s rest, then per level the four discharge pulses of 10 s,
    300 s apart, from the second level on the three charge pulses, 600 s rest, a 10 % SOC step at 1C and 1200 s
    rest; 8 levels (0.95 down to 0.25 before their pulses)."""
    import numpy as np

    seq = [np.zeros(600)]
    for level in range(8):
        for a in OVERPOTENTIAL_PULSES_A:
            seq += [np.full(10, a), np.zeros(300)]
        if level > 0:
            for a in OVERPOTENTIAL_CHARGE_PULSES_A:
                seq += [np.full(10, -a), np.zeros(300)]
        seq += [np.zeros(300), np.full(int(round(0.1 * 3600.0)), q_Ah), np.zeros(1200)]
    return np.concatenate(seq)


def add_overpotential_table(data: dict, model_name: str = MODEL) -> None:
    """I_ref per temperature row from a DFN HPPC with multi-amplitude pulses at the fit's temperatures
    (cellsense.fit.overpotential.add_overpotential, every SOC level)."""
    from types import SimpleNamespace

    import pybamm
    sys.path.insert(0, str(ROOT / "scripts"))
    import check_power_truth as cpt

    from cellsense.fit.overpotential import K_OVERPOTENTIAL_CHARGE, add_overpotential, fit_overpotential

    q = float(pybamm.ParameterValues("Chen2020")["Nominal cell capacity [A.h]"])
    cur = multi_pulse_current(q)
    logs = []
    for T in TEMPERATURES_DEGC:
        _model, _pv, sol = cpt.solve_history(T, OVERPOTENTIAL_START_SOC, cur)
        t, i, v, temp = cpt.history_log(sol, cur)
        logs.append(SimpleNamespace(time_s=t, current_A=i, voltage_V=v, temperature_degC=temp))
        print(f"  overpotential HPPC {T:g} degC: {len(t)} samples, {t[-1]:.0f} s", flush=True)
    report = add_overpotential(data, logs, initial_soc=OVERPOTENTIAL_START_SOC,
                               which=(f"every SOC level of a DFN HPPC ({model_name}, lumped thermal, pybamm "
                                      f"{cell_version()}) with 10 s pulses of "
                                      f"{', '.join(f'{a:g}' for a in OVERPOTENTIAL_PULSES_A)} A at 8 levels from SOC "
                                      f"{OVERPOTENTIAL_START_SOC:g} (scripts/make_chen2020_model.py --overpotential-only)"))
    for t, (r, rms, lin, n) in sorted(report.items()):
        print(f"  overpotential {t:g} degC: I_ref {r:.2f} A, RMS {1000 * lin:.1f} -> {1000 * rms:.1f} mV ({n} pulses)")
    refs, report = fit_overpotential(data, logs, initial_soc=OVERPOTENTIAL_START_SOC, direction=-1)
    data["parameters"][K_OVERPOTENTIAL_CHARGE] = [round(r, 3) for r in refs]
    data["provenance"][K_OVERPOTENTIAL_CHARGE] = (
        "the charge direction's I_ref, fitted as the discharge one (cellsense.fit.overpotential.fit_overpotential, "
        f"direction -1) on the same DFN HPPC's 10 s charge pulses of {', '.join(f'{a:g}' for a in OVERPOTENTIAL_CHARGE_PULSES_A)} "
        "A at 7 levels: " + "; ".join(f"{t:g} degC {r:.2f} A (pulse-end RMS {1000 * lin:.1f} -> {1000 * rms:.1f} mV, "
                                      f"{n} pulses)" for t, (r, rms, lin, n) in sorted(report.items())) +
        ". The DFN has no lithium plating: a real cell's charge limit needs its own plating check")
    for t, (r, rms, lin, n) in sorted(report.items()):
        print(f"  overpotential (charge) {t:g} degC: I_ref {r:.2f} A, RMS {1000 * lin:.1f} -> {1000 * rms:.1f} mV ({n} pulses)")


def add_transport_limit(data: dict, model_name: str = MODEL) -> None:
    """The transport limit (docs/power.md "Transport limit") from Chen2020's constant-current pulses at the fit's
    temperatures: cellsense.fit.transport.identify_from_pybamm's characterisation (SOC 0.1-0.9, 6 / 9 / 12C
    discharging and 3 / 6 / 9 / 12C charging, 30-60 A and 15-60 A of the 5 Ah cell)."""
    from cellsense.fit.transport import add_transport, identify_from_pybamm

    rows, how = identify_from_pybamm("Chen2020", model_name, temperatures_degC=TEMPERATURES_DEGC,
                                     progress=lambda line: print(line, flush=True))
    add_transport(data, rows, how)
    print("transport limit rows (SOC, K A s^0.5):", rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "models" / "chen2020.json"))
    ap.add_argument("--workdir", default=None, help="where to keep the simulated logs (default: a temp dir)")
    ap.add_argument("--model", default=MODEL, choices=("DFN", "SPMe", "SPM"))
    ap.add_argument("--transport-only", action="store_true",
                    help="only (re)identify the transport limit of the existing --out file")
    ap.add_argument("--overpotential-only", action="store_true",
                    help="only (re)identify the overpotential table of the existing --out file")
    args = ap.parse_args(argv)
    only = [f for flag, f in ((args.overpotential_only, add_overpotential_table), (args.transport_only, add_transport_limit))
            if flag]
    if only:
        update_cell_file(args.out, args.model, *only)
        return 0
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="cellsense-chen2020-"))
    work.mkdir(parents=True, exist_ok=True)
    ocv = work / "chen2020_ocv_25degC.csv"
    simulate(cell="Chen2020", protocol="ocv", temperature_degC=25.0, model=args.model, out=ocv)
    hppc = []
    for T in TEMPERATURES_DEGC:
        p = work / f"chen2020_hppc_{T:g}degC.csv"
        simulate(cell="Chen2020", protocol="hppc", temperature_degC=T, model=args.model, out=p)
        hppc.append(p)
    # the C/20 test stops one sample before 2.5 V and charges to 4.201 V (see docs/truth.md):
    # state the parameter set's own cut-offs in the cell file
    cell = fit(ocv, hppc, out=args.out, rc_pairs=2, name="chen2020", verbose=True,
               lower_cutoff_V=2.5, upper_cutoff_V=4.2,
               description=(f"PyBaMM Chen2020 (LG M50 21700 NMC811/graphite-SiOx, 5 Ah nominal) simulated with "
                            f"the {args.model} + lumped thermal model (pybamm {cell_version()}), fitted by "
                            f"cellsense fit: C/20 OCV test at 25 degC, HPPC at "
                            f"{', '.join(f'{T:g}' for T in TEMPERATURES_DEGC)} degC. "
                            f"Regenerate with scripts/make_chen2020_model.py."))
    update_cell_file(args.out, args.model, add_overpotential_table, add_transport_limit)
    print(f"(logs in {work})")
    return 0


def update_cell_file(path, model_name: str, *steps) -> None:
    """Run each step (data, model_name) on the cell file at `path` and write it back (the power limits' tables)."""
    import json
    data = json.loads(Path(path).read_text())
    for step in steps:
        step(data, model_name)
    Path(path).write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {path}")


def cell_version():
    import pybamm
    return pybamm.__version__


if __name__ == "__main__":
    sys.exit(main())
