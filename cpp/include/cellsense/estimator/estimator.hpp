// SPDX-License-Identifier: Apache-2.0
// The estimator: a model and a filter composed, with input guards and a chi-square gate.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "cellsense/estimator/status.hpp"
#include "cellsense/filter/innovation.hpp"
#include "cellsense/math/cholesky.hpp"
#include "cellsense/math/matrix.hpp"

namespace cellsense {

/// Smallest accepted measurement sigma (V). Below about this, R = sigma^2 is so small against
/// H P H^T that the float32 update collapses P onto a singular matrix (found by fuzzing with a
/// denormal sigma: R underflowed to 0). No voltage sensor is this quiet anyway.
template <typename T>
constexpr T kMinVoltageSigma_V = T(1e-4);

/// Largest accepted dt_max_s (s): one day. A longer "step" is not a sample but a gap, to be
/// handled by the caller (rest propagation or re-initialisation); it also bounds Q in float32.
template <typename T>
constexpr T kMaxDt_s = T(86400);

/// Largest accepted model_error_current_A (A): with a 1 Ohm cell this is a 1 kV sigma, far beyond any
/// use; it keeps (k R)^2 finite in float32.
template <typename T>
constexpr T kMaxModelErrorCurrent_A = T(1000);

/// Largest accepted model_error_voltage_V (V): the package's bound on a voltage setting; it keeps the variance
/// finite in float32 with any accepted correlation time.
template <typename T>
constexpr T kMaxModelErrorVoltage_V = T(10);

/// Which EstimatorConfig setting is out of range (EstimatorConfig::check): the one rule, named, that
/// Estimator::init (InitStatus::kBadConfig), the C API (CS_INIT_BAD_CONFIG), the bindings and the Python
/// settings (cellsense.estimators.settings, through _core.estimator_config_issue) apply and report. One value
/// per rule; codes are stable (they may be saved or shown).
enum class EstimatorConfigIssue : std::uint8_t {
  kOk = 0,
  kDtMax = 1,                  ///< dt_max_s outside (0, kMaxDt_s] s
  kSocBounds = 2,              ///< soc_min / soc_max not finite, or soc_min not below soc_max
  kVoltageSigma = 3,           ///< voltage_sigma_V not finite, or below kMinVoltageSigma_V
  kGateNis = 4,                ///< gate_nis not above 0
  kModelErrorCurrent = 5,      ///< model_error_current_A outside [0, kMaxModelErrorCurrent_A] A
  kModelErrorRelative = 6,     ///< model_error_relative outside [0, 100]
  kModelErrorCorrelation = 7,  ///< model_error_correlation_s outside [0, kMaxDt_s] s
  kDtMaxRest = 8,              ///< dt_max_rest_s outside [0, kMaxDt_s] s
  kModelErrorVoltage = 9,      ///< model_error_voltage_V outside [0, kMaxModelErrorVoltage_V] V
  kCurrentOffset = 10,         ///< current_offset_sigma_A outside [0, kMaxModelErrorCurrent_A] A
  kCurrentGain = 11,           ///< current_gain_sigma outside [0, 1]
};

/// The last EstimatorConfigIssue value (for loops over every issue).
constexpr EstimatorConfigIssue kLastEstimatorConfigIssue = EstimatorConfigIssue::kCurrentGain;

/// The EstimatorConfig field(s) an issue is about (the C struct's, the bindings' dict keys, the Python settings'
/// field names); "" for kOk, "unknown" for a byte outside the enum.
constexpr const char* estimator_config_field(EstimatorConfigIssue i) {
  switch (i) {
    case EstimatorConfigIssue::kOk: return "";
    case EstimatorConfigIssue::kDtMax: return "dt_max_s";
    case EstimatorConfigIssue::kSocBounds: return "soc_min/soc_max";
    case EstimatorConfigIssue::kVoltageSigma: return "voltage_sigma_V";
    case EstimatorConfigIssue::kGateNis: return "gate_nis";
    case EstimatorConfigIssue::kModelErrorCurrent: return "model_error_current_A";
    case EstimatorConfigIssue::kModelErrorRelative: return "model_error_relative";
    case EstimatorConfigIssue::kModelErrorCorrelation: return "model_error_correlation_s";
    case EstimatorConfigIssue::kDtMaxRest: return "dt_max_rest_s";
    case EstimatorConfigIssue::kModelErrorVoltage: return "model_error_voltage_V";
    case EstimatorConfigIssue::kCurrentOffset: return "current_offset_sigma_A";
    case EstimatorConfigIssue::kCurrentGain: return "current_gain_sigma";
  }
  return "unknown";
}

// The bounds the messages below state, held to the constants check() applies.
static_assert(kMaxDt_s<double> >= 86400.0 && kMaxDt_s<double> <= 86400.0, "estimator_config_message: dt bound");
static_assert(kMinVoltageSigma_V<double> >= 1e-4 && kMinVoltageSigma_V<double> <= 1e-4,
              "estimator_config_message: sigma bound");
static_assert(kMaxModelErrorCurrent_A<double> >= 1000.0 && kMaxModelErrorCurrent_A<double> <= 1000.0,
              "estimator_config_message: model error current bound");
static_assert(kMaxModelErrorVoltage_V<double> >= 10.0 && kMaxModelErrorVoltage_V<double> <= 10.0,
              "estimator_config_message: model error voltage bound");

/// The rule an issue breaks, in words, naming the field and its range (the bounds EstimatorConfig::check
/// applies); "ok" for kOk, "unknown" for a byte outside the enum.
constexpr const char* estimator_config_message(EstimatorConfigIssue i) {
  switch (i) {
    case EstimatorConfigIssue::kOk: return "ok";
    case EstimatorConfigIssue::kDtMax: return "dt_max_s must be in (0, 86400] s (a longer gap is not a step)";
    case EstimatorConfigIssue::kSocBounds: return "soc_min must be below soc_max, both finite";
    case EstimatorConfigIssue::kVoltageSigma: return "voltage_sigma_V must be finite and at least 1e-4 V (0.1 mV)";
    case EstimatorConfigIssue::kGateNis: return "gate_nis must be above 0";
    case EstimatorConfigIssue::kModelErrorCurrent: return "model_error_current_A must be in [0, 1000] A";
    case EstimatorConfigIssue::kModelErrorRelative: return "model_error_relative must be in [0, 100]";
    case EstimatorConfigIssue::kModelErrorCorrelation: return "model_error_correlation_s must be in [0, 86400] s";
    case EstimatorConfigIssue::kDtMaxRest: return "dt_max_rest_s must be in [0, 86400] s";
    case EstimatorConfigIssue::kModelErrorVoltage: return "model_error_voltage_V must be in [0, 10] V";
    case EstimatorConfigIssue::kCurrentOffset: return "current_offset_sigma_A must be in [0, 1000] A";
    case EstimatorConfigIssue::kCurrentGain: return "current_gain_sigma must be in [0, 1]";
  }
  return "unknown";
}

/// The filter-configuration rule Estimator::init applies (InitStatus::kBadFilterConfig), in words: the UKF's
/// scaled sigma points need 1 / (2 (n + lambda)) positive and finite, and finite mean and covariance weights
/// (lambda = alpha^2 (n + kappa) - n, filter/ukf.hpp); the EKF has no settings and passes always.
constexpr const char* kFilterConfigRule =
    "the UKF's alpha, beta, kappa must give n + lambda > 0 (lambda = alpha^2 (n + kappa) - n, n the state count) "
    "and finite weights";

/// Estimator-level settings (the filter's own tuning is in Filter::Config). The defaults here are the one home
/// of these numbers: the C API's cs_config_default() and the Python package (cellsense.estimators.settings,
/// through _core.estimator_config_defaults()) take them from this struct.
template <typename T>
struct EstimatorConfig {
  T dt_max_s = T(60);             ///< largest accepted step (s); longer gaps are rejected
  /// Largest accepted step (s) when the cell is at rest at both of its ends: |i| <= Q / 20 h (C/20) at this
  /// sample and at the previous finite one with dt > 0, whatever that one's outcome (Estimator::at_rest_). Cell cyclers and BMS loggers log on change or at a slow rate
  /// while nothing changes (the Panasonic 18650PF tester: 0.1 s while driving, 60 s at rest, so half its rest
  /// intervals were 60.001-60.003 s and rejected against dt_max_s = 60 s). Sample k's current is held over
  /// (t_{k-1}, t_k] (model/ecm.hpp), which is exact for a rest logged at both ends; a longer interval is a gap
  /// as before. 0 or below dt_max_s: dt_max_s alone (the rule until 2026-12-06).
  T dt_max_rest_s = T(600);
  /// SOC bounds (1); the estimate never leaves [soc_min, soc_max]. A little beyond [0, 1] by default: a cell's
  /// usable charge between its cut-offs rarely equals the nominal capacity that defines SOC, and clamping at
  /// exactly 0 or 1 would bias the ends (the Python package's and the C API's defaults since they exist; the
  /// core's own default was [0, 1] until 2026-12-06).
  T soc_min = T(-0.05);
  T soc_max = T(1.05);            ///< SOC upper bound (1), see soc_min
  /// Measurement noise incl. model error, 1 sigma (V): R = sigma^2; >= 0.1 mV. 40 mV by default: the voltage
  /// sigma of a fitted ECM is dominated by its model error, not by the sensor (a few mV); 40 mV is the value
  /// tuned on PyBaMM Chen2020 DFN truth (UDDS / US06, docs/tuning.md), which the Python package uses for a cell
  /// file without a measured model error and the C API's cs_config_default() always used. (0.01 V until
  /// 2026-12-06, a value no caller used: every path set its own.)
  T voltage_sigma_V = T(0.04);
  /// Model error that follows the cell's resistance (A): R = voltage_sigma_V^2 + (this x R_cell)^2,
  /// R_cell = the model's total resistance (R0 + sum R_j) at the prior SOC and the sample's
  /// temperature (Model::model_error_resistance_Ohm). 0 (default): R = voltage_sigma_V^2 exactly.
  T model_error_current_A = T(0);
  /// Model error proportional to the model's resistive drop (1): adds this x |i| to
  /// model_error_current_A in the term above, (k_A + k_rel |i|) R_cell. 0 (default): off.
  T model_error_relative = T(0);
  /// Model error that does not follow the resistance (V): a constant e_V added to the term above, the model-error
  /// variance being e_V^2 + ((k_A + k_rel |i|) R_cell)^2 (before the correlation scaling below). For a cell
  /// whose file states only its fitted RMS voltage error (the Python package's constant-error path: e_V = 5 x that
  /// error, correlation time 1 s: the constant sigma of before at 1 Hz and slower, the same information per
  /// second at a faster rate). 0 (default): off.
  T model_error_voltage_V = T(0);
  /// Correlation time of the model error (s): the model error is slow (correlated over minutes), so a
  /// sample interval dt shorter than this carries only dt / tau of an independent measurement; its
  /// variance is multiplied by tau / dt (dt < tau), which keeps the information per second the same at
  /// any sample rate (a 10 Hz log is not 10x more certain than a 1 Hz one). 0 (default): no scaling.
  T model_error_correlation_s = T(0);
  /// The current sensor's offset (A, 1 sigma) and gain error (1, 1 sigma), CONSIDERED, not estimated: a consider
  /// covariance analysis (Schmidt 1966; Bierman 1977, "Factorization Methods for Discrete Sequential Estimation",
  /// ch. VIII; Tapley, Schutz & Born 2004, "Statistical Orbit Determination", sec. 6.x) of the filter, whose gain
  /// ignores them. The estimator carries the sensitivity of its error to a unit offset and to a unit gain error
  /// (Estimator::consider_offset(), consider_gain()) and adds their variance to the SOC sigma it reports
  /// (soc_sigma()); the SOC estimate and the filter's own covariance (so its gain) are exactly those without them.
  /// A constant offset's charge error grows linearly in time where the voltage cannot correct it (a flat OCV, the
  /// plateau of an LFP cell), which the SOC random walk (growing as sqrt(t)) does not cover; docs/estimator.md
  /// "The current sensor in the band". 0 (default): off, bit for bit the estimator without them.
  T current_offset_sigma_A = T(0);
  T current_gain_sigma = T(0);     ///< see current_offset_sigma_A; 0.01 = a 1 % gain error
  T gate_nis = T(100);            ///< chi-square gate on NIS (1 dof; 100 = 10 sigma)
  GatePolicy gate_policy = GatePolicy::kRejectStep;
  std::uint16_t gate_timeout_steps = 5;  ///< after this many gated steps in a row, fuse anyway (0 = never)

