// SPDX-License-Identifier: Apache-2.0
// The C API (cpp/include/cellsense/c_api.h) over the header-only core: instantiates the float32
// 2-RC ECM under the EKF and the UKF. No heap, no exceptions, no RTTI, no static state.
// This source: the estimator (init, step, SOC), the state of power and energy, the saved state.
// The SOH part is cpp/src/c_api_soh.cpp; what both share is cpp/src/c_api_internal.hpp (with the
// build options CS_ENABLE_EKF / CS_ENABLE_UKF).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>

#include "c_api_internal.hpp"
#include "cellsense/cellsense.hpp"
#include "cellsense/model/ecm_params_table.hpp"
#include "cellsense/model/ecm_state_check.hpp"
#include "cellsense/power/power_limits.hpp"

namespace {

using cellsense::InitStatus;
using cellsense::StepStatus;
// The shared types and storage helpers (c_api_internal.hpp), by their short names.
using cellsense::c_api_detail::aligned_for;
using cellsense::c_api_detail::EkfEstimator;
using cellsense::c_api_detail::fill_report;
using cellsense::c_api_detail::finite;
using cellsense::c_api_detail::Impl;
using cellsense::c_api_detail::impl_of;
using cellsense::c_api_detail::kMagic;
using cellsense::c_api_detail::Model;
using cellsense::c_api_detail::Params;
using cellsense::c_api_detail::seal;
using cellsense::c_api_detail::UkfEstimator;
using cellsense::c_api_detail::visit;
using Idx = Model::Idx;

// ---- The C parameter struct is the core's EcmParams, field for field ----------------------
static_assert(CS_MAX_SOC_POINTS >= 2 && CS_MAX_SOC_POINTS <= 255, "CS_MAX_SOC_POINTS must be in [2, 255]");
static_assert(CS_MAX_TEMPERATURE_POINTS >= 1 && CS_MAX_TEMPERATURE_POINTS <= 15,
              "CS_MAX_TEMPERATURE_POINTS must be in [1, 15]");
static_assert(Model::kStates == CS_STATES, "state count");
// Both sides are equal constants by design (the C and the C++ layouts).
// NOLINTBEGIN(misc-redundant-expression)
static_assert(Idx::soc == CS_IDX_SOC && Idx::v_rc1 == CS_IDX_V_RC1 && Idx::v_rc(1) == CS_IDX_V_RC2 &&
                  Idx::hysteresis == CS_IDX_HYSTERESIS,
              "state layout");
static_assert(sizeof(cs_ecm_params) == sizeof(Params) && alignof(cs_ecm_params) == alignof(Params),
              "cs_ecm_params must mirror EcmParams");
// NOLINTEND(misc-redundant-expression)
// Each field: at EcmParams' offset, and row `row` of the core's parameter table (model/ecm_params_table.hpp)
// by name, so the table, the C struct and EcmParams list the same parameters in the same order.
#define CS_SAME_FIELD(row, field)                                                                        \
  static_assert(offsetof(cs_ecm_params, field) == offsetof(Params, field), "offset of " #field);       \
  static_assert(cellsense::model::ecm_param_is(row, #field), #field " is not row " #row " of model::kEcmParams")
CS_SAME_FIELD(0, capacity_Ah);
CS_SAME_FIELD(1, coulombic_efficiency);
CS_SAME_FIELD(2, hysteresis_rate);
CS_SAME_FIELD(3, sign_deadband_A);
static_assert(offsetof(cs_ecm_params, grid) == offsetof(Params, grid), "offset of grid");
static_assert(cellsense::model::ecm_param_is(4, "soc") && cellsense::model::ecm_param_is(5, "temperature_degC"),
              "rows 4, 5 of model::kEcmParams: the grid's breakpoints (grid.soc, grid.temperature_degC)");
CS_SAME_FIELD(6, ocv_V);
CS_SAME_FIELD(7, r0_Ohm);
CS_SAME_FIELD(8, rc_r_Ohm);
CS_SAME_FIELD(9, rc_tau_s);
CS_SAME_FIELD(10, hysteresis_V);
CS_SAME_FIELD(11, hysteresis_instant_V);
CS_SAME_FIELD(12, voltage_min_V);
CS_SAME_FIELD(13, voltage_max_V);
CS_SAME_FIELD(14, current_min_A);
CS_SAME_FIELD(15, current_max_A);
CS_SAME_FIELD(16, temperature_min_degC);
CS_SAME_FIELD(17, temperature_max_degC);
static_assert(cellsense::model::kEcmParamCount == 18, "model::kEcmParams has a row the C struct lacks");
static_assert(static_cast<double>(CS_STATE_V_RC_MAX_V) >= cellsense::model::kRestoredVRcMax_V &&
                  static_cast<double>(CS_STATE_V_RC_MAX_V) <= cellsense::model::kRestoredVRcMax_V,
              "CS_STATE_V_RC_MAX_V must equal model::kRestoredVRcMax_V");
#undef CS_SAME_FIELD
static_assert(offsetof(cs_grid, soc) == offsetof(decltype(Params::grid), soc) &&
                  offsetof(cs_grid, temperature_degC) == offsetof(decltype(Params::grid), temperature_degC) &&
                  offsetof(cs_grid, n_temperature) == offsetof(decltype(Params::grid), n_temperature) &&
                  sizeof(cs_grid) == sizeof(Params::grid) && sizeof(cs_table) == sizeof(Params::TableT),
              "cs_grid / cs_table must mirror math::Grid / math::Table");

// The core reads the caller's const parameters in place (they usually live in flash, and a copy
// would cost RAM per estimator). The two types are layout-identical standard-layout aggregates
// (checked above) and the parameters are never written through either type.
// NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): layout identity static_assert-ed above
const Params* core_params(const cs_cell_params* p) { return reinterpret_cast<const Params*>(&p->ecm); }

bool finite_nonnegative(float v) { return finite(v) && v >= 0.0f; }

// The C API's estimators are built without the current sensor's consider terms (Estimator<..., false>: the MCU
// budgets); Estimator::init refuses them (kBadConfig) and this says why.
constexpr const char* kConsiderNotBuilt =
    "current_offset_sigma_A and current_gain_sigma must be 0: the C API is built without the current sensor's "
    "consider terms (the Python package's estimators have them; docs/estimator.md)";

// A broken rule of a cs_config: the cs_init() code and the words cs_config_problem() reports.
struct ConfigRule {
  int code;
  const char* words;
};
constexpr ConfigRule kRuleOk{CS_INIT_OK, nullptr};

bool within(float v, float lo, float hi) { return v >= lo && v <= hi; }  // false for NaN

// The filter id names a filter built into this library (CS_ENABLE_EKF / CS_ENABLE_UKF).
bool filter_built(uint8_t filter) {
  return (filter == CS_FILTER_EKF && CS_ENABLE_EKF) || (filter == CS_FILTER_UKF && CS_ENABLE_UKF);
}

// The package's bounds (python/cellsense/estimators/settings.py, NoiseSettings.BOUNDS / EstimatorSettings.BOUNDS and
// check_settings_fields' defaults: volts [0, 10], others [0, 1e6]); C and Python refuse the same values.
constexpr float kSettingMax = 1.0e6f;
constexpr float kSettingMax_V = 10.0f;
constexpr float kSigmaMin = 1.0e-6f;  // initial sigmas: [1e-6, 10]
constexpr float kGateNisMax = 1.0e15f;

// The cs_config rules the C API checks itself before building the estimator, in cs_init()'s order (the filter id,
// the gate policy byte, the process noise and the UKF parameters, which the core takes as given, the package's
// ranges beyond the core's rule, the initial hysteresis and sigmas): the first one broken, or kRuleOk. The core's
// own rules (EstimatorConfig::check, the UKF's n + lambda, the initial SOC) come after, from Estimator::init.
ConfigRule c_level_config_rule(const cs_config& c) {
  constexpr int kCfg = CS_INIT_BAD_CONFIG;
  if (!filter_built(c.filter)) {
    return {CS_INIT_BAD_ARGUMENT,
            "filter must be CS_FILTER_EKF (0) or CS_FILTER_UKF (1), one built into this library (CS_ENABLE_EKF / UKF)"};
  }
  if (c.gate_policy > CS_GATE_PREDICT_ONLY) { return {kCfg, "gate_policy must be CS_GATE_REJECT_STEP or CS_GATE_PREDICT_ONLY"}; }
  if (!finite_nonnegative(c.current_sigma_A)) { return {kCfg, "current_sigma_A must be finite and >= 0 A"}; }
  if (!(c.current_sigma_A <= kSettingMax)) { return {kCfg, "current_sigma_A must be in [0, 1e6] A"}; }
  if (!finite_nonnegative(c.soc_per_sqrt_s)) { return {kCfg, "soc_per_sqrt_s must be finite and >= 0"}; }
  if (!(c.soc_per_sqrt_s <= 1.0f)) { return {kCfg, "soc_per_sqrt_s must be in [0, 1] /sqrt(s)"}; }
  if (!finite_nonnegative(c.v_rc_V_per_sqrt_s)) { return {kCfg, "v_rc_V_per_sqrt_s must be finite and >= 0"}; }
  if (!(c.v_rc_V_per_sqrt_s <= kSettingMax_V)) { return {kCfg, "v_rc_V_per_sqrt_s must be in [0, 10] V/sqrt(s)"}; }
  if (!finite_nonnegative(c.hysteresis_per_sqrt_s)) { return {kCfg, "hysteresis_per_sqrt_s must be finite and >= 0"}; }
  if (!(c.hysteresis_per_sqrt_s <= 10.0f)) { return {kCfg, "hysteresis_per_sqrt_s must be in [0, 10] /sqrt(s)"}; }
  if (!finite(c.gate_nis)) { return {kCfg, "gate_nis must be finite and above 0"}; }
  if (!(c.gate_nis <= kGateNisMax)) { return {kCfg, "gate_nis must be at most 1e15"}; }
  if (!(c.voltage_sigma_V <= kSettingMax_V)) { return {kCfg, "voltage_sigma_V must be at most 10 V"}; }
  if (!within(c.soc_min, -1.0f, 1.0f)) { return {kCfg, "soc_min must be in [-1, 1]"}; }
  if (!within(c.soc_max, 0.0f, 2.0f)) { return {kCfg, "soc_max must be in [0, 2]"}; }
  // checked whichever filter is chosen: a NaN anywhere in the configuration is the caller's bug
  if (!(c.ukf_alpha > 0.0f && c.ukf_alpha <= 10.0f)) { return {kCfg, "ukf_alpha must be in (0, 10] (either filter)"}; }
  if (!within(c.ukf_beta, -10.0f, 10.0f)) { return {kCfg, "ukf_beta must be in [-10, 10] (either filter)"}; }
  if (!within(c.ukf_kappa, -1000.0f, 1000.0f)) { return {kCfg, "ukf_kappa must be in [-1000, 1000] (either filter)"}; }
  if (!within(c.initial_hysteresis, -1.0f, 1.0f)) {
    return {CS_INIT_BAD_INITIAL_STATE, "initial_hysteresis must be in [-1, 1]"};
  }
  if (!cellsense::model::valid_hysteresis_sign(c.initial_hysteresis_sign)) {
    return {CS_INIT_BAD_INITIAL_STATE, "initial_hysteresis_sign must be -1, 0 or +1"};
  }
  if (!within(c.initial_soc_sigma, kSigmaMin, 10.0f)) {
    return {CS_INIT_BAD_COVARIANCE, "initial_soc_sigma must be in [1e-6, 10]"};
  }
  if (!within(c.initial_v_rc_sigma_V, kSigmaMin, kSettingMax_V)) {
    return {CS_INIT_BAD_COVARIANCE, "initial_v_rc_sigma_V must be in [1e-6, 10] V"};
  }
  if (!within(c.initial_hysteresis_sigma, kSigmaMin, 10.0f)) {
    return {CS_INIT_BAD_COVARIANCE, "initial_hysteresis_sigma must be in [1e-6, 10]"};
  }
  return kRuleOk;
}

// The core's estimator settings from a cs_config (the one mapping: cs_init and cs_config_problem use it).
cellsense::EstimatorConfig<float> estimator_config_of(const cs_config& c) {
  cellsense::EstimatorConfig<float> ec{};
  ec.dt_max_s = c.dt_max_s;
  ec.soc_min = c.soc_min;
  ec.soc_max = c.soc_max;
  ec.voltage_sigma_V = c.voltage_sigma_V;
  ec.gate_nis = c.gate_nis;
  ec.model_error_current_A = c.model_error_current_A;
  ec.model_error_relative = c.model_error_relative;
  ec.model_error_correlation_s = c.model_error_correlation_s;
  ec.dt_max_rest_s = c.dt_max_rest_s;
  ec.model_error_voltage_V = c.model_error_voltage_V;
  ec.current_offset_sigma_A = c.current_offset_sigma_A;
  ec.current_gain_sigma = c.current_gain_sigma;
  ec.gate_policy =
      c.gate_policy == CS_GATE_PREDICT_ONLY ? cellsense::GatePolicy::kPredictOnly : cellsense::GatePolicy::kRejectStep;
  ec.gate_timeout_steps = c.gate_timeout_steps;
  return ec;
}

// The UKF's weights from the cs_config's parameters are usable (Estimator::init's kBadFilterConfig rule: the same
// filter object, the same test, so cs_config_problem and cs_init agree).
bool ukf_weights_ok(const cs_config& c) {
  cellsense::filter::Ukf<Model>::Config fc{};
  fc.alpha = c.ukf_alpha;
  fc.beta = c.ukf_beta;
  fc.kappa = c.ukf_kappa;
  const cellsense::filter::Ukf<Model> f(fc);
  return f.weight_i() > 0.0f && finite(f.weight_i());
}

// InitStatus -> CS_INIT_*, one row per enumerator in its order (kBadParams is not produced by
// Estimator::init: the C API checks the parameters before). A table, not a switch: no unreachable
// fall-through line after a switch over every enumerator (docs/coverage-justification.md).
constexpr int kInitCodes[] = {CS_INIT_OK, CS_INIT_PARAM_NON_FINITE, CS_INIT_BAD_CONFIG, CS_INIT_BAD_INITIAL_STATE,
                              CS_INIT_BAD_COVARIANCE, CS_INIT_BAD_FILTER_CONFIG};
static_assert(static_cast<int>(InitStatus::kOk) == 0 && static_cast<int>(InitStatus::kBadParams) == 1 &&
                  static_cast<int>(InitStatus::kBadConfig) == 2 && static_cast<int>(InitStatus::kBadInitialState) == 3 &&
                  static_cast<int>(InitStatus::kBadCovariance) == 4 &&
                  static_cast<int>(InitStatus::kBadFilterConfig) == 5 && sizeof kInitCodes / sizeof kInitCodes[0] == 6,
              "kInitCodes follows InitStatus");

int map_init(InitStatus s) { return kInitCodes[static_cast<std::uint8_t>(s)]; }

template <class E>
int init_as(Impl& impl, const Model& model, const cellsense::EstimatorConfig<float>& ec,
            const typename E::FilterConfig& fc, const Model::State& x0, const Model::Cov& p0,
            const Model::Aux& aux0) {
  E* e = ::new (static_cast<void*>(impl.body)) E();  // NOLINT(cppcoreguidelines-owning-memory): placement new in caller storage
  return map_init(e->init(model, ec, fc, x0, p0, aux0));
}

static_assert(static_cast<int>(cellsense::GatePolicy::kRejectStep) == CS_GATE_REJECT_STEP &&
                  static_cast<int>(cellsense::GatePolicy::kPredictOnly) == CS_GATE_PREDICT_ONLY,
              "CS_GATE_* must equal cellsense::GatePolicy (cs_config_default copies the core's default)");
static_assert(static_cast<int>(cellsense::model::ParamError::kLimits) == CS_INIT_PARAM_LIMITS &&
                  static_cast<int>(cellsense::model::ParamError::kGridSize) == CS_INIT_PARAM_GRID_SIZE &&
                  static_cast<int>(cellsense::model::ParamError::kOcvNotIncreasing) ==
                      CS_INIT_PARAM_OCV_NOT_INCREASING,
              "CS_INIT_PARAM_* must equal model::ParamError");
static_assert(static_cast<int>(StepStatus::kFused) == CS_STATUS_FUSED &&
                  static_cast<int>(StepStatus::kFusedAfterGateTimeout) == CS_STATUS_FUSED_GATE_TIMEOUT &&
                  static_cast<int>(StepStatus::kPredictedOnly) == CS_STATUS_PREDICTED_ONLY &&
                  static_cast<int>(StepStatus::kRejectedNonFinite) == CS_STATUS_REJECTED_NONFINITE &&
                  static_cast<int>(StepStatus::kRejectedDt) == CS_STATUS_REJECTED_DT_NONPOSITIVE &&
                  static_cast<int>(StepStatus::kRejectedDtTooLarge) == CS_STATUS_REJECTED_DT_TOO_LARGE &&
                  static_cast<int>(StepStatus::kRejectedCurrent) == CS_STATUS_REJECTED_CURRENT_RANGE &&
                  static_cast<int>(StepStatus::kRejectedVoltage) == CS_STATUS_REJECTED_VOLTAGE_RANGE &&
                  static_cast<int>(StepStatus::kRejectedTemperature) == CS_STATUS_REJECTED_TEMPERATURE_RANGE &&
                  static_cast<int>(StepStatus::kRejectedInnovationGate) == CS_STATUS_REJECTED_INNOVATION_GATE &&
                  static_cast<int>(StepStatus::kRejectedNumerical) == CS_STATUS_REJECTED_NUMERICAL &&
                  static_cast<int>(StepStatus::kNotInitialised) == CS_STATUS_NOT_INITIALISED,
              "CS_STATUS_* must equal cellsense::StepStatus");

}  // namespace

extern "C" {

void cs_config_default(cs_config* c) {
  if (c == nullptr) { return; }
  std::memset(c, 0, sizeof *c);
  c->filter = CS_FILTER_EKF;
  // The estimator's guards, gate and measurement noise: the core's defaults (EstimatorConfig,
  // estimator/estimator.hpp: the one home of these numbers; the Python package reads the same ones through
  // _core.estimator_config_defaults()), and the UKF's sigma-point defaults (filter::Ukf::Config).
  constexpr cellsense::EstimatorConfig<float> ec{};
  c->gate_policy = static_cast<uint8_t>(ec.gate_policy);
  c->gate_timeout_steps = ec.gate_timeout_steps;
  c->dt_max_s = ec.dt_max_s;
  c->soc_min = ec.soc_min;
  c->soc_max = ec.soc_max;
  c->voltage_sigma_V = ec.voltage_sigma_V;
  c->model_error_current_A = ec.model_error_current_A;
  c->model_error_relative = ec.model_error_relative;
  c->model_error_correlation_s = ec.model_error_correlation_s;
  c->dt_max_rest_s = ec.dt_max_rest_s;
  c->model_error_voltage_V = ec.model_error_voltage_V;
  c->current_offset_sigma_A = ec.current_offset_sigma_A;
  c->current_gain_sigma = ec.current_gain_sigma;
  c->gate_nis = ec.gate_nis;
  constexpr cellsense::filter::Ukf<Model>::Config uc{};
  c->ukf_alpha = uc.alpha;
  c->ukf_beta = uc.beta;
  c->ukf_kappa = uc.kappa;
  // The filter's tuning and the initial state: the Python package's NoiseSettings defaults (the core has
  // no default process noise or initial state; tests/python/mcu/test_export_c.py checks that they agree).
  c->current_sigma_A = 0.05f;
  c->soc_per_sqrt_s = 2e-4f;
  c->v_rc_V_per_sqrt_s = 5e-4f;
  c->hysteresis_per_sqrt_s = 1e-3f;
  c->initial_soc = 0.5f;
  c->initial_soc_sigma = 0.25f;
  c->initial_v_rc_sigma_V = 0.02f;
  c->initial_hysteresis = 0.0f;
  c->initial_hysteresis_sigma = 0.5f;
  c->initial_hysteresis_sign = 0.0f;
}

size_t cs_estimator_used_bytes(uint8_t filter) {
  const std::size_t head = offsetof(Impl, body);
  return head + (filter == CS_FILTER_UKF ? sizeof(UkfEstimator) : sizeof(EkfEstimator));
}

int cs_init(cs_estimator* storage, const cs_cell_params* params, const cs_config* c) {
  if (storage == nullptr || !aligned_for<Impl>(storage)) { return CS_INIT_BAD_ARGUMENT; }
  // "not initialised" until the end: the header first (8 bytes, within any cs_estimator a header ever had); the
  // rest only once the layout tag says the firmware's cs_estimator is this library's size (CS_INIT_BAD_LAYOUT:
  // a firmware built against an older c_api.h may have passed a smaller one)
  std::memset(storage->opaque, 0, offsetof(Impl, body));
  if (params == nullptr || c == nullptr) { return CS_INIT_BAD_ARGUMENT; }
  if (!filter_built(c->filter)) { return CS_INIT_BAD_ARGUMENT; }
  if (params->layout != CS_PARAMS_LAYOUT) { return CS_INIT_BAD_LAYOUT; }
  std::memset(storage->opaque, 0, sizeof storage->opaque);

  const Params* p = core_params(params);
  const cellsense::model::ParamError pe = cellsense::model::validate(*p);
  if (pe != cellsense::model::ParamError::kOk) { return static_cast<int>(pe); }

  const ConfigRule rule = c_level_config_rule(*c);
  if (rule.code != CS_INIT_OK) { return rule.code; }
  Model::Noise noise{};
  noise.soc_per_sqrt_s = c->soc_per_sqrt_s;
  noise.v_rc_V_per_sqrt_s = c->v_rc_V_per_sqrt_s;
  noise.hysteresis_per_sqrt_s = c->hysteresis_per_sqrt_s;
  noise.current_sigma_A = c->current_sigma_A;
  const Model model(p, noise);

  const cellsense::EstimatorConfig<float> ec = estimator_config_of(*c);

  Model::State x0;
  Model::Cov p0;
  Model::initial(c->initial_soc, c->initial_soc_sigma, c->initial_v_rc_sigma_V, c->initial_hysteresis,
                 c->initial_hysteresis_sigma, x0, p0);
  const Model::Aux aux0{c->initial_hysteresis_sign};

  auto* impl = ::new (static_cast<void*>(storage->opaque)) Impl();  // NOLINT(cppcoreguidelines-owning-memory): placement new in caller storage
  impl->magic = 0;
  impl->filter = c->filter;
  int rc = CS_INIT_BAD_ARGUMENT;
#if CS_ENABLE_UKF
  if (c->filter == CS_FILTER_UKF) {
    cellsense::filter::Ukf<Model>::Config fc{};
    fc.alpha = c->ukf_alpha;
    fc.beta = c->ukf_beta;
    fc.kappa = c->ukf_kappa;
    rc = init_as<UkfEstimator>(*impl, model, ec, fc, x0, p0, aux0);
  }
#endif
#if CS_ENABLE_EKF
  if (c->filter == CS_FILTER_EKF) {
    rc = init_as<EkfEstimator>(*impl, model, ec, cellsense::filter::Ekf<Model>::Config{}, x0, p0, aux0);
  }
#endif
  if (rc != CS_INIT_OK) {
    std::memset(storage->opaque, 0, sizeof storage->opaque);
    return rc;
  }
  seal(*impl, kMagic);
  return CS_INIT_OK;
}

const char* cs_config_problem(const cs_config* c) {
  if (c == nullptr) { return "config is NULL"; }
  const ConfigRule rule = c_level_config_rule(*c);
  if (rule.code != CS_INIT_OK) { return rule.words; }
  // then the core's rules in Estimator::init's order: EstimatorConfig::check (its words, estimator/estimator.hpp),
  // the consider terms this build lacks, the UKF's weights, the initial SOC within the SOC bounds
  const cellsense::EstimatorConfig<float> ec = estimator_config_of(*c);
  const cellsense::EstimatorConfigIssue issue = ec.check();
  if (issue != cellsense::EstimatorConfigIssue::kOk) { return cellsense::estimator_config_message(issue); }
  if (ec.considers_current_sensor()) { return kConsiderNotBuilt; }
  if (c->filter == CS_FILTER_UKF && !ukf_weights_ok(*c)) {
    return "ukf_alpha / ukf_kappa give n + lambda = ukf_alpha^2 (4 + ukf_kappa) <= 0 (the UKF needs it above 0)";
  }
  if (!within(c->initial_soc, c->soc_min, c->soc_max)) { return "initial_soc must be within [soc_min, soc_max]"; }
  return "ok";
}

const char* cs_init_result_name(int r) {
  switch (r) {
    case CS_INIT_OK: return "ok";
    case CS_INIT_PARAM_GRID_SIZE: return "param_grid_size";
    case CS_INIT_PARAM_SOC_BREAKPOINTS: return "param_soc_breakpoints";
    case CS_INIT_PARAM_TEMPERATURE_BREAKPOINTS: return "param_temperature_breakpoints";
    case CS_INIT_PARAM_NON_FINITE: return "param_non_finite";
    case CS_INIT_PARAM_CAPACITY: return "param_capacity";
    case CS_INIT_PARAM_COULOMBIC_EFFICIENCY: return "param_coulombic_efficiency";
    case CS_INIT_PARAM_OCV_NOT_INCREASING: return "param_ocv_not_increasing";
    case CS_INIT_PARAM_NEGATIVE_RESISTANCE: return "param_negative_resistance";
    case CS_INIT_PARAM_NON_POSITIVE_TAU: return "param_non_positive_tau";
    case CS_INIT_PARAM_NEGATIVE_HYSTERESIS: return "param_negative_hysteresis";
    case CS_INIT_PARAM_LIMITS: return "param_limits";
    case CS_INIT_BAD_CONFIG: return "bad_config";
    case CS_INIT_BAD_FILTER_CONFIG: return "bad_filter_config";
    case CS_INIT_BAD_INITIAL_STATE: return "bad_initial_state";
    case CS_INIT_BAD_COVARIANCE: return "bad_covariance";
    case CS_INIT_BAD_ARGUMENT: return "bad_argument";
    case CS_INIT_BAD_LAYOUT: return "bad_layout";
    default: return "unknown";
  }
}

uint8_t cs_step(cs_estimator* est, float dt_s, float current_A, float voltage_V, float temperature_degC,
                cs_report* report) {
  Impl* impl = impl_of(est);
  cellsense::StepReport<float> r{};
  if (impl == nullptr) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    r = cellsense::StepReport<float>{StepStatus::kNotInitialised, nan, nan, nan, nan, nan, nan, nan};
  } else {
    r = visit(*impl, [&](auto& e) { return e.step(dt_s, current_A, voltage_V, temperature_degC); });
  }
  if (report != nullptr) { fill_report(report, r); }
  return static_cast<uint8_t>(r.status);
}

// CS_STATUS_SOH_OTHER_ESTIMATOR is the C API's own (cs_step_soh's binding check): a code the core's status space
// leaves free, so no core status is ever spelled with it.
static_assert(cellsense::detail::same_text(cellsense::status_name(std::uint8_t{CS_STATUS_SOH_OTHER_ESTIMATOR}), "unknown"),
              "CS_STATUS_SOH_OTHER_ESTIMATOR must be a code the core's status space does not use");

int cs_is_rejected(uint8_t status) {
  return status == CS_STATUS_SOH_OTHER_ESTIMATOR || cellsense::is_rejected(static_cast<StepStatus>(status)) ? 1 : 0;
}

const char* cs_status_name(uint8_t status) {
  return status == CS_STATUS_SOH_OTHER_ESTIMATOR ? "soh_other_estimator" : cellsense::status_name(status);
}

float cs_soc(const cs_estimator* est) {
  const Impl* impl = impl_of(est);
  if (impl == nullptr) { return std::numeric_limits<float>::quiet_NaN(); }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): read-only visitor
  return visit(*const_cast<Impl*>(impl), [](const auto& e) { return e.soc(); });
}

float cs_soc_sigma(const cs_estimator* est) {
  const Impl* impl = impl_of(est);
  if (impl == nullptr) { return std::numeric_limits<float>::quiet_NaN(); }
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): read-only visitor
  return visit(*const_cast<Impl*>(impl), [](const auto& e) { return e.soc_sigma(); });
}

static_assert(static_cast<int>(cellsense::power::LimitedBy::kVoltage) == CS_LIMITED_BY_VOLTAGE &&
                  static_cast<int>(cellsense::power::LimitedBy::kSoc) == CS_LIMITED_BY_SOC &&
                  static_cast<int>(cellsense::power::LimitedBy::kCurrent) == CS_LIMITED_BY_CURRENT &&
                  static_cast<int>(cellsense::power::LimitedBy::kNone) == CS_LIMITED_BY_NONE &&
                  static_cast<int>(cellsense::power::LimitedBy::kTransport) == CS_LIMITED_BY_TRANSPORT &&
                  static_cast<int>(cellsense::power::PowerStatus::kOk) == CS_POWER_OK &&
                  static_cast<int>(cellsense::power::PowerStatus::kNotInitialised) == CS_POWER_NOT_INITIALISED &&
                  static_cast<int>(cellsense::power::PowerStatus::kBadConfig) == CS_POWER_BAD_CONFIG &&
                  static_cast<int>(cellsense::power::PowerStatus::kBadInput) == CS_POWER_BAD_INPUT,
              "the C API's power codes mirror cellsense::power");

static_assert(CS_POWER_MAX_DERATING == cellsense::power::kMaxDeratingPoints &&
                  sizeof(cs_power_config::derating_temperature_degC) ==
                      sizeof(cellsense::power::PowerConfig<float>::derating_temperature_degC) &&
                  sizeof(cs_power_config::derating_discharge_factor) ==
                      sizeof(cellsense::power::PowerConfig<float>::derating_discharge_factor) &&
                  sizeof(cs_power_config::derating_charge_factor) ==
                      sizeof(cellsense::power::PowerConfig<float>::derating_charge_factor),
              "cs_power_config's derating table mirrors power::PowerConfig's");
static_assert(CS_POWER_MAX_OVERPOTENTIAL == cellsense::power::kMaxOverpotentialPoints &&
                  sizeof(cs_power_config::overpotential_temperature_degC) ==
                      sizeof(cellsense::power::PowerConfig<float>::overpotential_temperature_degC) &&
                  sizeof(cs_power_config::overpotential_current_A) ==
                      sizeof(cellsense::power::PowerConfig<float>::overpotential_current_A) &&
                  sizeof(cs_power_config::overpotential_charge_current_A) ==
                      sizeof(cellsense::power::PowerConfig<float>::overpotential_charge_current_A),
              "cs_power_config's overpotential table mirrors power::PowerConfig's");
static_assert(CS_POWER_MAX_TRANSPORT == cellsense::power::kMaxTransportPoints &&
                  sizeof(cs_power_config::transport_soc) == sizeof(cellsense::power::PowerConfig<float>::transport_soc) &&
                  sizeof(cs_power_config::transport_limit_A_sqrt_s) ==
                      sizeof(cellsense::power::PowerConfig<float>::transport_limit_A_sqrt_s) &&
                  sizeof(cs_power_config::transport_slope_sqrt_s) ==
                      sizeof(cellsense::power::PowerConfig<float>::transport_slope_sqrt_s) &&
                  sizeof(cs_power_config::transport_charge_limit_A_sqrt_s) ==
                      sizeof(cellsense::power::PowerConfig<float>::transport_charge_limit_A_sqrt_s) &&
                  sizeof(cs_power_config::transport_charge_slope_sqrt_s) ==
                      sizeof(cellsense::power::PowerConfig<float>::transport_charge_slope_sqrt_s),
              "cs_power_config's transport table mirrors power::PowerConfig's");

}  // extern "C" (the helpers below return C++ types: outside the C linkage block, clang -Wreturn-type-c-linkage)

