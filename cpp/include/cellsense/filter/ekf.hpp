// SPDX-License-Identifier: Apache-2.0
// Extended Kalman filter for a scalar measurement: analytic Jacobians, Joseph-form update,
// symmetrised covariance. Failures are return values; outputs are written only on success.
#pragma once

#include "cellsense/filter/innovation.hpp"
#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace filter {

/// EKF over a model exposing predict / process_jacobian / process_noise / measure /
/// measurement_jacobian (see model/ecm.hpp). Equations: Simon, "Optimal State Estimation",
/// Wiley 2006, sec. 13.2; Plett 2004 "Part 2", Table 1.
template <class Model>
class Ekf {
 public:
  using T = typename Model::Scalar;
  static constexpr int N = Model::kStates;
  using Step = typename Model::Step;
  using G = Gaussian<T, N>;

  struct Config {};  ///< the EKF has no tuning of its own

  Ekf() = default;
  explicit Ekf(const Config&) {}

  /// Time update: x- = f(x+), P- = F P+ F^T + Q (Simon eq. 13.47). When the model declares a
  /// diagonal F (Model::kDiagonalF), F P F^T is evaluated as f_i f_j P_ij: the same products
  /// without the zero terms.
  bool predict(const Model& m, const Step& s, const G& in, G& out) const {
    G g;
    g.x = m.predict(s, in.x);
    g.P = m.process_noise(s);
    if constexpr (Model::kDiagonalF) {
      const auto f = m.process_jacobian_diagonal(s);
      for (int i = 0; i < N; ++i) {
        for (int j = 0; j < N; ++j) { g.P(i, j) = g.P(i, j) + f(i, 0) * in.P(i, j) * f(j, 0); }
      }
    } else {
      const auto f = m.process_jacobian(s);
      g.P = f * in.P * transpose(f) + g.P;
    }
    math::symmetrise(g.P);
    if (!math::all_finite(g.x) || !covariance_ok(g.P)) { return false; }
    out = g;
    return true;
  }

  /// Innovation of measurement y against the prior: y_hat = h(x-), S = H P- H^T + R.
  bool innovate(const Model& m, const Step& s, const G& prior, T y, T r, Innovation<T, N>& out) const {
    Innovation<T, N> in;
    in.predicted = m.measure_with_jacobian(s, prior.x, in.jacobian);
    in.cross_cov = prior.P * transpose(in.jacobian);  // P H^T
    const auto hph = in.jacobian * in.cross_cov;
    in.variance = hph(0, 0) + r;
    in.innovation = y - in.predicted;
    if (!(in.variance > T(0)) || !math::is_finite(in.variance) || !math::is_finite(in.innovation)) {
      return false;
    }
    in.nis = in.innovation * in.innovation / in.variance;
    out = in;
    return true;
  }

  /// Measurement update, Joseph form (Bucy & Joseph 1968; Simon eq. 5.19):
  ///   K = P H^T / S,  x+ = x- + K (y - y_hat),  P+ = (I - K H) P- (I - K H)^T + K R K^T.
  /// Evaluated with rank-one terms (same products, re-associated; no dense (I - K H)):
  ///   u = P- H^T,  A = P- - K u^T  (= (I - K H) P-),  w = A H^T,
  ///   P+ = A - w K^T + R K K^T     (= A (I - K H)^T + K R K^T).
  bool update(const G& prior, const Innovation<T, N>& in, T r, G& out) const {
    const T inv_s = T(1) / in.variance;
    T k[N];
    for (int i = 0; i < N; ++i) { k[i] = in.cross_cov(i, 0) * inv_s; }
    G g;
    for (int i = 0; i < N; ++i) { g.x(i, 0) = prior.x(i, 0) + k[i] * in.innovation; }
    math::Matrix<T, N, N> a;
    for (int i = 0; i < N; ++i) {
      for (int j = 0; j < N; ++j) { a(i, j) = prior.P(i, j) - k[i] * in.cross_cov(j, 0); }
    }
    T w[N];
    for (int i = 0; i < N; ++i) {
      T acc = T(0);
      for (int j = 0; j < N; ++j) { acc = acc + a(i, j) * in.jacobian(0, j); }
      w[i] = acc;
    }
    for (int i = 0; i < N; ++i) {
      for (int j = 0; j < N; ++j) { g.P(i, j) = a(i, j) - w[i] * k[j] + r * k[i] * k[j]; }
    }
    math::symmetrise(g.P);
    if (!math::all_finite(g.x) || !covariance_ok(g.P)) { return false; }
    out = g;
    return true;
  }
};

}  // namespace filter
}  // namespace cellsense
