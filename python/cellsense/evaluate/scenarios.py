"""The validation scenarios: what a scenario is (cell, protocol, temperature, sensor, filter), its result, the
sensor presets and the bars a result must meet (docs/metrics.md)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


SENSORS = {
    "ideal": {},
    "typical": {"voltage_noise_V": 0.002, "current_noise_A": 0.010, "current_offset_A": 0.020},
    "coarse": {"voltage_noise_V": 0.005, "current_noise_A": 0.050, "current_offset_A": 0.050,
               "voltage_lsb_V": 0.001, "current_lsb_A": 0.01, "temperature_noise_degC": 0.5},
}


# Bars, by scenario class (docs/metrics.md). None = not a bar for that class.
BARS = {
    "reference": {"rmse": 0.010, "max_abs_after": 0.025, "inside_3sigma": 0.95},
    "temperature": {"rmse": 0.020, "max_abs_after": None, "inside_3sigma": None},
    "real": {"rmse": 0.015, "max_abs_after": 0.040, "inside_3sigma": None},
    "info": {"rmse": None, "max_abs_after": None, "inside_3sigma": None},
}


@dataclass(frozen=True)
class Scenario:
    source: str               #: PyBaMM parameter set (simulated truth) or "real:<dataset>/<file>"
    model: str                #: cellsense cell file or bundled name
    protocol: str
    temperature_degC: float
    sensor: str               #: key of SENSORS
    soc_error: float | None   #: initial SOC error given to the filter (truth - this); None: the
    #: estimator's own start, SOC from the first (rested) voltage, as a BMS initialises
    filter: str               #: ekf / ukf
    pybamm_model: str = "DFN"
    bar: str = "reference"    #: key of BARS
    seed: int = 1

    @property
    def name(self) -> str:
        src = self.source.replace("real:", "").replace("/", "-")
        err = "ocv" if self.soc_error is None else f"{self.soc_error:g}"
        return (f"{src}_{self.protocol}_{self.temperature_degC:g}C_{self.sensor}_e{err}_{self.filter}"
                + ("" if self.source.startswith("real:") else f"_{self.pybamm_model}"))


@dataclass
class ScenarioResult:
    scenario: Scenario
    samples: int = 0
    duration_h: float = float("nan")
    rmse: float = float("nan")
    max_abs_after: float = float("nan")
    time_to_2pct_s: float = float("nan")
    outside_3sigma_after: float = float("nan")
    mean_nees: float = float("nan")
    nees_bounds: tuple[float, float] = (float("nan"), float("nan"))
    mean_nis: float = float("nan")
    nis_bounds: tuple[float, float] = (float("nan"), float("nan"))
    rejected: int = 0
    passed: bool = False
    failures: list[str] = field(default_factory=list)
    error: str | None = None
    plot: str | None = None
    wall_s: float = 0.0

    def row(self) -> dict:
        d = {"scenario": self.scenario.name, **asdict(self.scenario)}
        d.update({k: getattr(self, k) for k in ("samples", "duration_h", "rmse", "max_abs_after", "time_to_2pct_s",
                                                 "outside_3sigma_after", "mean_nees", "mean_nis", "rejected",
                                                 "passed", "wall_s")})
        d["nees_bounds"] = "%.3g..%.3g" % self.nees_bounds
        d["nis_bounds"] = "%.3g..%.3g" % self.nis_bounds
        d["failures"] = "; ".join(self.failures)
        d["error"] = self.error or ""
        return d