  /// The first setting out of range, kOk if none (NaN fails every bound). The bounds and why: kMaxDt_s,
  /// kMinVoltageSigma_V, kMaxModelErrorCurrent_A above; model_error_relative <= 100 keeps (k |i| R)^2 finite in
  /// float32 at any current the model accepts; gate_nis > 0 (NIS >= 0 always, so a gate at or below 0 would
  /// refuse every sample; docs/estimator.md "Gate"). Estimator::init refuses exactly these settings
  /// (InitStatus::kBadConfig).
  EstimatorConfigIssue check() const {
    if (!(dt_max_s > T(0)) || !(dt_max_s <= kMaxDt_s<T>)) { return EstimatorConfigIssue::kDtMax; }
    if (!(soc_min < soc_max) || !math::is_finite(soc_min) || !math::is_finite(soc_max)) {
      return EstimatorConfigIssue::kSocBounds;
    }
    if (!(voltage_sigma_V >= kMinVoltageSigma_V<T>) || !math::is_finite(voltage_sigma_V)) {
      return EstimatorConfigIssue::kVoltageSigma;
    }
    if (!(gate_nis > T(0))) { return EstimatorConfigIssue::kGateNis; }
    if (!(model_error_current_A >= T(0)) || !(model_error_current_A <= kMaxModelErrorCurrent_A<T>)) {
      return EstimatorConfigIssue::kModelErrorCurrent;
    }
    if (!(model_error_relative >= T(0)) || !(model_error_relative <= T(100))) {
      return EstimatorConfigIssue::kModelErrorRelative;
    }
    if (!(model_error_correlation_s >= T(0)) || !(model_error_correlation_s <= kMaxDt_s<T>)) {
      return EstimatorConfigIssue::kModelErrorCorrelation;
    }
    if (!(dt_max_rest_s >= T(0)) || !(dt_max_rest_s <= kMaxDt_s<T>)) { return EstimatorConfigIssue::kDtMaxRest; }
    if (!(model_error_voltage_V >= T(0)) || !(model_error_voltage_V <= kMaxModelErrorVoltage_V<T>)) {
      return EstimatorConfigIssue::kModelErrorVoltage;
    }
    if (!(current_offset_sigma_A >= T(0)) || !(current_offset_sigma_A <= kMaxModelErrorCurrent_A<T>)) {
      return EstimatorConfigIssue::kCurrentOffset;
    }
    if (!(current_gain_sigma >= T(0)) || !(current_gain_sigma <= T(1))) { return EstimatorConfigIssue::kCurrentGain; }
    return EstimatorConfigIssue::kOk;
  }
  bool valid() const { return check() == EstimatorConfigIssue::kOk; }
  /// Whether the current sensor's consider terms are asked for (either sigma above 0): Estimator::init refuses that
  /// in an estimator built without them, and the C API's cs_config_problem says why.
  bool considers_current_sensor() const { return current_offset_sigma_A > T(0) || current_gain_sigma > T(0); }
  /// The "SOC unknown" variance: a uniform SOC over [soc_min, soc_max], (range)^2 / 12. The ceiling of the gate
  /// timeout's inflation (Estimator, PackEstimator) and of the considered sensor's part of the reported variance.
  T soc_unknown_variance() const {
    const T range = soc_max - soc_min;
    return range * range / T(12);
  }
};

namespace detail {

// The model's resistance for the model-error term (0 for a model without one, e.g. the SPMe).
template <class M>
auto model_error_resistance(const M& m, const typename M::Step& s, const typename M::State& x, int /*tag*/)
    -> decltype(m.model_error_resistance_Ohm(s, x)) {
  return m.model_error_resistance_Ohm(s, x);
}
template <class M>
typename M::Scalar model_error_resistance(const M& /*model*/, const typename M::Step& /*step*/,
                                          const typename M::State& /*x*/, long /*tag*/) {
  return typename M::Scalar(0);
}

/// Estimator::measurement_variance (see there). A function of the model and the settings only, so the EKF and the UKF
/// estimators of one model share one instance (as a member it was compiled twice: 444 B each on Cortex-M4F).
template <class M>
typename M::Scalar measurement_variance(const M& model, const EstimatorConfig<typename M::Scalar>& config,
                                        const typename M::Step& s, const typename M::State& x,
                                        typename M::Scalar current_A, typename M::Scalar dt_s) {
  using T = typename M::Scalar;
  const T r_sensor = config.voltage_sigma_V * config.voltage_sigma_V;
  const bool scaled = config.model_error_current_A > T(0) || config.model_error_relative > T(0);
  if (!scaled && !(config.model_error_voltage_V > T(0))) {
    return r_sensor;  // constant sigma: nothing else to compute (the same value as r_sensor + 0)
  }
  T var_model = config.model_error_voltage_V * config.model_error_voltage_V;
  if (scaled) {  // the table look-up only when the resistance-scaled term is on
    const T abs_i_A = current_A < T(0) ? -current_A : current_A;
    const T e_model_V = (config.model_error_current_A + config.model_error_relative * abs_i_A) *
                        model_error_resistance(model, s, x, 0);
    var_model = var_model + e_model_V * e_model_V;
  }
  if (dt_s > T(0) && dt_s < config.model_error_correlation_s) {
    var_model = var_model * (config.model_error_correlation_s / dt_s);
  }
  return r_sensor + var_model;
}

// Whether the model states how its transition and measurement follow the measured current (the current sensor's
// consider analysis, EstimatorConfig::current_offset_sigma_A): the ECM does, the SPMe does not.
template <class M, class = void>
struct HasCurrentJacobians : std::false_type {};
template <class M>
struct HasCurrentJacobians<M, std::void_t<decltype(std::declval<const M&>().input_jacobian(
                                              std::declval<const typename M::Step&>())),
                                          decltype(std::declval<const M&>().measurement_current_jacobian(
                                              std::declval<const typename M::Step&>(),
                                              std::declval<const typename M::State&>()))>> : std::true_type {};

// The consider sensitivities' storage: two state vectors, or nothing (an empty base takes no room) for an estimator
// built without them (Estimator's kConsider: the C API's estimators and the pack's cells).
template <class State, bool kOn>
struct ConsiderStorage {
  State consider_offset_{};  ///< d error / d current offset (per A); zero unless the sensor is considered
  State consider_gain_{};    ///< d error / d current gain error (per unit)
};
template <class State>
struct ConsiderStorage<State, false> {};

}  // namespace detail

/// Composes a Model (model/ecm.hpp) and a Filter template (filter/ekf.hpp, filter/ukf.hpp).
/// Holds only a pointer to the (const, flash-resident) parameters, so its size is the state,
/// the covariance, the configuration and a few scalars. No heap, no exceptions.
/// kConsider: whether the estimator can carry the current sensor's consider terms (EstimatorConfig::
/// current_offset_sigma_A). Off by default: the C API and the pack's cells are built without them (init refuses a
/// configuration that turns them on), so their code, 2 state vectors and per-step cost are not paid where they are not
/// used (the MCU targets: EKF <= 1,500 instructions per step, <= 256 B per estimator, <= 16 KiB core flash); the
/// Python package's single-cell ECM estimators are built with them.
template <class ModelT, template <class> class FilterT, bool kConsider = false>
class Estimator : private detail::ConsiderStorage<typename ModelT::State, kConsider> {
 public:
  using Model = ModelT;
  using T = typename Model::Scalar;
  using Filter = FilterT<Model>;
  using FilterConfig = typename Filter::Config;
  static constexpr int N = Model::kStates;
  using State = typename Model::State;
  using Cov = typename Model::Cov;
  using Aux = typename Model::Aux;
  using Idx = typename Model::Idx;
  using G = filter::Gaussian<T, N>;
  /// The same estimator built without the consider terms (what the C API and the MCU builds use).
  using Plain = Estimator<ModelT, FilterT, false>;