namespace {
// The core's power settings from a cs_power_config (the one mapping: cs_power_limits and cs_power_config_problem).
cellsense::power::PowerConfig<float> power_config_of(const cs_power_config& config) {
  cellsense::power::PowerConfig<float> c;
  c.horizon_s = config.horizon_s;
  c.voltage_min_V = config.voltage_min_V;
  c.voltage_max_V = config.voltage_max_V;
  c.soc_min = config.soc_min;
  c.soc_max = config.soc_max;
  c.discharge_current_max_A = config.discharge_current_max_A;
  c.charge_current_max_A = config.charge_current_max_A;
  c.soc_sigma_k = config.soc_sigma_k;
  c.voltage_sigma_k = config.voltage_sigma_k;
  c.derating_count = static_cast<int>(config.derating_count);
  std::memcpy(c.derating_temperature_degC, config.derating_temperature_degC, sizeof c.derating_temperature_degC);
  std::memcpy(c.derating_discharge_factor, config.derating_discharge_factor, sizeof c.derating_discharge_factor);
  std::memcpy(c.derating_charge_factor, config.derating_charge_factor, sizeof c.derating_charge_factor);
  c.overpotential_count = static_cast<int>(config.overpotential_count);
  std::memcpy(c.overpotential_temperature_degC, config.overpotential_temperature_degC,
              sizeof c.overpotential_temperature_degC);
  std::memcpy(c.overpotential_current_A, config.overpotential_current_A, sizeof c.overpotential_current_A);
  std::memcpy(c.overpotential_charge_current_A, config.overpotential_charge_current_A,
              sizeof c.overpotential_charge_current_A);
  c.transport_count = static_cast<int>(config.transport_count);
  std::memcpy(c.transport_soc, config.transport_soc, sizeof c.transport_soc);
  std::memcpy(c.transport_limit_A_sqrt_s, config.transport_limit_A_sqrt_s, sizeof c.transport_limit_A_sqrt_s);
  std::memcpy(c.transport_slope_sqrt_s, config.transport_slope_sqrt_s, sizeof c.transport_slope_sqrt_s);
  std::memcpy(c.transport_charge_limit_A_sqrt_s, config.transport_charge_limit_A_sqrt_s,
              sizeof c.transport_charge_limit_A_sqrt_s);
  std::memcpy(c.transport_charge_slope_sqrt_s, config.transport_charge_slope_sqrt_s,
              sizeof c.transport_charge_slope_sqrt_s);
  return c;
}

void put_power_result(const cellsense::power::PowerLimits<float>& r, cs_power_result& out) {
  out.discharge_current_A = r.discharge_current_A;
  out.charge_current_A = r.charge_current_A;
  out.discharge_power_W = r.discharge_power_W;
  out.charge_power_W = r.charge_power_W;
  out.discharge_voltage_V = r.discharge_voltage_V;
  out.charge_voltage_V = r.charge_voltage_V;
  out.discharge_limited_by = static_cast<uint8_t>(r.discharge_limited_by);
  out.charge_limited_by = static_cast<uint8_t>(r.charge_limited_by);
}
}  // namespace

