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

  /// Time update: x- = f(x+), P- = F P+ F^T + Q (Simon eq. 13.47).
  bool predict(const Model& m, const Step& s, const G& in, G& out) const {
    const auto f = m.process_jacobian(s);
    G g;
    g.x = m.predict(s, in.x);
    g.P = f * in.P * transpose(f) + m.process_noise(s);
    math::symmetrise(g.P);
    if (!math::all_finite(g.x) || !covariance_ok(g.P)) { return false; }
    out = g;
    return true;
  }

  /// Innovation of measurement y against the prior: y_hat = h(x-), S = H P- H^T + R.
  bool innovate(const Model& m, const Step& s, const G& prior, T y, T r, Innovation<T, N>& out) const {
    Innovation<T, N> in;
    in.predicted = m.measure(s, prior.x);
    in.jacobian = m.measurement_jacobian(s, prior.x);
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
  bool update(const G& prior, const Innovation<T, N>& in, T r, G& out) const {
    const auto k = in.cross_cov * (T(1) / in.variance);
    G g;
    g.x = prior.x + k * in.innovation;
    const auto i_kh = math::Matrix<T, N, N>::identity() - k * in.jacobian;
    g.P = i_kh * prior.P * transpose(i_kh) + (k * transpose(k)) * r;
    math::symmetrise(g.P);
    if (!math::all_finite(g.x) || !covariance_ok(g.P)) { return false; }
    out = g;
    return true;
  }
};

}  // namespace filter
}  // namespace cellsense