  /// Set up from a model (which points at validated parameters), settings and an initial
  /// Gaussian. On failure the estimator stays uninitialised and step() rejects.
  InitStatus init(const Model& model, const EstimatorConfig<T>& config, const FilterConfig& fconfig,
                  const State& x0, const Cov& p0, const Aux& aux0) {
    initialised_ = false;
    if (config.check() != EstimatorConfigIssue::kOk) { return InitStatus::kBadConfig; }
    if (config.considers_current_sensor() && !(kConsider && detail::HasCurrentJacobians<Model>::value)) {
      return InitStatus::kBadConfig;
    }
    const Filter f(fconfig);
    if (!filter_config_ok(f)) { return InitStatus::kBadFilterConfig; }
    if (!math::all_finite(x0) || x0(Idx::soc, 0) < config.soc_min || x0(Idx::soc, 0) > config.soc_max) {
      return InitStatus::kBadInitialState;
    }
    if (!covariance_spd(p0)) { return InitStatus::kBadCovariance; }
    model_ = model;
    config_ = config;
    filter_ = f;
    est_.x = x0;
    est_.P = p0;
    aux_ = aux0;
    // Gate-timeout inflation ceiling: the initial variances, and for SOC at least the variance of a
    // uniform distribution over [soc_min, soc_max] ("SOC unknown"), so an overconfident start can recover.
    for (int i = 0; i < N; ++i) { initial_variance_[i] = p0(i, i); }
    const T uniform_var = config.soc_unknown_variance();
    if (initial_variance_[Idx::soc] < uniform_var) { initial_variance_[Idx::soc] = uniform_var; }
    gated_in_row_ = 0;
    at_rest_ = false;
    set_consider_unchecked(State::zero(), State::zero());
    initialised_ = true;
    return InitStatus::kOk;
  }