extern "C" {

const char* cs_power_config_problem(const cs_power_config* config) {
  if (config == nullptr) { return "config is NULL"; }
  return cellsense::power::power_config_message(power_config_of(*config).check());
}

void cs_power_config_default(cs_power_config* c, float voltage_min_V, float voltage_max_V, float current_max_A) {
  if (c == nullptr) { return; }
  const cellsense::power::PowerConfig<float> d{};
  c->derating_count = d.derating_count;
  std::memcpy(c->derating_temperature_degC, d.derating_temperature_degC, sizeof c->derating_temperature_degC);
  std::memcpy(c->derating_discharge_factor, d.derating_discharge_factor, sizeof c->derating_discharge_factor);
  std::memcpy(c->derating_charge_factor, d.derating_charge_factor, sizeof c->derating_charge_factor);
  c->overpotential_count = d.overpotential_count;
  std::memcpy(c->overpotential_temperature_degC, d.overpotential_temperature_degC,
              sizeof c->overpotential_temperature_degC);
  std::memcpy(c->overpotential_current_A, d.overpotential_current_A, sizeof c->overpotential_current_A);
  std::memcpy(c->overpotential_charge_current_A, d.overpotential_charge_current_A,
              sizeof c->overpotential_charge_current_A);
  c->transport_count = d.transport_count;
  std::memcpy(c->transport_soc, d.transport_soc, sizeof c->transport_soc);
  std::memcpy(c->transport_limit_A_sqrt_s, d.transport_limit_A_sqrt_s, sizeof c->transport_limit_A_sqrt_s);
  std::memcpy(c->transport_slope_sqrt_s, d.transport_slope_sqrt_s, sizeof c->transport_slope_sqrt_s);
  std::memcpy(c->transport_charge_limit_A_sqrt_s, d.transport_charge_limit_A_sqrt_s,
              sizeof c->transport_charge_limit_A_sqrt_s);
  std::memcpy(c->transport_charge_slope_sqrt_s, d.transport_charge_slope_sqrt_s,
              sizeof c->transport_charge_slope_sqrt_s);
  c->horizon_s = d.horizon_s;
  c->voltage_min_V = voltage_min_V;
  c->voltage_max_V = voltage_max_V;
  c->soc_min = d.soc_min;
  c->soc_max = d.soc_max;
  c->discharge_current_max_A = current_max_A;
  c->charge_current_max_A = current_max_A;
  c->soc_sigma_k = d.soc_sigma_k;
  c->voltage_sigma_k = d.voltage_sigma_k;
}

int cs_power_limits(const cs_estimator* est, float temperature_degC, const cs_power_config* config,
                    cs_power_result* out) {
  const Impl* impl = impl_of(est);
  if (impl == nullptr || config == nullptr || out == nullptr) { return CS_POWER_NOT_INITIALISED; }
  const cellsense::power::PowerConfig<float> c = power_config_of(*config);
  cellsense::power::PowerLimits<float> r{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): read-only visitor
  const auto st = visit(*const_cast<Impl*>(impl),
                        [&](const auto& e) { return cellsense::power::power_limits(e, temperature_degC, c, r); });
  if (st != cellsense::power::PowerStatus::kOk) { return static_cast<int>(st); }
  put_power_result(r, *out);
  return CS_POWER_OK;
}

static_assert(CS_POWER_MAX_HORIZONS == cellsense::power::kMaxHorizons, "cs_power_limits_horizons' bound is the core's");

int cs_power_limits_horizons(const cs_estimator* est, float temperature_degC, const cs_power_config* config,
                             const float* horizons_s, int32_t n_horizons, cs_power_result* out) {
  const Impl* impl = impl_of(est);
  if (impl == nullptr || config == nullptr || out == nullptr) { return CS_POWER_NOT_INITIALISED; }
  const cellsense::power::PowerConfig<float> c = power_config_of(*config);
  if (horizons_s == nullptr || !(n_horizons >= 1 && n_horizons <= cellsense::power::kMaxHorizons)) {
    return CS_POWER_BAD_CONFIG;  // the core's first refusal
  }
  // The horizons in chunks of 3 (the stack budget, CS-PLAT-003: 3 results on the stack, not 8; 4 went 8 B over it once
  // the core also checked the cut-offs against the cell's voltage range). Each horizon's limits
  // are its own (bit for bit power_limits() with that horizon), so the chunks give what one call would. The first
  // chunk makes every refusal but a later horizon's, checked before anything is written: a refused call leaves `out`
  // untouched, and a later chunk is not refused.
  constexpr int32_t kChunk = 3;
  cellsense::power::PowerLimits<float> r[kChunk];  // filled by the core where it computes
  for (int32_t k0 = 0; k0 < n_horizons; k0 += kChunk) {
    const int32_t n = n_horizons - k0 < kChunk ? n_horizons - k0 : kChunk;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): read-only visitor
    const auto st = visit(*const_cast<Impl*>(impl), [&](const auto& e) {
      return cellsense::power::power_limits_horizons(e, temperature_degC, c, horizons_s + k0, static_cast<int>(n), r);
    });
    if (st != cellsense::power::PowerStatus::kOk) { return static_cast<int>(st); }
    for (int32_t k = k0 + n; k0 == 0 && k < n_horizons; ++k) {  // the later chunks' horizons, as the core checks them
      if (!cellsense::power::PowerConfig<float>::horizon_ok(horizons_s[k])) { return CS_POWER_BAD_CONFIG; }
    }
    for (int32_t k = 0; k < n; ++k) { put_power_result(r[k], out[k0 + k]); }
  }
  return CS_POWER_OK;
}

