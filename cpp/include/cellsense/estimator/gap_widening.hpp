// SPDX-License-Identifier: Apache-2.0
// Logger gaps in a whole log: a step longer than the estimator's dt_max_s is rejected (LogClock reports the
// gap on the next sample it steps), so the charge that moved while nothing was logged is missing from the
// SOC. The SOC variance grows by (mean |i| x gap / 3600 / Q)^2, mean |i| being the recent absolute current
// (an exponential average over the stepped samples, time constant kCurrentTau_s), the SOC sigma capped at
// kSocSigmaMax, so the voltage pulls the SOC back instead of the filter trusting a stale value. The rule
// lived in the Python bindings; the core owns it (issue #13).
// Steps rejected for a reading (CS-CLK-011): a step whose interval was valid but whose temperature, voltage or current
// reading was refused (out of range, non-finite), gated or numerically refused leaves the estimate as it was, so the
// charge that flowed over that interval is not counted either (a 2C charge whose cell temperature passed the cell
// file's 80 degC limit for 540 s lost 1.5 A h, 26 SOC points, at a 0.4 % sigma; a desert-heat sweep, 2026-12-07).
// The magnitude of that charge (|i| dt with the step's current when that reading is usable, else the recent mean
// |current|) is summed over the rejected steps, and the first step accepted after them widens the SOC variance by
// (charge / 3600 / Q)^2 as a gap does, capped alike: the voltage pulls the SOC back instead of a stale value being
// reported with its old sigma.
// No heap, no I/O.
#pragma once

#include <cmath>
#include <cstdint>

#include "cellsense/estimator/status.hpp"
#include "cellsense/math/matrix.hpp"

namespace cellsense {

/// The recent mean |current| and what a gap adds to the SOC variance.
struct GapWidening {
  static constexpr double kCurrentTau_s = 300.0;  ///< time constant of the mean |current| (s)
  static constexpr double kSocSigmaMax = 0.3;     ///< SOC sigma a gap may widen to, at most (1)
  double mean_abs_current_A = -1.0;               ///< recent mean |current| (A); < 0 before the first sample
  double lost_As = 0.0;  ///< |charge| (A s) of the steps rejected for a reading since the last accepted step

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
    return with_charge(v0, mean_abs_current_A * gap_s, capacity_Ah);
  }

  /// min(v0 + (charge_As / (3600 capacity_Ah))^2, kSocSigmaMax^2): the SOC variance once an uncounted charge's
  /// magnitude (A s) is added (a gap's, soc_variance_after; the rejected steps', soc_variance_after_lost).
  static double with_charge(double v0, double charge_As, double capacity_Ah) {
    const double s_add = charge_As / (3600.0 * capacity_Ah);
    const double v1 = v0 + s_add * s_add;
    const double cap = kSocSigmaMax * kSocSigmaMax;
    return cap < v1 ? cap : v1;  // std::min(v1, cap)
  }

  /// Whether a step of this status was rejected for one of its readings after a valid interval (CS-CLK-011): its
  /// charge was not counted. Not a dt rejection (no interval, or a logger gap: soc_variance_after) nor a step that ran.
  static bool loses_charge(std::uint8_t status) {
    return status == static_cast<std::uint8_t>(StepStatus::kRejectedNonFinite) ||
           status == static_cast<std::uint8_t>(StepStatus::kRejectedCurrent) ||
           status == static_cast<std::uint8_t>(StepStatus::kRejectedVoltage) ||
           status == static_cast<std::uint8_t>(StepStatus::kRejectedTemperature) ||
           status == static_cast<std::uint8_t>(StepStatus::kRejectedInnovationGate) ||
           status == static_cast<std::uint8_t>(StepStatus::kRejectedNumerical);
  }

  /// A step of dt_s seconds rejected with `status`: when loses_charge(status), its charge's magnitude is added to
  /// lost_As, with the step's |current| when that reading is usable (finite and not itself refused as out of
  /// range), else the recent mean |current| (none before the first sample). Anything else: nothing.
  void lost(double dt_s, double current_A, std::uint8_t status) {
    if (!loses_charge(status) || !(dt_s > 0.0) || !math::is_finite(dt_s)) { return; }
    const bool usable = math::is_finite(current_A) && status != static_cast<std::uint8_t>(StepStatus::kRejectedCurrent);
    const double i_A = usable ? std::fabs(current_A) : (mean_abs_current_A > 0.0 ? mean_abs_current_A : 0.0);
    lost_As += i_A * dt_s;
  }

  /// The SOC variance after the lost charge from variance v0 on a cell of capacity_Ah:
  /// min(v0 + (lost_As / (3600 capacity_Ah))^2, kSocSigmaMax^2); v0 when nothing was lost.
  double soc_variance_after_lost(double v0, double capacity_Ah) const {
    return lost_As > 0.0 ? with_charge(v0, lost_As, capacity_Ah) : v0;
  }
};

namespace detail {
/// Sets the estimator's SOC variance to `variance(v0)` of its current one v0 when that is larger (the rest of the
/// state and covariance unchanged); true then (set_state took it, or refused it, not SPD, and kept its own).
template <class EstimatorT, class F>
bool widen_soc_variance(EstimatorT& est, F variance) {
  using T = typename EstimatorT::T;
  constexpr int soc = EstimatorT::Model::Idx::soc;
  typename EstimatorT::Model::Cov p = est.covariance();
  const double v0 = static_cast<double>(p(soc, soc));
  const double v1 = variance(v0);
  if (!(v1 > v0)) { return false; }
  p(soc, soc) = static_cast<T>(v1);
  est.set_state(est.state(), p, est.aux());
  return true;
}
}  // namespace detail

/// Widens the estimator's SOC variance for a gap (GapWidening::soc_variance_after with the model's
/// nominal capacity `capacity_Ah`). True when the variance was to grow: the estimator's set_state then
/// took the widened covariance, or refused it (not SPD) and kept its own.
template <class EstimatorT>
bool widen_for_gap(EstimatorT& est, const GapWidening& g, double gap_s, double capacity_Ah) {
  return detail::widen_soc_variance(est, [&](double v0) { return g.soc_variance_after(v0, gap_s, capacity_Ah); });
}

/// Widens the estimator's SOC variance by the charge lost over the steps rejected for a reading since the last
/// accepted one (GapWidening::soc_variance_after_lost, CS-CLK-011) and clears it: call after an accepted step. True
/// when the variance was to grow (the estimator's set_state took it, or refused it, not SPD, and kept its own).
template <class EstimatorT>
bool widen_for_lost_charge(EstimatorT& est, GapWidening& g, double capacity_Ah) {
  if (!(g.lost_As > 0.0)) { return false; }
  const bool widened =
      detail::widen_soc_variance(est, [&](double v0) { return g.soc_variance_after_lost(v0, capacity_Ah); });
  g.lost_As = 0.0;
  return widened;
}

}  // namespace cellsense
