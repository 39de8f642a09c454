// Unit tests: soh/ocv_filter.hpp (the SOH tracker's OCV filter on its own, beside an estimator on the
// synthetic cell of cells.hpp), EKF float and UKF double.
#include <cmath>
#include <cstring>
#include <limits>

#include "cellsense/soh/ocv_filter.hpp"
#include "cells.hpp"
#include "check.hpp"

using namespace cellsense;

namespace {

template <class E>
struct Bench {
  using T = typename E::T;
  using M = typename E::Model;
  typename M::Params p;
  E est;
  soh::SohConfig<T> c;
  soh::SohState<T> st{};
  soh::OcvFilter<E> f;
  bool ok = false;
  explicit Bench(T soc0, bool flat = false) {
    if (flat) {
      cstest::make_flat_cell(p);
    } else {
      cstest::make_cell(p);
    }
    const M m(&p, typename M::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)});
    typename M::State x;
    typename M::Cov P;
    M::initial(soc0, T(0.05), T(0.02), T(0), T(0.5), x, P);
    EstimatorConfig<T> cfg = cstest::config_2025<T>();
    cfg.voltage_sigma_V = T(0.01);
    ok = est.init(m, cfg, typename E::FilterConfig{}, x, P, typename M::Aux{T(0)}) == InitStatus::kOk;
    f.init(est, c, st);
    // the tracker's rest timer (soh_tracker.hpp), which these tests do not run: a relaxed rest, so a rest sample is
    // evidence (kOcvMinRest_s; test_soh.cpp::test_ocv_waits_for_relaxation checks the wait)
    st.rest_s = T(soh::kOcvMinRest_s);
  }
  /// The terminal voltage the model gives at the OCV filter's SOC (no correction yet), plus `offset_V`.
  T voltage(T current_A, T offset_V) const {
    auto xs = est.state();
    xs(0, 0) = st.ocv_x[0];
    const auto meas = est.model().measurement_step(est.aux(), current_A, T(25));
    typename M::Row h;
    return est.model().measure_with_jacobian(meas, xs, h) + offset_V;
  }
  bool nodes_same(const soh::SohState<T>& other) const {
    return std::memcmp(st.ocv_x + 1, other.ocv_x + 1, sizeof(T) * model::kEcmOcvNodes) == 0;
  }
};

