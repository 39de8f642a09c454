// SPDX-License-Identifier: Apache-2.0
// Recursive approximate weighted total-least-squares (AWTLS) estimate of a cell's total capacity.
//
// Model (G. L. Plett, "Recursive approximate weighted total least squares estimation of battery
// cell total capacity", J. Power Sources 196 (2011) 2319-2331, sec. 2): pairs
//   x_i = z(t1) - z(t2)                    change of SOC between two instants (SOC filter), noise var sx_i^2
//   y_i = sum eta i dt / 3600               charge that passed in between (A h), noise var sy_i^2
// satisfy y_i = Q x_i. Both x and y are noisy, so ordinary (weighted) least squares is biased; the
// weighted total-least-squares cost is (Plett 2011, eq. for chi^2_WTLS)
//   chi^2(Q) = sum_i (y_i - Q x_i)^2 / (sy_i^2 + Q^2 sx_i^2).
// Its stationary point satisfies, with w_i = 1 / (sy_i^2 + Q^2 sx_i^2) and dw_i/dQ = -2 Q sx_i^2 w_i^2,
//   sum w_i x_i (y_i - Q x_i) + Q sum w_i^2 sx_i^2 (y_i - Q x_i)^2 = 0.
// Approximation used here (our own, in the spirit of Plett's AWTLS, not his quartic): each pair's
// weight w_i is frozen at the estimate current when the pair arrives, which leaves five recursive
// sums and a cubic in Q
//   f(Q) = b_xx Q^3 - 2 b_xy Q^2 + (b_yy - a_xx) Q + a_xy = 0,
//   a_xx = sum w x^2, a_xy = sum w x y, b_xx = sum w^2 sx^2 x^2, b_xy = sum w^2 sx^2 x y, b_yy = sum w^2 sx^2 y^2,
// solved by Newton's method from the previous estimate. With sx = 0 it is weighted least squares
// (Q = a_xy / a_xx); with sy = 0 and the weights at the solution it is the exact WTLS answer
// (Q = sum y^2/sx^2 / sum x y/sx^2). Fading memory (Plett 2011, sec. 5): every sum is multiplied by
// gamma in (0, 1] before a new pair is added. Initialisation (Plett 2011, sec. 5): one synthetic pair
// x0 = 1, y0 = Q0 with sy0 = the prior's sigma, sx0 = 0. Uncertainty: sigma_Q^2 = 1 / a_xx (the
// inverse of the cost's curvature 1/2 d2chi^2/dQ2 at the minimum, leading term).
//
// Not guaranteed: the SOC estimates behind x are not independent of the capacity the SOC filter
// used; gating pairs on a minimum |x| and a maximum SOC sigma (soh/soh_tracker.hpp) keeps that bias
// small (docs/soh.md). No heap, no exceptions; a refused update changes nothing.
#pragma once

#include <cmath>
#include <cstdint>

#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace soh {

/// The recursive sums and the estimate (what is saved and restored).
template <typename T>
struct CapacitySums {
  T capacity_Ah;  ///< current estimate Q (A h)
  T a_xx;         ///< sum gamma^k w x^2 (1/A^2 h^2 * ... ; the information on Q, 1/(A h)^2)
  T a_xy;         ///< sum gamma^k w x y
  T b_xx;         ///< sum gamma^k w^2 sx^2 x^2
  T b_xy;         ///< sum gamma^k w^2 sx^2 x y
  T b_yy;         ///< sum gamma^k w^2 sx^2 y^2
};

template <typename T>
class CapacityAwtls {
 public:
  struct Config {
    T forgetting = T(0.9);       ///< gamma per pair, in (0, 1]
    T capacity_min_Ah = T(0);    ///< estimate bounds (A h), 0 < min < max
    T capacity_max_Ah = T(0);
  };

  /// Which rule of init() a prior and a configuration break (the one rule; soh::SohConfig::check reports it).
  enum class Issue : std::uint8_t {
    kOk = 0,
    kForgetting = 1,     ///< forgetting outside (0, 1]
    kBounds = 2,         ///< not 0 < capacity_min_Ah < capacity_max_Ah <= 1e30 A h
    kPriorOutside = 3,   ///< capacity0_Ah outside [capacity_min_Ah, capacity_max_Ah]
    kSigma = 4,          ///< sigma0_Ah outside (0, 1e15] A h
  };

