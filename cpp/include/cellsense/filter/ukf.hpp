// SPDX-License-Identifier: Apache-2.0
// Unscented Kalman filter with scaled sigma points, for a scalar measurement.
#pragma once

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
    for (int i = 0; i < N; ++i) {
      for (int r = 0; r < N; ++r) {
        chi[1 + i](r, 0) = g.x(r, 0) + l(r, i);
        chi[1 + N + i](r, 0) = g.x(r, 0) - l(r, i);
      }
    }
    return true;
  }

  /// Time update: propagate the sigma points through f, x- = sum Wm chi', P- = sum Wc dd^T + Q.
  bool predict(const Model& m, const Step& s, const G& in, G& out) const {
    State chi[kSigma];
    if (!sigma_points(in, chi)) { return false; }
    for (int i = 0; i < kSigma; ++i) { chi[i] = m.predict(s, chi[i]); }
    G g;
    for (int r = 0; r < N; ++r) {
      T acc = chi[0](r, 0) * wm0_;
      for (int i = 1; i < kSigma; ++i) { acc = acc + chi[i](r, 0) * wi_; }
      g.x(r, 0) = acc;
    }
    g.P = m.process_noise(s);
    for (int i = 0; i < kSigma; ++i) {
      const T w = i == 0 ? wc0_ : wi_;
      T d[N];
      for (int r = 0; r < N; ++r) { d[r] = chi[i](r, 0) - g.x(r, 0); }
      for (int r = 0; r < N; ++r) {
        for (int c = 0; c < N; ++c) { g.P(r, c) = g.P(r, c) + d[r] * d[c] * w; }
      }
    }
    math::symmetrise(g.P);
    if (!math::all_finite(g.x) || !covariance_ok(g.P)) { return false; }
    out = g;
    return true;
  }

  /// Innovation: gamma_i = h(chi_i) on sigma points redrawn from the prior,
  /// y_hat = sum Wm gamma, S = sum Wc (gamma - y_hat)^2 + R, P_xy = sum Wc (chi - x-)(gamma - y_hat).
  bool innovate(const Model& m, const Step& s, const G& prior, T y, T r, Innovation<T, N>& out) const {
    State chi[kSigma];
    if (!sigma_points(prior, chi)) { return false; }
    T gamma[kSigma];
    for (int i = 0; i < kSigma; ++i) { gamma[i] = m.measure(s, chi[i]); }
    Innovation<T, N> in;
    in.predicted = gamma[0] * wm0_;
    for (int i = 1; i < kSigma; ++i) { in.predicted = in.predicted + gamma[i] * wi_; }
    in.variance = r;
    in.cross_cov = State::zero();
    for (int i = 0; i < kSigma; ++i) {
      const T w = i == 0 ? wc0_ : wi_;
      const T dy = gamma[i] - in.predicted;
      in.variance = in.variance + w * dy * dy;
      const T wdy = w * dy;
      for (int k = 0; k < N; ++k) { in.cross_cov(k, 0) = in.cross_cov(k, 0) + (chi[i](k, 0) - prior.x(k, 0)) * wdy; }
    }
    in.jacobian = math::Matrix<T, 1, N>::zero();
    in.innovation = y - in.predicted;
    if (!(in.variance > T(0)) || !math::is_finite(in.variance) || !math::is_finite(in.innovation)) {
      return false;
    }
    in.nis = in.innovation * in.innovation / in.variance;
    out = in;
    return true;
  }

  /// K = P_xy / S, x+ = x- + K (y - y_hat), P+ = P- - K S K^T (Wan & van der Merwe 2000, Alg. 3.1),
  /// then symmetrised and checked by a Cholesky factorisation (positive definite or rejected).
  bool update(const G& prior, const Innovation<T, N>& in, T /*r*/, G& out) const {
    const T inv_s = T(1) / in.variance;
    T k[N];
    for (int i = 0; i < N; ++i) { k[i] = in.cross_cov(i, 0) * inv_s; }
    G g;
    for (int i = 0; i < N; ++i) { g.x(i, 0) = prior.x(i, 0) + k[i] * in.innovation; }
    for (int i = 0; i < N; ++i) {
      for (int j = 0; j < N; ++j) { g.P(i, j) = prior.P(i, j) - k[i] * k[j] * in.variance; }
    }
    math::symmetrise(g.P);
    math::Matrix<T, N, N> l;
    if (!math::all_finite(g.x) || !covariance_ok(g.P) || !math::cholesky(g.P, l)) { return false; }
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
