// SPDX-License-Identifier: Apache-2.0
// Step and init outcomes, and the per-step report.
#pragma once

#include <cstdint>

namespace cellsense {

/// Outcome of one estimator step. Every kRejected* leaves state and covariance exactly as
/// they were before the call.
enum class StepStatus : std::uint8_t {
  kFused = 0,                  ///< predicted and the voltage fused
  kFusedAfterGateTimeout = 1,  ///< fused although gated, after gate_timeout_steps gated steps in a row
  kPredictedOnly = 2,          ///< voltage gated out, prediction kept (GatePolicy::kPredictOnly)
  kRejectedNonFinite = 10,     ///< an input was NaN or +-Inf
  kRejectedDt = 11,            ///< dt <= 0: repeated or backwards timestamp
  kRejectedDtTooLarge = 12,    ///< dt above the configured maximum
  kRejectedCurrent = 13,       ///< current outside the model's plausible range
  kRejectedVoltage = 14,       ///< voltage outside the model's plausible range
  kRejectedTemperature = 15,   ///< temperature outside the model's plausible range
  kRejectedInnovationGate = 16,///< normalised innovation squared above the chi-square gate
  kRejectedNumerical = 17,     ///< the covariance lost positive definiteness / a value overflowed
  kNotInitialised = 18,        ///< step() before a successful init()
};

/// Short, stable identifier for a status (used in CSV output and logs).
inline const char* status_name(StepStatus s) {
  switch (s) {
    case StepStatus::kFused: return "fused";
    case StepStatus::kFusedAfterGateTimeout: return "fused_gate_timeout";
    case StepStatus::kPredictedOnly: return "predicted_only";
    case StepStatus::kRejectedNonFinite: return "rejected_nonfinite";
    case StepStatus::kRejectedDt: return "rejected_dt_nonpositive";
    case StepStatus::kRejectedDtTooLarge: return "rejected_dt_too_large";
    case StepStatus::kRejectedCurrent: return "rejected_current_range";
    case StepStatus::kRejectedVoltage: return "rejected_voltage_range";
    case StepStatus::kRejectedTemperature: return "rejected_temperature_range";
    case StepStatus::kRejectedInnovationGate: return "rejected_innovation_gate";
    case StepStatus::kRejectedNumerical: return "rejected_numerical";
    case StepStatus::kNotInitialised: return "not_initialised";
  }
  return "unknown";
}

/// True when the state did not change in this step.
constexpr bool is_rejected(StepStatus s) { return static_cast<std::uint8_t>(s) >= 10; }

/// Outcome of init().
enum class InitStatus : std::uint8_t {
  kOk = 0,
  kBadParams = 1,        ///< model::validate() refused the cell parameters (see param_error())
  kBadConfig = 2,        ///< estimator configuration out of range (dt_max, SOC bounds, sigma, gate)
  kBadInitialState = 3,  ///< initial state not finite or outside bounds
  kBadCovariance = 4,    ///< initial covariance not symmetric positive definite
  kBadFilterConfig = 5,  ///< filter tuning invalid (e.g. UKF n + lambda <= 0)
};

inline const char* init_status_name(InitStatus s) {
  switch (s) {
    case InitStatus::kOk: return "ok";
    case InitStatus::kBadParams: return "bad_params";
    case InitStatus::kBadConfig: return "bad_config";
    case InitStatus::kBadInitialState: return "bad_initial_state";
    case InitStatus::kBadCovariance: return "bad_covariance";
    case InitStatus::kBadFilterConfig: return "bad_filter_config";
  }
  return "unknown";
}

/// What to do with a step whose innovation exceeds the gate.
enum class GatePolicy : std::uint8_t {
  kRejectStep = 0,   ///< reject the whole step: state and covariance unchanged (default)
  kPredictOnly = 1,  ///< keep the prediction (charge is counted), skip the voltage
};

/// One step's report: the estimate after the step and the measurement-update record.
template <typename T>
struct StepReport {
  StepStatus status;
  T soc;                     ///< SOC after the step (1)
  T soc_sigma;               ///< its standard deviation (1)
  T voltage_pred_V;          ///< predicted terminal voltage used for the innovation (V); NaN if not computed
  T innovation_V;            ///< measured - predicted voltage (V); NaN if not computed
  T innovation_variance_V2;  ///< S (V^2); NaN if not computed
  T nis;                     ///< normalised innovation squared (1); NaN if not computed
  T measurement_variance_V2; ///< R of the step (V^2): sensor + model error (Estimator::measurement_variance); NaN if not computed
};

}  // namespace cellsense
