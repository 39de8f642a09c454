// SPDX-License-Identifier: Apache-2.0
// Unscented Kalman filter with scaled sigma points, for a scalar measurement.
#pragma once

#include <cmath>

#include "cellsense/filter/innovation.hpp"
#include "cellsense/math/cholesky.hpp"
#include "cellsense/math/matrix.hpp"

namespace cellsense {
namespace filter {

/// Scaled unscented transform (Julier, "The scaled unscented transformation", ACC 2002; weights
/// as in Wan & van der Merwe, "The unscented Kalman filter for nonlinear estimation", 2000):
///   lambda = alpha^2 (n + kappa) - n
///   Wm0 = lambda / (n + lambda),  Wc0 = Wm0 + 1 - alpha^2 + beta,  Wi = 1 / (2 (n + lambda))
///   chi_0 = x,  chi_i = x + [sqrt((n + lambda) P)]_i,  chi_{n+i} = x - [sqrt((n + lambda) P)]_i
/// with the matrix square root the lower Cholesky factor (columns). The measurement update draws
/// the sigma points again from the predicted (x-, P-), so the additive process noise Q is seen by
/// the measurement transform. The Cholesky factorisation reports failure; the step is then
/// rejected and nothing is written.
/// Exactness property used by predict(): when the model declares a transition that is linear in
/// the state for the sample (Model::kLinearTransition, as the ECM's x' = F x + u), the unscented
/// transform of the time update is exact, and F P F^T + Q is evaluated in closed form instead of
/// propagating sigma points (see predict()). Models without that declaration get the sigma points.
template <class Model>
class Ukf {
 public:
  using T = typename Model::Scalar;
  static constexpr int N = Model::kStates;
  static constexpr int kSigma = 2 * N + 1;
  using Step = typename Model::Step;
  using G = Gaussian<T, N>;
  using State = math::Vector<T, N>;

  /// Defaults alpha = 1, beta = 2, kappa = 0 keep every weight non-negative (Wm0 = 0): with a
  /// small alpha (1e-3) Wm0 is about -1e6 and float32 loses the covariance to cancellation.
  struct Config {
    T alpha = T(1);
    T beta = T(2);
    T kappa = T(0);
  };

  Ukf() : Ukf(Config{}) {}
  explicit Ukf(const Config& c) {
    const T n = static_cast<T>(N);
    const T lambda = c.alpha * c.alpha * (n + c.kappa) - n;
    scale_ = n + lambda;
    wm0_ = lambda / scale_;
    wc0_ = wm0_ + (T(1) - c.alpha * c.alpha + c.beta);
    wi_ = T(1) / (T(2) * scale_);
  }

  T weight_mean0() const { return wm0_; }
  T weight_cov0() const { return wc0_; }
  T weight_i() const { return wi_; }

  /// Sigma points of (x, P). False when (n + lambda) P is not positive definite.
  bool sigma_points(const G& g, State (&chi)[kSigma]) const {
    if (!(scale_ > T(0))) { return false; }
    math::Matrix<T, N, N> l;
    if (!math::cholesky(g.P * scale_, l)) { return false; }
    chi[0] = g.x;
    CELLSENSE_UNROLL
    for (int i = 0; i < N; ++i) {
      CELLSENSE_UNROLL
      for (int r = 0; r < N; ++r) {
        chi[1 + i](r, 0) = g.x(r, 0) + l(r, i);
        chi[1 + N + i](r, 0) = g.x(r, 0) - l(r, i);
      }
    }
    return true;
  }

  /// Time update. For a model whose transition is linear in the state for the sample
  /// (Model::kLinearTransition: f(x) = F x + u with F independent of x, as the ECM's), the
  /// unscented transform is exact, and x- = F x+ + u, P- = F P+ F^T + Q is what it computes in
  /// exact arithmetic: sum Wm (F chi_i + u) = F x + u because the weights sum to one, the centre
  /// point's deviation F chi_0 + u - x- is zero (so Wc0 drops out), and
  /// sum_i Wi (F L_i)(F L_i)^T over the 2n points +-L_i, L L^T = (n + lambda) P, is F P F^T.
  /// That closed form is evaluated instead (detail::linearised_time_update: one triangle, mirrored):
  /// fewer roundings, no square root of P+ in the time update (P+ was factorised when it was
  /// accepted, and the measurement update factorises P- again). For any other model the sigma
  /// points are propagated through f: x- = sum Wm chi', P- = sum Wc d d^T + Q.
  /// On failure `out` is unspecified.
  bool predict(const Model& m, const Step& s, const G& in, G& out) const {
    if constexpr (detail::LinearTransition<Model>::value) {
      return detail::linearised_time_update(m, s, in, out);
    } else {
      State chi[kSigma];
      if (!sigma_points(in, chi)) { return false; }
      CELLSENSE_UNROLL
      for (int i = 0; i < kSigma; ++i) { chi[i] = m.predict(s, chi[i]); }
      CELLSENSE_UNROLL
      for (int r = 0; r < N; ++r) {
        T acc = chi[0](r, 0) * wm0_;
        CELLSENSE_UNROLL
        for (int i = 1; i < kSigma; ++i) { acc = acc + chi[i](r, 0) * wi_; }
        out.x(r, 0) = acc;
      }
      out.P = m.process_noise(s);
      CELLSENSE_UNROLL
      for (int i = 0; i < kSigma; ++i) {
        const T w = i == 0 ? wc0_ : wi_;
        T d[N];
        CELLSENSE_UNROLL
        for (int r = 0; r < N; ++r) { d[r] = chi[i](r, 0) - out.x(r, 0); }
        CELLSENSE_UNROLL
        for (int r = 0; r < N; ++r) {
          CELLSENSE_UNROLL
          for (int c = r; c < N; ++c) { out.P(r, c) = out.P(r, c) + d[r] * d[c] * w; }
        }
      }
      CELLSENSE_UNROLL
      for (int r = 0; r < N; ++r) {
        CELLSENSE_UNROLL
        for (int c = r + 1; c < N; ++c) { out.P(c, r) = out.P(r, c); }
      }
      return vector_finite(out.x) && symmetric_covariance_ok(out.P);
    }
  }

