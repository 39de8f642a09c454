// SPDX-License-Identifier: Apache-2.0
// The C API (cpp/include/cellsense/c_api.h) over the header-only core: instantiates the float32
// 2-RC ECM under the EKF and the UKF. No heap, no exceptions, no RTTI, no static state.
//
// Build options (compile definitions; defaults in brackets):
//   CS_ENABLE_EKF [1], CS_ENABLE_UKF [1]  leave a filter out to save flash; cs_init() then
//                                         returns CS_INIT_BAD_ARGUMENT for it.
#include "cellsense/c_api.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

#include "cellsense/cellsense.hpp"
#include "cellsense/power/power_limits.hpp"
#include "cellsense/soh/soh_tracker.hpp"

#ifndef CS_ENABLE_EKF
#define CS_ENABLE_EKF 1
#endif
#ifndef CS_ENABLE_UKF
#define CS_ENABLE_UKF 1
#endif

namespace {

using cellsense::InitStatus;
using cellsense::StepStatus;
using Params = cellsense::model::EcmParams<float, CS_RC_PAIRS, CS_MAX_SOC_POINTS, CS_MAX_TEMPERATURE_POINTS>;
using Model = cellsense::model::EcmModel<float, CS_RC_PAIRS, CS_MAX_SOC_POINTS, CS_MAX_TEMPERATURE_POINTS>;
using EkfEstimator = cellsense::Estimator<Model, cellsense::filter::Ekf>;
using UkfEstimator = cellsense::Estimator<Model, cellsense::filter::Ukf>;
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
#define CS_SAME_OFFSET(field) \
  static_assert(offsetof(cs_ecm_params, field) == offsetof(Params, field), "offset of " #field)
CS_SAME_OFFSET(capacity_Ah);
CS_SAME_OFFSET(coulombic_efficiency);
CS_SAME_OFFSET(hysteresis_rate);
CS_SAME_OFFSET(sign_deadband_A);
CS_SAME_OFFSET(grid);
CS_SAME_OFFSET(ocv_V);
CS_SAME_OFFSET(r0_Ohm);
CS_SAME_OFFSET(rc_r_Ohm);
CS_SAME_OFFSET(rc_tau_s);
CS_SAME_OFFSET(hysteresis_V);
CS_SAME_OFFSET(hysteresis_instant_V);
CS_SAME_OFFSET(voltage_min_V);
CS_SAME_OFFSET(voltage_max_V);
CS_SAME_OFFSET(current_min_A);
CS_SAME_OFFSET(current_max_A);
CS_SAME_OFFSET(temperature_min_degC);
CS_SAME_OFFSET(temperature_max_degC);
#undef CS_SAME_OFFSET
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

// ---- What lives in the caller's storage ------------------------------------------------------
constexpr std::uint32_t kMagic = 0x43534531u;  // "CSE1": written last by a successful cs_init()
constexpr std::size_t kBodySize = sizeof(EkfEstimator) > sizeof(UkfEstimator) ? sizeof(EkfEstimator)
                                                                               : sizeof(UkfEstimator);
// "Initialised" is the whole 8-byte header, not the marker alone (issue #12 item 13): the magic, the filter
// byte and its complement, and a 16-bit seal (the implementation's size xor the complemented magic) are
// written last by a successful init (cleared first) and all checked on every call. Storage that holds the
// right 4-byte marker followed by stale bytes (a previous build, a half-written copy, another object) is
// refused instead of read as an estimator (UBSan used to report a bool loaded with value 171); random bytes
// after the marker pass with probability ~5e-10. Same size as the old header (marker + filter, padded).
struct Impl {
  std::uint32_t magic;
  std::uint8_t filter;
  std::uint8_t filter_inv;  // ~filter
  std::uint16_t seal;       // seal_of<Impl>(magic)
  alignas(EkfEstimator) alignas(UkfEstimator) unsigned char body[kBodySize];
};
static_assert(sizeof(Impl) <= CS_ESTIMATOR_SIZE, "CS_ESTIMATOR_SIZE too small for the estimator");
static_assert(alignof(Impl) <= CS_ESTIMATOR_ALIGN, "CS_ESTIMATOR_ALIGN too small for the estimator");
static_assert(sizeof(cs_estimator) == CS_ESTIMATOR_SIZE && alignof(cs_estimator) >= CS_ESTIMATOR_ALIGN,
              "cs_estimator storage size / alignment");

// NULL, or the estimator object when the storage holds an initialised one. The magic word is read
// with memcpy so zeroed (never initialised) storage is inspected without pretending it holds an Impl.
// Storage not aligned for the implementation (a cs_estimator / cs_soh cast from a byte buffer) is refused:
// NULL here (every call then answers "not initialised"), CS_INIT_BAD_ARGUMENT from cs_init, and
// CS_SOH_NOT_INITIALISED from cs_soh_init (its NULL answer); the storage is not written.
template <class I>
bool aligned_for(const void* p) {
  // the documented storage alignment (CS_ESTIMATOR_ALIGN; cs_soh: 8), at least what the implementation needs
  constexpr std::size_t a = alignof(I) > CS_ESTIMATOR_ALIGN ? alignof(I) : CS_ESTIMATOR_ALIGN;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): an address's alignment is read, never dereferenced
  return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

// The header check shared by the estimator and the SOH storage (read with memcpy: nothing is assumed about
// the bytes until they pass).
template <class I>
constexpr std::uint16_t seal_of(std::uint32_t magic) {
  return static_cast<std::uint16_t>((~magic ^ static_cast<std::uint32_t>(sizeof(I))) & 0xFFFFu);
}
template <class I>
bool header_ok(const void* opaque, std::uint32_t want) {
  const auto* b = static_cast<const unsigned char*>(opaque);
  std::uint32_t magic = 0;
  std::uint16_t seal = 0;
  std::memcpy(&magic, b + offsetof(I, magic), sizeof magic);
  std::memcpy(&seal, b + offsetof(I, seal), sizeof seal);
  const std::uint8_t filter = b[offsetof(I, filter)];
  const std::uint8_t filter_inv = b[offsetof(I, filter_inv)];
  return magic == want && seal == seal_of<I>(want) && static_cast<std::uint8_t>(~filter) == filter_inv &&
         (filter == CS_FILTER_EKF || filter == CS_FILTER_UKF);
}
template <class I>
void seal(I& i, std::uint32_t magic) {
  i.filter_inv = static_cast<std::uint8_t>(~i.filter);
  i.seal = seal_of<I>(magic);
  i.magic = magic;
}

Impl* impl_of(cs_estimator* s) {
  if (s == nullptr || !aligned_for<Impl>(s)) { return nullptr; }
  if (!header_ok<Impl>(s->opaque, kMagic)) { return nullptr; }
  return std::launder(static_cast<Impl*>(static_cast<void*>(s->opaque)));
}
// NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): the mutable overload only reads (header check)
const Impl* impl_of(const cs_estimator* s) { return impl_of(const_cast<cs_estimator*>(s)); }

template <class E>
E& as(Impl& i) { return *std::launder(static_cast<E*>(static_cast<void*>(i.body))); }
template <class E>
const E& as(const Impl& i) { return *std::launder(static_cast<const E*>(static_cast<const void*>(i.body))); }

// Calls f(estimator) on whichever filter the storage holds.
template <class Fn>
auto visit(Impl& i, Fn&& fn) -> decltype(fn(as<EkfEstimator>(i))) {
#if CS_ENABLE_EKF && CS_ENABLE_UKF
  if (i.filter == CS_FILTER_UKF) { return fn(as<UkfEstimator>(i)); }
  return fn(as<EkfEstimator>(i));
#elif CS_ENABLE_UKF
  return fn(as<UkfEstimator>(i));
#else
  return fn(as<EkfEstimator>(i));
#endif
}

bool finite(float v) { return cellsense::math::is_finite(v); }
bool finite_nonnegative(float v) { return finite(v) && v >= 0.0f; }
// s in {-1, 0, +1}, written without float == (-Wfloat-equal).
bool valid_sign(float s) {
  return finite(s) && s >= -1.0f && s <= 1.0f && (s <= -1.0f || s >= 1.0f || !(s < 0.0f || s > 0.0f));
}

int map_init(InitStatus s) {
  switch (s) {
    case InitStatus::kOk: return CS_INIT_OK;
    case InitStatus::kBadParams: return CS_INIT_PARAM_NON_FINITE;  // not produced by Estimator::init
    case InitStatus::kBadConfig: return CS_INIT_BAD_CONFIG;
    case InitStatus::kBadInitialState: return CS_INIT_BAD_INITIAL_STATE;
    case InitStatus::kBadCovariance: return CS_INIT_BAD_COVARIANCE;
    case InitStatus::kBadFilterConfig: return CS_INIT_BAD_FILTER_CONFIG;
  }
  return CS_INIT_BAD_CONFIG;
}

template <class E>
int init_as(Impl& impl, const Model& model, const cellsense::EstimatorConfig<float>& ec,
            const typename E::FilterConfig& fc, const Model::State& x0, const Model::Cov& p0,
            const Model::Aux& aux0) {
  E* e = ::new (static_cast<void*>(impl.body)) E();  // NOLINT(cppcoreguidelines-owning-memory): placement new in caller storage
  return map_init(e->init(model, ec, fc, x0, p0, aux0));
}

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

// ---- SOH storage ----------------------------------------------------------------------------
using EkfTracker = cellsense::soh::SohTracker<EkfEstimator>;
using UkfTracker = cellsense::soh::SohTracker<UkfEstimator>;
constexpr std::uint32_t kSohMagic = 0x43534853u;  // "CSHS"
constexpr std::size_t kSohBody = sizeof(EkfTracker) > sizeof(UkfTracker) ? sizeof(EkfTracker) : sizeof(UkfTracker);
struct SohImpl {  // header as Impl's
  std::uint32_t magic;
  std::uint8_t filter;
  std::uint8_t filter_inv;
  std::uint16_t seal;
  alignas(EkfTracker) alignas(UkfTracker) unsigned char body[kSohBody];
};
static_assert(sizeof(SohImpl) <= CS_SOH_SIZE, "CS_SOH_SIZE too small for the SOH tracker");
static_assert(alignof(SohImpl) <= 8, "cs_soh alignment");
static_assert(CS_SOH_OCV_NODES == cellsense::model::kEcmOcvNodes, "CS_SOH_OCV_NODES must equal model::kEcmOcvNodes");
static_assert(CS_SOH_OCV_STATES == cellsense::soh::kOcvFilterStates, "CS_SOH_OCV_STATES must equal soh::kOcvFilterStates");
static_assert(sizeof(cs_soh_state::ocv_x) == sizeof(cellsense::soh::SohState<float>::ocv_x) &&
                  sizeof(cs_soh_state::ocv_P) == sizeof(cellsense::soh::SohState<float>::ocv_P),
              "cs_soh_state OCV filter arrays must mirror soh::SohState");
static_assert(sizeof(cs_soh) == CS_SOH_SIZE && alignof(cs_soh) >= 8, "cs_soh storage size / alignment");

SohImpl* soh_of(cs_soh* s) {
  if (s == nullptr || !aligned_for<SohImpl>(s)) { return nullptr; }
  if (!header_ok<SohImpl>(s->opaque, kSohMagic)) { return nullptr; }
  return std::launder(static_cast<SohImpl*>(static_cast<void*>(s->opaque)));
}
template <class Tr>
Tr& tracker(SohImpl& i) { return *std::launder(static_cast<Tr*>(static_cast<void*>(i.body))); }

// Calls fn(estimator, tracker) for the filter both were set up with (they must agree).
template <class Fn>
bool visit_soh(Impl& e, SohImpl& s, Fn&& fn) {
  if (e.filter != s.filter) { return false; }
#if CS_ENABLE_UKF
  if (e.filter == CS_FILTER_UKF) {
    fn(as<UkfEstimator>(e), tracker<UkfTracker>(s));
    return true;
  }
#endif
#if CS_ENABLE_EKF
  if (e.filter == CS_FILTER_EKF) {
    fn(as<EkfEstimator>(e), tracker<EkfTracker>(s));
    return true;
  }
#endif
  return false;
}

/// The C report from the core's step report (cs_step and cs_step_soh).
void fill_report(cs_report* report, const cellsense::StepReport<float>& r) {
  report->status = static_cast<uint8_t>(r.status);
  report->soc = r.soc;
  report->soc_sigma = r.soc_sigma;
  report->voltage_pred_V = r.voltage_pred_V;
  report->innovation_V = r.innovation_V;
  report->innovation_variance_V2 = r.innovation_variance_V2;
  report->nis = r.nis;
}

}  // namespace

extern "C" {

void cs_config_default(cs_config* c) {
  if (c == nullptr) { return; }
  std::memset(c, 0, sizeof *c);
  c->filter = CS_FILTER_EKF;
  c->gate_policy = CS_GATE_REJECT_STEP;
  c->gate_timeout_steps = 5;
  c->dt_max_s = 60.0f;
  // Same defaults as the Python package (cellsense.estimator.NoiseSettings / EstimatorSettings;
  // tests/python/test_export_c.py checks that they agree).
  c->soc_min = -0.05f;
  c->soc_max = 1.05f;
  c->voltage_sigma_V = 0.04f;
  c->gate_nis = 100.0f;
  c->current_sigma_A = 0.05f;
  c->soc_per_sqrt_s = 2.5e-4f;
  c->v_rc_V_per_sqrt_s = 5e-4f;
  c->hysteresis_per_sqrt_s = 1e-3f;
  c->ukf_alpha = 1.0f;
  c->ukf_beta = 2.0f;
  c->ukf_kappa = 0.0f;
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
  std::memset(storage->opaque, 0, sizeof storage->opaque);  // "not initialised" until the end
  if (params == nullptr || c == nullptr) { return CS_INIT_BAD_ARGUMENT; }
  const bool filter_built = (c->filter == CS_FILTER_EKF && CS_ENABLE_EKF) || (c->filter == CS_FILTER_UKF && CS_ENABLE_UKF);
  if (!filter_built) { return CS_INIT_BAD_ARGUMENT; }
  if (params->layout != CS_PARAMS_LAYOUT) { return CS_INIT_BAD_LAYOUT; }

  const Params* p = core_params(params);
  const cellsense::model::ParamError pe = cellsense::model::validate(*p);
  if (pe != cellsense::model::ParamError::kOk) { return static_cast<int>(pe); }

  if (c->gate_policy > CS_GATE_PREDICT_ONLY || !finite_nonnegative(c->current_sigma_A) ||
      !finite_nonnegative(c->soc_per_sqrt_s) || !finite_nonnegative(c->v_rc_V_per_sqrt_s) ||
      !finite_nonnegative(c->hysteresis_per_sqrt_s) || !finite(c->gate_nis)) {
    return CS_INIT_BAD_CONFIG;
  }
  if (!finite(c->initial_hysteresis) || c->initial_hysteresis < -1.0f || c->initial_hysteresis > 1.0f ||
      !valid_sign(c->initial_hysteresis_sign)) {
    return CS_INIT_BAD_INITIAL_STATE;
  }
  Model::Noise noise{};
  noise.soc_per_sqrt_s = c->soc_per_sqrt_s;
  noise.v_rc_V_per_sqrt_s = c->v_rc_V_per_sqrt_s;
  noise.hysteresis_per_sqrt_s = c->hysteresis_per_sqrt_s;
  noise.current_sigma_A = c->current_sigma_A;
  const Model model(p, noise);

  cellsense::EstimatorConfig<float> ec{};
  ec.dt_max_s = c->dt_max_s;
  ec.soc_min = c->soc_min;
  ec.soc_max = c->soc_max;
  ec.voltage_sigma_V = c->voltage_sigma_V;
  ec.gate_nis = c->gate_nis;
  ec.model_error_current_A = c->model_error_current_A;
  ec.model_error_relative = c->model_error_relative;
  ec.model_error_correlation_s = c->model_error_correlation_s;
  ec.gate_policy = c->gate_policy == CS_GATE_PREDICT_ONLY ? cellsense::GatePolicy::kPredictOnly
                                                          : cellsense::GatePolicy::kRejectStep;
  ec.gate_timeout_steps = c->gate_timeout_steps;

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

int cs_is_rejected(uint8_t status) { return cellsense::is_rejected(static_cast<StepStatus>(status)) ? 1 : 0; }

const char* cs_status_name(uint8_t status) { return cellsense::status_name(status); }

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
                  static_cast<int>(cellsense::power::PowerStatus::kOk) == CS_POWER_OK &&
                  static_cast<int>(cellsense::power::PowerStatus::kNotInitialised) == CS_POWER_NOT_INITIALISED &&
                  static_cast<int>(cellsense::power::PowerStatus::kBadConfig) == CS_POWER_BAD_CONFIG &&
                  static_cast<int>(cellsense::power::PowerStatus::kBadInput) == CS_POWER_BAD_INPUT,
              "the C API's power codes mirror cellsense::power");

void cs_power_config_default(cs_power_config* c, float voltage_min_V, float voltage_max_V, float current_max_A) {
  if (c == nullptr) { return; }
  const cellsense::power::PowerConfig<float> d{};
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
  cellsense::power::PowerConfig<float> c;
  c.horizon_s = config->horizon_s;
  c.voltage_min_V = config->voltage_min_V;
  c.voltage_max_V = config->voltage_max_V;
  c.soc_min = config->soc_min;
  c.soc_max = config->soc_max;
  c.discharge_current_max_A = config->discharge_current_max_A;
  c.charge_current_max_A = config->charge_current_max_A;
  c.soc_sigma_k = config->soc_sigma_k;
  c.voltage_sigma_k = config->voltage_sigma_k;
  cellsense::power::PowerLimits<float> r{};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): read-only visitor
  const auto st = visit(*const_cast<Impl*>(impl),
                        [&](const auto& e) { return cellsense::power::power_limits(e, temperature_degC, c, r); });
  if (st != cellsense::power::PowerStatus::kOk) { return static_cast<int>(st); }
  out->discharge_current_A = r.discharge_current_A;
  out->charge_current_A = r.charge_current_A;
  out->discharge_power_W = r.discharge_power_W;
  out->charge_power_W = r.charge_power_W;
  out->discharge_voltage_V = r.discharge_voltage_V;
  out->charge_voltage_V = r.charge_voltage_V;
  out->discharge_limited_by = static_cast<uint8_t>(r.discharge_limited_by);
  out->charge_limited_by = static_cast<uint8_t>(r.charge_limited_by);
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
  const float h = in->x[CS_IDX_HYSTERESIS];
  if (!finite(h) || h < -1.0f || h > 1.0f || !valid_sign(in->hysteresis_sign)) { return CS_STATE_REFUSED; }
  // RC voltages: |v| <= CS_STATE_V_RC_MAX_V (a polarisation beyond any single cell's window; the Python
  // side's bound). SOC bounds, finiteness and P SPD: the core's set_state.
  for (int j = CS_IDX_V_RC1; j < CS_IDX_HYSTERESIS; ++j) {
    if (!finite(in->x[j]) || in->x[j] < -CS_STATE_V_RC_MAX_V || in->x[j] > CS_STATE_V_RC_MAX_V) { return CS_STATE_REFUSED; }
  }
  Model::State x;
  Model::Cov p;
  for (int r = 0; r < CS_STATES; ++r) {
    x(r, 0) = in->x[r];
    for (int c = 0; c < CS_STATES; ++c) { p(r, c) = in->P[r][c]; }
  }
  const Model::Aux aux{in->hysteresis_sign};
  const bool ok = visit(*impl, [&](auto& e) { return e.set_state(x, p, aux); });
  return ok ? CS_STATE_OK : CS_STATE_REFUSED;
}

}  // extern "C"