  /// One sample: (dt since the previous sample, current held over it, voltage and temperature
  /// at its end). Guards first; then predict, innovate, gate, update. State changes only if
  /// the returned status is not a kRejected* one.
  StepReport<T> step(T dt_s, T current_A, T voltage_V, T temperature_degC) {
    return step_impl(dt_s, current_A, voltage_V, temperature_degC, true);
  }

  /// One sample whose voltage is not fused (a stuck or distrusted voltage sensor): the same guards (the
  /// voltage still has to be a plausible reading) and time update as step(), the innovation computed and
  /// reported, then the prediction committed as a gated step under GatePolicy::kPredictOnly would be
  /// (kPredictedOnly: the charge is counted, the covariance grows). Clears the gated-in-a-row count.
  StepReport<T> predict_only(T dt_s, T current_A, T voltage_V, T temperature_degC) {
    return step_impl(dt_s, current_A, voltage_V, temperature_degC, false);
  }

 private:
  /// step() (fuse) and predict_only() (!fuse): one path, so their guards and time update cannot drift apart.
  StepReport<T> step_impl(T dt_s, T current_A, T voltage_V, T temperature_degC, bool fuse) {
    if (!initialised_) { return report(StepStatus::kNotInitialised); }
    if (!math::is_finite(dt_s) || !math::is_finite(current_A) || !math::is_finite(voltage_V) ||
        !math::is_finite(temperature_degC)) {
      return report(StepStatus::kRejectedNonFinite);
    }
    if (!(dt_s > T(0))) { return report(StepStatus::kRejectedDt); }
    // A step longer than dt_max_s is a logger gap, unless the cell was at rest at both of its ends
    // (EstimatorConfig::dt_max_rest_s): a rest logged at a slow rate is a sample, not a gap. at_rest_ follows the
    // log's current readings (every finite sample with dt > 0, whatever its outcome, like the log clock): it is
    // bookkeeping of the log, not part of the estimate, so a rest entered from load through a gap is stepped from
    // its second sample on.
    const bool rest_before = at_rest_;
    at_rest_ = std::fabs(current_A) * T(20) <= model_.params().capacity_Ah;  // |i| <= C/20 (no division)
    if (dt_s > config_.dt_max_s && !(at_rest_ && rest_before && dt_s <= config_.dt_max_rest_s)) {
      return report(StepStatus::kRejectedDtTooLarge);
    }
    if (!model_.current_in_range(current_A)) { return report(StepStatus::kRejectedCurrent); }
    if (!model_.voltage_in_range(voltage_V)) { return report(StepStatus::kRejectedVoltage); }
    if (!model_.temperature_in_range(temperature_degC)) { return report(StepStatus::kRejectedTemperature); }

    const typename Model::Step s = model_.prepare(est_.x, aux_, dt_s, current_A, temperature_degC);
    G prior;
    if (!filter_.predict(model_, s, est_, prior)) { return report(StepStatus::kRejectedNumerical); }
    Model::constrain(prior.x, config_.soc_min, config_.soc_max);
    // The current sensor's consider sensitivities through the time update: d e / d b = F (d e / d b) + B, B = df/di
    // (the filter counts i + b where the cell carried i); a gain error k is an offset k i (Bierman 1977, ch. VIII).
    const bool considered = consider_on(config_);
    State so;  // set and used only when considered
    State sg;
    if (considered) {
      so = consider_offset();
      sg = consider_gain();
      consider_time_update(s, current_A, so, sg);
    }

    // Measurement noise: sensor + a model error that grows with the cell's resistance (the ECM's
    // voltage error is an error in its overpotential, which scales with the resistance: on the
    // Panasonic 18650PF HPPC the fit residual grows 19.5 -> 98 mV from 25 to -20 degC as the
    // resistance grows about 4x; docs/real-data.md). With model_error_current_A = 0, r = sigma^2.
    const T r = measurement_variance(s, prior.x, current_A, dt_s);
    filter::Innovation<T, N> in;
    if (!filter_.innovate(model_, s, prior, voltage_V, r, in)) {
      return report(StepStatus::kRejectedNumerical);
    }
    StepStatus status = StepStatus::kFused;
    if (!fuse || in.nis > config_.gate_nis) {
      const bool timed_out =
          fuse && config_.gate_timeout_steps > 0 && gated_in_row_ >= config_.gate_timeout_steps;
      if (!timed_out) {
        if (fuse && gated_in_row_ < 0xFFFFu) { ++gated_in_row_; }
        if (fuse && config_.gate_policy == GatePolicy::kRejectStep) {
          return report(StepStatus::kRejectedInnovationGate, &in, r);
        }
        // kPredictOnly: the prediction stands, the voltage is skipped. The time update only
        // checked P-'s diagonal; a committed P must be positive definite (fuzzing found extreme
        // dt making F P F^T + Q numerically singular in float32).
        Cov l_check;
        if (!math::cholesky(prior.P, l_check)) { return report(StepStatus::kRejectedNumerical, &in, r); }
        commit(prior, s);
        if (considered) { set_consider_unchecked(so, sg); }
        if (!fuse) { gated_in_row_ = 0; }  // predict_only: no reading was offered, so none was gated
        return report(StepStatus::kPredictedOnly, &in, r);
      }
      // Gate timeout: the filter has disagreed with the cell for too long, so its covariance is
      // too small. Inflate the prior covariance by the factor that brings this innovation to the
      // gate (S' = k (S - R) + R = y^2 / gate), then fuse: the correction is then consistent with
      // the enlarged uncertainty instead of a huge gain on an overconfident P.
      // Each state's variance is inflated by that factor, capped at its ceiling (its initial
      // variance; for SOC at least the "SOC unknown" variance), so repeated timeouts cannot grow P
      // without bound: P'_ij = d_i d_j P_ij with d_i = sqrt(min(k, ceiling_i / P_ii)) >= 1, which
      // keeps P' symmetric positive definite.
      const T hph = in.variance - r;
      const T target = in.innovation * in.innovation / config_.gate_nis - r;
      if (hph > T(0) && target > hph) {
        const T k = target / hph;
        T d[N];
        for (int i = 0; i < N; ++i) {
          T ki = initial_variance_[i] / prior.P(i, i);
          if (ki > k) { ki = k; }
          d[i] = ki > T(1) ? std::sqrt(ki) : T(1);
        }
        for (int i = 0; i < N; ++i) {  // one triangle, mirrored: P' stays exactly symmetric
          for (int j = i; j < N; ++j) {
            const T v = prior.P(i, j) * d[i] * d[j];
            prior.P(i, j) = v;
            prior.P(j, i) = v;
          }
        }
        if (!filter_.innovate(model_, s, prior, voltage_V, r, in)) {
          return report(StepStatus::kRejectedNumerical);
        }
      }
      status = StepStatus::kFusedAfterGateTimeout;
    }
    // Filter::update writes its output only on success: straight into the estimate, no copy.
    if (!filter_.update(prior, in, r, est_)) { return report(StepStatus::kRejectedNumerical, &in, r); }
    Model::constrain(est_.x, config_.soc_min, config_.soc_max);
    if (considered) {
      consider_measurement_update(s, prior.x, in, current_A, so, sg);
      set_consider_unchecked(so, sg);
    }
    gated_in_row_ = 0;
    aux_ = Model::next_aux(s);
    return report(status, &in, r);
  }


