"""What the fit checks on its inputs and its result (docs/fitting.md, "Checks"): the HPPC logs' temperature and
current sign before the fit, where the cell file goes, the fitted cell through the cell loader's own validation
(with the likely cause when a log is in another unit), and the warnings on weak data."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import check_out_path, check_outputs  # noqa: F401  (the output checks live in _io; re-exported)
from ..cells.ecm import K_MODEL_ERROR, K_OCV, MAX_CELL_VOLTAGE_V, cell_from_dict
from ..cells.files import CellFileError
from ..io.step_checks import current_sign_warning

#: the temperature range the fit writes into the cell file's limits (`limits."Temperature range [degC]"`); an HPPC
#: or OCV test whose median temperature is outside it is refused (a column in kelvin is the usual cause)
TEMPERATURE_RANGE_DEGC = (-40.0, 80.0)
#: the plausible voltage reading range the fit writes (`limits."Voltage range [V]"`): this far below the lower and
#: above the upper cut-off. A reading outside is rejected by name, not fused: an open sense wire reads 0 V, and a
#: range from 0 V let the gate timeout fuse it (docs/estimator.md "Known defect")
PLAUSIBLE_BELOW_CUTOFF_V = 1.0
PLAUSIBLE_ABOVE_CUTOFF_V = 0.5


def plausible_voltage_range(lower_cutoff_V: float, upper_cutoff_V: float) -> list[float]:
    """The cell file's plausible voltage reading range from its cut-offs (V): [lower - 1, upper + 0.5], not below 0."""
    return [round(max(0.0, float(lower_cutoff_V) - PLAUSIBLE_BELOW_CUTOFF_V), 3),
            round(float(upper_cutoff_V) + PLAUSIBLE_ABOVE_CUTOFF_V, 3)]


#: a log's voltage beyond the cut-offs by more than this gets a warning (real cells' logs touch the cut-off)
CUTOFF_MARGIN_V = 0.05
#: an HPPC whose pulse sets start above this SOC or end below 1 - this gets a warning (tables held beyond them)
SOC_COVERAGE_MARGIN = 0.25
#: fewer pulse sets than this in the file that sets "Model voltage error [V]": the warning says so
MIN_PULSE_SETS = 3


def check_initial_soc(value: float, what: str = "hppc_initial_soc") -> float:
    """`value` as the SOC the HPPC files start at, refused outside [0, 1] (ValueError naming `what`)."""
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{what} {value!r}: must be in [0, 1] (the SOC at the start of the HPPC files; 1 = full)")
    return v


def check_temperature(T: float, path: str) -> None:
    """Refuse a test whose median temperature is outside TEMPERATURE_RANGE_DEGC, naming the file."""
    lo, hi = TEMPERATURE_RANGE_DEGC
    if not lo <= T <= hi:
        hint = " (subtract 273.15)" if 233.0 <= T <= 373.0 else ""
        raise ValueError(f"{path}: median temperature_degC {T:g} is outside the plausible {lo:g}..{hi:g} degC (the "
                         f"fitted cell's temperature limits): a temperature logged in kelvin{hint} or another unit?")


def check_current_sign(log: dict) -> None:
    """Refuse an HPPC log whose voltage rises on a discharge current step (ValueError naming the file): the rule of
    `cellsense.io.step_checks.current_sign_warning` (a cell's voltage steps against a discharge current, dV = -R0 di),
    the one `cellsense estimate` and `cellsense replay` warn with. A log with too few current steps gets no verdict
    (the fit's own residuals then show a sign error: RMSE 888 mV on the flipped 25 degC Panasonic HPPC)."""
    msg = current_sign_warning(log["time_s"], log["current_A"], log["voltage_V"], remedy="negate the column")
    if msg is not None:
        raise ValueError(f"{log['path']}: {msg}")


def _unit_hints(logs: list[dict], capacity_Ah: float) -> list[str]:
    """Columns of the fit's logs that look like another unit: a voltage above any cell's (mV), a current far above
    the capacity's 20 C (mA)."""
    out = []
    for lg in logs:
        name = Path(lg["path"]).name
        vmax = float(np.max(np.abs(lg["voltage_V"])))
        if vmax > MAX_CELL_VOLTAGE_V:
            out.append(f"{name}'s voltage_V reaches {vmax:.6g}: a voltage logged in mV (divide by 1000)?")
        imax = float(np.max(np.abs(lg["current_A"])))
        if capacity_Ah > 0 and imax > 20.0 * capacity_Ah:
            out.append(f"{name}'s current_A reaches {imax:.6g} A, {imax / capacity_Ah:.0f} C of the fitted "
                       f"{capacity_Ah:.4g} Ah: a current logged in mA (divide by 1000)?")
    return out


