// SPDX-License-Identifier: Apache-2.0
// The C API's SOH part (cpp/include/cellsense/c_api.h, "State of health"; docs/soh.md): a cs_soh beside
// a cs_estimator runs the core's soh::SohTracker (capacity, R0, OCV learning) over the same filter.
// The estimator storage, its header check and the filter visitor are shared with cpp/src/c_api.cpp
// through cpp/src/c_api_internal.hpp. No heap, no exceptions, no RTTI, no static state.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

#include "c_api_internal.hpp"
#include "cellsense/soh/soh_tracker.hpp"

namespace {

using cellsense::StepStatus;
using cellsense::c_api_detail::aligned_for;
using cellsense::c_api_detail::as;
using cellsense::c_api_detail::EkfEstimator;
using cellsense::c_api_detail::fill_report;
using cellsense::c_api_detail::finite;
using cellsense::c_api_detail::header_ok;
using cellsense::c_api_detail::Impl;
using cellsense::c_api_detail::impl_of;
using cellsense::c_api_detail::seal;
using cellsense::c_api_detail::UkfEstimator;
using cellsense::c_api_detail::visit;

// ---- SOH storage ----------------------------------------------------------------------------
using EkfTracker = cellsense::soh::SohTracker<EkfEstimator>;
using UkfTracker = cellsense::soh::SohTracker<UkfEstimator>;
constexpr std::uint32_t kSohMagic = 0x43534853u;  // "CSHS"
constexpr std::size_t kSohBody = sizeof(EkfTracker) > sizeof(UkfTracker) ? sizeof(EkfTracker) : sizeof(UkfTracker);
struct SohImpl {  // header as Impl's, then the estimator the tracker is bound to
  std::uint32_t magic;
  std::uint8_t filter;
  std::uint8_t filter_inv;
  std::uint16_t seal;
  std::uint64_t bound;  // address_of() the estimator storage: set by cs_soh_init and cs_soh_restore_state
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
// The estimator storage's identity as the tracker records it (its address; 64 bits on every target).
std::uint64_t address_of(const cs_estimator* est) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): an address kept as a number, never dereferenced
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(est));
}
bool bound_to(const SohImpl& s, const cs_estimator* est) { return s.bound == address_of(est); }

template <class Tr>
Tr& tracker(SohImpl& i) { return *std::launder(static_cast<Tr*>(static_cast<void*>(i.body))); }

// Calls fn(estimator, tracker) for the filter both were set up with (they must agree).
// The estimator's filter byte names a filter this build has (cs_init refuses the others), as visit() relies
// on: no fall-through for a filter left out of the build.
template <class Fn>
bool visit_soh(Impl& e, SohImpl& s, Fn&& fn) {
  if (e.filter != s.filter) { return false; }
#if CS_ENABLE_EKF && CS_ENABLE_UKF
  if (e.filter == CS_FILTER_UKF) {
    fn(as<UkfEstimator>(e), tracker<UkfTracker>(s));
  } else {
    fn(as<EkfEstimator>(e), tracker<EkfTracker>(s));
  }
#elif CS_ENABLE_UKF
  fn(as<UkfEstimator>(e), tracker<UkfTracker>(s));
#else
  fn(as<EkfEstimator>(e), tracker<EkfTracker>(s));
#endif
  return true;
}

}  // namespace

extern "C" {

void cs_soh_config_default(cs_soh_config* c, float capacity_Ah) {
  if (c == nullptr) { return; }
  std::memset(c, 0, sizeof *c);
  const cellsense::soh::SohConfig<float> d{};
  // <= 0: a 1 A h cell's settings; NaN / Inf stay so (the capacity-scaled settings not finite: cs_soh_init refuses)
  const float q = capacity_Ah <= 0.0f ? 1.0f : capacity_Ah;
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
  c->r0_min_dt_s = d.r0_min_dt_s;
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
  // "not initialised": the header first; the whole storage only with an initialised estimator, whose cs_init checked
  // the layout tag (and with it the firmware's CS_SOH_SIZE: a stale header's cs_soh may be smaller)
  std::memset(soh->opaque, 0, offsetof(SohImpl, body));
  Impl* e = impl_of(est);
  if (e == nullptr || c == nullptr) { return CS_SOH_NOT_INITIALISED; }
  std::memset(soh->opaque, 0, sizeof soh->opaque);
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
  sc.r0_min_dt_s = c->r0_min_dt_s;
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
  s->bound = address_of(est);
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
  const bool other = e != nullptr && s != nullptr && !bound_to(*s, est);
  if (e != nullptr && s != nullptr && !other) {
    visit_soh(*e, *s, [&](auto& est_ref, auto& tr) { r = tr.step(est_ref, dt_s, current_A, voltage_V, temperature_degC); });
  }
  const auto status = other ? static_cast<uint8_t>(CS_STATUS_SOH_OTHER_ESTIMATOR) : static_cast<uint8_t>(r.soc.status);
  if (report != nullptr) {
    fill_report(report, r.soc);
    report->status = status;
  }
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
  if (e == nullptr || s == nullptr) { return -CS_SOH_NOT_INITIALISED; }
  if (!bound_to(*s, est)) { return -CS_SOH_OTHER_ESTIMATOR; }
  bool closed = false;
  if (!visit_soh(*e, *s, [&](auto& est_ref, auto& tr) { closed = tr.close_pair(est_ref); })) {
    return -CS_SOH_NOT_INITIALISED;  // the other filter's estimator
  }
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
  out->r0_window_s = st.r0_window_s;
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
  st.r0_window_s = in->r0_window_s;
  {  // SOCs the tracker keeps within the SOC filter's bounds while running (anchor, OCV filter's SOC)
    const float lo = visit(*e, [](const auto& x) { return x.config().soc_min; });
    const float hi = visit(*e, [](const auto& x) { return x.config().soc_max; });
    if (!(in->anchor_soc >= lo && in->anchor_soc <= hi) || !(in->ocv_x[0] >= lo && in->ocv_x[0] <= hi)) {
      return CS_SOH_REFUSED;
    }
  }
  bool ok = false;
  visit_soh(*e, *s, [&](auto& est_ref, auto& tr) { ok = tr.set_state(est_ref, st); });
  if (!ok) { return CS_SOH_REFUSED; }
  s->bound = address_of(est);  // bound to this estimator from now on (the one after a reboot)
  return CS_SOH_OK;
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