 public:
  /// The measurement noise variance R (V^2) of a sample with transition `s`, current `current_A` and
  /// interval `dt_s` (> 0) at state x: voltage_sigma_V^2 + (e_V^2 + e^2) c, e_V = model_error_voltage_V,
  /// e = (model_error_current_A + model_error_relative |i|) R_cell(x), c = model_error_correlation_s / dt_s when
  /// dt_s is shorter, else 1 (a slow error's information per second does not grow with the sample rate).
  T measurement_variance(const typename Model::Step& s, const State& x, T current_A, T dt_s) const {
    return detail::measurement_variance(model_, config_, s, x, current_A, dt_s);
  }

  bool initialised() const { return initialised_; }
  T soc() const { return est_.x(Idx::soc, 0); }
  /// The SOC's 1 sigma: the filter's own variance plus, with the current sensor considered
  /// (EstimatorConfig::current_offset_sigma_A, current_gain_sigma), the variance of the error an offset and a gain
  /// error of those sigmas leave in the estimate (consider_offset(), consider_gain()).
  T soc_sigma() const { return sqrt_nonneg(soc_variance()); }
  /// d (estimate - truth) / d b for a current sensor offset b (per A): the consider analysis' sensitivity vector
  /// (zero for an estimator built without it).
  State consider_offset() const {
    if constexpr (kConsider) { return this->consider_offset_; } else { return State::zero(); }
  }
  /// d (estimate - truth) / d k for a current sensor gain error k (i_meas = (1 + k) i; per unit k).
  State consider_gain() const {
    if constexpr (kConsider) { return this->consider_gain_; } else { return State::zero(); }
  }
  /// Replace the consider sensitivities (restoring a saved estimator); refused, changing nothing, if not finite (or
  /// not zero for an estimator built without them).
  bool set_consider(const State& offset, const State& gain) {
    if (!math::all_finite(offset) || !math::all_finite(gain)) { return false; }
    if constexpr (!kConsider) {
      for (int r = 0; r < N; ++r) {
        if (offset(r, 0) < T(0) || offset(r, 0) > T(0) || gain(r, 0) < T(0) || gain(r, 0) > T(0)) { return false; }
      }
    }
    set_consider_unchecked(offset, gain);
    return true;
  }
  const State& state() const { return est_.x; }
  const Cov& covariance() const { return est_.P; }
  const Aux& aux() const { return aux_; }
  const Model& model() const { return model_; }
  const EstimatorConfig<T>& config() const { return config_; }
  std::uint16_t gated_in_row() const { return gated_in_row_; }

