// SPDX-License-Identifier: Apache-2.0
// The values an ECM state may hold when it is restored from outside (the C API's cs_restore_state, the
// Python estimators' restore_state): the bounds the filter keeps while it runs, beyond what
// Estimator::set_state checks (every value finite, the SOC within [soc_min, soc_max], P symmetric
// positive definite). One rule, named, for every caller (issue #13):
//   - each RC voltage within +-kRestoredVRcMax_V: the RC voltages are polarisation across the cell's RC
//     pairs, a fraction of its voltage window; 5 V is beyond any single cell (lithium-ion windows are
//     < 2 V) and refuses corrupt states (1e6 V) while leaving room for other chemistries;
//   - the hysteresis state h in [-1, 1] (Plett 2004's one-state hysteresis model keeps |h| <= 1);
//   - the hysteresis sign in {-1, 0, +1}.
// No heap, no I/O; the answer is a code.
#pragma once

#include <cstdint>

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
};

/// The rule an issue breaks, in words.
constexpr const char* restored_state_message(RestoredStateIssue i) {
  switch (i) {
    case RestoredStateIssue::kOk: return "ok";
    case RestoredStateIssue::kRcVoltage: return "an RC voltage must be finite and within +-5 V";
    case RestoredStateIssue::kHysteresis: return "the hysteresis state must be finite and in [-1, 1]";
    case RestoredStateIssue::kHysteresisSign: return "the hysteresis sign must be -1, 0 or 1";
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

}  // namespace model
}  // namespace cellsense