  /// Innovation: gamma_i = h(chi_i) on sigma points redrawn from the prior,
  /// y_hat = sum Wm gamma, S = sum Wc (gamma - y_hat)^2 + R, P_xy = sum Wc (chi - x-)(gamma - y_hat).
  /// When the measurement is nonlinear only in state 0 (Model::kMeasurementNonlinearOnlyInState0:
  /// the ECM reads its tables at the SOC only), the table values at the mean's state 0 are read once
  /// and reused for the 2(n - 1) sigma points x +- L_i, i >= 1: L is lower triangular, so their
  /// state 0 is x_0 +- 0 = x_0 and h(chi_i) is the same arithmetic on the same values.
  /// On failure `out` is unspecified.
  bool innovate(const Model& m, const Step& s, const G& prior, T y, T r, Innovation<T, N>& out) const {
    State chi[kSigma];
    if (!sigma_points(prior, chi)) { return false; }
    T gamma[kSigma];
    if constexpr (detail::NonlinearOnlyInState0<Model>::value) {
      const auto mp = m.measure_point(s, chi[0](0, 0));
      gamma[0] = m.measure_at(s, mp, chi[0]);
      gamma[1] = m.measure(s, chi[1]);
      gamma[1 + N] = m.measure(s, chi[1 + N]);
      for (int i = 1; i < N; ++i) {
        gamma[1 + i] = m.measure_at(s, mp, chi[1 + i]);
        gamma[1 + N + i] = m.measure_at(s, mp, chi[1 + N + i]);
      }
    } else {
      for (int i = 0; i < kSigma; ++i) { gamma[i] = m.measure(s, chi[i]); }
    }
    T predicted = gamma[0] * wm0_;
    for (int i = 1; i < kSigma; ++i) { predicted = predicted + gamma[i] * wi_; }
    T variance = r;
    T cross[N] = {};
    for (int i = 0; i < kSigma; ++i) {
      const T w = i == 0 ? wc0_ : wi_;
      const T dy = gamma[i] - predicted;
      variance = variance + w * dy * dy;
      const T wdy = w * dy;
      CELLSENSE_UNROLL
      for (int k = 0; k < N; ++k) { cross[k] = cross[k] + (chi[i](k, 0) - prior.x(k, 0)) * wdy; }
    }
    out.predicted = predicted;
    out.variance = variance;
    CELLSENSE_UNROLL
    for (int k = 0; k < N; ++k) {
      out.cross_cov(k, 0) = cross[k];
      out.jacobian(0, k) = T(0);
    }
    out.innovation = y - predicted;
    if (!(variance > T(0) && variance <= T(3.0e38)) || !(std::fabs(out.innovation) <= T(3.0e38))) {
      return false;
    }
    out.nis = out.innovation * out.innovation / variance;
    return true;
  }

  /// K = P_xy / S, x+ = x- + K (y - y_hat), P+ = P- - K S K^T (Wan & van der Merwe 2000, Alg. 3.1),
  /// one triangle computed and mirrored (exactly symmetric), and checked by a Cholesky
  /// factorisation (positive definite or rejected). `out` is written only on success, so it may
  /// be the caller's current estimate.
  bool update(const G& prior, const Innovation<T, N>& in, T /*r*/, G& out) const {
    const T inv_s = T(1) / in.variance;
    G g;
    T k[N];
    CELLSENSE_UNROLL
    for (int i = 0; i < N; ++i) {
      k[i] = in.cross_cov(i, 0) * inv_s;
      g.x(i, 0) = prior.x(i, 0) + k[i] * in.innovation;
    }
    CELLSENSE_UNROLL
    for (int i = 0; i < N; ++i) {
      CELLSENSE_UNROLL
      for (int j = i; j < N; ++j) {
        const T v = prior.P(i, j) - k[i] * k[j] * in.variance;
        g.P(i, j) = v;
        g.P(j, i) = v;
      }
    }
    math::Matrix<T, N, N> l;
    if (!vector_finite(g.x) || !symmetric_covariance_ok(g.P) || !math::cholesky(g.P, l)) { return false; }
    out = g;
    return true;
  }

 private:
  T scale_ = T(1);  ///< n + lambda
  T wm0_ = T(0);
  T wc0_ = T(0);
  T wi_ = T(0);
};

}  // namespace filter
}  // namespace cellsense
