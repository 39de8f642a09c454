"""The status code space and the pack event codes, by name.

The core owns both tables: `cellsense::status_name()` in cpp/include/cellsense/estimator/status.hpp (every
per-sample status byte: the estimator's step outcomes 0..18, the pack's gap codes 20..22, the whole-log loop's
253..255) and `cellsense::pack::event_name()` in cpp/include/cellsense/pack/pack.hpp. The compiled module hands
them out (`_core.status_names()`, `_core.pack_event_names()`). This module repeats the numbers as named Python
constants so that code which does not load the compiled core (pack-file checks, readers, reports) can spell
them; tests/python/test_status_codes.py holds NAMES and EVENT_NAMES equal to the core's tables. The values are
part of the CSV outputs and of the replay link: never renumber.
"""
from __future__ import annotations

# ---- step outcomes (cellsense::StepStatus) ----------------------------------------------------
FUSED = 0
FUSED_GATE_TIMEOUT = 1
PREDICTED_ONLY = 2
REJECTED_NONFINITE = 10          #: the first rejected code: 10..18 leave state and covariance unchanged
REJECTED_DT_NONPOSITIVE = 11
REJECTED_DT_TOO_LARGE = 12
REJECTED_CURRENT_RANGE = 13
REJECTED_VOLTAGE_RANGE = 14
REJECTED_TEMPERATURE_RANGE = 15
REJECTED_INNOVATION_GATE = 16
REJECTED_NUMERICAL = 17
NOT_INITIALISED = 18
# ---- pack gap handling (cellsense::kStatusRest ...) --------------------------------------------
REST = 20
REINIT = 21
REINIT_FAILED = 22
# ---- the whole-log loop ----------------------------------------------------------------------------
VOLTAGE_STUCK = 253              #: stuck voltage sensor: stepped predict-only
CLOCK_REANCHORED = 254           #: the log clock re-anchored on this sample: no step
INITIAL = 255                    #: the first sample of a log: sets the clock, no step

#: code -> name, equal to the core's `status_name()` table (tested)
NAMES: dict[int, str] = {
    FUSED: "fused", FUSED_GATE_TIMEOUT: "fused_gate_timeout", PREDICTED_ONLY: "predicted_only",
    REJECTED_NONFINITE: "rejected_nonfinite", REJECTED_DT_NONPOSITIVE: "rejected_dt_nonpositive",
    REJECTED_DT_TOO_LARGE: "rejected_dt_too_large", REJECTED_CURRENT_RANGE: "rejected_current_range",
    REJECTED_VOLTAGE_RANGE: "rejected_voltage_range", REJECTED_TEMPERATURE_RANGE: "rejected_temperature_range",
    REJECTED_INNOVATION_GATE: "rejected_innovation_gate", REJECTED_NUMERICAL: "rejected_numerical",
    NOT_INITIALISED: "not_initialised", REST: "rest", REINIT: "reinit", REINIT_FAILED: "reinit_failed",
    VOLTAGE_STUCK: "voltage_stuck", CLOCK_REANCHORED: "clock_reanchored", INITIAL: "initial",
}

# ---- pack events (cellsense::pack::PackEvent, kEventClockReanchored, kEventInitial) ---------------
EVENT_STEP = 0
EVENT_REST = 1
EVENT_REINIT = 2
EVENT_CLOCK_REANCHORED = 3
EVENT_INITIAL = 255

#: event code -> name, equal to the core's `pack::event_name()` table (tested)
EVENT_NAMES: dict[int, str] = {EVENT_STEP: "step", EVENT_REST: "rest", EVENT_REINIT: "reinit",
                               EVENT_CLOCK_REANCHORED: "clock_reanchored", EVENT_INITIAL: "initial"}


def name(code: int) -> str:
    """The name of a status code; str(code) for a byte outside the space."""
    return NAMES.get(int(code), str(int(code)))
