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

// ---- The status code space ------------------------------------------------------------------
// Every per-sample status byte the project writes (estimator step, pack cell, the whole-log loop of
// the bindings, CSV output, the replay link) holds one code of this one space. The values are part of
// the file formats and the HIL protocol: never renumber them.
//   0..2     the step ran (StepStatus)
//   10..18   the step was rejected: state and covariance unchanged (StepStatus)
//   20..22   pack gap handling (pack/pack.hpp: rest propagation / re-initialisation over a time gap)
//   253..255 the whole-log loop (estimator/log_clock.hpp and the bindings): no core step, or a step
//            without its voltage
constexpr std::uint8_t kStatusRest = 20;            ///< pack: rest propagation over a gap (voltage not fused)
constexpr std::uint8_t kStatusReinit = 21;          ///< pack: restarted from OCV^-1(voltage) after a gap
constexpr std::uint8_t kStatusReinitFailed = 22;    ///< pack: restart refused (voltage not finite): state kept
constexpr std::uint8_t kStatusVoltageStuck = 253;   ///< stuck voltage sensor: stepped predict-only (charge counted)
constexpr std::uint8_t kStatusClockReanchored = 254;///< the log clock re-anchored on this sample: no step
constexpr std::uint8_t kStatusInitial = 255;        ///< the first sample of a log: sets the clock, no step

/// Every code of the space, ascending (for tables and tests: status_name() of each is unique).
constexpr std::uint8_t kStatusCodes[] = {0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 253, 254, 255};
constexpr int kStatusCodeCount = static_cast<int>(sizeof(kStatusCodes) / sizeof(kStatusCodes[0]));

/// Short, stable identifier of a status code (CSV output, logs, the Python tables); "unknown" for a
/// byte outside the space. No heap: string literals.
constexpr const char* status_name(std::uint8_t code) {
  switch (code) {
    case 0: return "fused";
    case 1: return "fused_gate_timeout";
    case 2: return "predicted_only";
    case 10: return "rejected_nonfinite";
    case 11: return "rejected_dt_nonpositive";
    case 12: return "rejected_dt_too_large";
    case 13: return "rejected_current_range";
    case 14: return "rejected_voltage_range";
    case 15: return "rejected_temperature_range";
    case 16: return "rejected_innovation_gate";
    case 17: return "rejected_numerical";
    case 18: return "not_initialised";
    case kStatusRest: return "rest";
    case kStatusReinit: return "reinit";
    case kStatusReinitFailed: return "reinit_failed";
    case kStatusVoltageStuck: return "voltage_stuck";
    case kStatusClockReanchored: return "clock_reanchored";
    case kStatusInitial: return "initial";
    default: return "unknown";
  }
}

/// The name of a step outcome (the same table).
constexpr const char* status_name(StepStatus s) { return status_name(static_cast<std::uint8_t>(s)); }

// The table above spells StepStatus by value: tie the two together.
static_assert(static_cast<int>(StepStatus::kFused) == 0 && static_cast<int>(StepStatus::kFusedAfterGateTimeout) == 1 &&
                  static_cast<int>(StepStatus::kPredictedOnly) == 2 &&
                  static_cast<int>(StepStatus::kRejectedNonFinite) == 10 &&
                  static_cast<int>(StepStatus::kRejectedDt) == 11 && static_cast<int>(StepStatus::kRejectedDtTooLarge) == 12 &&
                  static_cast<int>(StepStatus::kRejectedCurrent) == 13 &&
                  static_cast<int>(StepStatus::kRejectedVoltage) == 14 &&
                  static_cast<int>(StepStatus::kRejectedTemperature) == 15 &&
                  static_cast<int>(StepStatus::kRejectedInnovationGate) == 16 &&
                  static_cast<int>(StepStatus::kRejectedNumerical) == 17 &&
                  static_cast<int>(StepStatus::kNotInitialised) == 18,
              "status_name(std::uint8_t) spells StepStatus by value");

namespace detail {
constexpr bool same_text(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}
/// Every code of kStatusCodes has a name, and no two share one.
constexpr bool status_names_unique() {
  for (int i = 0; i < kStatusCodeCount; ++i) {
    if (same_text(status_name(kStatusCodes[i]), "unknown")) { return false; }
    if (i > 0 && !(kStatusCodes[i] > kStatusCodes[i - 1])) { return false; }
    for (int j = 0; j < i; ++j) {
      if (same_text(status_name(kStatusCodes[i]), status_name(kStatusCodes[j]))) { return false; }
    }
  }
  return true;
}
}  // namespace detail
static_assert(detail::status_names_unique(), "every status code has its own name");

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

constexpr const char* init_status_name(InitStatus s) {
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
