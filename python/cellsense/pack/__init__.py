"""Packs: the pack file (``pack.spec``), pack logs and the pack estimator (``pack.estimator``: one core
estimator per series element, one clock), the string's state of power over a log (``pack.power``).

The names of the former ``cellsense.pack`` module are re-exported here."""
from __future__ import annotations

from .estimator import (CLOCK_REANCHOR_AFTER, EVENT_CLOCK_REANCHORED, EVENTS, STATUS_CLOCK_REANCHORED, STATUS_INITIAL,
                        STATUS_REINIT, STATUS_REINIT_FAILED, STATUS_REST, PackEstimator, PackLog, PackResult, clock_dt,
                        mark_reanchored, status_names, step_dt)
from .power import PACK_CELL_NOT_COMPUTED, PackPowerResult, estimate_pack_power, pack_power_config
from .spec import (FORMAT_KEY, FORMAT_VERSION, MAX_CELLS, MAX_PACK_NUMBER, MAX_TEMPERATURE_SENSORS, CellSpec, GapSpec,
                   PackFileError, PackSpec, Signal, load_pack, pack_from_dict)

__all__ = [
    "CLOCK_REANCHOR_AFTER", "CellSpec", "EVENTS", "EVENT_CLOCK_REANCHORED", "FORMAT_KEY", "FORMAT_VERSION", "GapSpec",
    "MAX_CELLS", "MAX_PACK_NUMBER", "MAX_TEMPERATURE_SENSORS", "PACK_CELL_NOT_COMPUTED", "PackEstimator",
    "PackFileError", "PackLog", "PackPowerResult", "PackResult", "PackSpec", "STATUS_CLOCK_REANCHORED",
    "STATUS_INITIAL", "STATUS_REINIT", "STATUS_REINIT_FAILED", "STATUS_REST", "Signal", "clock_dt",
    "estimate_pack_power", "load_pack", "mark_reanchored", "pack_from_dict", "pack_power_config", "status_names",
    "step_dt"]