extern "C" {

void cs_soh_config_default(cs_soh_config* c, float capacity_Ah) {
  if (c == nullptr) { return; }
  std::memset(c, 0, sizeof *c);
  const cellsense::soh::SohConfig<float> d{};
  const float q = capacity_Ah > 0.0f ? capacity_Ah : 1.0f;
  c->initial_capacity_Ah = 0.0f;
  c->capacity_sigma_Ah = 0.1f * q;
  c->capacity_forgetting = d.capacity_forgetting;
  c->pair_min_delta_soc = d.pair_min_delta_soc;
  c->pair_max_soc_sigma = d.pair_max_soc_sigma;
  c->rest_current_A = q / 100.0f;
  c->current_sigma_A = d.current_sigma_A;
  c->r0_scale_sigma = d.r0_scale_sigma;
  c->r0_scale_per_sqrt_s = d.r0_scale_per_sqrt_s;
  c->r0_min_step_A = q / 5.0f;
  c->r0_max_dt_s = d.r0_max_dt_s;
  c->r0_voltage_sigma_V = d.r0_voltage_sigma_V;
  c->r0_gate_nis = d.r0_gate_nis;
  c->ocv_learning = d.ocv_learning ? 1u : 0u;
  c->ocv_sigma_V = d.ocv_sigma_V;
  c->ocv_V_per_sqrt_s = d.ocv_V_per_sqrt_s;
  c->ocv_soc_per_sqrt_s = d.ocv_soc_per_sqrt_s;
  c->ocv_load_fraction = d.ocv_load_fraction;
  c->ocv_max_V = d.ocv_max_V;
  c->learn_min_temperature_degC = d.learn_min_temperature_degC;
  c->learn_max_temperature_degC = d.learn_max_temperature_degC;
  c->current_offset_sigma_A = q / 100.0f;  // as cellsense.soh.SohSettings: C/100
  c->anchor_rest_s = d.anchor_rest_s;
}

int cs_soh_init(cs_soh* soh, cs_estimator* est, const cs_soh_config* c) {
  if (soh == nullptr || !aligned_for<SohImpl>(soh)) { return CS_SOH_NOT_INITIALISED; }
  std::memset(soh->opaque, 0, sizeof soh->opaque);
  Impl* e = impl_of(est);
  if (e == nullptr || c == nullptr) { return CS_SOH_NOT_INITIALISED; }
  cellsense::soh::SohConfig<float> sc{};
  sc.capacity_sigma_Ah = c->capacity_sigma_Ah;
  sc.capacity_forgetting = c->capacity_forgetting;
  sc.pair_min_delta_soc = c->pair_min_delta_soc;
  sc.pair_max_soc_sigma = c->pair_max_soc_sigma;
  sc.rest_current_A = c->rest_current_A;
  sc.current_sigma_A = c->current_sigma_A;
  sc.r0_scale_sigma = c->r0_scale_sigma;
  sc.r0_scale_per_sqrt_s = c->r0_scale_per_sqrt_s;
  sc.r0_min_step_A = c->r0_min_step_A;
  sc.r0_max_dt_s = c->r0_max_dt_s;
  sc.r0_voltage_sigma_V = c->r0_voltage_sigma_V;
  sc.r0_gate_nis = c->r0_gate_nis;
  if (c->ocv_learning > 1u) { return CS_SOH_BAD_CONFIG; }
  sc.ocv_learning = c->ocv_learning != 0u;
  sc.ocv_sigma_V = c->ocv_sigma_V;
  sc.ocv_V_per_sqrt_s = c->ocv_V_per_sqrt_s;
  sc.ocv_soc_per_sqrt_s = c->ocv_soc_per_sqrt_s;
  sc.ocv_load_fraction = c->ocv_load_fraction;
  sc.ocv_max_V = c->ocv_max_V;
  sc.learn_min_temperature_degC = c->learn_min_temperature_degC;
  sc.learn_max_temperature_degC = c->learn_max_temperature_degC;
  sc.current_offset_sigma_A = c->current_offset_sigma_A;
  sc.anchor_rest_s = c->anchor_rest_s;
  auto* s = ::new (static_cast<void*>(soh->opaque)) SohImpl();  // NOLINT(cppcoreguidelines-owning-memory): placement new in caller storage
  s->magic = 0;
  s->filter = e->filter;
  bool ok = false;
  visit(*e, [&](auto& est_ref) {
    using E = std::remove_reference_t<decltype(est_ref)>;
    using Tr = cellsense::soh::SohTracker<E>;
    Tr* tr = ::new (static_cast<void*>(s->body)) Tr();  // NOLINT(cppcoreguidelines-owning-memory): placement new in caller storage
    const float q_model = est_ref.model().capacity_Ah();
    const float q0 = c->initial_capacity_Ah > 0.0f ? c->initial_capacity_Ah : q_model;
    const float r0 = est_ref.model().r0_scale();
    if (!(q0 > 0.0f) || !finite(q0)) { return 0; }
    E trial = est_ref;  // the estimator is changed only on success
    if (!trial.set_model_health(q0, r0)) { return 0; }
    ok = tr->init(trial, sc);
    if (ok) { est_ref = trial; }
    return 0;
  });
  if (!ok) {
    std::memset(soh->opaque, 0, sizeof soh->opaque);
    return CS_SOH_BAD_CONFIG;
  }
  seal(*s, kSohMagic);
  return CS_SOH_OK;
}

uint8_t cs_step_soh(cs_estimator* est, cs_soh* soh, float dt_s, float current_A, float voltage_V,
                    float temperature_degC, cs_report* report, cs_soh_report* soh_report) {
  Impl* e = impl_of(est);
  SohImpl* s = soh_of(soh);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  cellsense::soh::SohStepReport<float> r{};
  r.soc = cellsense::StepReport<float>{StepStatus::kNotInitialised, nan, nan, nan, nan, nan, nan, nan};
  r.capacity_Ah = r.capacity_sigma_Ah = r.r0_Ohm = r.r0_sigma_Ohm = r.r0_scale = r.ocv_shift_V = nan;
  if (e != nullptr && s != nullptr) {
    visit_soh(*e, *s, [&](auto& est_ref, auto& tr) { r = tr.step(est_ref, dt_s, current_A, voltage_V, temperature_degC); });
  }
  const auto status = static_cast<uint8_t>(r.soc.status);
  if (report != nullptr) { fill_report(report, r.soc); }
  if (soh_report != nullptr) {
    soh_report->capacity_Ah = r.capacity_Ah;
    soh_report->capacity_sigma_Ah = r.capacity_sigma_Ah;
    soh_report->r0_Ohm = r.r0_Ohm;
    soh_report->r0_sigma_Ohm = r.r0_sigma_Ohm;
    soh_report->r0_scale = r.r0_scale;
    soh_report->capacity_updated = r.capacity_updated ? 1u : 0u;
    soh_report->r0_updated = r.r0_updated ? 1u : 0u;
    soh_report->ocv_shift_V = r.ocv_shift_V;
    soh_report->ocv_updated = r.ocv_updated ? 1u : 0u;
  }
  return status;
}

int cs_soh_close_pair(cs_estimator* est, cs_soh* soh) {
  Impl* e = impl_of(est);
  SohImpl* s = soh_of(soh);
  if (e == nullptr || s == nullptr) { return 0; }
  bool closed = false;
  visit_soh(*e, *s, [&](auto& est_ref, auto& tr) { closed = tr.close_pair(est_ref); });
  return closed ? 1 : 0;
}

static void restart_pairing(cs_soh* soh, bool rested) {
  SohImpl* s = soh_of(soh);
  if (s == nullptr) { return; }
  if (s->filter == CS_FILTER_UKF) {
    tracker<UkfTracker>(*s).restart_pairing(rested);
  } else {
    tracker<EkfTracker>(*s).restart_pairing(rested);
  }
}

void cs_soh_restart_pairing(cs_soh* soh) { restart_pairing(soh, false); }

void cs_soh_restart_pairing_rested(cs_soh* soh) { restart_pairing(soh, true); }

int cs_soh_save_state(const cs_soh* soh, cs_soh_state* out) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): read-only use of the mutable accessor
  SohImpl* s = soh_of(const_cast<cs_soh*>(soh));
  if (s == nullptr || out == nullptr) { return CS_SOH_NOT_INITIALISED; }
  const cellsense::soh::SohState<float>& st =
      s->filter == CS_FILTER_UKF ? tracker<UkfTracker>(*s).state() : tracker<EkfTracker>(*s).state();
  std::memset(out, 0, sizeof *out);
  out->tag = CS_SOH_STATE_TAG;
  out->capacity_Ah = st.capacity.capacity_Ah;
  out->a_xx = st.capacity.a_xx;
  out->a_xy = st.capacity.a_xy;
  out->b_xx = st.capacity.b_xx;
  out->b_xy = st.capacity.b_xy;
  out->b_yy = st.capacity.b_yy;
  out->r0_scale = st.r0_scale;
  out->r0_scale_var = st.r0_scale_var;
  out->anchor_soc = st.anchor_soc;
  out->anchor_soc_var = st.anchor_soc_var;
  out->charge_Ah = st.charge_Ah;
  out->charge_var_Ah2 = st.charge_var_Ah2;
  out->prev_residual_V = st.prev_residual_V;
  out->prev_g_V = st.prev_g_V;
  out->prev_current_A = st.prev_current_A;
  out->anchored = st.anchored;
  out->prev_valid = st.prev_valid;
  for (int r = 0; r < CS_SOH_OCV_STATES; ++r) {
    out->ocv_x[r] = st.ocv_x[r];
    for (int c = 0; c < CS_SOH_OCV_STATES; ++c) { out->ocv_P[r][c] = st.ocv_P[r][c]; }
  }
  out->ocv_resync = st.ocv_resync;
  out->rest_s = st.rest_s;
  out->anchor_age_s = st.anchor_age_s;
  return CS_SOH_OK;
}

