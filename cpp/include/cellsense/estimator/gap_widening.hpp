// SPDX-License-Identifier: Apache-2.0
// Logger gaps in a whole log: a step longer than the estimator's dt_max_s is rejected (LogClock reports the
// gap on the next sample it steps), so the charge that moved while nothing was logged is missing from the
// SOC. The SOC variance grows by (mean |i| x gap / 3600 / Q)^2, mean |i| being the recent absolute current
// (an exponential average over the stepped samples, time constant kCurrentTau_s), the SOC sigma capped at
// kSocSigmaMax, so the voltage pulls the SOC back instead of the filter trusting a stale value. The rule
// lived in the Python bindings; the core owns it (issue #13).
// No heap, no I/O.
#pragma once

#include <cmath>

#include "cellsense/math/matrix.hpp"

namespace cellsense {

/// The recent mean |current| and what a gap adds to the SOC variance.
struct GapWidening {
  static constexpr double kCurrentTau_s = 300.0;  ///< time constant of the mean |current| (s)
  static constexpr double kSocSigmaMax = 0.3;     ///< SOC sigma a gap may widen to, at most (1)
  double mean_abs_current_A = -1.0;               ///< recent mean |current| (A); < 0 before the first sample

  /// A stepped sample (dt_s > 0, its current): updates the mean; ignored when either is not usable.
  void track(double dt_s, double current_A) {
    if (!math::is_finite(current_A) || !(dt_s > 0.0)) { return; }
    const double a = mean_abs_current_A < 0.0 ? 1.0 : dt_s / (kCurrentTau_s + dt_s);
    mean_abs_current_A = (mean_abs_current_A < 0.0 ? 0.0 : mean_abs_current_A) * (1.0 - a) + a * std::fabs(current_A);
  }

  /// The SOC variance after a gap of gap_s seconds from variance v0 on a cell of capacity_Ah:
  /// min(v0 + (mean |i| gap_s / (3600 capacity_Ah))^2, kSocSigmaMax^2); v0 when nothing is to be added.
  double soc_variance_after(double v0, double gap_s, double capacity_Ah) const {
    if (mean_abs_current_A <= 0.0 || !(gap_s > 0.0)) { return v0; }
    const double s_add = mean_abs_current_A * gap_s / (3600.0 * capacity_Ah);
    const double v1 = v0 + s_add * s_add;
    const double cap = kSocSigmaMax * kSocSigmaMax;
    return cap < v1 ? cap : v1;  // std::min(v1, cap)
  }
};

/// Widens the estimator's SOC variance for a gap (GapWidening::soc_variance_after with the model's
/// nominal capacity `capacity_Ah`). True when the variance was to grow: the estimator's set_state then
/// took the widened covariance, or refused it (not SPD) and kept its own.
template <class EstimatorT>
bool widen_for_gap(EstimatorT& est, const GapWidening& g, double gap_s, double capacity_Ah) {
  using T = typename EstimatorT::T;
  constexpr int soc = EstimatorT::Model::Idx::soc;
  typename EstimatorT::Model::Cov p = est.covariance();
  const double v0 = static_cast<double>(p(soc, soc));
  const double v1 = g.soc_variance_after(v0, gap_s, capacity_Ah);
  if (!(v1 > v0)) { return false; }
  p(soc, soc) = static_cast<T>(v1);
  est.set_state(est.state(), p, est.aux());
  return true;
}

}  // namespace cellsense