  /// Health parameters the model uses from the next step on (ECM: total capacity and R0 factor;
  /// soh/soh_tracker.hpp). Forwards to Model::set_health; false (nothing changed) if refused.
  template <typename... A>
  bool set_model_health(A... values) {
    return model_.set_health(values...);
  }

  /// OCV correction the model uses from the next step on (ECM: Model::set_ocv_correction, node
  /// values in V; soh/soh_tracker.hpp). False (nothing changed) if refused.
  bool set_model_ocv_correction(const T* node_V) { return model_.set_ocv_correction(node_V); }

  /// Replace state and covariance (restoring a saved estimator). Refused, changing nothing,
  /// when x is not finite or out of bounds or P is not symmetric positive definite.
  bool set_state(const State& x, const Cov& p, const Aux& aux) {
    if (!math::all_finite(x) || x(Idx::soc, 0) < config_.soc_min || x(Idx::soc, 0) > config_.soc_max ||
        !covariance_spd(p)) {
      return false;
    }
    est_.x = x;
    est_.P = p;
    aux_ = aux;
    gated_in_row_ = 0;
    // at_rest_ is kept: it is about the log, not the state (the bindings widen the variance after a gap through
    // set_state; a state restored into a fresh estimator starts with init's false)
    return true;
  }

 private:
  static bool filter_config_ok(const Filter& f) { return filter_ok(f, 0); }
  // UKF: reject weights that make n + lambda <= 0 (sigma points undefined).
  template <class F>
  static auto filter_ok(const F& f, int /*tag*/) -> decltype(f.weight_i(), bool()) {
    return f.weight_i() > T(0) && math::is_finite(f.weight_i()) && math::is_finite(f.weight_mean0()) &&
           math::is_finite(f.weight_cov0());
  }
  template <class F>
  static bool filter_ok(const F& /*filter*/, long /*tag*/) { return true; }

