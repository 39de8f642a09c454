"""`cellsense demo`: the main job. Simulate a cell in PyBaMM, estimate its SOC with the EKF and the
UKF from a wrong initial SOC through a realistic sensor, and print the accuracy table."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np

from .._cliopts import add_cell, add_fresh, add_physics, add_pybamm_set, add_quiet, add_temperature, deprecation
from ..cells.files import resolve_cell_path
from ..cells.load import load_cell
from ..estimators import make_estimator
from ..evaluate.log_checks import SELF_CHECK_OUTSIDE_3SIGMA
from ..evaluate.metrics import soc_metrics
from ..fit.from_sim import fitted_cell_path
from ..truth.sensor import SensorModel
from ..truth.simulate import _find_shipped, _resolve_settings, simulate


@dataclass
class DemoRow:
    protocol: str
    filter: str
    samples: int
    rmse_pct: float
    max_after_10min_pct: float
    outside_3sigma_pct: float
    time_to_2pct_s: float
    final_sigma_pct: float
    steps_per_s: float


#: the demo's current sensor (10 mA noise, 20 mA offset) is sized for Chen2020's 5 A h; another set's cell gets it
#: scaled by its capacity (`sensor_scale`): the same 20 mA on PyBaMM's Ecker2015 (0.171 A h) is 12 % SOC per hour
SENSOR_REFERENCE_AH = 5.0


def _is_reference_set(pybamm_set: str) -> bool:
    """Chen2020, the set the bundled chen2020.json was fitted to and the demo's sensor was sized for."""
    return str(pybamm_set).lower() == "chen2020"


def sensor_scale(pybamm_set: str, cell_file: str) -> float:
    """Current-sensor scale of the demo: 1 for Chen2020 (the demo's reference, and its shipped truths' sensor),
    else the cell file's capacity / SENSOR_REFERENCE_AH (a BMS current sensor is sized for the cell's currents)."""
    if _is_reference_set(pybamm_set):
        return 1.0
    return float(load_cell(cell_file).capacity_Ah) / SENSOR_REFERENCE_AH


def _progress_printer(quiet: bool):
    """The demo's progress lines: to stderr with a "cellsense " prefix, or nowhere when quiet."""
    return (lambda msg: None) if quiet else (lambda msg: print(f"cellsense {msg}", file=sys.stderr, flush=True))


def demo(cell: str = "Chen2020", model_file: str | None = None, protocols=("udds", "us06"),
         temperature_degC: float = 25.0, pybamm_model: str = "DFN", soc_error: float = 0.2,
         filters=("ekf", "ukf"), progress=None, quiet: bool = False, fresh: bool = False,
         current_scale: float | None = None) -> list[DemoRow]:
    """Simulate each protocol (PyBaMM truth, cached), run the filters, return the table rows.

    The default run's truths (Chen2020 DFN, UDDS and US06 at 25 degC) ship with the package with their
    provenance (``cellsense.truth.cache.shipped_truths()``), so it needs no PyBaMM solve and no PyBaMM;
    ``fresh=True`` (CLI ``--fresh``) solves them again with the installed PyBaMM (about 10 min on 2 cores).

    Progress lines (what is simulated, truth cache hit / miss, the typical solve time and the faster SPMe
    option, the solve time) go to stderr; ``quiet=True`` silences them; ``progress`` (a callable taking
    one str) sends them elsewhere.

    ``model_file`` None: the bundled chen2020 for Chen2020 within 5 K of its temperature rows, else a cell fitted to
    the set's simulated OCV and HPPC tests at ``temperature_degC`` (`_default_cell`, `fit.from_sim`). ``current_scale``
    None: `sensor_scale` (the 10 / 20 mA current sensor scaled to the cell's capacity for sets other than Chen2020)."""
    check_soc_error(soc_error, protocols)
    if progress is None:
        progress = _progress_printer(quiet)
    if model_file is None:
        model_file = _default_cell(cell, temperature_degC) or str(
            fitted_cell_path(cell, temperature_degC, pybamm_model, fresh=fresh, progress=progress))
    if current_scale is None:
        current_scale = sensor_scale(cell, model_file)

    sensor = SensorModel(voltage_noise_V=0.002, current_noise_A=0.010 * current_scale,
                         current_offset_A=0.020 * current_scale, seed=1)
    rows: list[DemoRow] = []
    for protocol in protocols:
        t0 = time.perf_counter()
        sim = simulate(cell=cell, protocol=protocol, temperature_degC=temperature_degC, model=pybamm_model,
                       sensor=sensor, progress=progress, fresh=fresh)
        progress(f"demo: simulated {cell} {pybamm_model} {protocol} at {temperature_degC:g} degC: {len(sim.time_s)} samples, "
                 f"{(sim.time_s[-1] - sim.time_s[0]) / 3600:.2f} h ({time.perf_counter() - t0:.1f} s incl. loading or solving the truth)")
        soc0 = float(np.clip(sim.soc_true[0] - soc_error, 0.0, 1.0))
        for filt in filters:
            est = make_estimator(model_file, filter=filt, initial_soc=soc0)
            t1 = time.perf_counter()
            r = est.run(sim.time_s, sim.current_A, sim.voltage_V, sim.temperature_degC)
            el = time.perf_counter() - t1
            m = soc_metrics(sim.time_s, r.soc, r.soc_sigma, sim.soc_true)
            rows.append(DemoRow(protocol, filt, m.samples, 100 * m.rmse, 100 * m.max_abs_after,
                                100 * m.outside_3sigma_after, m.time_to_2pct_s, 100 * float(r.soc_sigma[-1]),
                                len(sim.time_s) / el))
    return rows


