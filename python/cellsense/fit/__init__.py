"""Fit an ECM cell file from OCV and HPPC logs (``cellsense fit``).

``cellsense.fit.fit(...)`` and the other names of the former ``cellsense.fit`` module are re-exported here."""
from __future__ import annotations

from .build import (  # noqa: F401
    DEFAULT_SOC_BREAKPOINTS, MAX_RC_PAIRS, TAU_MAX_S, TAU_MIN_S, add_cli, check_cell, ecm_simulate, fit, fit_hppc,
    fit_ocv, insert_arrhenius_rows)

__all__ = [
    'DEFAULT_SOC_BREAKPOINTS', 'MAX_RC_PAIRS', 'TAU_MAX_S', 'TAU_MIN_S', 'add_cli', 'check_cell', 'ecm_simulate',
    'fit', 'fit_hppc', 'fit_ocv', 'insert_arrhenius_rows']