  static bool covariance_spd(const Cov& p) {
    if (!math::all_finite(p)) { return false; }
    for (int r = 0; r < N; ++r) {
      for (int c = r + 1; c < N; ++c) {
        if (p(r, c) < p(c, r) || p(r, c) > p(c, r)) { return false; }
      }
    }
    Cov l;
    return math::cholesky(p, l);
  }

  static T sqrt_nonneg(T v) { return v > T(0) ? std::sqrt(v) : T(0); }

  void set_consider_unchecked(const State& offset, const State& gain) {
    if constexpr (kConsider) {
      this->consider_offset_ = offset;
      this->consider_gain_ = gain;
    } else {
      (void)offset;
      (void)gain;
    }
  }

  /// Whether the configuration turns the consider terms on (a constant false when the estimator is built without them,
  /// so their code is not compiled in).
  static bool consider_on(const EstimatorConfig<T>& c) {
    if constexpr (kConsider) {
      return c.considers_current_sensor();
    } else {
      (void)c;
      return false;
    }
  }

  /// P_zz + (s_b,z sigma_b)^2 + (s_k,z sigma_k)^2: the filter's variance and the considered sensor's (the error's
  /// parts are independent: the filter's noise model and the sensor's fixed offset and gain).
  T soc_variance() const {
    const T p = est_.P(Idx::soc, Idx::soc);
    if (!consider_on(config_)) { return p; }
    const State so = consider_offset();
    const State sg = consider_gain();
    const T eb = so(Idx::soc, 0) * config_.current_offset_sigma_A;
    const T ek = sg(Idx::soc, 0) * config_.current_gain_sigma;
    // at most the "SOC unknown" variance (a uniform SOC over [soc_min, soc_max]; the gate timeout's ceiling): an
    // uncorrected drift cannot make the SOC less known than that (a 1000 A sigma had reported a SOC sigma of 189)
    const T unknown = config_.soc_unknown_variance();
    const T c = eb * eb + ek * ek;
    return p + (c < unknown ? c : unknown);
  }

