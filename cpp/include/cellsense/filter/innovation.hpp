// SPDX-License-Identifier: Apache-2.0
// The scalar-measurement innovation shared by the EKF and the UKF.
#pragma once

#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace filter {

/// What a filter computes before deciding to fuse a scalar measurement y.
/// P_xy = P H^T for the EKF, the sigma-point cross-covariance for the UKF.
template <typename T, int N>
struct Innovation {
  T predicted;                      ///< y_hat, predicted measurement
  T innovation;                     ///< y - y_hat
  T variance;                       ///< S, innovation variance (includes R)
  T nis;                            ///< normalised innovation squared, (y - y_hat)^2 / S
  math::Vector<T, N> cross_cov;     ///< P_xy
  math::Matrix<T, 1, N> jacobian;   ///< H (EKF only; zero for the UKF)
};

/// A state estimate: mean and covariance.
template <typename T, int N>
struct Gaussian {
  math::Vector<T, N> x;
  math::Matrix<T, N, N> P;
};

/// Covariance sanity check run after every update: finite, symmetric by construction, strictly
/// positive diagonal. The last-resort guard of PX4's EKF2 habit: a failed check rejects the
/// step (the caller keeps its old state) instead of letting a bad P propagate.
template <typename T, int N>
bool covariance_ok(const math::Matrix<T, N, N>& p) {
  if (!math::all_finite(p)) { return false; }
  for (int i = 0; i < N; ++i) {
    if (!(p(i, i) > T(0))) { return false; }
  }
  return true;
}

}  // namespace filter
}  // namespace cellsense
