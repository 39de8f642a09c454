"""The SPMe estimator over the compiled core (``cellsense.Estimator`` of an SPMe cell) and the model's open
loop (docs/spme.md)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cells.load import as_spme_cell
from ..cells.spme import ELECTROLYTE_MODES, PADE_ORDER
from .base import (RunResult, StepResult, _core, core_class, core_config, core_filter_config, log_arrays, register_estimator,
                   run_columns)
from .ecm import Estimator


def open_loop(cell, time_s, current_A, temperature_degC, soc0: float = 1.0, dtype: str = "float64") -> dict[str, np.ndarray]:
    """The SPMe without a filter from a rested cell at soc0 (nominal-capacity SOC): voltage, SOC, surface
    stoichiometries, anode surface potential, electrolyte read-outs per sample."""
    c = as_spme_cell(cell)
    fn = getattr(_core(), "spme_open_loop_f64" if str(np.dtype(dtype)) == "float64" else "spme_open_loop_f32")
    arr = [np.ascontiguousarray(a, dtype=np.float64) for a in (time_s, current_A, temperature_degC)]
    return dict(fn(c.core_params(), *arr, float(soc0)))


@dataclass
class SpmeNoise:
    """SPMe-specific filter tuning (the shared fields come from estimators.settings.NoiseSettings)."""

    particle_per_sqrt_s: float = 2e-5        #: particle mode random walk (stoichiometry/sqrt(s))
    electrolyte_A_per_sqrt_s: float = 0.02   #: electrolyte mode random walk (A/sqrt(s))
    initial_particle_sigma: float = 0.005    #: 1 sigma of the initial particle modes (stoichiometry)
    initial_electrolyte_sigma_A: float = 1.0 #: 1 sigma of the initial electrolyte modes (A)


@dataclass
class SpmeRunResult(RunResult):
    """RunResult plus the SPMe's outputs (evaluated at each step's estimate and current)."""

    anode_surface_potential_V: np.ndarray | None = None
    negative_surface_stoichiometry: np.ndarray | None = None
    positive_surface_stoichiometry: np.ndarray | None = None


class SpmeEstimator(Estimator):
    """The estimator for an SPMe cell (``cellsense.make_estimator`` builds it for an SPMe cell file): the ECM
    Estimator's constructor, run, step, save/restore, plus `spme_noise`."""

    def __init__(self, cell, filter: str = "ekf", noise=None, settings=None, dtype: str = "float64",
                 initial_soc: float | None = None, spme_noise: SpmeNoise | None = None) -> None:
        self._setup(filter, dtype, lambda: as_spme_cell(cell), noise, settings, initial_soc)
        self.spme_noise = spme_noise or SpmeNoise()
        self._cls = core_class("Spme", filter, self.dtype)
        x0, p0 = self.initial_gaussian(0.5 if initial_soc is None else float(initial_soc))
        s, n, sn = self.settings, self.noise, self.spme_noise
        if n.considers_current_sensor:  # the core refuses it too (kBadConfig): say why here
            raise ValueError("NoiseSettings.current_offset_sigma_A / current_gain_sigma: the current sensor's consider "
                             "terms need the model's current Jacobians, which the SPMe does not have; ECM cells only")
        try:
            self._impl = self._cls(
                self.cell.core_params(), core_config(s, n),
                {"soc_per_sqrt_s": n.soc_per_sqrt_s, "particle_per_sqrt_s": sn.particle_per_sqrt_s,
                 "electrolyte_A_per_sqrt_s": sn.electrolyte_A_per_sqrt_s, "current_sigma_A": n.current_sigma_A},
                core_filter_config(s), x0, p0)
        except ValueError as e:
            raise ValueError(f"{self.cell.source}: {e}") from None

    @property
    def state_names(self) -> list[str]:
        return (["soc"] + [f"negative_particle{k}" for k in range(1, PADE_ORDER + 1)]
                + [f"positive_particle{k}" for k in range(1, PADE_ORDER + 1)]
                + [f"electrolyte{k}_A" for k in range(1, ELECTROLYTE_MODES + 1)])

    def initial_gaussian(self, soc: float) -> tuple[np.ndarray, np.ndarray]:
        nx = 1 + 2 * PADE_ORDER + ELECTROLYTE_MODES
        x0 = np.zeros(nx)
        x0[0] = soc
        sn = self.spme_noise
        p0 = np.diag([self.noise.initial_soc_sigma ** 2] + [sn.initial_particle_sigma ** 2] * (2 * PADE_ORDER)
                     + [sn.initial_electrolyte_sigma_A ** 2] * ELECTROLYTE_MODES)
        return x0, p0

    def step(self, dt_s, current_A, voltage_V, temperature_degC):
        self._ocv_init(voltage_V, temperature_degC)
        code, *vals = self._impl.step(float(dt_s), float(current_A), float(voltage_V), float(temperature_degC))
        self._advance_clock(dt_s)
        return StepResult(self._status_names.get(code, str(code)), *vals[:6])

    def run(self, time_s, current_A, voltage_V, temperature_degC):
        arrays = log_arrays(time_s, current_A, voltage_V, temperature_degC)
        self._ocv_init_from_log(arrays)
        return self._run_result(arrays[0], self._impl.run(*arrays))

    def _run_result(self, time_s, out: dict) -> SpmeRunResult:
        """The run's columns (also estimators.power.estimate_power's, from the binding's run_power)."""
        return SpmeRunResult(**run_columns(time_s, out, self._status_names),
                             anode_surface_potential_V=out["anode_surface_potential_V"],
                             negative_surface_stoichiometry=out["negative_surface_stoichiometry"],
                             positive_surface_stoichiometry=out["positive_surface_stoichiometry"])


register_estimator("spme", SpmeEstimator)