  /// Time update of the sensitivities: s <- F s + B, B = d f / d i (per A of offset; per unit gain error, B i).
  void consider_time_update(const typename Model::Step& s, T current_A, State& so, State& sg) const {
    if constexpr (detail::HasCurrentJacobians<Model>::value) {
      const Cov f = model_.process_jacobian(s);
      const State b = model_.input_jacobian(s);
      State fo = State::zero();
      State fg = State::zero();
      for (int r = 0; r < N; ++r) {
        T ao = T(0);
        T ag = T(0);
        for (int c = 0; c < N; ++c) {
          ao = ao + f(r, c) * so(c, 0);
          ag = ag + f(r, c) * sg(c, 0);
        }
        fo(r, 0) = ao + b(r, 0);
        fg(r, 0) = ag + b(r, 0) * current_A;
      }
      so = fo;
      sg = fg;
    }
  }

  /// Measurement update of the sensitivities with the filter's gain K = P_xy / S: the innovation sees -H e - D b
  /// (D = dh/di, the voltage's direct dependence on the counted current: -R0 for the ECM), so
  /// s <- s - K (H s + D) (offset) and s <- s - K (H s + D i) (gain): the error e+ = (I - K H) e - K D b of a filter
  /// whose gain ignores b (Bierman 1977, ch. VIII, the consider covariance of a suboptimal filter). H is the model's
  /// Jacobian at the prior also for the UKF (first order, as the analysis is).
  void consider_measurement_update(const typename Model::Step& s, const State& x_prior,
                                   const filter::Innovation<T, N>& in, T current_A, State& so, State& sg) const {
    if constexpr (detail::HasCurrentJacobians<Model>::value) {
      const auto h = model_.measurement_jacobian(s, x_prior);
      const T d = model_.measurement_current_jacobian(s, x_prior);
      T hso = d;
      T hsg = d * current_A;
      for (int c = 0; c < N; ++c) {
        hso = hso + h(0, c) * so(c, 0);
        hsg = hsg + h(0, c) * sg(c, 0);
      }
      for (int r = 0; r < N; ++r) {
        const T k = in.cross_cov(r, 0) / in.variance;
        so(r, 0) = so(r, 0) - k * hso;
        sg(r, 0) = sg(r, 0) - k * hsg;
      }
    }
  }

  void commit(const G& g, const typename Model::Step& s) {
    est_ = g;
    aux_ = Model::next_aux(s);
  }

  StepReport<T> report(StepStatus status, const filter::Innovation<T, N>* in = nullptr,
                       T measurement_variance_V2 = std::numeric_limits<T>::quiet_NaN()) const {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    StepReport<T> r{};
    r.status = status;
    r.soc = est_.x(Idx::soc, 0);
    r.soc_sigma = sqrt_nonneg(soc_variance());
    r.voltage_pred_V = in ? in->predicted : nan;
    r.innovation_V = in ? in->innovation : nan;
    r.innovation_variance_V2 = in ? in->variance : nan;
    r.nis = in ? in->nis : nan;
    r.measurement_variance_V2 = in ? measurement_variance_V2 : nan;
    return r;
  }

  Model model_{};
  Filter filter_{};
  EstimatorConfig<T> config_{};
  G est_{};
  Aux aux_{};
  T initial_variance_[N] = {};  ///< ceiling for gate-timeout inflation
  std::uint16_t gated_in_row_ = 0;
  /// the last finite sample's current (dt > 0) was a rest, |i| <= C/20 (dt_max_rest_s; C = the nominal capacity, above
  /// a BMS current sensor's offset of some 10 mA on a 1-5 A h cell); false after init
  bool at_rest_ = false;
  bool initialised_ = false;
};

}  // namespace cellsense
