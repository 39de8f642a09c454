"""The real-cell matrix (issue #17): the measured Panasonic 18650PF drive cycles from 25 to -20 degC,
estimated as a BMS would see them, with accuracy and consistency per file and per temperature.

Definitions (fixed so figures compare, docs/real-data.md):

* ``soc_true = 1 + Ah / C`` with the tester's ``Ah`` counter and C the cell file's capacity; every file
  starts full. Current + = discharge.
* Case ``"B"``: the filter starts at SOC 0.8 (truth 1.0) and sees a BMS-grade current sensor,
  ``i_meas = 1.01 i + 0.050 A``. Case ``"true"``: started at the true SOC with the tester's current.
* Metrics over the samples after the first ``settle_s`` = 600 s: RMSE, share of samples with
  ``|soc - soc_true| <= 3 soc_sigma`` and NEES = mean of ``((soc - soc_true) / soc_sigma)^2``.

Bars (issue #17): RMSE <= 1.2 % at 25 degC chamber, <= 1.5 % at 10 and 0, <= 2.5 % at -10, <= 3.5 % at
-20; inside 3 sigma >= 95 %; NEES in [0.2, 3].

Data: P. Kollmeyer, "Panasonic 18650PF Li-ion Battery Data", Mendeley Data V1, 2018,
doi:10.17632/wykht8y7tg.1, CC BY 4.0 (bundled, see cellsense/data/panasonic_18650pf/README.md).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np

from ..cells.load import load_cell
from ..estimators.ecm import Estimator
from ..estimators.soh import SohEstimator
from ..io.convert import convert_panasonic
from ..io.realdata import COLD_DRIVE_CYCLES, DATASET, DRIVE_CYCLES, load_real_log

#: the files of the matrix, warm first
FILES = tuple(f"25degC_{c}" for c in DRIVE_CYCLES) + COLD_DRIVE_CYCLES
#: case name -> (initial SOC or None for the truth, current gain, current offset A)
CASES = {"B": (0.8, 1.01, 0.050), "true": (None, 1.0, 0.0)}
SETTLE_S = 600.0
#: RMSE bar by chamber temperature (degC)
RMSE_BAR = {25: 0.012, 10: 0.015, 0: 0.015, -10: 0.025, -20: 0.035}
INSIDE_BAR = 0.95
NEES_BOUNDS = (0.2, 3.0)


def chamber_degC(file: str) -> int:
    """Chamber temperature from a file name ('n10degC_NN' -> -10)."""
    head = file.split("degC")[0]
    return -int(head[1:]) if head.startswith("n") else int(head)


@dataclass
class RealCellResult:
    file: str
    chamber_degC: int
    cell_temperature_degC: float  #: median of the cell's own temperature
    case: str
    filter: str
    soh: bool
    rmse: float
    max_abs: float
    inside_3sigma: float
    nees: float
    sigma_median: float
    capacity_min_Ah: float = float("nan")   #: SOH runs: lowest / highest capacity estimate
    capacity_max_Ah: float = float("nan")
    rejected: int = 0

    @property
    def rmse_bar(self) -> float:
        return RMSE_BAR[self.chamber_degC]

    @property
    def passed(self) -> bool:
        return (self.rmse <= self.rmse_bar and self.inside_3sigma >= INSIDE_BAR
                and NEES_BOUNDS[0] <= self.nees <= NEES_BOUNDS[1])

    def row(self) -> dict:
        d = asdict(self)
        d["rmse_bar"] = self.rmse_bar
        d["pass"] = self.passed
        return d


def metrics(time_s, soc, soc_sigma, soc_true, settle_s: float = SETTLE_S) -> dict:
    t = np.asarray(time_s, float)
    after = t >= t[0] + settle_s
    e = (np.asarray(soc, float) - np.asarray(soc_true, float))[after]
    s = np.asarray(soc_sigma, float)[after]
    ok = np.isfinite(e) & np.isfinite(s) & (s > 0)
    e, s = e[ok], s[ok]
    return {"rmse": float(np.sqrt(np.mean(e ** 2))), "max_abs": float(np.max(np.abs(e))),
            "inside_3sigma": float(np.mean(np.abs(e) <= 3 * s)), "nees": float(np.mean((e / s) ** 2)),
            "sigma_median": float(np.median(s))}


def run_file(file: str, case: str = "B", filter: str = "ekf", soh: bool = False, cell: str = "panasonic_18650pf",
             dtype: str = "float64", noise=None, soh_settings=None, source_dir=None) -> RealCellResult:
    """Estimate one file in one case; returns its metrics. `source_dir`: the full-resolution source
    (e.g. ../shared/data/panasonic-18650pf, ~0.1 s logging; its drive/ and drive-cold/ folders) instead
    of the bundled 1 s resample."""
    from pathlib import Path

    c = load_cell(cell)
    if source_dir is None:
        log = load_real_log(f"{DATASET}/{file}", capacity_Ah=c.capacity_Ah)
    else:
        sub = "drive" if file.startswith("25degC_") else "drive-cold"
        log, _ = convert_panasonic(Path(source_dir) / sub / f"{file}.csv.gz", c.capacity_Ah)
    soc0, gain, offset = CASES[case]
    i_meas = gain * log.current_A + offset
    init = float(log.soc_true[0]) if soc0 is None else soc0
    if soh:
        kw = {} if soh_settings is None else {"soh": soh_settings}
        est = SohEstimator(c, filter=filter, dtype=dtype, initial_soc=init, noise=noise, **kw)
    else:
        est = Estimator(c, filter=filter, dtype=dtype, initial_soc=init, noise=noise)
    res = est.run(log.time_s, i_meas, log.voltage_V, log.temperature_degC)
    return _result(file, case, filter, soh, log, res)


def _result(file: str, case: str, filter: str, soh: bool, log, res) -> RealCellResult:
    """One file's metrics from its run (capacity range for SOH runs)."""
    cap = (float("nan"), float("nan"))
    if soh:
        capa = np.asarray(res.capacity_Ah, float)
        capa = capa[np.isfinite(capa)]
        cap = (float(capa.min()), float(capa.max())) if capa.size else cap
    m = metrics(log.time_s, res.soc, res.soc_sigma, log.soc_true)
    return RealCellResult(file, chamber_degC(file), float(np.nanmedian(log.temperature_degC)), case, filter, soh,
                          capacity_min_Ah=cap[0], capacity_max_Ah=cap[1], rejected=int(np.sum(res.rejected)), **m)


