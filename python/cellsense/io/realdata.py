"""Measured cell logs bundled with cellsense (validation scenarios with source "real:<name>").

Bundled data set: P. Kollmeyer, "Panasonic 18650PF Li-ion Battery Data", Mendeley Data, V1, 2018,
doi:10.17632/wykht8y7tg.1 (University of Wisconsin-Madison), licence CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/). Trimmed copy in `cellsense/data/panasonic_18650pf/`
(see its README.md and docs/real-data.md).

Names (`list_real_logs()`):

* `panasonic-18650pf/25degC_US06`, `..._HWFET_a`, `..._LA92`, `..._NN`: drive cycles at 25 degC,
  1 s (charge-preserving resample of the 0.1 s source).
* `panasonic-18650pf/{10degC_NN,10degC_Cycle_2,0degC_NN,0degC_HWFET,n10degC_NN,n10degC_HWFET,n20degC_NN,
  n20degC_HWFET}`: the cold development set (chamber temperature in the name), resampled the same way.
* `panasonic-18650pf/25degC_C20_OCV`: the C/20 discharge + charge OCV test.
* `panasonic-18650pf/<T>_HPPC` (T = 25degC, 10degC, 0degC, n10degC, n20degC): the 5-pulse HPPC file
  merged with its interpulse-discharge file into one continuous log.

Current is converted to + = discharge (the source logs discharge negative). Reference SOC: every
file starts full (1C CC-CV to 4.2 V, 50 mA cut-off, then rest), so ``soc_true = 1 + Ah / C_REF_AH``
with ``Ah`` the tester's own coulomb counter (negative on discharge) relative to the file start.

``C_REF_AH`` is the model's SOC scale: the charge the cell delivered in the C/20 discharge from full
to 2.5 V (25degC_C20_OCV_discharge_charge, coulomb counted: 2.9974 Ah). models/panasonic_18650pf.json is
fitted on exactly this scale (its "Nominal cell capacity [A.h]"), so the SOC an estimator reports
with that model and `soc_true` are the same quantity: SOC 0 is the cell's near-equilibrium empty
point (C/20 to 2.5 V), SOC 1 full after CC-CV. The nominal 2.9 Ah would put the C/20 end at SOC -3.4 %
and make estimator and reference disagree by 3.4 % of the discharged charge; a drive cycle's own
discharged charge (2.59-2.71 Ah, ended by the 2.5 V cut-off under load) is a rate- and
cycle-dependent quantity, not a property of the cell's equilibrium.
"""
from __future__ import annotations

from pathlib import Path

from .convert import convert_panasonic, convert_panasonic_hppc
from .logs import CellLog

#: SOC scale of the Panasonic 18650PF data and of models/panasonic_18650pf.json (A.h): C/20 discharge
#: capacity from full to 2.5 V at 25 degC (see the module docstring).
C_REF_AH = 2.8170

DATASET = "panasonic-18650pf"
DRIVE_CYCLES = ("US06", "HWFET_a", "LA92", "NN")
#: the cold development set (drive-cold/ of the source; chamber temperature in the name, n = minus)
COLD_DRIVE_CYCLES = ("10degC_NN", "10degC_Cycle_2", "0degC_NN", "0degC_HWFET", "n10degC_NN", "n10degC_HWFET",
                     "n20degC_NN", "n20degC_HWFET")
HPPC_TEMPERATURES = ("25degC", "10degC", "0degC", "n10degC", "n20degC")


def data_dir() -> Path:
    """Directory of the bundled Panasonic 18650PF files (inside the installed package)."""
    return Path(__file__).resolve().parents[1] / "data" / "panasonic_18650pf"


def list_real_logs() -> list[str]:
    """Names accepted by `load_real_log`."""
    names = [f"{DATASET}/25degC_{c}" for c in DRIVE_CYCLES]
    names += [f"{DATASET}/{c}" for c in COLD_DRIVE_CYCLES]
    names.append(f"{DATASET}/25degC_C20_OCV")
    names += [f"{DATASET}/{T}_HPPC" for T in HPPC_TEMPERATURES]
    return names


def real_log_files(name: str) -> list[Path]:
    """The bundled source file(s) behind a name."""
    ds, _, item = name.partition("/")
    if ds != DATASET or not item:
        raise KeyError(f"{name!r}: unknown real log; available: {', '.join(list_real_logs())}")
    d = data_dir()
    if item.startswith("25degC_") and item[len("25degC_"):] in DRIVE_CYCLES:
        return [d / "drive" / f"{item}.csv.gz"]
    if item in COLD_DRIVE_CYCLES:
        return [d / "drive-cold" / f"{item}.csv.gz"]
    if item == "25degC_C20_OCV":
        return [d / "characterisation" / "25degC_C20_OCV_discharge_charge.csv.gz"]
    if item.endswith("_HPPC") and item[:-len("_HPPC")] in HPPC_TEMPERATURES:
        T = item[:-len("_HPPC")]
        return [d / "characterisation" / f"{T}_HPPC_5pulse.csv.gz",
                d / "characterisation" / f"{T}_HPPC_interpulse_discharges.csv.gz"]
    raise KeyError(f"{name!r}: unknown real log; available: {', '.join(list_real_logs())}")


def load_real_log(name: str, capacity_Ah: float = C_REF_AH) -> CellLog:
    """A bundled measured log as a CellLog (current + = discharge, soc_true = 1 + Ah / capacity_Ah)."""
    files = real_log_files(name)
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"{f}: bundled data file missing (package installed without its data?)")
    if len(files) == 2:
        log, _ = convert_panasonic_hppc(files[0], files[1], capacity_Ah)
    else:
        log, _ = convert_panasonic(files[0], capacity_Ah)
    log.source = f"{name} ({', '.join(f.name for f in files)})"
    return log
