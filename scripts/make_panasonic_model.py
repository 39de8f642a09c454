#!/usr/bin/env python3
"""Regenerate models/panasonic_18650pf.json from the bundled Panasonic NCR18650PF characterisation data.

Data: P. Kollmeyer, "Panasonic 18650PF Li-ion Battery Data", Mendeley Data, V1, 2018,
doi:10.17632/wykht8y7tg.1 (University of Wisconsin-Madison), CC BY 4.0; trimmed copy in
python/cellsense/data/panasonic_18650pf/ (scripts/make_panasonic_bundle.py).

Only the characterisation files are used (never the drive cycles): the 25 degC C/20 OCV test and the
5-pulse HPPC at 25, 10, 0, -10, -20 degC (each merged with its interpulse-discharge file). The logs
are converted to cell-log CSVs in a temporary directory and passed to `cellsense fit`
(`cellsense.fit.fit`, the same function the CLI calls). Method: docs/real-data.md.

Usage: PYTHONPATH=python python3 scripts/make_panasonic_model.py [OUT.json]   (default models/panasonic_18650pf.json)
       PYTHONPATH=python python3 scripts/make_panasonic_model.py --overpotential-only [CELL.json]
       (only (re)identify the limits' "Overpotential reference current [A]" on the existing file's tables)
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))

from cellsense.fit import fit  # noqa: E402
from cellsense.io.logs import write_cell_log  # noqa: E402
from cellsense.io.realdata import C_REF_AH, HPPC_TEMPERATURES, load_real_log  # noqa: E402

RC_PAIRS = 2
HYSTERESIS_RATE = 10.0
#: extra temperature row this far above the warmest HPPC (25.8 degC), resistances by Arrhenius: the cell
#: self-heats under load (docs/real-data.md)
WARM_EXTRAPOLATION_K = 10.0
#: correlation time of the model's voltage error (s), see below
MODEL_ERROR_CORRELATION_S = 100.0


def add_overpotential(data: dict) -> None:
    """The state-of-power prediction's current-dependent overpotential (docs/power.md "Current-dependent
    overpotential"): I_ref per temperature row from the HPPC's 10 s discharge pulses. Fitted only on the SOC levels
    whose pulses do not measure a 2.5 V limit; the levels that do (17 over the five files) are held out for
    tests/python/estimators/test_power.py::test_hppc_10s_discharge_limit. The filter's tables are not changed."""
    from cellsense.fit.overpotential import add_overpotential as add, unmeasured_levels
    logs = [load_real_log(f"panasonic-18650pf/{T}_HPPC") for T in HPPC_TEMPERATURES]
    report = add(data, logs, initial_soc=[float(g.soc_true[0]) for g in logs], select=unmeasured_levels(2.5),
                 which="the SOC levels that do not measure a 2.5 V limit (the others are held out: docs/power.md)")
    for t, (r, rms, lin, n) in sorted(report.items()):
        print(f"  overpotential {t:g} degC: I_ref {r:.2f} A, RMS {1000 * lin:.1f} -> {1000 * rms:.1f} mV ({n} pulses)")


def main(argv) -> int:
    if len(argv) > 1 and argv[1] == "--overpotential-only":
        import json
        path = Path(argv[2]) if len(argv) > 2 else ROOT / "models" / "panasonic_18650pf.json"
        data = json.loads(path.read_text())
        add_overpotential(data)
        path.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {path}")
        return 0
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "models" / "panasonic_18650pf.json"
    t0 = time.time()
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        ocv = td / "25degC_C20_OCV.csv"
        log = load_real_log("panasonic-18650pf/25degC_C20_OCV")
        log.soc_true = None  # the SOC scale is the (offset-corrected) C/20 discharge capacity, not soc_true's
        write_cell_log(ocv, log)
        hppc = []
        for T in HPPC_TEMPERATURES:
            p = td / f"{T}_HPPC.csv"
            write_cell_log(p, load_real_log(f"panasonic-18650pf/{T}_HPPC"))
            hppc.append(p)
        cell = fit(ocv, hppc, out=out, rc_pairs=RC_PAIRS, name="panasonic_18650pf",
                   temperature_extrapolation_K=WARM_EXTRAPOLATION_K,
                   description=("Panasonic NCR18650PF (NCA/graphite, 2.9 Ah nominal), ECM with 2 RC pairs fitted by "
                                "scripts/make_panasonic_model.py to the 25 degC C/20 OCV test and the 5-pulse HPPC at "
                                "25, 10, 0, -10, -20 degC of P. Kollmeyer, 'Panasonic 18650PF Li-ion Battery Data', "
                                "Mendeley Data V1, 2018, doi:10.17632/wykht8y7tg.1 (CC BY 4.0). SOC scale: the C/20 "
                                "discharge capacity (docs/real-data.md)."),
                   hysteresis_rate=HYSTERESIS_RATE, lower_cutoff_V=2.5, upper_cutoff_V=4.2,
                   ocv_current_offset_A="auto", ocv_rest_correction=True, verbose=True)
    # The model error's correlation time (docs/real-data.md "Across temperature"): the integral time scale
    # of the open-loop voltage residual on the 25 degC drive cycles is 65-161 s; 100 s is written.
    import json
    data = json.loads(Path(out).read_text())
    # Arrhenius rows in the coldest gaps (the format's 8 rows: -14.8 and -4.55 degC), docs/real-data.md
    from cellsense.fit import insert_arrhenius_rows
    from cellsense.fit.noise import add_model_error_correlation
    print("Arrhenius rows added at", insert_arrhenius_rows(data), "degC")
    add_model_error_correlation(data, MODEL_ERROR_CORRELATION_S, (
        "correlation time of the model's voltage error: the integral time scale of the open-loop voltage residual "
        "(model run from the true SOC with the tester's current) on the four 25 degC drive cycles is 65 / 112 / 161 / "
        "138 s (US06 / HWFET_a / LA92 / NN), rounded to 100 s; with it the estimator scales the model error with the "
        "cell's resistance and the sample interval (cellsense.estimators.settings.resolve_model_error, docs/real-data.md "
        "'Across temperature')"))
    add_overpotential(data)
    Path(out).write_text(json.dumps(data, indent=1) + "\n")
    Q = cell["parameters"]["Nominal cell capacity [A.h]"]
    if abs(Q - C_REF_AH) > 5e-4:
        print(f"WARNING: fitted capacity {Q:.4f} Ah differs from cellsense.io.realdata.C_REF_AH = {C_REF_AH} Ah: "
              "update C_REF_AH so that soc_true and the model share one SOC scale")
    print(f"wrote {out} in {time.time() - t0:.0f} s")
    for k, v in cell["fit residuals"].items():
        print(f"  {k}: RMSE {v['voltage RMSE [mV]']:.2f} mV, max {v['max abs error [mV]']:.1f} mV ({v['test']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
