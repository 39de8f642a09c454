"""SohSettings: the SOH tracker's tuning and evidence gates (the core's soh::SohConfig; docs/soh.md). Split from
estimators/soh.py (the 450-line rule); `cellsense.estimators.soh.SohSettings` is the same class."""
from __future__ import annotations

from dataclasses import dataclass

from .settings import check_settings_fields


@dataclass
class SohSettings:
    """Tuning and evidence gates of the SOH tracker (the core's soh::SohConfig; docs/soh.md).

    Defaults were chosen on the PyBaMM ageing truth (5 Ah cell, 1 Hz) and hold for cells of a few Ah
    logged at 1 Hz; `r0_max_dt_s` must cover the log's sample interval (NASA logs: 10-20 s)."""

    enabled: bool = True                    #: False: the SOC filter only (capacity and R0 held)
    initial_capacity_Ah: float | None = None  #: None: the cell file's capacity (the fresh cell's)
    capacity_sigma_Ah: float | None = None  #: prior 1 sigma (A h); None: 10 % of the initial capacity
    capacity_forgetting: float = 0.8        #: fading memory per capacity pair
    pair_min_delta_soc: float = 0.3         #: |SOC change| needed to close a capacity pair
    pair_max_soc_sigma: float = 0.03        #: SOC sigma at which a pair may open or close
    rest_current_A: float | None = None     #: |i| below this is rest (A); None: C/100
    current_sigma_A: float | None = None    #: current noise for the charge's variance; None: the noise setting's
    #: current-sensor offset, 1 sigma (A), constant over a capacity pair and the OCV learner's count since its
    #: last trusted anchor (their charge error grows with the duration); None: C/100 (docs/soh.md "Trusted anchors")
    current_offset_sigma_A: float | None = None
    #: trusted anchors: a capacity pair opens / closes only at a rest sample after this long at rest (s), or at
    #: the first rest sample after `start_log` (SOC from a rested OCV); a stop in a drive cycle is not a rest
    #: (docs/soh.md "Trusted anchors"); 0: every rest sample (before 2026-12-06)
    anchor_rest_s: float = 45.0
    initial_r0_scale: float = 1.0           #: initial factor on the cell's R0 table
    r0_scale_sigma: float = 0.3             #: its prior 1 sigma
    r0_scale_per_sqrt_s: float = 2e-4       #: random walk of the factor (1/sqrt(s))
    r0_min_step_A: float | None = None      #: |current step| that counts as excitation (A); None: C/5
    r0_max_dt_s: float = 2.0                #: longest sample interval used for an R0 update (s)
    #: shortest span of an R0 difference (s): a step over a shorter interval is differenced over the following samples
    #: until the span reaches it, so a voltage lagging the current's step (a tester's or ADC's timing) shows all of
    #: R0 di (docs/soh.md "R0"); logs at this interval or slower are unchanged; 0: every interval on its own
    r0_min_dt_s: float = 0.5
    r0_voltage_sigma_V: float = 0.005       #: noise of one voltage sample in a difference (V)
    r0_gate_nis: float = 16.0               #: chi-square gate of the R0 update
    r0_scale_min: float = 0.2
    r0_scale_max: float = 5.0
    ocv_learning: bool = True               #: learn the aged cell's OCV correction (docs/soh.md)
    ocv_sigma_V: float = 0.07               #: prior 1 sigma of each OCV correction node (V); 70 mV since 2026-12-06
    ocv_V_per_sqrt_s: float = 1e-5          #: random walk of the nodes (V/sqrt(s))
    ocv_soc_per_sqrt_s: float = 1e-4        #: random walk of the OCV filter's own SOC (1/sqrt(s))
    ocv_load_fraction: float = 1.0          #: under load the nodes learn with sigma + this x R0 |i|; 0: at rests only
    ocv_max_V: float = 0.1                  #: bound of each OCV correction node (V)
    #: learning window (degC): capacity pairs, R0 and OCV updates only at samples within it; a cold cell's
    #: model error is not ageing (docs/real-data.md)
    learn_min_temperature_degC: float = 20.0
    learn_max_temperature_degC: float = 50.0

    #: fields whose rule is the core's (soh::SohConfig::check, cpp/include/cellsense/soh/soh_config.hpp, through
    #: _core.soh_config_issue; initial_capacity_Ah and initial_r0_scale: the model's values it is checked against)
    CORE_RULED = frozenset({"initial_capacity_Ah", "capacity_sigma_Ah", "capacity_forgetting", "pair_min_delta_soc",
                            "pair_max_soc_sigma", "rest_current_A", "current_sigma_A", "current_offset_sigma_A",
                            "anchor_rest_s", "initial_r0_scale", "r0_scale_sigma", "r0_scale_per_sqrt_s",
                            "r0_min_step_A", "r0_max_dt_s", "r0_min_dt_s", "r0_voltage_sigma_V", "r0_gate_nis", "r0_scale_min",
                            "r0_scale_max", "ocv_sigma_V", "ocv_V_per_sqrt_s", "ocv_soc_per_sqrt_s",
                            "ocv_load_fraction", "ocv_max_V", "learn_min_temperature_degC",
                            "learn_max_temperature_degC"})
    #: (lo, hi[, lo_exclusive]) per field, checked at construction after the core's rule
    #: (`settings.check_settings_fields`): the package's own bounds beyond it (magnitudes no cell of this
    #: kind reaches). Capacities as the cell-file loader's (1 mAh .. 1 MAh).
    BOUNDS = {"initial_capacity_Ah": (1e-3, 1e6), "capacity_sigma_Ah": (0.0, 1e6, True),
              "capacity_forgetting": (0.0, 1.0, True), "pair_min_delta_soc": (0.0, 2.0, True),
              "pair_max_soc_sigma": (0.0, 1.0, True), "rest_current_A": (0.0, 1e6), "current_sigma_A": (0.0, 1e6),
              "current_offset_sigma_A": (0.0, 1e6), "initial_r0_scale": (0.0, 1e3, True),
              "r0_scale_sigma": (0.0, 1e3, True), "r0_scale_per_sqrt_s": (0.0, 1.0), "r0_min_step_A": (0.0, 1e6),
              "r0_max_dt_s": (0.0, 86400.0, True), "r0_min_dt_s": (0.0, 86400.0), "r0_voltage_sigma_V": (0.0, 10.0, True),
              "r0_gate_nis": (0.0, 1e15, True), "r0_scale_min": (0.0, 1e3, True), "r0_scale_max": (0.0, 1e3, True),
              "ocv_sigma_V": (0.0, 1.0, True), "ocv_V_per_sqrt_s": (0.0, 1.0), "ocv_soc_per_sqrt_s": (0.0, 1.0),
              "ocv_load_fraction": (0.0, 1e3), "ocv_max_V": (0.0, 1.0, True),
              "anchor_rest_s": (0.0, 1e6), "learn_min_temperature_degC": (-100.0, 200.0), "learn_max_temperature_degC": (-100.0, 200.0)}

    def __post_init__(self) -> None:
        """Refuse NaN, Inf and absurd values at construction, naming the field (ValueError): e.g.
        initial_capacity_Ah = 1e-30 would make every capacity update fail silently. The core's rule first
        (`core_issue`), then the package's own bounds (BOUNDS)."""
        check_settings_fields(self, self.BOUNDS, self.CORE_RULED)

    def core_issue(self, core, values: dict[str, float]):
        """The core's rule on these settings (soh::SohConfig::check) for a model whose capacity is
        initial_capacity_Ah (None: any capacity passes the capacity rules with the default bounds, 0.3 x / 1.5 x
        the capacity) and whose R0 factor is initial_r0_scale: None or (code, field, message)."""
        issue = core.soh_config_issue({**values, "ocv_learning": bool(self.ocv_learning), "enabled": bool(self.enabled)},
                                      values.get("initial_capacity_Ah", 1.0), values.get("initial_r0_scale", 1.0))
        if issue is not None and issue[1] == "capacity_min_Ah/capacity_max_Ah":
            # the package's capacity bounds are the core's default ones, 0.3 x / 1.5 x initial_capacity_Ah
            return issue[0], "initial_capacity_Ah", issue[2]
        return issue

    def core_dict(self, capacity_Ah: float, current_sigma_A: float) -> dict[str, float]:
        q0 = capacity_Ah if self.initial_capacity_Ah is None else float(self.initial_capacity_Ah)
        return {
            "enabled": bool(self.enabled),
            "initial_capacity_Ah": q0,
            "initial_r0_scale": float(self.initial_r0_scale),
            "capacity_sigma_Ah": 0.1 * q0 if self.capacity_sigma_Ah is None else float(self.capacity_sigma_Ah),
            "capacity_forgetting": self.capacity_forgetting,
            "pair_min_delta_soc": self.pair_min_delta_soc,
            "pair_max_soc_sigma": self.pair_max_soc_sigma,
            "rest_current_A": q0 / 100.0 if self.rest_current_A is None else float(self.rest_current_A),
            "current_sigma_A": current_sigma_A if self.current_sigma_A is None else float(self.current_sigma_A),
            "current_offset_sigma_A": q0 / 100.0 if self.current_offset_sigma_A is None else float(self.current_offset_sigma_A),
            "anchor_rest_s": float(self.anchor_rest_s),
            "r0_scale_sigma": self.r0_scale_sigma,
            "r0_scale_per_sqrt_s": self.r0_scale_per_sqrt_s,
            "r0_min_step_A": q0 / 5.0 if self.r0_min_step_A is None else float(self.r0_min_step_A),
            "r0_max_dt_s": self.r0_max_dt_s,
            "r0_min_dt_s": self.r0_min_dt_s,
            "r0_voltage_sigma_V": self.r0_voltage_sigma_V,
            "r0_gate_nis": self.r0_gate_nis,
            "r0_scale_min": self.r0_scale_min,
            "r0_scale_max": self.r0_scale_max,
            "ocv_learning": bool(self.ocv_learning),
            "ocv_sigma_V": self.ocv_sigma_V,
            "ocv_V_per_sqrt_s": self.ocv_V_per_sqrt_s,
            "ocv_soc_per_sqrt_s": self.ocv_soc_per_sqrt_s,
            "ocv_load_fraction": self.ocv_load_fraction,
            "ocv_max_V": self.ocv_max_V,
            "learn_min_temperature_degC": self.learn_min_temperature_degC,
            "learn_max_temperature_degC": self.learn_max_temperature_degC,
        }