def check_soc_error(soc_error, protocols) -> None:
    """The filters start at the truth's initial SOC minus `soc_error` (CLI --soc-error): refused up front (ValueError
    naming --soc-error) unless finite and the start stays within [0, 1] for every protocol (clipping it would make
    the printed offset a lie)."""
    try:
        err = float(soc_error)
    except (TypeError, ValueError):
        raise ValueError(f"--soc-error (soc_error) must be a number, got {soc_error!r}") from None
    if not math.isfinite(err):
        raise ValueError(f"--soc-error (soc_error) must be a finite SOC fraction, got {soc_error!r}")
    for protocol in protocols:
        soc0 = _resolve_settings(protocol, None, None, None, None, None, None, None)["initial SOC"]
        if not 0.0 <= soc0 - err <= 1.0:
            raise ValueError(f"--soc-error (soc_error) {err:g} puts the filters' start outside the SOC range [0, 1]: the "
                             f"{protocol} truth starts at SOC {soc0:g}, so --soc-error must be within "
                             f"[{soc0 - 1:g}, {soc0:g}] (a fraction: 0.2 = 20 SOC points)")


def needs_pybamm(cell: str = "Chen2020", protocols=("udds", "us06"), temperature_degC: float = 25.0,
                 pybamm_model: str = "DFN", fresh: bool = False) -> bool:
    """True when `demo` with these arguments has to solve a truth with PyBaMM (``fresh``, or a protocol whose
    truth is not shipped with the package), False when the shipped truths cover it. Imports no PyBaMM
    (scripts/demo.sh asks it to install PyBaMM only when a run needs it)."""
    if fresh:
        return True
    for protocol in protocols:
        settings = _resolve_settings(protocol, None, None, None, None, None, None, None)
        if _find_shipped(cell, pybamm_model, settings, float(temperature_degC), None, None) is None:
            return True
    return False


def format_table(rows: list[DemoRow]) -> str:
    head = (f"{'protocol':<9}{'filter':<7}{'samples':>8}{'RMSE %':>9}{'max|e| %':>10}{'>3sigma %':>11}"
            f"{'t(2%) s':>9}{'sigma end %':>12}{'steps/s':>12}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.protocol:<9}{r.filter.upper():<7}{r.samples:>8}{r.rmse_pct:>9.3f}{r.max_after_10min_pct:>10.3f}"
                     f"{r.outside_3sigma_pct:>11.2f}{r.time_to_2pct_s:>9.0f}{r.final_sigma_pct:>12.3f}{r.steps_per_s:>12,.0f}")
    lines.append("max|e| and >3sigma are over the samples after the first 10 minutes; t(2%): time after which "
                 "|error| stays within 2 SOC points.")
    return "\n".join(lines)


def add_cli(sub) -> None:
    p = sub.add_parser("demo", help="simulate a cell in PyBaMM, estimate it, print the accuracy table")

    add_cell(p, help="cell file or bundled name the filters run (default chen2020)", old_dest="old_model")
    add_pybamm_set(p, old=None)
    p.add_argument("--protocol", action="append", default=None,
                   help="drive cycle(s): udds, us06, hwfet, wltc (repeatable; default udds and us06)")
    add_temperature(p)
    add_physics(p, old="--pybamm-model")
    p.add_argument("--soc-error", type=float, default=0.2, help="initial SOC error of the filters (default 0.2)")
    add_fresh(p, help="solve the truths again with the installed PyBaMM (about 10 min on 2 cores) instead of the "
                      "ones shipped with the package (Chen2020 DFN UDDS/US06 at 25 degC) or cached")
    add_quiet(p, help="no progress lines on stderr, the table only")
    p.add_argument("--needs-pybamm", action="store_true", dest="needs_pybamm",
                   help="run nothing: print yes if this run has to solve a truth with PyBaMM (--fresh, or a truth "
                        "not shipped), no if the shipped truths cover it (scripts/demo.sh installs PyBaMM only then)")
    p.set_defaults(func=_main)