/// init(): nodes 0 with the prior sigma^2 rho^|i - j|, the filter's SOC and its variance from the SOC
/// filter, no cross-covariance; the drop limits positive and at most half the steepest OCV slope times
/// a segment's width; the state passes state_ok(). keep_monotonic() leaves nodes that keep the
/// corrected OCV increasing as they are, and projects any others so that no segment drops by more
/// than its limit.
// verifies: CS-SOH-011
template <class E>
void test_init_and_monotonic(const char* name) {
  using T = typename E::T;
  Bench<E> b(T(0.5));
  CHECK_CTX(b.ok, name);
  constexpr int n = soh::kOcvFilterStates;
  const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
  const double s2 = static_cast<double>(b.c.ocv_sigma_V) * static_cast<double>(b.c.ocv_sigma_V);
  bool prior_ok = b.st.ocv_x[0] == b.est.soc() && b.st.ocv_P[0][0] == b.est.covariance()(0, 0);
  for (int r = 1; r < n; ++r) {
    prior_ok = prior_ok && b.st.ocv_x[r] == T(0) && b.st.ocv_P[0][r] == T(0) && b.st.ocv_P[r][0] == T(0);
    for (int k = 1; k < n; ++k) {
      const double want = s2 * std::pow(static_cast<double>(soh::kOcvPriorCorrelation), std::abs(r - k));
      prior_ok = prior_ok && std::fabs(static_cast<double>(b.st.ocv_P[r][k]) - want) < tol * s2 &&
                 b.st.ocv_P[r][k] == b.st.ocv_P[k][r];
    }
  }
  CHECK_CTX(prior_ok, name);
  CHECK_CTX(soh::OcvFilter<E>::state_ok(b.st), name);
  // the synthetic OCV's chord slopes lie in [0.7, 1.0] V per unit SOC: drop in [0.35, 0.5] / 6 V
  for (int j = 0; j <= model::kEcmOcvNodes; ++j) {
    CHECK_CTX(b.f.max_drop_V(j) > T(0.35 / 6) && b.f.max_drop_V(j) < T(0.5 / 6), name);
  }
  // a flat OCV (plateau 0.4 .. 0.6, segments 2 and 3): no drop allowed there
  Bench<E> flat(T(0.5), true);
  CHECK_CTX(flat.f.max_drop_V(2) == T(0) && flat.f.max_drop_V(3) == T(0) && flat.f.max_drop_V(1) > T(0), name);
  // nodes that keep the OCV increasing: untouched, bit for bit
  T good[model::kEcmOcvNodes] = {T(0.01), T(0.02), T(-0.01), T(0), T(0.03)};
  T copy[model::kEcmOcvNodes];
  std::memcpy(copy, good, sizeof good);
  b.f.keep_monotonic(good);
  CHECK_CTX(std::memcmp(copy, good, sizeof good) == 0, name);
  // random nodes within +-0.2 V: after the projection no segment drops by more than its limit
  cstest::Rng rng;
  bool all_ok = true;
  int changed = 0;
  for (int trial = 0; trial < 200; ++trial) {
    T c[model::kEcmOcvNodes];
    for (T& v : c) { v = static_cast<T>(0.4 * rng.uniform() - 0.2); }
    std::memcpy(copy, c, sizeof c);
    b.f.keep_monotonic(c);
    changed += std::memcmp(copy, c, sizeof c) != 0 ? 1 : 0;
    for (int j = 0; j <= model::kEcmOcvNodes; ++j) {  // segment j runs from node j - 1 to node j (0 at the ends)
      const double lo = j == 0 ? 0.0 : static_cast<double>(c[j - 1]);
      const double hi = j == model::kEcmOcvNodes ? 0.0 : static_cast<double>(c[j]);
      all_ok = all_ok && hi - lo >= -static_cast<double>(b.f.max_drop_V(j)) - 1e-6;
    }
  }
  CHECK_CTX(all_ok, name);
  CHECK_CTX(changed > 150, name);
}

