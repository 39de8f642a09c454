// SPDX-License-Identifier: Apache-2.0
// The values an ECM state may hold when it is restored from outside (the C API's cs_restore_state, the
// Python estimators' restore_state): the bounds the filter keeps while it runs, beyond what
// Estimator::set_state checks (every value finite, the SOC within [soc_min, soc_max], P symmetric
// positive definite). One rule, named, for every caller (issue #13):
//   - each RC voltage within +-kRestoredVRcMax_V: the RC voltages are polarisation across the cell's RC
//     pairs, a fraction of its voltage window; 5 V is beyond any single cell (lithium-ion windows are
//     < 2 V) and refuses corrupt states (1e6 V) while leaving room for other chemistries;
//   - the hysteresis state h in [-1, 1] (Plett 2004's one-state hysteresis model keeps |h| <= 1);
//   - the hysteresis sign in {-1, 0, +1};
//   - each variance (P's diagonal) at most the square of its state's largest magnitude: SOC sigma <= 1,
//     RC-voltage sigma <= kRestoredVRcMax_V, hysteresis sigma <= 1. A wider sigma says nothing more than
//     "unknown", and a covariance that is positive definite but absurd (fuzzing found RC and hysteresis
//     variances of 5.9e13 V^2 with the two RC voltages correlated at -0.9999) loses positive-definiteness
//     to float32 cancellation in the next ordinary step. A running filter never comes near these ceilings
//     (its initial sigmas are 0.25, 0.02 V, 0.5 by default and each state's variance is bounded by its
//     decay or by the fusion of the voltage).
// No heap, no I/O; the answer is a code.
#pragma once

#include <cstdint>
#include <type_traits>

#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace model {

/// Bound of a restored RC voltage (V); the C API's CS_STATE_V_RC_MAX_V is static_assert-ed equal.
inline constexpr double kRestoredVRcMax_V = 5.0;
static_assert(kRestoredVRcMax_V >= 5.0 && kRestoredVRcMax_V <= 5.0, "restored_state_message says 5 V");

/// What is wrong with a restored state's values (check_restored_state).
enum class RestoredStateIssue : std::uint8_t {
  kOk = 0,
  kRcVoltage = 1,       ///< an RC voltage not finite or beyond +-kRestoredVRcMax_V
  kHysteresis = 2,      ///< the hysteresis state not finite or outside [-1, 1]
  kHysteresisSign = 3,  ///< the hysteresis sign not -1, 0 or +1
  kVariance = 4,        ///< a variance (P's diagonal) not finite, not positive or above its ceiling
};

/// The rule an issue breaks, in words.
constexpr const char* restored_state_message(RestoredStateIssue i) {
  switch (i) {
    case RestoredStateIssue::kOk: return "ok";
    case RestoredStateIssue::kRcVoltage: return "an RC voltage must be finite and within +-5 V";
    case RestoredStateIssue::kHysteresis: return "the hysteresis state must be finite and in [-1, 1]";
    case RestoredStateIssue::kHysteresisSign: return "the hysteresis sign must be -1, 0 or 1";
    case RestoredStateIssue::kVariance:
      return "a variance must be positive and at most the square of its state's bound (SOC 1, RC voltage 5 V, "
             "hysteresis 1)";
  }
  return "unknown";
}

/// s in {-1, 0, +1} (the hysteresis sign; Model::Aux::current_sign), written without float == (-Wfloat-equal).
template <typename S>
constexpr bool valid_hysteresis_sign(S s) {
  return math::is_finite(s) && s >= S(-1) && s <= S(1) && (s <= S(-1) || s >= S(1) || !(s < S(0) || s > S(0)));
}

/// The first value of ECM state `x` (layout Model::Idx: soc, v_rc1..v_rcN, hysteresis) and hysteresis
/// sign outside the bounds above, kOk if none; `index` is the state entry (-1 for the sign, or kOk).
/// Works on any vector with (row, 0) access of Model::kStates entries, in the model's scalar or double.
template <class Model, class V, typename S>
RestoredStateIssue check_restored_state(const V& x, S hysteresis_sign, int& index) {
  using Idx = typename Model::Idx;
  index = -1;
  const S v_max = static_cast<S>(kRestoredVRcMax_V);
  for (int j = Idx::v_rc1; j < Idx::hysteresis; ++j) {
    const S v = x(j, 0);
    if (!math::is_finite(v) || v < -v_max || v > v_max) {
      index = j;
      return RestoredStateIssue::kRcVoltage;
    }
  }
  const S h = x(Idx::hysteresis, 0);
  if (!math::is_finite(h) || h < S(-1) || h > S(1)) {
    index = Idx::hysteresis;
    return RestoredStateIssue::kHysteresis;
  }
  if (!valid_hysteresis_sign(hysteresis_sign)) { return RestoredStateIssue::kHysteresisSign; }
  return RestoredStateIssue::kOk;
}

/// The first variance of ECM covariance `p` (layout Model::Idx) that is not finite, not positive or above its
/// ceiling (SOC 1, RC voltages kRestoredVRcMax_V^2, hysteresis 1; header comment), kOk if none; `index` is its
/// state entry (-1 if kOk). The off-diagonal terms are the set_state's (symmetry, Cholesky). Any matrix with
/// (row, col) access of Model::kStates x Model::kStates entries, in the model's scalar or double.
template <class Model, class M>
RestoredStateIssue check_restored_covariance(const M& p, int& index) {
  using Idx = typename Model::Idx;
  index = -1;
  using S = typename std::decay<decltype(p(0, 0))>::type;  // the matrix's scalar: no double on a float MCU
  const S rc_ceiling = static_cast<S>(kRestoredVRcMax_V * kRestoredVRcMax_V);
  for (int j = 0; j <= Idx::hysteresis; ++j) {
    const S v = p(j, j);
    const S ceiling = (j >= Idx::v_rc1 && j < Idx::hysteresis) ? rc_ceiling : S(1);  // SOC and h: sigma <= 1
    if (!math::is_finite(v) || !(v > S(0)) || v > ceiling) {
      index = j;
      return RestoredStateIssue::kVariance;
    }
  }
  return RestoredStateIssue::kOk;
}

}  // namespace model
}  // namespace cellsense
