"""Fit an ECM cell file from OCV and HPPC logs (``cellsense fit``): the OCV test (``fit.ocv``), the HPPC pulses
(``fit.hppc``), the tables and the cell file (``fit.build``), what a log may be (``fit.inputs``), the plot
(``fit.plot``), the command line (``fit.cli``), and an SPMe cell derived from PyBaMM (``fit.from_pybamm``).

``cellsense.fit.fit(...)`` and the other names of the former ``cellsense.fit`` module are re-exported here."""
from __future__ import annotations

from ..cells.ecm_reference import ecm_simulate
from .build import fit, insert_arrhenius_rows
from .checks import check_cell
from .cli import add_cli
from .hppc import MAX_RC_PAIRS, TAU_MAX_S, TAU_MIN_S, fit_hppc
from .inputs import LOG_COLUMNS
from .ocv import DEFAULT_SOC_BREAKPOINTS, fit_ocv
from .plot import plot_fit

__all__ = ["DEFAULT_SOC_BREAKPOINTS", "LOG_COLUMNS", "MAX_RC_PAIRS", "TAU_MAX_S", "TAU_MIN_S", "add_cli", "check_cell",
           "ecm_simulate", "fit", "fit_hppc", "fit_ocv", "insert_arrhenius_rows", "plot_fit"]