#: how far (K) beyond its coldest / warmest temperature row the bundled chen2020.json is still the demo's default
#: cell: its tables are held constant beyond their rows, so at -10 degC (rows 0.9 / 25.6 / 40.5 degC) it ran with a
#: 0.9 degC cell's resistances and the truth was outside 3 sigma on 23 % of US06 (a cell fitted at -10 degC: 2.2 %)
DEFAULT_CELL_MARGIN_K = 5.0


def _default_cell(pybamm_set: str, temperature_degC: float = 25.0) -> str | None:
    """The cell file the demo runs without --cell: the bundled chen2020 for Chen2020 (it was fitted to that set)
    within DEFAULT_CELL_MARGIN_K of its temperature rows; None for any other set or temperature (the demo then fits
    one to the set's simulated OCV and HPPC tests at the demo's temperature, `fit.from_sim`)."""
    if not _is_reference_set(pybamm_set):
        return None
    rows = np.asarray(load_cell("chen2020").temperature_degC, float)
    inside = rows.min() - DEFAULT_CELL_MARGIN_K <= float(temperature_degC) <= rows.max() + DEFAULT_CELL_MARGIN_K
    return "chen2020" if inside else None


def _resolve_cell_options(a) -> tuple[str | None, str]:
    """(cell file, PyBaMM set) from --cell / --pybamm-set and the old spellings: before 0.2, demo's --cell was
    the PyBaMM set and --model the cell file (both still work, with a deprecation line). The cell file is None
    when none was given and the set is not Chen2020 (`_default_cell`)."""
    cell, pybamm_set = a.cell, a.pybamm_set
    old_model = getattr(a, "old_model", None)
    if old_model is not None:  # old spelling: --model CELLFILE [--cell PYBAMMSET]
        if cell is not None:
            deprecation(f"demo --cell {cell} (a PyBaMM parameter set, with --model)", f"--pybamm-set {cell}")
            pybamm_set = cell
        return old_model, pybamm_set
    if cell is not None:
        try:
            resolve_cell_path(cell)
        except ValueError:
            if "/" not in cell and not cell.endswith(".json") and cell[:1].isupper():  # e.g. Chen2020: a PyBaMM set
                deprecation(f"demo --cell {cell} (a PyBaMM parameter set)", f"--pybamm-set {cell}")
                return _default_cell(cell, a.temperature_degC), cell
            raise
    return cell or _default_cell(pybamm_set, a.temperature_degC), pybamm_set


def _main(a) -> int:
    cell, pybamm_set = _resolve_cell_options(a)
    if a.needs_pybamm:
        print("yes" if needs_pybamm(pybamm_set, tuple(a.protocol or ("udds", "us06")), a.temperature_degC, a.physics,
                                    a.fresh) else "no")
        return 0
    check_soc_error(a.soc_error, tuple(a.protocol or ("udds", "us06")))  # before any fit or solve
    fitted = cell is None
    if fitted:  # no cell file describes this set here: fit one to its simulated characterisation tests (cached)
        cell = str(fitted_cell_path(pybamm_set, a.temperature_degC, a.physics, fresh=a.fresh,
                                    progress=_progress_printer(a.quiet)))
    k = sensor_scale(pybamm_set, cell)
    rows = demo(cell=pybamm_set, model_file=cell, protocols=tuple(a.protocol or ("udds", "us06")),
                temperature_degC=a.temperature_degC, pybamm_model=a.physics, soc_error=a.soc_error,
                fresh=a.fresh, quiet=a.quiet, current_scale=k)
    print()
    what = f"an ECM fitted to its simulated OCV + HPPC tests ({cell})" if fitted else f"cell {cell}"
    print(f"SOC estimation, PyBaMM {pybamm_set} ({a.physics}) at {a.temperature_degC:g} degC, {what}; sensor: 2 mV voltage "
          f"noise, {10 * k:.3g} mA current noise + {20 * k:.3g} mA offset"
          + ("" if k == 1.0 else f" (scaled to the cell's capacity: x {k:.3g} of the 5 A h reference)")
          + f"; filters started {100 * a.soc_error:.0f} SOC points off")
    print(format_table(rows))
    worst = max(rows, key=lambda r: r.outside_3sigma_pct, default=None)
    if worst is not None and worst.outside_3sigma_pct > 100 * SELF_CHECK_OUTSIDE_3SIGMA:
        if fitted:
            hint = "docs/tuning.md: a fitted model can be worse than its band says, e.g. on a flat-OCV (LFP) cell"
        elif a.cell is not None or getattr(a, "old_model", None) is not None:
            hint = "omit --cell to have the demo fit one to this set at this temperature"
        else:
            hint = "fit one to this set at this temperature: cellsense simulate --protocol ocv / hppc, cellsense fit"
        print(f"warning: the truth is outside the 3-sigma band on {worst.outside_3sigma_pct:.1f} % of the samples after "
              f"10 min ({worst.protocol} {worst.filter.upper()}; > {100 * SELF_CHECK_OUTSIDE_3SIGMA:.0f} %): the cell "
              f"model does not describe this truth as well as the filters assume ({hint})", file=sys.stderr)
    return 0
