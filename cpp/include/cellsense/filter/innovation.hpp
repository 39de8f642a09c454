// SPDX-License-Identifier: Apache-2.0
// The scalar-measurement innovation shared by the EKF and the UKF.
#pragma once

#include <cmath>
#include <type_traits>

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
  CELLSENSE_UNROLL
  for (int i = 0; i < N; ++i) {
    if (!(p(i, i) > T(0))) { return false; }
  }
  return true;
}

/// covariance_ok() for a P that is symmetric by construction (one triangle computed and the other
/// mirrored, or symmetrised): the strictly lower triangle holds the same values as the upper one,
/// so checking the diagonal and the upper triangle is the same check. |v| <= 3e38 is
/// math::is_finite(v) (NaN fails the comparison), in one comparison instead of two.
template <typename T, int N>
bool symmetric_covariance_ok(const math::Matrix<T, N, N>& p) {
  CELLSENSE_UNROLL
  for (int i = 0; i < N; ++i) {
    if (!(p(i, i) > T(0) && p(i, i) <= T(3.0e38))) { return false; }
    CELLSENSE_UNROLL
    for (int j = i + 1; j < N; ++j) {
      if (!(std::fabs(p(i, j)) <= T(3.0e38))) { return false; }
    }
  }
  return true;
}

/// math::all_finite() of a vector, one comparison per element (as symmetric_covariance_ok()).
template <typename T, int N>
bool vector_finite(const math::Vector<T, N>& v) {
  CELLSENSE_UNROLL
  for (int i = 0; i < N; ++i) {
    if (!(std::fabs(v(i, 0)) <= T(3.0e38))) { return false; }
  }
  return true;
}

namespace detail {
// Structure a model may declare (static constexpr bool members, see model/ecm.hpp); a model that
// does not declare one gets the general path.
template <class M, class = void>
struct DiagonalF : std::false_type {};
template <class M>
struct DiagonalF<M, std::void_t<decltype(M::kDiagonalF)>> : std::integral_constant<bool, M::kDiagonalF> {};
template <class M, class = void>
struct LinearTransition : std::false_type {};
template <class M>
struct LinearTransition<M, std::void_t<decltype(M::kLinearTransition)>>
    : std::integral_constant<bool, M::kLinearTransition> {};
template <class M, class = void>
struct StructuredH : std::false_type {};
template <class M>
struct StructuredH<M, std::void_t<decltype(M::kStructuredH)>> : std::integral_constant<bool, M::kStructuredH> {};
template <class M, class = void>
struct NonlinearOnlyInState0 : std::false_type {};
template <class M>
struct NonlinearOnlyInState0<M, std::void_t<decltype(M::kMeasurementNonlinearOnlyInState0)>>
    : std::integral_constant<bool, M::kMeasurementNonlinearOnlyInState0> {};

/// h v for the model's measurement Jacobian row h and a contiguous vector v (N entries): the
/// model's structured product when it declares one (the same terms in the same order without the
/// exact products with -1), else the dense sum from 0.
template <class Model, typename T, int N>
T jacobian_dot(const math::Matrix<T, 1, N>& h, const T* v) {
  if constexpr (StructuredH<Model>::value) {
    return Model::jacobian_dot(h, v);
  } else {
    T acc = T(0);
    CELLSENSE_UNROLL
    for (int j = 0; j < N; ++j) { acc = acc + v[j] * h(0, j); }
    return acc;
  }
}

/// The linearised time update x- = f(x+), P- = F P+ F^T + Q (the EKF's, Simon eq. 13.47; for a
/// model with a linear transition also the exact unscented transform). Only the upper triangle of
/// P- is computed and mirrored: P- is exactly symmetric. With a diagonal F (Model::kDiagonalF)
/// the entries are q_ij + (f_i p_ij) f_j: the products of F P F^T without its zero terms.
/// Returns false when x- or P- is not finite or a variance is not positive; `out` is then
/// unspecified (callers pass scratch storage and keep their estimate).
template <class Model, typename T, int N>
bool linearised_time_update(const Model& m, const typename Model::Step& s, const Gaussian<T, N>& in,
                            Gaussian<T, N>& out) {
  out.x = m.predict(s, in.x);
  const auto q = m.process_noise(s);
  if constexpr (DiagonalF<Model>::value) {
    const auto f = m.process_jacobian_diagonal(s);
    CELLSENSE_UNROLL
    for (int i = 0; i < N; ++i) {
      const T fi = f(i, 0);
      CELLSENSE_UNROLL
      for (int j = i; j < N; ++j) {
        const T v = q(i, j) + fi * in.P(i, j) * f(j, 0);
        out.P(i, j) = v;
        out.P(j, i) = v;
      }
    }
  } else {
    const auto f = m.process_jacobian(s);
    out.P = f * in.P * transpose(f) + q;
    math::symmetrise(out.P);
  }
  return vector_finite(out.x) && symmetric_covariance_ok(out.P);
}
}  // namespace detail

}  // namespace filter
}  // namespace cellsense