int cs_energy(const cs_estimator* est, float temperature_degC, float power_W, float voltage_min_V, float soc_min,
              float soc_sigma_k, cs_energy_result* out) {
  const Impl* impl = impl_of(est);
  if (impl == nullptr || out == nullptr) { return CS_POWER_NOT_INITIALISED; }
  cellsense::power::EnergyEstimate<float> r{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): read-only visitor
  const auto st = visit(*const_cast<Impl*>(impl), [&](const auto& e) {
    return cellsense::power::remaining_energy(e, temperature_degC, power_W, voltage_min_V, soc_min, soc_sigma_k, r);
  });
  if (st != cellsense::power::PowerStatus::kOk) { return static_cast<int>(st); }
  out->energy_Wh = r.energy_Wh;
  out->energy_sigma_Wh = r.energy_sigma_Wh;
  out->time_to_empty_s = r.time_to_empty_s;
  out->time_to_empty_sigma_s = r.time_to_empty_sigma_s;
  return CS_POWER_OK;
}

int cs_time_to_full(const cs_estimator* est, float charge_current_A, float soc_max, float* time_s,
                    float* time_sigma_s) {
  const Impl* impl = impl_of(est);
  if (impl == nullptr || time_s == nullptr || time_sigma_s == nullptr) { return CS_POWER_NOT_INITIALISED; }
  float t = 0.0f;
  float ts = 0.0f;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): read-only visitor
  const auto st = visit(*const_cast<Impl*>(impl), [&](const auto& e) {
    return cellsense::power::time_to_full(e, charge_current_A, soc_max, t, ts);
  });
  if (st != cellsense::power::PowerStatus::kOk) { return static_cast<int>(st); }
  *time_s = t;
  *time_sigma_s = ts;
  return CS_POWER_OK;
}

