#!/usr/bin/env python3
"""Regenerate models/chen2020.json: a 2-RC ECM fitted to PyBaMM Chen2020 (DFN, lumped thermal).

Simulates (or loads from the truth cache) a C/20 OCV test at 25 degC and HPPC tests at 0, 25 and
40 degC with ``cellsense.truth.simulate``, then fits them with ``cellsense.fit``.  Needs pybamm + scipy.

    PYTHONPATH=python python3 scripts/make_chen2020_model.py [--out models/chen2020.json] [--workdir DIR]
    PYTHONPATH=python python3 scripts/make_chen2020_model.py --transport-only [--out models/chen2020.json]
        (only (re)identify the limits' "Transport limit [SOC, A.s^0.5]" on the existing file: DFN pulses, below)
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
#: the transport limit's characterisation (docs/power.md "Transport limit"): constant-current discharge pulses from
#: rest at these SOC levels and currents (6, 9, 12C of the 5 Ah cell), at the fit's temperatures, until 2.5 V
TRANSPORT_SOCS = (0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0)
TRANSPORT_CURRENTS_A = (30.0, 45.0, 60.0)
TRANSPORT_MAX_S = 120.0


def transport_pulses(model_name: str = MODEL) -> list[tuple[float, float, float]]:
    """(SOC, current A, time to 2.5 V s) of the DFN's constant-current pulses from rest (TRANSPORT_*); a pulse that
    does not reach 2.5 V within TRANSPORT_MAX_S is left out."""
    import numpy as np
    import pybamm

    pybamm.set_logging_level("ERROR")
    out = []
    for T in TEMPERATURES_DEGC:
        for z in TRANSPORT_SOCS:
            model = getattr(pybamm.lithium_ion, model_name)({"thermal": "lumped"})
            pv = pybamm.ParameterValues("Chen2020")
            pv.set_initial_state(z, options=model.options)
            pv["Ambient temperature [K]"] = T + 273.15
            pv["Initial temperature [K]"] = T + 273.15
            pv["Lower voltage cut-off [V]"] = 2.5
            pv["Upper voltage cut-off [V]"] = 4.6
            pv["Current function [A]"] = "[input]"
            sim = pybamm.Simulation(model, parameter_values=pv, solver=pybamm.IDAKLUSolver(rtol=1e-5, atol=1e-7))
            for i in TRANSPORT_CURRENTS_A:
                try:
                    sol = sim.solve([0.0, TRANSPORT_MAX_S], inputs={"Current function [A]": i},
                                    t_interp=np.linspace(0.0, TRANSPORT_MAX_S, 1201))
                except pybamm.SolverError:
                    continue
                t_cut = float(sol.t[-1])
                if t_cut < TRANSPORT_MAX_S - 1e-6:
                    out.append((z, i, t_cut))
                    print(f"  transport pulse {T:g} degC SOC {z:.2f} {i:g} A: 2.5 V after {t_cut:.2f} s, "
                          f"i sqrt(t) {i * t_cut ** 0.5:.1f} A s^0.5", flush=True)
    return out


def add_transport_limit(data: dict, model_name: str = MODEL) -> None:
    from cellsense.fit.transport import add_transport, fit_transport

    rows = fit_transport(transport_pulses(model_name))
    add_transport(data, rows, (
        f"PyBaMM Chen2020 {model_name} (lumped thermal, pybamm {cell_version()}): constant-current discharge pulses from "
        f"rest at SOC {', '.join(f'{z:g}' for z in TRANSPORT_SOCS)}, {', '.join(f'{i:g}' for i in TRANSPORT_CURRENTS_A)} A "
        f"and {', '.join(f'{T:g}' for T in TEMPERATURES_DEGC)} degC until 2.5 V; per SOC level the smallest i sqrt(t_cut) "
        f"(Sand's law; cellsense.fit.transport, scripts/make_chen2020_model.py --transport-only)"))
    print("transport limit rows (SOC, K A s^0.5):", rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "models" / "chen2020.json"))
    ap.add_argument("--workdir", default=None, help="where to keep the simulated logs (default: a temp dir)")
    ap.add_argument("--model", default=MODEL, choices=("DFN", "SPMe", "SPM"))
    ap.add_argument("--transport-only", action="store_true",
                    help="only (re)identify the transport limit of the existing --out file")
    args = ap.parse_args(argv)
    if args.transport_only:
        import json
        data = json.loads(Path(args.out).read_text())
        add_transport_limit(data, args.model)
        Path(args.out).write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {args.out}")
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
    import json
    data = json.loads(Path(args.out).read_text())
    add_transport_limit(data, args.model)
    Path(args.out).write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.out} (logs in {work})")
    return 0


def cell_version():
    import pybamm
    return pybamm.__version__


if __name__ == "__main__":
    sys.exit(main())
