// SPDX-License-Identifier: Apache-2.0
// Extended Kalman filter for a scalar measurement: analytic Jacobians, Joseph-form update,
// symmetric covariance (one triangle computed, mirrored). Failures are return values; the
// outputs are scratch until a call returns true (the estimator commits only then).
#pragma once

#include <cmath>

#include "cellsense/filter/innovation.hpp"
#include "cellsense/math/cholesky.hpp"
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
  explicit Ekf(const Config& /*config*/) {}

  /// Time update: x- = f(x+), P- = F P+ F^T + Q (Simon eq. 13.47), P- computed as one triangle
  /// and mirrored; with a diagonal F (Model::kDiagonalF) as f_i p_ij f_j + q_ij, the same products
  /// without the zero terms (detail::linearised_time_update). On failure `out` is unspecified.
  bool predict(const Model& m, const Step& s, const G& in, G& out) const {
    return detail::linearised_time_update(m, s, in, out);
  }

  /// Innovation of measurement y against the prior: y_hat = h(x-), u = P- H^T, S = H u + R.
  /// Products with H use its structure when the model declares one (Model::kStructuredH).
  /// On failure `out` is unspecified.
  bool innovate(const Model& m, const Step& s, const G& prior, T y, T r, Innovation<T, N>& out) const {
    out.predicted = m.measure_with_jacobian(s, prior.x, out.jacobian);
    CELLSENSE_UNROLL
    for (int i = 0; i < N; ++i) {
      out.cross_cov(i, 0) = detail::jacobian_dot<Model>(out.jacobian, prior.P.data[i]);  // (P H^T)_i, P symmetric
    }
    const T hph = detail::jacobian_dot<Model>(out.jacobian, &out.cross_cov.data[0][0]);
    out.variance = hph + r;
    out.innovation = y - out.predicted;
    if (!(out.variance > T(0) && out.variance <= T(3.0e38)) || !(std::fabs(out.innovation) <= T(3.0e38))) {
      return false;
    }
    out.nis = out.innovation * out.innovation / out.variance;
    return true;
  }

  /// Measurement update, Joseph form (Bucy & Joseph 1968; Simon eq. 5.19):
  ///   K = P H^T / S,  x+ = x- + K (y - y_hat),  P+ = (I - K H) P- (I - K H)^T + K R K^T.
  /// Evaluated with rank-one terms (the same products re-associated; no dense I - K H):
  ///   u = P- H^T,  (I - K H) P- = P- - k u^T,  w = (I - K H) u = u - k (h u),
  ///   P+ = P- - k u^T - w k^T + R k k^T
  /// ((I - K H) P- (I - K H)^T = (P- - k u^T)(I - h^T k^T) = P- - k u^T - (P- - k u^T) h^T k^T,
  /// and (P- - k u^T) h^T = u - k (h u)). One triangle of P+ is computed and mirrored, so P+ is
  /// exactly symmetric. The checks are those of vector_finite(x+) and symmetric_covariance_ok(P+).
  /// `out` is written only on success, so it may be the caller's current estimate.
  bool update(const G& prior, const Innovation<T, N>& in, T r, G& out) const {
    const T inv_s = T(1) / in.variance;
    const T* u = &in.cross_cov.data[0][0];
    const T hu = detail::jacobian_dot<Model>(in.jacobian, u);
    T k[N];
    T w[N];
    T rk[N];
    T x[N];
    CELLSENSE_UNROLL
    for (int i = 0; i < N; ++i) {
      k[i] = u[i] * inv_s;
      x[i] = prior.x(i, 0) + k[i] * in.innovation;
      w[i] = u[i] - k[i] * hu;
      rk[i] = r * k[i];
    }
    // The upper triangle, row by row, packed; checked before anything is written to `out` (which
    // may be the caller's estimate itself: it is written only on success).
    T p[N * (N + 1) / 2];
    bool ok = true;
    int n = 0;
    CELLSENSE_UNROLL
    for (int i = 0; i < N; ++i) {
      ok = ok && std::fabs(x[i]) <= T(3.0e38);
      CELLSENSE_UNROLL
      for (int j = i; j < N; ++j) {
        const T v = prior.P(i, j) - k[i] * u[j] - w[i] * k[j] + rk[i] * k[j];
        ok = ok && (j == i ? v > T(0) && v <= T(3.0e38) : std::fabs(v) <= T(3.0e38));
        p[n++] = v;
      }
    }
    if (!ok) { return false; }
    // Positive definite, not only a positive diagonal: in exact arithmetic the Joseph form keeps P
    // PSD, but in float32 with extreme inputs (found by fuzzing: a capacity of 1e-15 Ah made Q ~1e19)
    // cancellation can leave P+ indefinite. Such a step is rejected and nothing is written.
    if (!math::positive_definite_packed<T, N>(p)) { return false; }
    n = 0;
    CELLSENSE_UNROLL
    for (int i = 0; i < N; ++i) {
      out.x(i, 0) = x[i];
      CELLSENSE_UNROLL
      for (int j = i; j < N; ++j) {
        out.P(i, j) = p[n];
        out.P(j, i) = p[n];
        ++n;
      }
    }
    return true;
  }
};

}  // namespace filter
}  // namespace cellsense
