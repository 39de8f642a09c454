#!/usr/bin/env python3
"""Regenerate models/chen2020.json: a 2-RC ECM fitted to PyBaMM Chen2020 (DFN, lumped thermal).

Simulates (or loads from the truth cache) a C/20 OCV test at 25 degC and HPPC tests at 0, 25 and
40 degC with ``cellsense.truth.simulate``, then fits them with ``cellsense.fit``.  Needs pybamm + scipy.

    PYTHONPATH=python python3 scripts/make_chen2020_model.py [--out models/chen2020.json] [--workdir DIR]
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "models" / "chen2020.json"))
    ap.add_argument("--workdir", default=None, help="where to keep the simulated logs (default: a temp dir)")
    ap.add_argument("--model", default=MODEL, choices=("DFN", "SPMe", "SPM"))
    args = ap.parse_args(argv)
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
    print(f"wrote {args.out} (logs in {work})")
    return 0


def cell_version():
    import pybamm
    return pybamm.__version__


if __name__ == "__main__":
    sys.exit(main())