int cs_soh_restore_state(cs_soh* soh, cs_estimator* est, const cs_soh_state* in) {
  Impl* e = impl_of(est);
  SohImpl* s = soh_of(soh);
  if (e == nullptr || s == nullptr || in == nullptr) { return CS_SOH_NOT_INITIALISED; }
  if (in->tag != CS_SOH_STATE_TAG) { return CS_SOH_BAD_TAG; }
  cellsense::soh::SohState<float> st{};
  st.capacity = cellsense::soh::CapacitySums<float>{in->capacity_Ah, in->a_xx, in->a_xy, in->b_xx, in->b_xy, in->b_yy};
  st.r0_scale = in->r0_scale;
  st.r0_scale_var = in->r0_scale_var;
  st.anchor_soc = in->anchor_soc;
  st.anchor_soc_var = in->anchor_soc_var;
  st.charge_Ah = in->charge_Ah;
  st.charge_var_Ah2 = in->charge_var_Ah2;
  st.prev_residual_V = in->prev_residual_V;
  st.prev_g_V = in->prev_g_V;
  st.prev_current_A = in->prev_current_A;
  st.anchored = in->anchored;
  st.prev_valid = in->prev_valid;
  for (int r = 0; r < CS_SOH_OCV_STATES; ++r) {
    st.ocv_x[r] = in->ocv_x[r];
    for (int c = 0; c < CS_SOH_OCV_STATES; ++c) { st.ocv_P[r][c] = in->ocv_P[r][c]; }
  }
  st.ocv_resync = in->ocv_resync;
  st.rest_s = in->rest_s;
  st.anchor_age_s = in->anchor_age_s;
  {  // SOCs the tracker keeps within the SOC filter's bounds while running (anchor, OCV filter's SOC)
    const float lo = visit(*e, [](const auto& x) { return x.config().soc_min; });
    const float hi = visit(*e, [](const auto& x) { return x.config().soc_max; });
    if (!(in->anchor_soc >= lo && in->anchor_soc <= hi) || !(in->ocv_x[0] >= lo && in->ocv_x[0] <= hi)) {
      return CS_SOH_REFUSED;
    }
  }
  bool ok = false;
  visit_soh(*e, *s, [&](auto& est_ref, auto& tr) { ok = tr.set_state(est_ref, st); });
  return ok ? CS_SOH_OK : CS_SOH_REFUSED;
}

int cs_soh_ocv_nodes(const cs_soh* soh, float out_V[CS_SOH_OCV_NODES]) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): read-only use of the mutable accessor
  SohImpl* s = soh_of(const_cast<cs_soh*>(soh));
  if (s == nullptr || out_V == nullptr) { return CS_SOH_NOT_INITIALISED; }
  const float* nodes =
      s->filter == CS_FILTER_UKF ? tracker<UkfTracker>(*s).ocv_nodes_V() : tracker<EkfTracker>(*s).ocv_nodes_V();
  for (int j = 0; j < CS_SOH_OCV_NODES; ++j) { out_V[j] = nodes[j]; }
  return CS_SOH_OK;
}

}  // extern "C"