/// step(): with the SOC known to 0.1 %, fused rest samples 20 mV above the model raise the nodes
/// around the SOC (the nearest most, towards 20 mV) and lower their variance (the nodes passed on to the
/// estimator's model after each update, as the tracker does); the SOC count follows the current; a sample not fused,
/// gated out (1 V off), under load with ocv_load_fraction 0, or (with a current-offset model) before
/// the first trusted anchor only predicts: nodes unchanged bit for bit, variances grown. Nodes stay
/// within +-ocv_max_V. After a resync the first step restarts the SOC from the SOC filter and does
/// nothing else. A non-finite prediction leaves the whole filter state unchanged.
// verifies: CS-SOH-012
template <class E>
void test_step(const char* name) {
  using T = typename E::T;
  constexpr int n = soh::kOcvFilterStates;
  {  // learning at rest
    Bench<E> b(T(0.5));
    CHECK_CTX(b.ok, name);
    b.st.ocv_P[0][0] = T(1e-6);
    const T p33 = b.st.ocv_P[3][3];
    const T v = b.voltage(T(0), T(0.02));
    int updates = 0;
    for (int k = 0; k < 30; ++k) {
      if (b.f.step(b.est, b.c, b.st, T(1), T(0), v, T(25), true)) {
        ++updates;
        CHECK_CTX(b.est.set_model_ocv_correction(b.st.ocv_x + 1), name);  // as the tracker does
      }
    }
    const T* c = b.st.ocv_x + 1;
    CHECK_CTX(updates == 30, name);
    CHECK_CTX(c[2] > T(0.015) && c[2] < T(0.021), name);  // node at SOC 3/6 = 0.5
    CHECK_CTX(c[2] > c[1] && c[2] > c[3] && c[1] > T(0) && c[3] > T(0), name);
    CHECK_CTX(b.st.ocv_P[3][3] < T(0.5) * p33, name);
    CHECK_CTX(soh::OcvFilter<E>::state_ok(b.st), name);
  }
  {  // the count: z_c -= i dt / (3600 Q) on discharge; not fused: prediction only
    Bench<E> b(T(0.5));
    const auto before = b.st;
    CHECK_CTX(!b.f.step(b.est, b.c, b.st, T(1), T(2.5), T(3.6), T(25), false), name);
    CHECK_CTX(std::fabs(static_cast<double>(before.ocv_x[0] - b.st.ocv_x[0]) - 1.0 / 3600) < 1e-7, name);
    CHECK_CTX(b.nodes_same(before) && b.st.ocv_P[0][0] > before.ocv_P[0][0], name);
    bool capped = true;  // the nodes' variances grow by their random walk up to the prior's (which they are at)
    for (int j = 1; j < n; ++j) { capped = capped && b.st.ocv_P[j][j] == b.c.ocv_sigma_V * b.c.ocv_sigma_V; }
    CHECK_CTX(capped, name);
    b.st.ocv_P[2][2] = T(1e-4);
    CHECK_CTX(!b.f.step(b.est, b.c, b.st, T(100), T(0), T(3.6), T(25), false), name);
    CHECK_CTX(std::fabs(static_cast<double>(b.st.ocv_P[2][2]) - (1e-4 + 1e-10 * 100)) < 1e-9, name);
  }
  {  // gated: 1 V off
    Bench<E> b(T(0.5));
    const auto before = b.st;
    CHECK_CTX(!b.f.step(b.est, b.c, b.st, T(1), T(0), b.voltage(T(0), T(1)), T(25), true), name);
    CHECK_CTX(b.nodes_same(before), name);
  }
  {  // under load: learned only with ocv_load_fraction > 0
    Bench<E> b(T(0.5));
    b.c.ocv_load_fraction = T(0);
    const auto before = b.st;
    CHECK_CTX(!b.f.step(b.est, b.c, b.st, T(1), T(2), b.voltage(T(2), T(0.02)), T(25), true), name);
    CHECK_CTX(b.nodes_same(before), name);
    b.c.ocv_load_fraction = T(1);
    CHECK_CTX(b.f.step(b.est, b.c, b.st, T(1), T(2), b.voltage(T(2), T(0.02)), T(25), true), name);
    CHECK_CTX(!b.nodes_same(before), name);
  }
  {  // current-offset model: no update before a trusted anchor, updates after it
    Bench<E> b(T(0.5));
    b.c.current_offset_sigma_A = T(0.025);
    b.st.anchor_age_s = T(soh::kRestCap_s);
    const auto before = b.st;
    CHECK_CTX(!b.f.step(b.est, b.c, b.st, T(1), T(0), b.voltage(T(0), T(0.02)), T(25), true), name);
    CHECK_CTX(b.nodes_same(before), name);
    b.st.anchor_age_s = T(60);
    CHECK_CTX(b.f.step(b.est, b.c, b.st, T(1), T(0), b.voltage(T(0), T(0.02)), T(25), true), name);
  }
  {  // nodes held within +-ocv_max_V
    Bench<E> b(T(0.5));
    b.c.ocv_max_V = T(0.004);
    b.st.ocv_P[0][0] = T(1e-6);
    const T v = b.voltage(T(0), T(0.02));
    for (int k = 0; k < 30; ++k) {
      if (b.f.step(b.est, b.c, b.st, T(1), T(0), v, T(25), true)) { b.est.set_model_ocv_correction(b.st.ocv_x + 1); }
    }
    CHECK_CTX(b.st.ocv_x[3] == T(0.004) && soh::OcvFilter<E>::nodes_in_bound(b.c, b.st), name);
  }
  {  // resync: restart the SOC from the SOC filter, nothing else
    Bench<E> b(T(0.5));
    b.st.ocv_x[0] = T(0.7);
    b.st.ocv_P[0][1] = b.st.ocv_P[1][0] = T(1e-5);
    b.st.ocv_resync = 1;
    const auto before = b.st;
    CHECK_CTX(!b.f.step(b.est, b.c, b.st, T(1), T(0), b.voltage(T(0), T(0.02)), T(25), true), name);
    CHECK_CTX(b.st.ocv_resync == 0 && b.st.ocv_x[0] == b.est.soc() && b.st.ocv_P[0][1] == T(0), name);
    CHECK_CTX(b.nodes_same(before) && b.st.ocv_P[0][0] == b.est.covariance()(0, 0), name);
  }
  {  // a non-finite prediction changes nothing: an infinite interval (SOC NaN), a 1e38 s one (covariance overflows)
    Bench<E> b(T(0.5));
    const auto before = b.st;
    CHECK_CTX(!b.f.step(b.est, b.c, b.st, std::numeric_limits<T>::infinity(), T(0), T(3.6), T(25), true), name);
    CHECK_CTX(std::memcmp(&before, &b.st, sizeof before) == 0, name);
    CHECK_CTX(!b.f.step(b.est, b.c, b.st, T(1e38), T(0), T(3.6), T(25), true), name);
    CHECK_CTX(std::memcmp(&before, &b.st, sizeof before) == 0, name);
  }
  {  // a non-finite voltage is not learned from (the prediction stands)
    Bench<E> b(T(0.5));
    const auto before = b.st;
    CHECK_CTX(!b.f.step(b.est, b.c, b.st, T(1), T(0), std::numeric_limits<T>::quiet_NaN(), T(25), true), name);
    CHECK_CTX(b.nodes_same(before), name);
  }
  {  // an update whose posterior SOC variance rounds to <= 0 (restored P_zz huge against R) is not stored
    Bench<E> b(T(0.5));
    b.st.ocv_P[0][0] = sizeof(T) == 4 ? T(1e10) : T(1e20);
    const T v = b.voltage(T(0), T(0.02));
    const auto before = b.st;
    CHECK_CTX(!b.f.step(b.est, b.c, b.st, T(1), T(0), v, T(25), true), name);
    CHECK_CTX(b.nodes_same(before), name);
  }
}