def check_cell(cell: dict, source: str = "fitted cell", logs: list[dict] | None = None) -> None:
    """Validate a cell-file dict exactly as the cell loader does (`cellsense.cells.ecm.cell_from_dict`): a cell the
    fit writes must load. Raises CellFileError naming the field; with `logs` (the fit's inputs) it adds the likely
    cause (a column in mV / mA, or a current positive on charge)."""
    try:
        cell_from_dict(cell, source=str(source))
    except CellFileError as e:
        if logs is None:
            raise
        hints = _unit_hints(logs, float(cell.get("parameters", {}).get("Nominal cell capacity [A.h]", 0.0) or 0.0))
        if not hints and K_MODEL_ERROR in str(e):
            hints = ["the fitted model misses the HPPC test by more than 1 V RMS: a column in another unit or a "
                     "current positive on charge?"]
        elif not hints and ("cut-off" in str(e) or K_OCV in str(e)):
            hints = ["the OCV test's voltage in another unit?"]
        raise CellFileError(f"{e}" + (f" ({'; '.join(hints)})" if hints else "")
                            + "; the fitted cell would not load: nothing written") from None


def weak_data_warnings(hppc: list, details: list, ocv_log: dict, T_fit, v_lo: float, v_hi: float,
                       ref: int, soc_spans: list) -> list[str]:
    """The weak spots of a fit that still loads: one temperature (its dependence not identified), an HPPC whose
    pulse sets cover part of the SOC range (tables held beyond them), logs beyond the cut-offs, and, when the HPPC
    file behind "Model voltage error [V]" (index `ref`) is one of those, on how little it was measured.
    `hppc`: (T, path, log) per file; `details`: the pulse-set fits per file; `soc_spans`: (min, max) SOC per file."""
    out = []
    if len(T_fit) == 1:
        out.append(f"{Path(hppc[0][1]).name}: one HPPC temperature ({T_fit[0]:g} degC): the temperature dependence is "
                   f"not identified, its tables are used at every temperature (give one HPPC file per temperature)")
    for it, ((T, path, _lg), levels) in enumerate(zip(hppc, details)):
        z = [L["soc"] for L in levels]
        lo, hi = min(z), max(z)
        few = len(levels) < MIN_PULSE_SETS
        partial = lo > SOC_COVERAGE_MARGIN or hi < 1.0 - SOC_COVERAGE_MARGIN
        if not (few or partial):
            continue
        text = (f"{Path(path).name}: {len(levels)} pulse set(s), at SOC {lo:.3f}..{hi:.3f}: R0 and the RC pairs at "
                f"{T:g} degC are held from the nearest of them over the rest of the SOC range")
        if it == ref:
            text += (f"; the cell's \"Model voltage error [V]\" was measured on this file only (its {len(levels)} "
                     f"pulse set(s) at SOC {lo:.3f}..{hi:.3f}; the whole file spans SOC {soc_spans[it][0]:.3f}.."
                     f"{soc_spans[it][1]:.3f}): it does not show the model's error elsewhere")
        out.append(text)
    for lg in [h[2] for h in hppc] + [ocv_log]:
        # a pulse may overshoot a cut-off (its overpotential); at rest or against the current the voltage may not
        v, i = lg["voltage_V"], lg["current_A"]
        thr = 0.02 * float(np.max(np.abs(i)))
        bad = ((v < v_lo - CUTOFF_MARGIN_V) & (i <= thr)) | ((v > v_hi + CUTOFF_MARGIN_V) & (i >= -thr))
        if np.any(bad):
            out.append(f"{Path(lg['path']).name}: {int(np.sum(bad))} sample(s) beyond the cut-offs {v_lo:g}..{v_hi:g} V "
                       f"by more than {1e3 * CUTOFF_MARGIN_V:g} mV at rest or against the current (voltage_V "
                       f"{float(np.min(v[bad])):.4g}..{float(np.max(v[bad])):.4g} V there): spikes, or the wrong "
                       f"cut-offs?")
    return out