int cs_save_state(const cs_estimator* est, cs_state* out) {
  const Impl* impl = impl_of(est);
  if (impl == nullptr || out == nullptr) { return CS_STATE_NOT_INITIALISED; }
  std::memset(out, 0, sizeof *out);
  out->tag = CS_STATE_TAG;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): read-only visitor
  visit(*const_cast<Impl*>(impl), [&](const auto& e) {
    for (int r = 0; r < CS_STATES; ++r) {
      out->x[r] = e.state()(r, 0);
      for (int c = 0; c < CS_STATES; ++c) { out->P[r][c] = e.covariance()(r, c); }
    }
    out->hysteresis_sign = e.aux().current_sign;
    return 0;
  });
  return CS_STATE_OK;
}

int cs_restore_state(cs_estimator* est, const cs_state* in) {
  Impl* impl = impl_of(est);
  if (impl == nullptr || in == nullptr) { return CS_STATE_NOT_INITIALISED; }
  if (in->tag != CS_STATE_TAG) { return CS_STATE_BAD_TAG; }
  Model::State x;
  Model::Cov p;
  for (int r = 0; r < CS_STATES; ++r) {
    x(r, 0) = in->x[r];
    for (int c = 0; c < CS_STATES; ++c) { p(r, c) = in->P[r][c]; }
  }
  // RC voltages within +-CS_STATE_V_RC_MAX_V, |h| <= 1, sign in {-1, 0, 1}, each variance under its ceiling:
  // the core's rule for a restored state (model/ecm_state_check.hpp); SOC bounds, finiteness and P SPD: the
  // core's set_state.
  int where = -1;
  if (cellsense::model::check_restored_state<Model>(x, in->hysteresis_sign, where) !=
          cellsense::model::RestoredStateIssue::kOk ||
      cellsense::model::check_restored_covariance<Model>(p, where) != cellsense::model::RestoredStateIssue::kOk) {
    return CS_STATE_REFUSED;
  }
  const Model::Aux aux{in->hysteresis_sign};
  const bool ok = visit(*impl, [&](auto& e) { return e.set_state(x, p, aux); });
  return ok ? CS_STATE_OK : CS_STATE_REFUSED;
}

}  // extern "C"