/// state_ok() refuses a non-finite state, an asymmetric or not positive definite covariance and nodes
/// beyond +-1 V; nodes_in_bound() refuses nodes beyond +-ocv_max_V.
// verifies: CS-SOH-013
template <class E>
void test_state_checks(const char* name) {
  using T = typename E::T;
  using F = soh::OcvFilter<E>;
  Bench<E> b(T(0.5));
  CHECK_CTX(F::state_ok(b.st) && F::nodes_in_bound(b.c, b.st), name);
  auto s = b.st;
  s.ocv_x[0] = std::numeric_limits<T>::quiet_NaN();
  CHECK_CTX(!F::state_ok(s), name);
  s = b.st;
  s.ocv_P[2][4] = std::numeric_limits<T>::infinity();
  CHECK_CTX(!F::state_ok(s), name);
  s = b.st;
  s.ocv_P[1][2] = std::nextafter(s.ocv_P[2][1], T(1));  // asymmetric by one ulp, either way
  CHECK_CTX(!F::state_ok(s), name);
  s = b.st;
  s.ocv_P[2][1] = std::nextafter(s.ocv_P[1][2], T(1));
  CHECK_CTX(!F::state_ok(s), name);
  s = b.st;
  s.ocv_P[3][3] = -T(1e-4);
  CHECK_CTX(!F::state_ok(s), name);
  s = b.st;
  s.ocv_x[2] = T(1.5);
  CHECK_CTX(!F::state_ok(s) && !F::nodes_in_bound(b.c, s), name);
  s = b.st;
  s.ocv_x[2] = T(-1.5);
  CHECK_CTX(!F::state_ok(s), name);
  s = b.st;
  s.ocv_x[4] = T(-0.2);
  CHECK_CTX(F::state_ok(s) && !F::nodes_in_bound(b.c, s), name);
  s.ocv_x[4] = T(0.05);
  CHECK_CTX(F::nodes_in_bound(b.c, s), name);
}

}  // namespace

int main() {
  test_init_and_monotonic<EcmEkf<float, 2>>("ekf float");
  test_init_and_monotonic<EcmUkf<double, 2>>("ukf double");
  test_step<EcmEkf<float, 2>>("ekf float");
  test_step<EcmUkf<double, 2>>("ukf double");
  test_state_checks<EcmEkf<float, 2>>("ekf float");
  test_state_checks<EcmUkf<double, 2>>("ukf double");
  return cstest::finish("test_ocv_filter");
}