def run_chain(files: Iterable[str] = FILES[:4], case: str = "B", filter: str = "ekf", cell: str = "panasonic_18650pf",
              dtype: str = "float64", noise=None, soh_settings=None) -> list[RealCellResult]:
    """The files run one after the other with the SOH state carried, as `cellsense estimate --soh
    --state-out S.json` then `--state-in S.json` does: the first file starts as `case` says, every later one
    re-initialises its SOC from its first (rested) voltage with capacity, R0 and the OCV correction carried."""
    c = load_cell(cell)
    soc0, gain, offset = CASES[case]
    kw = {} if soh_settings is None else {"soh": soh_settings}
    out, state = [], None
    for file in files:
        log = load_real_log(f"{DATASET}/{file}", capacity_Ah=c.capacity_Ah)
        i_meas = gain * log.current_A + offset
        if state is None:
            init = float(log.soc_true[0]) if soc0 is None else soc0
            est = SohEstimator(c, filter=filter, dtype=dtype, initial_soc=init, noise=noise, **kw)
        else:
            est = SohEstimator(c, filter=filter, dtype=dtype, noise=noise, **kw)
            est.restore_state(state)
            est.start_log_from(log.time_s, i_meas, log.voltage_V, log.temperature_degC)  # as `estimate --state-in`
        res = est.run(log.time_s, i_meas, log.voltage_V, log.temperature_degC)
        out.append(_result(file, case, filter, True, log, res))
        state = est.save_state()
    return out


def run_matrix(files: Iterable[str] = FILES, cases: Iterable[str] = ("B",), filters: Iterable[str] = ("ekf", "ukf"),
               soh: bool = False, **kw) -> list[RealCellResult]:
    return [run_file(f, c, flt, soh, **kw) for f in files for c in cases for flt in filters]


def format_table(results: list[RealCellResult]) -> str:
    lines = ["| file | cell T (median) | case | filter | SOH | RMSE % (bar) | max % | inside 3 sigma % | NEES | "
             "sigma % | capacity Ah | pass |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        capa = f"{r.capacity_min_Ah:.3f}-{r.capacity_max_Ah:.3f}" if r.soh else ""
        lines.append(f"| {r.file} | {r.cell_temperature_degC:.1f} | {r.case} | {r.filter.upper()} | "
                     f"{'on' if r.soh else 'off'} | {100 * r.rmse:.2f} ({100 * r.rmse_bar:.1f}) | {100 * r.max_abs:.2f} | "
                     f"{100 * r.inside_3sigma:.1f} | {r.nees:.2f} | {100 * r.sigma_median:.2f} | {capa} | "
                     f"{'yes' if r.passed else 'NO'} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m cellsense.evaluate.realcells [case] [ekf,ukf] [soh]
    import sys
    case = sys.argv[1] if len(sys.argv) > 1 else "B"
    filters = sys.argv[2].split(",") if len(sys.argv) > 2 else ["ekf", "ukf"]
    soh = len(sys.argv) > 3 and sys.argv[3] == "soh"
    src = sys.argv[4] if len(sys.argv) > 4 else None
    print(format_table(run_matrix(cases=(case,), filters=filters, soh=soh, source_dir=src)))
