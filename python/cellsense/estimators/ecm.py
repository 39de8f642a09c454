"""The ECM estimator: a cell file + a filter choice + noise settings, over the compiled core.

`Estimator.run()` hands a whole log to C++ (GIL released) and returns numpy arrays;
`Estimator.step()` is one sample. float64 by default; dtype="float32" runs the MCU's arithmetic.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict
from typing import Any

from ..cells.ecm import Cell
from ..cells.load import load_cell
from .base import (EstimatorBase, RunResult, StepResult, core_class, core_config, core_filter_config, ecm_core_noise,
                   estimator_class, log_arrays, register_estimator, run_columns)
from .consider import apply_consider, checked_consider, consider_saved, noise_mismatches
from .settings import EstimatorSettings, NoiseSettings
from .soh_state import SavedStateMismatchWarning


#: the warning of the deprecated door Estimator(spme_cell) (Estimator is the ECM estimator; make_estimator picks)
SPME_DOOR_DEPRECATED = ("cellsense.Estimator(cell) with an SPMe cell file is deprecated and goes in the next release: "
                        "use cellsense.make_estimator(cell, ...) (the estimator for any cell file) or "
                        "cellsense.estimators.SpmeEstimator(cell, ...)")


class Estimator(EstimatorBase):
    """The SOC estimator for an equivalent-circuit (ECM) cell. ``cellsense.make_estimator(cell, ...)`` builds the
    estimator for any cell file (this class for an ECM cell, ``SpmeEstimator`` for an SPMe cell) and is the way
    to build one; ``Estimator(spme_cell)`` still returns an SpmeEstimator, deprecated (DeprecationWarning).

    Parameters
    ----------
    cell : path, bundled cell name, or Cell
    filter : "ekf" or "ukf"
    noise : NoiseSettings
    settings : EstimatorSettings
    dtype : "float64" (default) or "float32" (bit-for-bit the MCU's arithmetic)
    initial_soc : float in [0, 1], or None to start from OCV(first voltage) as a rested BMS would
    """

    def __new__(cls, cell=None, *args, **kwargs):
        # Deprecated door (issue #13: one factory): Estimator(spme_cell) is built as the class make_estimator's rule
        # (estimator_class) picks, with a DeprecationWarning. A subclass named explicitly is built as itself.
        if cls is Estimator and cell is not None:
            picked = estimator_class(cell)
            if picked is not Estimator:
                warnings.warn(SPME_DOOR_DEPRECATED, DeprecationWarning, stacklevel=2)
                cls = picked
        return super().__new__(cls)

    def __init__(self, cell: str | Cell, filter: str = "ekf", noise: NoiseSettings | None = None,
                 settings: EstimatorSettings | None = None, dtype: str = "float64",
                 initial_soc: float | None = None) -> None:
        self._setup(filter, dtype, lambda: load_cell(cell), noise, settings, initial_soc)
        self._cls = core_class("Ecm", filter, self.dtype, self.cell.rc_pairs)
        soc0 = 0.5 if initial_soc is None else float(initial_soc)
        x0, p0 = self.initial_gaussian(soc0)
        try:
            self._impl = self._cls(self.cell.core_params(), core_config(self.settings, self.noise),
                                   ecm_core_noise(self.noise), core_filter_config(self.settings), x0, p0, 0.0)
        except ValueError as e:
            raise ValueError(f"{self.cell.source}: {e}") from None

    # -- stepping ----------------------------------------------------------------------------
    def step(self, dt_s: float, current_A: float, voltage_V: float, temperature_degC: float) -> StepResult:
        """One sample: dt since the previous one, current held over it (A, + = discharge), voltage and
        temperature at its end. A rejected step leaves the state exactly as it was."""
        self._ocv_init(voltage_V, temperature_degC)
        code, *vals = self._impl.step(float(dt_s), float(current_A), float(voltage_V), float(temperature_degC))
        self._advance_clock(dt_s)
        return StepResult(self._status_names.get(code, str(code)), *vals)

    def run(self, time_s, current_A, voltage_V, temperature_degC) -> RunResult:
        """A whole log (array-likes of equal length). The loop runs in C++ without the GIL. The first
        sample the estimator ever sees only sets its clock (status "initial"); later calls continue
        from the last timestamp, so a long log may be fed in pieces."""
        arrays = log_arrays(time_s, current_A, voltage_V, temperature_degC)
        self._ocv_init_from_log(arrays)
        out = self._impl.run(*arrays)
        return RunResult(**run_columns(arrays[0], out, self._status_names))

    # -- persistence -------------------------------------------------------------------------
    def save_state(self) -> dict[str, Any]:
        """Everything needed to continue later (JSON-serialisable)."""
        return {"cell": self.cell.name, "filter": self.filter, "dtype": self.dtype,
                "state_names": self.state_names, "x": self.state.tolist(), "P": self.covariance.tolist(),
                "hysteresis_sign": self._impl.hysteresis_sign, "last_time_s": self._impl.last_time_s,
                "pending_ocv_init": self._pending_ocv_init,
                **consider_saved(self._impl), "noise": asdict(self.noise), "settings": asdict(self.settings)}

    def restore_state(self, saved: dict[str, Any]) -> None:
        """Continue from `save_state()` output. Refused (ValueError naming the field, nothing changed) if it
        is not a dict, a key is missing, a value has the wrong type or is not finite, or a field is outside
        the bounds the estimator keeps while running (`state_bounds()`; hysteresis sign in {-1, 0, 1};
        covariance symmetric positive definite)."""
        x, p, sign, last_time = self._checked_soc_state(saved)
        consider = checked_consider(saved, len(self.state_names))
        if not self._impl.set_state(x, p, sign):
            raise ValueError("restore_state: P: covariance not positive definite (or the state was refused by the core)")
        apply_consider(self._impl, consider)
        self._impl.last_time_s = last_time
        self._pending_ocv_init = self._saved_pending(saved)
        for m in noise_mismatches(self, saved):
            warnings.warn(f"restore_state: {m}", SavedStateMismatchWarning, stacklevel=3)

    @staticmethod
    def sizeof_core(filter: str = "ekf", rc_pairs: int = 2, dtype: str = "float32") -> int:
        """Bytes of one core estimator object as the C API and MCU builds have it (state, covariance, config;
        parameters and the Python build's consider sensitivities excluded)."""
        return core_class("Ecm", filter, dtype, rc_pairs).sizeof_estimator


register_estimator("ecm", Estimator)
