// SPDX-License-Identifier: Apache-2.0
// Internal to the C API's sources (not a public header): what cpp/src/c_api.cpp (estimator, state of
// power, saved state) and cpp/src/c_api_soh.cpp (the SOH part) share - the float32 2-RC ECM types they
// instantiate, the estimator's layout in the caller's cs_estimator storage with its header check, and
// the visitor that calls a function on whichever filter the storage holds. Functions are inline in a
// named namespace, so a firmware linking both objects keeps one copy of each.
//
// Build options (compile definitions, the same for both sources; defaults in brackets):
//   CS_ENABLE_EKF [1], CS_ENABLE_UKF [1]  leave a filter out to save flash; cs_init() then
//                                         returns CS_INIT_BAD_ARGUMENT for it.
#ifndef CELLSENSE_SRC_C_API_INTERNAL_HPP
#define CELLSENSE_SRC_C_API_INTERNAL_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "cellsense/c_api.h"
#include "cellsense/cellsense.hpp"

#ifndef CS_ENABLE_EKF
#define CS_ENABLE_EKF 1
#endif
#ifndef CS_ENABLE_UKF
#define CS_ENABLE_UKF 1
#endif

namespace cellsense {
namespace c_api_detail {

using Params = model::EcmParams<float, CS_RC_PAIRS, CS_MAX_SOC_POINTS, CS_MAX_TEMPERATURE_POINTS>;
using Model = model::EcmModel<float, CS_RC_PAIRS, CS_MAX_SOC_POINTS, CS_MAX_TEMPERATURE_POINTS>;
using EkfEstimator = Estimator<Model, filter::Ekf>;
using UkfEstimator = Estimator<Model, filter::Ukf>;

// ---- What lives in the caller's storage ------------------------------------------------------
inline constexpr std::uint32_t kMagic = 0x43534531u;  // "CSE1": written last by a successful cs_init()
inline constexpr std::size_t kBodySize =
    sizeof(EkfEstimator) > sizeof(UkfEstimator) ? sizeof(EkfEstimator) : sizeof(UkfEstimator);
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
  std::uint16_t stored_seal = 0;
  std::memcpy(&magic, b + offsetof(I, magic), sizeof magic);
  std::memcpy(&stored_seal, b + offsetof(I, seal), sizeof stored_seal);
  const std::uint8_t filter = b[offsetof(I, filter)];
  const std::uint8_t filter_inv = b[offsetof(I, filter_inv)];
  return magic == want && stored_seal == seal_of<I>(want) && static_cast<std::uint8_t>(~filter) == filter_inv &&
         (filter == CS_FILTER_EKF || filter == CS_FILTER_UKF);
}
template <class I>
void seal(I& i, std::uint32_t magic) {
  i.filter_inv = static_cast<std::uint8_t>(~i.filter);
  i.seal = seal_of<I>(magic);
  i.magic = magic;
}

inline Impl* impl_of(cs_estimator* s) {
  if (s == nullptr || !aligned_for<Impl>(s)) { return nullptr; }
  if (!header_ok<Impl>(s->opaque, kMagic)) { return nullptr; }
  return std::launder(static_cast<Impl*>(static_cast<void*>(s->opaque)));
}
// NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): the mutable overload only reads (header check)
inline const Impl* impl_of(const cs_estimator* s) { return impl_of(const_cast<cs_estimator*>(s)); }

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

inline bool finite(float v) { return math::is_finite(v); }

/// The C report from the core's step report (cs_step and cs_step_soh).
inline void fill_report(cs_report* report, const StepReport<float>& r) {
  report->status = static_cast<uint8_t>(r.status);
  report->soc = r.soc;
  report->soc_sigma = r.soc_sigma;
  report->voltage_pred_V = r.voltage_pred_V;
  report->innovation_V = r.innovation_V;
  report->innovation_variance_V2 = r.innovation_variance_V2;
  report->nis = r.nis;
}

}  // namespace c_api_detail
}  // namespace cellsense

#endif  // CELLSENSE_SRC_C_API_INTERNAL_HPP