  /// The first rule init() would refuse, kOk if none (NaN fails every bound).
  static Issue check(T capacity0_Ah, T sigma0_Ah, const Config& c) {
    if (!(c.forgetting > T(0) && c.forgetting <= T(1))) { return Issue::kForgetting; }
    if (!(c.capacity_min_Ah > T(0)) || !(c.capacity_max_Ah > c.capacity_min_Ah) || !(c.capacity_max_Ah <= T(1.0e30))) {
      return Issue::kBounds;
    }
    if (!(capacity0_Ah >= c.capacity_min_Ah && capacity0_Ah <= c.capacity_max_Ah)) { return Issue::kPriorOutside; }
    if (!(sigma0_Ah > T(0) && sigma0_Ah <= T(1.0e15))) { return Issue::kSigma; }
    return Issue::kOk;
  }

  /// Prior Q0 +- sigma0 (the synthetic pair). False (unchanged) if out of range (check()).
  bool init(T capacity0_Ah, T sigma0_Ah, const Config& c) {
    if (check(capacity0_Ah, sigma0_Ah, c) != Issue::kOk) { return false; }
    config_ = c;
    const T w = T(1) / (sigma0_Ah * sigma0_Ah);  // x0 = 1, sx0 = 0
    s_ = CapacitySums<T>{capacity0_Ah, w, w * capacity0_Ah, T(0), T(0), T(0)};
    return true;
  }

  /// Add the pair (x, y) with noise variances var_x (SOC^2) and var_y (A^2 h^2). False, with the
  /// state unchanged, when the inputs are not finite, a variance is not positive / negative, or the
  /// new estimate is not finite.
  bool update(T x, T var_x, T y, T var_y) {
    if (!finite(x) || !finite(y) || !(var_x >= T(0) && var_x <= kBig) || !(var_y >= T(0) && var_y <= kBig) ||
        !(var_x + var_y > T(0))) {
      return false;
    }
    const T g = config_.forgetting;
    const T q = s_.capacity_Ah;
    const T w = T(1) / (var_y + q * q * var_x);  // weight frozen at the current estimate
    const T w2sx = w * w * var_x;
    CapacitySums<T> n;
    n.a_xx = g * s_.a_xx + w * x * x;
    n.a_xy = g * s_.a_xy + w * x * y;
    n.b_xx = g * s_.b_xx + w2sx * x * x;
    n.b_xy = g * s_.b_xy + w2sx * x * y;
    n.b_yy = g * s_.b_yy + w2sx * y * y;
    // Newton on f(Q) = b_xx Q^3 - 2 b_xy Q^2 + (b_yy - a_xx) Q + a_xy from the previous estimate.
    T qn = q;
    for (int it = 0; it < 4; ++it) {
      const T f = ((n.b_xx * qn - T(2) * n.b_xy) * qn + (n.b_yy - n.a_xx)) * qn + n.a_xy;
      const T df = (T(3) * n.b_xx * qn - T(4) * n.b_xy) * qn + (n.b_yy - n.a_xx);
      if (!(df < T(0))) { break; }  // the cost's minimum has f' < 0; otherwise keep the last iterate
      qn = qn - f / df;
    }
    if (!finite(qn) || !(n.a_xx > T(0)) || !finite(n.a_xx) || !finite(n.a_xy) || !finite(n.b_xx) ||
        !finite(n.b_xy) || !finite(n.b_yy)) {
      return false;
    }
    n.capacity_Ah = math::clamp(qn, config_.capacity_min_Ah, config_.capacity_max_Ah);
    s_ = n;
    return true;
  }

  T capacity_Ah() const { return s_.capacity_Ah; }
  /// 1 sigma of the estimate, 1 / sqrt(a_xx) (A h). a_xx > 0 always: the default sums have 1, and init(),
  /// update() and set_sums() store only a_xx > 0.
  T sigma_Ah() const { return T(1) / std::sqrt(s_.a_xx); }
  const CapacitySums<T>& sums() const { return s_; }
  const Config& config() const { return config_; }

  /// Restore saved sums. Refused (false, unchanged) unless finite, a_xx > 0, b_xx >= 0, b_yy >= 0
  /// and the capacity within the configured bounds.
  bool set_sums(const CapacitySums<T>& in) {
    if (!finite(in.capacity_Ah) || !finite(in.a_xx) || !finite(in.a_xy) || !finite(in.b_xx) || !finite(in.b_xy) ||
        !finite(in.b_yy) || !(in.a_xx > T(0)) || !(in.b_xx >= T(0)) || !(in.b_yy >= T(0)) ||
        !(in.capacity_Ah >= config_.capacity_min_Ah && in.capacity_Ah <= config_.capacity_max_Ah)) {
      return false;
    }
    s_ = in;
    return true;
  }

 private:
  static constexpr T kBig = T(3.0e38);
  static bool finite(T v) { return std::fabs(v) <= kBig; }
  Config config_{};
  CapacitySums<T> s_{T(1), T(1), T(1), T(0), T(0), T(0)};
};

}  // namespace soh
}  // namespace cellsense
