// Unit tests: soh/ (capacity AWTLS, SOH tracker with the EKF and the UKF), float and double.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>

#include "cellsense/soh/soh_tracker.hpp"
#include "cells.hpp"
#include "check.hpp"

using namespace cellsense;

namespace {

// verifies: CS-SOH-001
template <typename T>
void test_awtls_exact_and_refusals() {
  soh::CapacityAwtls<T> c;
  typename soh::CapacityAwtls<T>::Config cfg;
  cfg.forgetting = T(0.9);
  cfg.capacity_min_Ah = T(1);
  cfg.capacity_max_Ah = T(10);
  CHECK_T(c.init(T(5), T(0.5), cfg));
  CHECK_T(!c.init(T(5), T(0), cfg));          // sigma 0 refused
  CHECK_T(c.capacity_Ah() == T(5));
  // Noise-free pairs y = 4 x: the estimate goes to 4 (the prior fades).
  for (int k = 0; k < 60; ++k) {
    const T x = T(0.3) + T(0.01) * T(k % 7);
    CHECK_T(c.update(x, T(1e-4), T(4) * x, T(1e-6)));
  }
  CHECK_T(std::fabs(c.capacity_Ah() - T(4)) < T(2e-3));
  CHECK_T(c.sigma_Ah() > T(0));
  // Refusals leave the sums bit for bit.
  const soh::CapacitySums<T> before = c.sums();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  CHECK_T(!c.update(nan, T(1e-4), T(1), T(1e-6)));
  CHECK_T(!c.update(T(0.5), T(-1), T(1), T(1e-6)));
  CHECK_T(!c.update(T(0.5), T(0), T(1), T(0)));
  CHECK_T(std::memcmp(&before, &c.sums(), sizeof before) == 0);
  // Bounds: absurd pairs clamp the estimate to [min, max].
  for (int k = 0; k < 40; ++k) { c.update(T(0.5), T(1e-6), T(50), T(1e-6)); }
  CHECK_T(c.capacity_Ah() <= T(10));
}

/// Errors in x only (SOC noise): weighted least squares of y on x is biased low; the AWTLS is not.
// verifies: CS-SOH-002
template <typename T>
void test_awtls_errors_in_x() {
  soh::CapacityAwtls<T> c;
  typename soh::CapacityAwtls<T>::Config cfg;
  cfg.forgetting = T(1);
  cfg.capacity_min_Ah = T(0.5);
  cfg.capacity_max_Ah = T(20);
  CHECK_T(c.init(T(5), T(5), cfg));
  cstest::Rng rng;
  double sxy = 0, sxx = 0;
  const double sx = 0.08;
  for (int k = 0; k < 3000; ++k) {
    const double xt = 0.2 + 0.3 * rng.uniform();
    const double x = xt + sx * rng.normal();
    const double y = 4.0 * xt;
    sxy += x * y;
    sxx += x * x;
    CHECK_T(c.update(static_cast<T>(x), static_cast<T>(sx * sx), static_cast<T>(y), T(1e-8)));
  }
  const double wls = sxy / sxx;
  CHECK_T(wls < 3.85);                                           // biased low (about 3.81)
  CHECK_T(std::fabs(static_cast<double>(c.capacity_Ah()) - 4.0) < 0.05);  // not biased
}

template <class E>
struct Setup {
  using T = typename E::T;
  using M = typename E::Model;
  typename M::Params p;
  E est;
  soh::SohTracker<E> soh;
  bool ok = false;
  explicit Setup(T soc0, bool ocv_learning = true, bool flat = false) {
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
    cfg.soc_min = T(-0.05);
    cfg.soc_max = T(1.05);
    ok = est.init(m, cfg, typename E::FilterConfig{}, x, P, typename M::Aux{T(0)}) == InitStatus::kOk;
    soh::SohConfig<T> sc;
    sc.r0_min_step_A = T(0.5);
    sc.pair_max_soc_sigma = T(0.05);
    sc.ocv_learning = ocv_learning;
    ok = ok && soh.init(est, sc);
  }
};

template <class E>
bool same_soh_bits(const Setup<E>& a, const soh::SohState<typename E::T>& s, const typename E::State& x,
                   const typename E::Cov& P) {
  return std::memcmp(&a.soh.state(), &s, sizeof s) == 0 && std::memcmp(&a.est.state(), &x, sizeof x) == 0 &&
         std::memcmp(&a.est.covariance(), &P, sizeof P) == 0 &&
         a.est.model().capacity_Ah() == a.soh.capacity_Ah() && a.est.model().r0_scale() == a.soh.r0_scale();
}

/// The true cell has 80 % of the model's capacity and 1.4 x its R0. Discharge / rest / charge cycles
/// with current pulses: the tracker finds both; rejected steps change nothing along the way.
// verifies: CS-SOH-003
template <class E>
void test_tracking(const char* name) {
  using T = typename E::T;
  using M = typename E::Model;
  Setup<E> s(T(0.95));
  CHECK_CTX(s.ok, name);
  typename M::Params pt = s.p;
  const M truth(&pt, typename M::Noise{});
  M truth_h = truth;
  CHECK_CTX(truth_h.set_health(T(2.0), T(1.4)), name);
  CHECK_CTX(!truth_h.set_health(T(0), T(1)), name);
  typename M::State xt;
  typename M::Cov unused;
  M::initial(T(0.95), T(0), T(0), T(0), T(0), xt, unused);
  typename M::Aux aux{T(0)};
  cstest::Rng rng;
  int cap_updates = 0, r0_updates = 0, rejected_checked = 0;
  bool spd_ok = true;
  for (int cycle = 0; cycle < 6; ++cycle) {
    // discharge with pulses to ~5 %, rest, charge at C/2 to ~95 %, rest
    for (int phase = 0; phase < 4; ++phase) {
      const int len = phase == 0 ? 3000 : (phase == 2 ? 6000 : 1200);
      for (int k = 0; k < len; ++k) {
        double i = 0;
        if (phase == 0) {
          i = ((k / 30) % 2 == 0) ? 2.8 : 1.0 + 0.5 * rng.uniform();
        } else if (phase == 2) {
          i = -1.0;
        }
        if (phase == 0 && xt(0, 0) < T(0.06)) i = 0;
        if (phase == 2 && xt(0, 0) > T(0.95)) i = 0;
        const T it = static_cast<T>(i);
        const auto st = truth_h.prepare(xt, aux, T(1), it, T(25));
        xt = truth_h.predict(st, xt);
        aux = M::next_aux(st);
        const T v = truth_h.measure(st, xt) + static_cast<T>(0.001 * rng.normal());
        if (k == 500) {  // a rejected sample: nothing changes
          const auto ss = s.soh.state();
          const auto x = s.est.state();
          const auto P = s.est.covariance();
          const auto r = s.soh.step(s.est, T(1), it, std::numeric_limits<T>::quiet_NaN(), T(25));
          CHECK_CTX(is_rejected(r.soc.status), name);
          CHECK_CTX(!r.capacity_updated && !r.r0_updated, name);
          CHECK_CTX(same_soh_bits(s, ss, x, P), name);
          const auto r2 = s.soh.step(s.est, T(-1), it, v, T(25));
          CHECK_CTX(is_rejected(r2.soc.status), name);
          CHECK_CTX(same_soh_bits(s, ss, x, P), name);
          ++rejected_checked;
        }
        const auto r = s.soh.step(s.est, T(1), it, v, T(25));
        cap_updates += r.capacity_updated ? 1 : 0;
        r0_updates += r.r0_updated ? 1 : 0;
        typename E::Cov l;
        spd_ok = spd_ok && math::cholesky(s.est.covariance(), l) && s.soh.state().r0_scale_var > T(0) &&
                 s.soh.capacity_sigma_Ah() > T(0);
      }
    }
  }
  std::printf("%s: capacity %.4f (truth 2.0, %d pairs), R0 factor %.4f (truth 1.4, %d updates)\n", name,
              static_cast<double>(s.soh.capacity_Ah()), cap_updates, static_cast<double>(s.soh.r0_scale()), r0_updates);
  CHECK_CTX(rejected_checked == 24, name);
  CHECK_CTX(cap_updates >= 6, name);
  CHECK_CTX(r0_updates > 100, name);
  CHECK_CTX(spd_ok, name);
  CHECK_CTX(std::fabs(s.soh.capacity_Ah() - T(2.0)) < T(0.04), name);   // 2 %
  CHECK_CTX(std::fabs(s.soh.r0_scale() - T(1.4)) < T(0.07), name);      // 5 %
  CHECK_CTX(s.est.model().capacity_Ah() == s.soh.capacity_Ah(), name);  // the SOC filter uses them
  CHECK_CTX(s.est.model().r0_scale() == s.soh.r0_scale(), name);
}

/// Rests and constant-current plateaus: no update, no drift of the estimates.
// verifies: CS-SOH-004
template <class E>
void test_no_wander(const char* name) {
  using T = typename E::T;
  Setup<E> s(T(0.8));
  CHECK_CTX(s.ok, name);
  const T q0 = s.soh.capacity_Ah();
  const T r0 = s.soh.r0_scale();
  int updates = 0;
  for (int k = 0; k < 2000; ++k) {  // a rest
    const auto r = s.soh.step(s.est, T(1), T(0), T(3.85), T(25));
    updates += (r.capacity_updated || r.r0_updated) ? 1 : 0;
  }
  CHECK_CTX(s.soh.r0_scale() == r0, name);
  s.soh.step(s.est, T(1), T(1.25), T(3.8), T(25));  // the step onto the plateau may update R0
  const T r0_plateau = s.soh.r0_scale();
  for (int k = 0; k < 2000; ++k) {  // a constant-current plateau (no steps, no rest samples)
    const auto r = s.soh.step(s.est, T(1), T(1.25), T(3.8) - T(1e-5) * T(k), T(25));
    updates += (r.capacity_updated || r.r0_updated) ? 1 : 0;
  }
  CHECK_CTX(updates == 0, name);
  CHECK_CTX(s.soh.capacity_Ah() == q0, name);
  CHECK_CTX(s.soh.r0_scale() == r0_plateau, name);
}

/// Trusted anchors (SohConfig::anchor_rest_s): stops shorter than the anchor rest never open a capacity pair;
/// a long rest does, after anchor_rest_s; restart_pairing(true) makes the first rest sample an anchor; with an
/// offset model the OCV learner does not update before the first anchor and does after it.
// verifies: CS-SOH-008
template <class E>
void test_trusted_anchors(const char* name) {
  using T = typename E::T;
  {  // 20 s stops between 60 s of load: rest_s never reaches 45 s, so no pair opens
    Setup<E> s(T(0.8));
    CHECK_CTX(s.ok, name);
    for (int k = 0; k < 2400; ++k) {
      const bool stop = (k % 80) >= 60;
      s.soh.step(s.est, T(1), stop ? T(0) : T(2.0), T(3.85) - T(1e-5) * T(k) - (stop ? T(0) : T(0.04)), T(25));
      CHECK_CTX(s.soh.state().rest_s <= T(20), name);
    }
    CHECK_CTX(s.soh.state().anchored == 0, name);
    CHECK_CTX(!(s.soh.state().anchor_age_s < T(soh::kRestCap_s)), name);  // never anchored
  }
  {  // a 60 s rest: the pair opens at 45 s of rest, not before; the age restarts at the anchor
    Setup<E> s(T(0.8));
    int opened_at = -1;
    for (int k = 0; k < 60; ++k) {
      s.soh.step(s.est, T(1), T(0), T(3.85), T(25));
      if (opened_at < 0 && s.soh.state().anchored != 0) { opened_at = k; }
    }
    CHECK_CTX(opened_at == 44, name);  // rest_s counts this sample's interval: 45 s after 45 samples
    CHECK_CTX(s.soh.state().anchor_age_s == T(0), name);
    s.soh.step(s.est, T(1), T(2), T(3.8), T(25));
    CHECK_CTX(s.soh.state().rest_s == T(0) && s.soh.state().anchor_age_s == T(1), name);
  }
  {  // restart_pairing(true): the first rest sample after it is an anchor; false: it is not
    Setup<E> s(T(0.8));
    s.soh.restart_pairing(true);
    s.soh.step(s.est, T(1), T(0), T(3.85), T(25));
    CHECK_CTX(s.soh.state().anchored == 1, name);
    Setup<E> u(T(0.8));
    u.soh.restart_pairing(false);
    u.soh.step(u.est, T(1), T(0), T(3.85), T(25));
    CHECK_CTX(u.soh.state().anchored == 0, name);
  }
  {  // offset model: no OCV update before the first trusted anchor, updates after it
    typename E::Model::Params p;
    cstest::make_cell(p);
    using M = typename E::Model;
    const M m(&p, typename M::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)});
    typename M::State x;
    typename M::Cov P;
    M::initial(T(0.8), T(0.05), T(0.02), T(0), T(0.5), x, P);
    E est;
    EstimatorConfig<T> cfg = cstest::config_2025<T>();
    cfg.voltage_sigma_V = T(0.01);
    CHECK_CTX(est.init(m, cfg, typename E::FilterConfig{}, x, P, typename M::Aux{T(0)}) == InitStatus::kOk, name);
    soh::SohTracker<E> tr;
    soh::SohConfig<T> sc;
    sc.current_offset_sigma_A = T(0.025);
    CHECK_CTX(tr.init(est, sc), name);
    int before = 0, after = 0;
    for (int k = 0; k < 600; ++k) {  // load only: no anchor
      before += tr.step(est, T(1), T(1.0), T(3.8) - T(1e-4) * T(k), T(25)).ocv_updated ? 1 : 0;
    }
    for (int k = 0; k < 60; ++k) { tr.step(est, T(1), T(0), T(3.78), T(25)); }  // a minute at rest: anchor
    for (int k = 0; k < 600; ++k) {
      after += tr.step(est, T(1), T(1.0), T(3.77) - T(1e-4) * T(k), T(25)).ocv_updated ? 1 : 0;
    }
    CHECK_CTX(before == 0, name);
    CHECK_CTX(after > 100, name);
  }
}

/// Save -> restore into a fresh tracker continues bit for bit; bad states are refused unchanged.
// verifies: CS-SOH-005
template <class E>
void test_save_restore(const char* name) {
  using T = typename E::T;
  Setup<E> a(T(0.9));
  Setup<E> b(T(0.9));
  CHECK_CTX(a.ok && b.ok, name);
  cstest::Rng rng;
  for (int k = 0; k < 1500; ++k) {
    const T i = static_cast<T>((k / 20) % 2 == 0 ? 2.0 : 0.0);
    a.soh.step(a.est, T(1), i, static_cast<T>(3.9 - 0.0001 * k - 0.03 * static_cast<double>(i)), T(25));
  }
  CHECK_CTX(b.est.set_state(a.est.state(), a.est.covariance(), a.est.aux()), name);
  CHECK_CTX(b.soh.set_state(b.est, a.soh.state()), name);
  bool same = true;
  for (int k = 0; k < 500; ++k) {
    const T i = static_cast<T>((k / 20) % 2 == 0 ? 2.0 : 0.0);
    const T v = static_cast<T>(3.75 - 0.0001 * k - 0.03 * static_cast<double>(i) + 0.001 * rng.normal());
    const auto ra = a.soh.step(a.est, T(1), i, v, T(25));
    const auto rb = b.soh.step(b.est, T(1), i, v, T(25));
    same = same && std::memcmp(&ra.capacity_Ah, &rb.capacity_Ah, sizeof(T)) == 0 &&
           std::memcmp(&ra.r0_scale, &rb.r0_scale, sizeof(T)) == 0 &&
           std::memcmp(&ra.soc.soc, &rb.soc.soc, sizeof(T)) == 0;
  }
  CHECK_CTX(same, name);
  CHECK_CTX(std::memcmp(&a.soh.state(), &b.soh.state(), sizeof(a.soh.state())) == 0, name);
  // refusals
  const auto keep = b.soh.state();
  auto bad = keep;
  bad.r0_scale_var = T(0);
  CHECK_CTX(!b.soh.set_state(b.est, bad), name);
  bad = keep;
  bad.capacity.a_xx = -T(1);
  CHECK_CTX(!b.soh.set_state(b.est, bad), name);
  bad = keep;
  bad.capacity.capacity_Ah = std::numeric_limits<T>::infinity();
  CHECK_CTX(!b.soh.set_state(b.est, bad), name);
  bad = keep;
  bad.anchored = 2;
  CHECK_CTX(!b.soh.set_state(b.est, bad), name);
  CHECK_CTX(std::memcmp(&keep, &b.soh.state(), sizeof keep) == 0, name);
  // a bad configuration is refused
  Setup<E> c(T(0.5));
  soh::SohConfig<T> sc;
  sc.capacity_forgetting = T(0);
  CHECK_CTX(!c.soh.init(c.est, sc), name);
}

/// With the health never changed, the model computes exactly what it did before (scale 1).
// verifies: CS-ECM-004
template <typename T>
void test_unit_health_is_identity() {
  using M = model::EcmModel<T, 2>;
  typename M::Params p;
  cstest::make_cell(p);
  M a(&p, typename M::Noise{});
  M b = a;
  CHECK_T(b.set_health(p.capacity_Ah, T(1)));
  typename M::State x;
  typename M::Cov P;
  M::initial(T(0.4), T(0.1), T(0.01), T(0.2), T(0.3), x, P);
  const auto sa = a.prepare(x, {T(1)}, T(1), T(2.2), T(17));
  const auto sb = b.prepare(x, {T(1)}, T(1), T(2.2), T(17));
  typename M::Row ha, hb;
  const T va = a.measure_with_jacobian(sa, x, ha);
  const T vb = b.measure_with_jacobian(sb, x, hb);
  CHECK_T(std::memcmp(&va, &vb, sizeof va) == 0 && std::memcmp(&ha, &hb, sizeof ha) == 0);
  CHECK_T(a.r0_in_use_Ohm(sa, T(0.4)) == a.r0_table_Ohm(T(0.4), T(17)));
}

/// The true cell's OCV is the model's plus a bump of +30 mV at SOC 0.5 (same capacity and R0): the
/// OCV filter raises the node at SOC 0.5, and the SOC error falls against the same run without it.
// verifies: CS-SOH-006
template <class E>
void test_ocv_learning(const char* name) {
  using T = typename E::T;
  using M = typename E::Model;
  Setup<E> on(T(0.95)), off(T(0.95), false);
  CHECK_CTX(on.ok && off.ok, name);
  typename M::Params pt = on.p;
  for (int is = 0; is < pt.grid.n_soc; ++is) {
    const double z = static_cast<double>(pt.grid.soc[is]);
    for (int it = 0; it < pt.grid.n_temperature; ++it) {
      pt.ocv_V.value[it][is] = pt.ocv_V.value[it][is] + static_cast<T>(0.03 * std::exp(-((z - 0.5) / 0.15) * ((z - 0.5) / 0.15)));
    }
  }
  const M truth(&pt, typename M::Noise{});
  typename M::State xt;
  typename M::Cov unused;
  M::initial(T(0.95), T(0), T(0), T(0), T(0), xt, unused);
  typename M::Aux aux{T(0)};
  cstest::Rng rng;
  double se_on = 0, se_off = 0;
  long n = 0;
  int ocv_updates = 0;
  for (int cycle = 0; cycle < 3; ++cycle) {
    // pulsed discharge to ~20 % (5 min load, 6 min rest: the OCV learner takes a rest sample only after
    // kOcvMinRest_s = 300 s at rest), rest, C/2 charge to ~95 %, rest
    for (int phase = 0; phase < 4; ++phase) {
      const int len = phase == 0 ? 7200 : (phase == 2 ? 6000 : 1200);
      for (int k = 0; k < len; ++k) {
        double i = 0;
        if (phase == 0) { i = ((k / 60) % 11 >= 5) ? 0.0 : 1.5 + 0.5 * rng.uniform(); }
        if (phase == 2) { i = -1.25; }
        if (phase == 0 && xt(0, 0) < T(0.2)) { i = 0; }
        if (phase == 2 && xt(0, 0) > T(0.95)) { i = 0; }
        const T it = static_cast<T>(i);
        const auto st = truth.prepare(xt, aux, T(1), it, T(25));
        xt = truth.predict(st, xt);
        aux = M::next_aux(st);
        const T v = truth.measure(st, xt) + static_cast<T>(0.001 * rng.normal());
        const auto r = on.soh.step(on.est, T(1), it, v, T(25));
        off.soh.step(off.est, T(1), it, v, T(25));
        ocv_updates += r.ocv_updated ? 1 : 0;
        const double zt = static_cast<double>(xt(0, 0));
        se_on += (static_cast<double>(on.est.soc()) - zt) * (static_cast<double>(on.est.soc()) - zt);
        se_off += (static_cast<double>(off.est.soc()) - zt) * (static_cast<double>(off.est.soc()) - zt);
        ++n;
      }
    }
  }
  const T* c = on.soh.ocv_nodes_V();
  const double rmse_on = std::sqrt(se_on / static_cast<double>(n)), rmse_off = std::sqrt(se_off / static_cast<double>(n));
  std::printf("%s: OCV nodes %.1f %.1f %.1f %.1f %.1f mV (bump 0.2 8.7 30 8.7 0.2), SOC RMSE %.2f %% learning, "
              "%.2f %% not, %d updates\n", name, 1e3 * static_cast<double>(c[0]), 1e3 * static_cast<double>(c[1]),
              1e3 * static_cast<double>(c[2]), 1e3 * static_cast<double>(c[3]), 1e3 * static_cast<double>(c[4]),
              100 * rmse_on, 100 * rmse_off, ocv_updates);
  // the node at SOC 0.5 goes up, though not all the way to 30 mV: this test's capacity pairs span SOC
  // 0.95 -> 0.48 and read part of the bump as SOC (the capacity drifts ~+6 %; docs/soh.md, limitation),
  // and its cell rests 6 min in 11 (1 min in 5 until the relaxation gate), only the last minute of each a relaxed
  // rest, so most samples are load samples, weighted down by R0 |i|
  CHECK_CTX(c[2] > T(0.005) && c[2] < T(0.05), name);
  CHECK_CTX(rmse_on < 0.8 * rmse_off, name);
  CHECK_CTX(ocv_updates > 1000, name);
  const T* off_nodes = off.soh.ocv_nodes_V();
  CHECK_CTX(off_nodes[2] == T(0) && !off.est.model().ocv_corrected(), name);
  // the SOC filter uses what the OCV filter learned
  for (int j = 0; j < model::kEcmOcvNodes; ++j) { CHECK_CTX(on.est.model().ocv_correction_V()[j] == c[j], name); }
}

/// The correction: refused unless finite and within +-1 V (nothing changed); all-zero nodes give the
/// uncorrected model's bits; a node moves the voltage by its hat-function weight and the slope by its jump.
// verifies: CS-ECM-005
template <typename T>
void test_ocv_correction_model() {
  using M = model::EcmModel<T, 2>;
  typename M::Params p;
  cstest::make_cell(p);
  M a(&p, typename M::Noise{});
  M b = a;
  const T zeros[model::kEcmOcvNodes] = {};
  T bad[model::kEcmOcvNodes] = {};
  bad[1] = std::numeric_limits<T>::quiet_NaN();
  CHECK_T(!b.set_ocv_correction(bad) && !b.ocv_corrected());
  bad[1] = T(1.5);
  CHECK_T(!b.set_ocv_correction(bad) && !b.ocv_corrected());
  CHECK_T(b.set_ocv_correction(zeros) && b.ocv_corrected());
  typename M::State x;
  typename M::Cov P;
  M::initial(T(0.45), T(0.1), T(0.01), T(0.2), T(0.3), x, P);
  const auto sa = a.prepare(x, {T(1)}, T(1), T(2.2), T(17));
  typename M::Row ha, hb;
  const T va = a.measure_with_jacobian(sa, x, ha);
  T vb = b.measure_with_jacobian(sa, x, hb);
  CHECK_T(std::memcmp(&va, &vb, sizeof va) == 0 && std::memcmp(&ha, &hb, sizeof ha) == 0);
  T one[model::kEcmOcvNodes] = {};
  one[2] = T(0.06);  // node at SOC 3/6
  CHECK_T(b.set_ocv_correction(one));
  // SOC 0.45 lies between knots 2/6 and 3/6: weight (0.45 - 1/3) * 6 = 0.7 on node 3/6
  vb = b.measure_with_jacobian(sa, x, hb);
  CHECK_T(std::fabs((vb - va) - T(0.7 * 0.06)) < T(1e-5));
  CHECK_T(std::fabs((hb(0, 0) - ha(0, 0)) - T(0.06 * 6)) < T(1e-4));
  CHECK_T(std::fabs(b.measure(sa, x) - vb) < T(1e-6));
  // pinned at SOC 0 and 1 and zero outside
  T slope;
  CHECK_T(b.ocv_correction_at(T(0), slope) == T(0) && b.ocv_correction_at(T(1), slope) == T(0));
  CHECK_T(b.ocv_correction_at(T(1.02), slope) == T(0) && slope == T(0));
}

/// Every refusal of the capacity estimator, each on its own: init (forgetting outside (0, 1], bounds
/// not 0 < min < max <= 1e30, prior outside the bounds, prior sigma outside (0, 1e15]), update (inputs
/// not finite, variances negative or infinite, sums that overflow) and set_sums (any sum not finite,
/// a_xx <= 0, b_xx or b_yy < 0, capacity outside the bounds): false, and the sums keep their bits.
// verifies: CS-SOH-001
template <typename T>
void test_awtls_each_refusal() {
  using A = soh::CapacityAwtls<T>;
  typename A::Config good;
  good.forgetting = T(0.9);
  good.capacity_min_Ah = T(1);
  good.capacity_max_Ah = T(10);
  const T inf = std::numeric_limits<T>::infinity();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  A fresh;
  CHECK_T(fresh.sigma_Ah() == T(1));  // the default sums: a_xx = 1
  const auto refused_init = [&](typename A::Config c, T q0, T s0) {
    A a;
    const soh::CapacitySums<T> before = a.sums();
    return !a.init(q0, s0, c) && std::memcmp(&before, &a.sums(), sizeof before) == 0;
  };
  typename A::Config c = good;
  CHECK_T(A().init(T(5), T(0.5), c));
  c.forgetting = T(0);
  CHECK_T(refused_init(c, T(5), T(0.5)));
  c.forgetting = T(1.5);
  CHECK_T(refused_init(c, T(5), T(0.5)));
  c = good;
  c.capacity_min_Ah = T(0);
  CHECK_T(refused_init(c, T(5), T(0.5)));
  c = good;
  c.capacity_max_Ah = T(1);  // not above min
  CHECK_T(refused_init(c, T(1), T(0.5)));
  c.capacity_max_Ah = T(1e31);
  CHECK_T(refused_init(c, T(5), T(0.5)));
  CHECK_T(refused_init(good, T(0.5), T(0.5)));  // prior below min
  CHECK_T(refused_init(good, T(11), T(0.5)));   // above max
  CHECK_T(refused_init(good, T(5), T(0)));
  CHECK_T(refused_init(good, T(5), T(1e16)));
  A a;
  CHECK_T(a.init(T(5), T(0.5), good));
  CHECK_T(a.config().forgetting == good.forgetting && a.config().capacity_max_Ah == good.capacity_max_Ah);
  const soh::CapacitySums<T> before = a.sums();
  CHECK_T(!a.update(T(0.5), T(1e-4), inf, T(1e-6)));
  CHECK_T(!a.update(T(0.5), inf, T(1), T(1e-6)));
  CHECK_T(!a.update(T(0.5), T(1e-4), T(1), -T(1)));
  CHECK_T(!a.update(T(0.5), T(1e-4), T(1), inf));
  // a pair that overflows the sums (|x|, |y| finite but w x^2 beyond the range): refused
  CHECK_T(!a.update(T(1e30), T(0), T(1e30), std::numeric_limits<T>::min()));
  CHECK_T(std::memcmp(&before, &a.sums(), sizeof before) == 0);
  {  // on a small capacity (0.1 A h: w var_x ~ 1 / Q^2 = 100) the second-order sums overflow before a_xx
    A small;
    typename A::Config sc;
    sc.forgetting = T(1);
    sc.capacity_min_Ah = T(0.01);
    sc.capacity_max_Ah = T(1);
    CHECK_T(small.init(T(0.1), T(0.05), sc));
    const soh::CapacitySums<T> s0 = small.sums();
    CHECK_T(!small.update(T(1), T(1e-36), T(0.1), T(0)));   // b_xx = 1e40
    CHECK_T(!small.update(T(1), T(1e-33), T(100), T(0)));   // b_xy = 1e39
    CHECK_T(!small.update(T(1), T(1e-33), T(10), T(0)));    // b_yy = 1e39
    CHECK_T(std::memcmp(&s0, &small.sums(), sizeof s0) == 0);
  }
  soh::CapacitySums<T> bad = before;
  const auto refused_sums = [&](const soh::CapacitySums<T>& in) {
    return !a.set_sums(in) && std::memcmp(&before, &a.sums(), sizeof before) == 0;
  };
  bad.capacity_Ah = nan;
  CHECK_T(refused_sums(bad));
  bad = before;
  bad.a_xx = inf;
  CHECK_T(refused_sums(bad));
  bad = before;
  bad.a_xy = inf;
  CHECK_T(refused_sums(bad));
  bad = before;
  bad.b_xx = inf;
  CHECK_T(refused_sums(bad));
  bad = before;
  bad.b_xy = -inf;
  CHECK_T(refused_sums(bad));
  bad = before;
  bad.b_yy = nan;
  CHECK_T(refused_sums(bad));
  bad = before;
  bad.a_xx = T(0);
  CHECK_T(refused_sums(bad));
  bad = before;
  bad.b_xx = -T(1);
  CHECK_T(refused_sums(bad));
  bad = before;
  bad.b_yy = -T(1);
  CHECK_T(refused_sums(bad));
  bad = before;
  bad.capacity_Ah = T(0.5);
  CHECK_T(refused_sums(bad));
  bad.capacity_Ah = T(12);
  CHECK_T(refused_sums(bad));
  bad.capacity_Ah = T(7);
  CHECK_T(a.set_sums(bad) && a.capacity_Ah() == T(7));
}

/// A fresh estimator on the synthetic cell (no tracker): what the configuration tests start from.
template <class E>
bool fresh_estimator(E& est, typename E::Model::Params& p, typename E::T soc0) {
  using T = typename E::T;
  using M = typename E::Model;
  cstest::make_cell(p);
  const M m(&p, typename M::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)});
  typename M::State x;
  typename M::Cov P;
  M::initial(soc0, T(0.05), T(0.02), T(0), T(0.5), x, P);
  EstimatorConfig<T> cfg = cstest::config_2025<T>();
  cfg.voltage_sigma_V = T(0.01);
  cfg.soc_min = T(-0.05);
  cfg.soc_max = T(1.05);
  return est.init(m, cfg, typename E::FilterConfig{}, x, P, typename M::Aux{T(0)}) == InitStatus::kOk;
}

/// Every out-of-range field of SohConfig is refused on its own: init() returns false, the tracker stays
/// uninitialised (step() then only runs the estimator, close_pair() and set_state() refuse) and the
/// estimator's model keeps its capacity and R0 factor. The OCV fields are checked only with OCV learning
/// on; explicit capacity bounds replace the 0.3 x / 1.5 x defaults. SohConfig::check names each case's rule.
// verifies: CS-SOH-005
// verifies: CS-SOH-014
template <class E>
void test_config_refusals(const char* name) {
  using T = typename E::T;
  using C = soh::SohConfig<T>;
  typename E::Model::Params p;
  E est;
  CHECK_CTX(fresh_estimator(est, p, T(0.8)), name);
  const T q0 = est.model().capacity_Ah();
  using I = soh::SohConfigIssue;
  struct Case {
    const char* what;
    I want;  // the rule SohConfig::check names
    void (*apply)(C&);
  };
  static const Case cases[] = {
      {"pair_min_delta_soc 0", I::kPairMinDeltaSoc, [](C& c) { c.pair_min_delta_soc = T(0); }},
      {"pair_min_delta_soc inf", I::kPairMinDeltaSoc, [](C& c) { c.pair_min_delta_soc = std::numeric_limits<T>::infinity(); }},
      {"pair_max_soc_sigma 0", I::kPairMaxSocSigma, [](C& c) { c.pair_max_soc_sigma = T(0); }},
      {"rest_current_A -1", I::kRestCurrent, [](C& c) { c.rest_current_A = -T(1); }},
      {"rest_current_A inf", I::kRestCurrent, [](C& c) { c.rest_current_A = std::numeric_limits<T>::infinity(); }},
      {"current_sigma_A -1", I::kCurrentSigma, [](C& c) { c.current_sigma_A = -T(1); }},
      {"current_sigma_A inf", I::kCurrentSigma, [](C& c) { c.current_sigma_A = std::numeric_limits<T>::infinity(); }},
      {"current_offset_sigma_A -1", I::kCurrentOffsetSigma, [](C& c) { c.current_offset_sigma_A = -T(1); }},
      {"current_offset_sigma_A 2e6", I::kCurrentOffsetSigma, [](C& c) { c.current_offset_sigma_A = T(2e6); }},
      {"anchor_rest_s -1", I::kAnchorRest, [](C& c) { c.anchor_rest_s = -T(1); }},
      {"anchor_rest_s 2e6", I::kAnchorRest, [](C& c) { c.anchor_rest_s = T(2e6); }},
      {"r0_scale_sigma 0", I::kR0ScaleSigma, [](C& c) { c.r0_scale_sigma = T(0); }},
      {"r0_scale_per_sqrt_s -1", I::kR0ScalePerSqrtS, [](C& c) { c.r0_scale_per_sqrt_s = -T(1); }},
      {"r0_scale_per_sqrt_s inf", I::kR0ScalePerSqrtS, [](C& c) { c.r0_scale_per_sqrt_s = std::numeric_limits<T>::infinity(); }},
      {"r0_min_step_A 0", I::kR0MinStep, [](C& c) { c.r0_min_step_A = T(0); }},
      {"r0_max_dt_s 0", I::kR0MaxDt, [](C& c) { c.r0_max_dt_s = T(0); }},
      {"r0_min_dt_s -1", I::kR0MinDt, [](C& c) { c.r0_min_dt_s = -T(1); }},
      {"r0_min_dt_s above r0_max_dt_s", I::kR0MinDt, [](C& c) { c.r0_min_dt_s = c.r0_max_dt_s * T(1.5); }},
      {"r0_min_dt_s NaN", I::kR0MinDt, [](C& c) { c.r0_min_dt_s = std::numeric_limits<T>::quiet_NaN(); }},
      {"r0_voltage_sigma_V 0", I::kR0VoltageSigma, [](C& c) { c.r0_voltage_sigma_V = T(0); }},
      {"r0_gate_nis 0", I::kR0GateNis, [](C& c) { c.r0_gate_nis = T(0); }},
      {"r0_scale_min 0", I::kR0ScaleBounds, [](C& c) { c.r0_scale_min = T(0); }},
      {"r0_scale_max = min", I::kR0ScaleBounds, [](C& c) { c.r0_scale_max = c.r0_scale_min; }},
      {"r0_scale_max inf", I::kR0ScaleBounds, [](C& c) { c.r0_scale_max = std::numeric_limits<T>::infinity(); }},
      {"model's R0 factor below min", I::kR0ScaleOutside, [](C& c) { c.r0_scale_min = T(1.5); }},
      {"model's R0 factor above max", I::kR0ScaleOutside, [](C& c) { c.r0_scale_min = T(0.1); c.r0_scale_max = T(0.5); }},
      {"ocv_sigma_V 0", I::kOcvSigma, [](C& c) { c.ocv_sigma_V = T(0); }},
      {"ocv_sigma_V 2", I::kOcvSigma, [](C& c) { c.ocv_sigma_V = T(2); }},
      {"ocv_V_per_sqrt_s -1", I::kOcvVPerSqrtS, [](C& c) { c.ocv_V_per_sqrt_s = -T(1); }},
      {"ocv_V_per_sqrt_s inf", I::kOcvVPerSqrtS, [](C& c) { c.ocv_V_per_sqrt_s = std::numeric_limits<T>::infinity(); }},
      {"ocv_soc_per_sqrt_s -1", I::kOcvSocPerSqrtS, [](C& c) { c.ocv_soc_per_sqrt_s = -T(1); }},
      {"ocv_soc_per_sqrt_s inf", I::kOcvSocPerSqrtS, [](C& c) { c.ocv_soc_per_sqrt_s = std::numeric_limits<T>::infinity(); }},
      {"ocv_load_fraction -1", I::kOcvLoadFraction, [](C& c) { c.ocv_load_fraction = -T(1); }},
      {"ocv_load_fraction inf", I::kOcvLoadFraction, [](C& c) { c.ocv_load_fraction = std::numeric_limits<T>::infinity(); }},
      {"ocv_max_V 0", I::kOcvMax, [](C& c) { c.ocv_max_V = T(0); }},
      {"ocv_max_V 2", I::kOcvMax, [](C& c) { c.ocv_max_V = T(2); }},
      {"learn_min_temperature_degC NaN", I::kLearnTemperatures, [](C& c) { c.learn_min_temperature_degC = std::numeric_limits<T>::quiet_NaN(); }},
      {"learn_max_temperature_degC inf", I::kLearnTemperatures, [](C& c) { c.learn_max_temperature_degC = std::numeric_limits<T>::infinity(); }},
      {"learn window reversed", I::kLearnTemperatures, [](C& c) { c.learn_min_temperature_degC = T(30); c.learn_max_temperature_degC = T(20); }},
      {"capacity_sigma_Ah 0", I::kCapacitySigma, [](C& c) { c.capacity_sigma_Ah = T(0); }},
      {"capacity_forgetting 0", I::kCapacityForgetting, [](C& c) { c.capacity_forgetting = T(0); }},
      {"capacity bounds reversed", I::kCapacityBounds, [](C& c) { c.capacity_min_Ah = T(4); c.capacity_max_Ah = T(3); }},
      {"capacity_sigma_Ah NaN", I::kCapacitySigma, [](C& c) { c.capacity_sigma_Ah = std::numeric_limits<T>::quiet_NaN(); }},
      {"pair_min_delta_soc NaN", I::kPairMinDeltaSoc, [](C& c) { c.pair_min_delta_soc = std::numeric_limits<T>::quiet_NaN(); }},
      {"current_offset_sigma_A NaN", I::kCurrentOffsetSigma, [](C& c) { c.current_offset_sigma_A = std::numeric_limits<T>::quiet_NaN(); }},
      {"anchor_rest_s NaN", I::kAnchorRest, [](C& c) { c.anchor_rest_s = std::numeric_limits<T>::quiet_NaN(); }},
      {"r0_scale_max NaN", I::kR0ScaleBounds, [](C& c) { c.r0_scale_max = std::numeric_limits<T>::quiet_NaN(); }},
      {"ocv_max_V NaN", I::kOcvMax, [](C& c) { c.ocv_max_V = std::numeric_limits<T>::quiet_NaN(); }},
      {"capacity bounds exclude the model's", I::kCapacityOutside, [](C& c) { c.capacity_min_Ah = T(3); c.capacity_max_Ah = T(4); }},
  };
  bool seen[static_cast<int>(soh::kLastSohConfigIssue) + 1] = {};
  int refused = 0;
  for (const Case& k : cases) {
    C c;
    k.apply(c);
    soh::SohTracker<E> tr;
    const I issue = c.check(q0, est.model().r0_scale());
    if (issue != k.want) { std::printf("%s: check() gave %d for %s\n", name, static_cast<int>(issue), k.what); }
    CHECK_CTX(issue == k.want, name);
    seen[static_cast<int>(k.want)] = true;
    const bool ok = tr.init(est, c);
    const bool same = est.model().capacity_Ah() == q0 && est.model().r0_scale() == T(1);
    if (ok || tr.initialised() || !same) { std::printf("%s: not refused or not unchanged: %s\n", name, k.what); }
    refused += (!ok && !tr.initialised() && same) ? 1 : 0;
  }
  CHECK_CTX(refused == static_cast<int>(sizeof cases / sizeof cases[0]), name);
  for (int i = 1; i <= static_cast<int>(soh::kLastSohConfigIssue); ++i) { CHECK_CTX(seen[i], name); }
  CHECK_CTX(C{}.check(q0, est.model().r0_scale()) == I::kOk, name);
  // an uninitialised tracker: step() runs the estimator only; close_pair() and set_state() refuse
  soh::SohTracker<E> un;
  C bad;
  bad.r0_gate_nis = T(0);
  CHECK_CTX(!un.init(est, bad), name);
  const auto r = un.step(est, T(1), T(0), T(3.85), T(25));
  CHECK_CTX(!is_rejected(r.soc.status) && !r.capacity_updated && !r.r0_updated && !r.ocv_updated, name);
  CHECK_CTX(!un.close_pair(est), name);
  CHECK_CTX(!un.set_state(est, un.state()), name);
  // with OCV learning off the OCV fields are not checked; explicit capacity bounds are used
  C off;
  off.ocv_learning = false;
  off.ocv_sigma_V = T(2);
  off.ocv_max_V = T(2);
  off.capacity_min_Ah = T(1);
  off.capacity_max_Ah = T(3);
  soh::SohTracker<E> tr;
  CHECK_CTX(tr.init(est, off), name);
  soh::SohState<T> s = tr.state();
  s.capacity.capacity_Ah = T(3.5);  // above the explicit bound
  CHECK_CTX(!tr.set_state(est, s), name);
  s.capacity.capacity_Ah = T(2.9);
  CHECK_CTX(tr.set_state(est, s) && est.model().capacity_Ah() == T(2.9), name);
  CHECK_CTX(!est.model().ocv_corrected(), name);  // learning off: the model's OCV is not touched
}

/// Every field of a saved SOH state is checked on restore, each on its own: a non-finite or
/// out-of-bounds R0 factor, a non-positive or infinite R0 variance, a non-finite anchor or charge or
/// residual, a negative or infinite variance, rest and anchor ages outside [0, kRestCap_s], flags
/// other than 0 / 1, an OCV filter state that fails OcvFilter::state_ok() or nodes beyond ocv_max_V,
/// bad capacity sums: refused, tracker and estimator unchanged bit for bit.
// verifies: CS-SOH-005
template <class E>
void test_restore_each_field(const char* name) {
  using T = typename E::T;
  using S = soh::SohState<T>;
  Setup<E> a(T(0.9));
  CHECK_CTX(a.ok, name);
  for (int k = 0; k < 300; ++k) {
    const T i = static_cast<T>((k / 20) % 2 == 0 ? 2.0 : 0.0);
    a.soh.step(a.est, T(1), i, static_cast<T>(3.9 - 0.0001 * k - 0.03 * static_cast<double>(i)), T(25));
  }
  const S keep = a.soh.state();
  const auto x = a.est.state();
  const auto P = a.est.covariance();
  struct Case {
    const char* what;
    void (*apply)(S&);
  };
  static const Case cases[] = {
      {"r0_scale NaN", [](S& s) { s.r0_scale = std::numeric_limits<T>::quiet_NaN(); }},
      {"r0_scale below min", [](S& s) { s.r0_scale = T(0.1); }},
      {"r0_scale above max", [](S& s) { s.r0_scale = T(6); }},
      {"r0_scale_var 0", [](S& s) { s.r0_scale_var = T(0); }},
      {"r0_scale_var inf", [](S& s) { s.r0_scale_var = std::numeric_limits<T>::infinity(); }},
      {"anchor_soc inf", [](S& s) { s.anchor_soc = std::numeric_limits<T>::infinity(); }},
      {"anchor_soc_var -1", [](S& s) { s.anchor_soc_var = -T(1); }},
      {"anchor_soc_var inf", [](S& s) { s.anchor_soc_var = std::numeric_limits<T>::infinity(); }},
      {"charge_Ah NaN", [](S& s) { s.charge_Ah = std::numeric_limits<T>::quiet_NaN(); }},
      {"charge_var_Ah2 -1", [](S& s) { s.charge_var_Ah2 = -T(1); }},
      {"charge_var_Ah2 inf", [](S& s) { s.charge_var_Ah2 = std::numeric_limits<T>::infinity(); }},
      {"prev_residual_V inf", [](S& s) { s.prev_residual_V = std::numeric_limits<T>::infinity(); }},
      {"prev_g_V NaN", [](S& s) { s.prev_g_V = std::numeric_limits<T>::quiet_NaN(); }},
      {"prev_current_A inf", [](S& s) { s.prev_current_A = -std::numeric_limits<T>::infinity(); }},
      {"rest_s -1", [](S& s) { s.rest_s = -T(1); }},
      {"rest_s beyond the cap", [](S& s) { s.rest_s = T(2e6); }},
      {"anchor_age_s -1", [](S& s) { s.anchor_age_s = -T(1); }},
      {"anchor_age_s beyond the cap", [](S& s) { s.anchor_age_s = T(2e6); }},
      {"r0_window_s -1", [](S& s) { s.r0_window_s = -T(1); }},
      {"r0_window_s above r0_max_dt_s", [](S& s) { s.r0_window_s = T(2.5); }},
      {"r0_window_s NaN", [](S& s) { s.r0_window_s = std::numeric_limits<T>::quiet_NaN(); }},
      {"anchored 2", [](S& s) { s.anchored = 2; }},
      {"prev_valid 2", [](S& s) { s.prev_valid = 2; }},
      {"ocv_resync 2", [](S& s) { s.ocv_resync = 2; }},
      {"OCV covariance not symmetric", [](S& s) { s.ocv_P[1][2] = s.ocv_P[1][2] * T(2); }},
      {"OCV node beyond ocv_max_V", [](S& s) { s.ocv_x[3] = T(0.5); }},
      {"capacity sums a_xx 0", [](S& s) { s.capacity.a_xx = T(0); }},
  };
  int refused = 0;
  for (const Case& k : cases) {
    S bad = keep;
    k.apply(bad);
    const bool ok = a.soh.set_state(a.est, bad);
    const bool same = same_soh_bits(a, keep, x, P);
    if (ok || !same) { std::printf("%s: not refused or not unchanged: %s\n", name, k.what); }
    refused += (!ok && same) ? 1 : 0;
  }
  CHECK_CTX(refused == static_cast<int>(sizeof cases / sizeof cases[0]), name);
  CHECK_CTX(a.soh.set_state(a.est, keep) && same_soh_bits(a, keep, x, P), name);  // the state itself: accepted
}

/// close_pair() (a log that ends under load): refused without an initialised tracker or an open pair,
/// with the SOC sigma above pair_max_soc_sigma, with the SOC on a clamp, or with |SOC change| below
/// pair_min_delta_soc (nothing changes); after a rest anchor and a discharge of 0.4 SOC on a cell with
/// 80 % of the model's capacity it closes the pair: the capacity moves towards the truth, the
/// estimator uses it, and no new pair opens. The same on a cell with a flat OCV plateau where the pair
/// ends (the pair's SOC then uses the 0.05 V per unit SOC slope floor).
// verifies: CS-SOH-003
template <class E>
void test_close_pair(const char* name, bool flat = false) {
  using T = typename E::T;
  using M = typename E::Model;
  Setup<E> s(T(0.95), true, flat);
  CHECK_CTX(s.ok, name);
  CHECK_CTX(!s.soh.close_pair(s.est), name);  // no open pair
  typename M::Params pt = s.p;
  M truth(&pt, typename M::Noise{});
  CHECK_CTX(truth.set_health(T(2.0), T(1)), name);
  typename M::State xt;
  typename M::Cov unused;
  M::initial(T(0.95), T(0), T(0), T(0), T(0), xt, unused);
  typename M::Aux aux{T(0)};
  const auto run = [&](int n, T current_A) {
    for (int k = 0; k < n; ++k) {
      const auto st = truth.prepare(xt, aux, T(1), current_A, T(25));
      xt = truth.predict(st, xt);
      aux = M::next_aux(st);
      s.soh.step(s.est, T(1), current_A, truth.measure(st, xt), T(25));
    }
  };
  run(120, T(0));  // a rest: a trusted anchor opens the pair
  CHECK_CTX(s.soh.state().anchored == 1, name);
  run(600, T(2));  // 0.17 of the true capacity: too small a change
  const soh::SohState<T> open = s.soh.state();
  CHECK_CTX(!s.soh.close_pair(s.est), name);
  CHECK_CTX(std::memcmp(&open, &s.soh.state(), sizeof open) == 0, name);
  run(1000, T(2));  // 0.44 in all
  const T q_before = s.soh.capacity_Ah();
  {  // the SOC sigma gate: a tracker whose pair_max_soc_sigma is tiny refuses (same state restored)
    Setup<E> t(T(0.95));
    soh::SohConfig<T> strict = t.soh.config();
    strict.pair_max_soc_sigma = T(1e-6);
    soh::SohTracker<E> tr;
    CHECK_CTX(tr.init(t.est, strict) && t.est.set_state(s.est.state(), s.est.covariance(), s.est.aux()), name);
    CHECK_CTX(tr.set_state(t.est, s.soh.state()) && !tr.close_pair(t.est), name);
    // the SOC on a clamp: refused
    auto xc = s.est.state();
    xc(0, 0) = t.est.config().soc_max;
    soh::SohTracker<E> tr2;
    CHECK_CTX(tr2.init(t.est, s.soh.config()) && t.est.set_state(xc, s.est.covariance(), s.est.aux()), name);
    CHECK_CTX(tr2.set_state(t.est, s.soh.state()) && !tr2.close_pair(t.est), name);
    xc(0, 0) = t.est.config().soc_min;
    CHECK_CTX(t.est.set_state(xc, s.est.covariance(), s.est.aux()) && !tr2.close_pair(t.est), name);
  }
  CHECK_CTX(s.soh.close_pair(s.est), name);
  std::printf("%s%s: close_pair under load: capacity %.4f -> %.4f (truth 2.0)\n", name, flat ? " flat OCV" : "",
              static_cast<double>(q_before), static_cast<double>(s.soh.capacity_Ah()));
  CHECK_CTX(std::fabs(s.soh.capacity_Ah() - T(2)) < T(0.1), name);
  CHECK_CTX(s.soh.capacity_Ah() < q_before - T(0.1), name);
  CHECK_CTX(s.est.model().capacity_Ah() == s.soh.capacity_Ah(), name);
  CHECK_CTX(s.soh.state().anchored == 0 && !s.soh.close_pair(s.est), name);
}

/// Steps the SOC filter does not fuse, or fuses outside the learning window, teach nothing: a
/// predict-only step (gate policy kPredictOnly) reports no R0 (NaN) and breaks the R0 difference; a
/// fused step after a gate timeout is used; steps at 10 and 60 degC (window [20, 50]) update neither R0
/// nor the OCV nodes nor a capacity pair. The rest timer stops at kRestCap_s.
// verifies: CS-SOH-004
template <class E>
void test_unfused_and_window(const char* name) {
  using T = typename E::T;
  {
    Setup<E> s(T(0.8));
    EstimatorConfig<T> cfg = s.est.config();
    cfg.gate_policy = GatePolicy::kPredictOnly;
    cfg.gate_timeout_steps = 3;
    typename E::Model m = s.est.model();
    E e2;
    CHECK_CTX(e2.init(m, cfg, typename E::FilterConfig{}, s.est.state(), s.est.covariance(), s.est.aux()) ==
                  InitStatus::kOk, name);
    soh::SohTracker<E> tr;
    CHECK_CTX(tr.init(e2, s.soh.config()), name);
    tr.step(e2, T(1), T(0), T(3.85), T(25));
    const auto r = tr.step(e2, T(1), T(2), T(2.0), T(25));  // 1.8 V off: gated, predict only
    CHECK_CTX(r.soc.status == StepStatus::kPredictedOnly, name);
    CHECK_CTX(std::isnan(r.r0_Ohm) && std::isnan(r.r0_sigma_Ohm) && !r.r0_updated, name);
    CHECK_CTX(tr.state().prev_valid == 0, name);
    int timed_out_at = -1;
    for (int k = 0; k < 6 && timed_out_at < 0; ++k) {
      const auto q = tr.step(e2, T(1), T(2), T(2.0), T(25));
      if (q.soc.status == StepStatus::kFusedAfterGateTimeout) { timed_out_at = k; }
    }
    CHECK_CTX(timed_out_at >= 0 && tr.state().prev_valid == 1, name);
  }
  for (const T temp : {T(10), T(60)}) {
    Setup<E> s(T(0.8));
    const soh::SohState<T> before = s.soh.state();
    int updates = 0;
    for (int k = 0; k < 600; ++k) {
      const T i = (k / 30) % 2 == 0 ? T(0) : T(2);
      const auto r = s.soh.step(s.est, T(1), i, T(3.85) - T(0.04) * i - T(1e-5) * T(k), temp);
      updates += (r.r0_updated || r.ocv_updated || r.capacity_updated) ? 1 : 0;
    }
    CHECK_CTX(updates == 0 && s.soh.state().anchored == 0, name);
    CHECK_CTX(s.soh.r0_scale() == before.r0_scale, name);
    CHECK_CTX(std::memcmp(s.soh.ocv_nodes_V(), before.ocv_x + 1, sizeof(T) * model::kEcmOcvNodes) == 0, name);
  }
  {
    Setup<E> s(T(0.8));
    soh::SohState<T> st = s.soh.state();
    st.rest_s = T(soh::kRestCap_s) - T(1);
    CHECK_CTX(s.soh.set_state(s.est, st), name);
    s.soh.step(s.est, T(2), T(0), T(3.85), T(25));
    CHECK_CTX(s.soh.state().rest_s == T(soh::kRestCap_s), name);
  }
}

/// anchor_rest_s = 0: every rest sample is a trusted anchor, so a pair that closes at a rest sample opens
/// the next one there; a short charge at a rest keeps the better-known start; a charge pair closes through
/// close_pair() too (SOC change negative); at the SOC bound (soc_max) no pair opens.
// verifies: CS-SOH-008, CS-SOH-003
template <class E>
void test_anchor_every_rest(const char* name) {
  using T = typename E::T;
  using M = typename E::Model;
  Setup<E> s(T(0.9));
  CHECK_CTX(s.ok, name);
  soh::SohConfig<T> c = s.soh.config();
  c.anchor_rest_s = T(0);
  soh::SohTracker<E> tr;
  CHECK_CTX(tr.init(s.est, c), name);
  typename M::Params pt = s.p;
  M truth(&pt, typename M::Noise{});
  CHECK_CTX(truth.set_health(T(2.0), T(1)), name);
  typename M::State xt;
  typename M::Cov unused;
  M::initial(T(0.9), T(0), T(0), T(0), T(0), xt, unused);
  typename M::Aux aux{T(0)};
  int closed = 0;
  const auto run = [&](int n, T current_A) {
    for (int k = 0; k < n; ++k) {
      const auto st = truth.prepare(xt, aux, T(1), current_A, T(25));
      xt = truth.predict(st, xt);
      aux = M::next_aux(st);
      closed += tr.step(s.est, T(1), current_A, truth.measure(st, xt), T(25)).capacity_updated ? 1 : 0;
    }
  };
  run(60, T(0));
  CHECK_CTX(tr.state().anchored == 1, name);
  run(10, T(-0.5));  // a short charge, then rest: the start may move to a better-known rest sample
  run(120, T(0));
  CHECK_CTX(tr.state().anchored == 1 && closed == 0, name);
  run(1500, T(2));   // 0.42 of the true capacity, then rest: closes at a rest sample that is an anchor
  run(5, T(0));
  CHECK_CTX(closed == 1 && tr.state().anchored == 1, name);  // and the next pair opened there
  run(120, T(0));
  run(1500, T(-2));  // charge back, ending under load: close_pair closes the charge pair
  CHECK_CTX(tr.close_pair(s.est) && tr.state().anchored == 0, name);
  std::printf("%s: anchor at every rest: capacity %.4f after 2 pairs (truth 2.0)\n", name,
              static_cast<double>(tr.capacity_Ah()));
  CHECK_CTX(std::fabs(tr.capacity_Ah() - T(2)) < T(0.1), name);
  // at the SOC bound no pair opens (a clamped SOC says nothing about the charge)
  Setup<E> top(T(1.05));
  for (int k = 0; k < 60; ++k) { top.soh.step(top.est, T(1), T(0), T(4.4), T(25)); }
  CHECK_CTX(top.est.soc() == top.est.config().soc_max && top.soh.state().anchored == 0, name);
}

}  // namespace

/// Every SohConfigIssue has its own field name and a message that names it; a byte outside the enum: "unknown".
// verifies: CS-SOH-014
void test_config_issue_messages() {
  using I = soh::SohConfigIssue;
  const int last = static_cast<int>(soh::kLastSohConfigIssue);
  for (int i = 1; i <= last; ++i) {
    const char* field = soh::soh_config_field(static_cast<I>(i));
    const char* msg = soh::soh_config_message(static_cast<I>(i));
    CHECK(field[0] != '\0' && std::strcmp(field, "unknown") != 0);
    CHECK(msg[0] != '\0' && std::strcmp(msg, "unknown") != 0 && std::strcmp(msg, "ok") != 0);
    const char* slash = std::strchr(field, '/');
    const std::size_t n = slash != nullptr ? static_cast<std::size_t>(slash - field) : std::strlen(field);
    CHECK(std::strncmp(msg, field, n) == 0);
    for (int j = 1; j < i; ++j) {
      CHECK(std::strcmp(msg, soh::soh_config_message(static_cast<I>(j))) != 0);
      CHECK(std::strcmp(field, soh::soh_config_field(static_cast<I>(j))) != 0);
    }
  }
  CHECK(std::strcmp(soh::soh_config_message(I::kOk), "ok") == 0 && soh::soh_config_field(I::kOk)[0] == '\0');
  CHECK(std::strcmp(soh::soh_config_message(static_cast<I>(200)), "unknown") == 0);
  CHECK(std::strcmp(soh::soh_config_field(static_cast<I>(200)), "unknown") == 0);
}

/// A logger gap (a step rejected as kRejectedDtTooLarge) forgets the open capacity pair, the R0 difference's previous
/// sample and the OCV filter's count (restart_pairing(false)): the capacity, the R0 factor, the OCV nodes and the SOC
/// filter keep their bits, and no pair opens again before a rest of anchor_rest_s. Any other rejected step still
/// changes nothing (test_tracking).
// verifies: CS-SOH-016
template <class E>
void test_gap_forgets_the_pair(const char* name) {
  using T = typename E::T;
  Setup<E> a(T(0.9));
  CHECK_CTX(a.ok, name);
  a.soh.restart_pairing(true);  // rested start: the first rest sample is a trusted anchor
  for (int k = 0; k < 100; ++k) { a.soh.step(a.est, T(1), T(0), T(4.0), T(25)); }
  for (int k = 0; k < 200; ++k) { a.soh.step(a.est, T(1), T(2), T(3.9) - T(0.0002) * T(k), T(25)); }
  a.soh.step(a.est, T(0.1), T(4), T(3.8), T(25));  // a current step 0.1 s after the last sample: opens an R0 window
  CHECK_CTX(a.soh.state().anchored == 1 && a.soh.state().prev_valid == 1 && a.soh.state().r0_window_s > T(0), name);
  const auto before = a.soh.state();
  const auto x = a.est.state();
  const auto P = a.est.covariance();
  const T q0 = a.soh.capacity_Ah();
  const auto r = a.soh.step(a.est, a.est.config().dt_max_s * T(2), T(2), T(3.85), T(25));
  CHECK_CTX(r.soc.status == StepStatus::kRejectedDtTooLarge && !r.capacity_updated && !r.r0_updated, name);
  const auto& st = a.soh.state();
  CHECK_CTX(st.anchored == 0 && st.prev_valid == 0 && st.ocv_resync == 1 && st.rest_s == T(0), name);
  CHECK_CTX(st.anchor_age_s == T(soh::kRestCap_s) && st.r0_window_s == T(0), name);
  CHECK_CTX(st.r0_scale == before.r0_scale && st.r0_scale_var == before.r0_scale_var && a.soh.capacity_Ah() == q0, name);
  CHECK_CTX(std::memcmp(st.ocv_x + 1, before.ocv_x + 1, sizeof(T) * (soh::kOcvFilterStates - 1)) == 0, name);
  CHECK_CTX(std::memcmp(&a.est.state(), &x, sizeof x) == 0 && std::memcmp(&a.est.covariance(), &P, sizeof P) == 0,
            name);
  // a short rest after the gap is not an anchor: no pair
  for (int k = 0; k < 10; ++k) { a.soh.step(a.est, T(1), T(0), T(3.95), T(25)); }
  CHECK_CTX(a.soh.state().anchored == 0, name);
}

/// A capacity pair whose SOC change came without the matching charge (the SOC moved over a rest: here set from
/// outside without restart_pairing, in the field a learned OCV node moving the own-OCV SOC) is dropped: no update, the
/// capacity sigma unchanged; the same pair with the charge counted updates.
// verifies: CS-SOH-017
template <class E>
void test_pair_needs_its_charge(const char* name) {
  using T = typename E::T;
  for (int with_charge = 0; with_charge < 3; ++with_charge) {  // none, 0.4 Q (agrees), 0.9 Q (2.25x: too much)
    Setup<E> a(T(0.9), false);
    CHECK_CTX(a.ok, name);
    a.soh.restart_pairing(true);
    for (int k = 0; k < 60; ++k) { a.soh.step(a.est, T(1), T(0), T(4.0), T(25)); }
    CHECK_CTX(a.soh.state().anchored == 1, name);
    const T sigma0 = a.soh.capacity_sigma_Ah();
    // 0.4 of the capacity: discharged at 2 A (with_charge), or the SOC moved by 0.4 with nothing counted
    const T q_As = T(3600) * a.p.capacity_Ah;
    // one load sample at least, so the rest after it is not a trusted anchor (no re-anchoring of an unmoved pair)
    const int n = with_charge != 0 ? static_cast<int>((with_charge == 1 ? T(0.4) : T(0.9)) * q_As / T(2)) : 1;
    for (int k = 0; k < n; ++k) {
      const auto& mm = a.est.model();
      const T v = mm.measure(mm.measurement_step(a.est.aux(), T(2), T(25)), a.est.state());  // the model's own
      a.soh.step(a.est, T(1), T(2), v, T(25));
    }
    auto x = E::State::zero();
    x(0, 0) = T(0.5);
    a.est.set_state(x, a.est.covariance(), a.est.aux());
    // the model's rested voltage at SOC 0.5, so the rest samples are fused where the SOC now is
    const auto& m = a.est.model();
    const T v_rest = m.measure(m.measurement_step(a.est.aux(), T(0), T(25)), x);
    if (with_charge != 1) {  // close_pair() applies the same gate (and changes nothing when refused)
      CHECK_CTX(!a.soh.close_pair(a.est) && a.soh.state().anchored == 1, name);
    }
    bool updated = false;
    for (int k = 0; k < 5; ++k) { updated = a.soh.step(a.est, T(1), T(0), v_rest, T(25)).capacity_updated || updated; }
    if (with_charge == 1) {
      CHECK_CTX(updated && a.soh.capacity_sigma_Ah() < sigma0, name);
    } else {
      CHECK_CTX(!updated && a.soh.capacity_sigma_Ah() == sigma0, name);
    }
  }
}

/// The OCV learner takes a rest sample only after kOcvMinRest_s at rest (a real cell is still relaxing before):
/// none of the first 300 s of a rest updates the nodes, the samples after it do; a load sample restarts the count.
// verifies: CS-SOH-018
template <class E>
void test_ocv_waits_for_relaxation(const char* name) {
  using T = typename E::T;
  Setup<E> a(T(0.6));
  CHECK_CTX(a.ok, name);
  const auto& m = a.est.model();
  const T v_ocv = m.measure(m.measurement_step(a.est.aux(), T(0), T(25)), a.est.state());
  int first = -1;
  for (int k = 1; k <= 400; ++k) {  // a rest 20 mV above the model's OCV: evidence for the node, once relaxed
    const auto r = a.soh.step(a.est, T(1), T(0), v_ocv + T(0.02), T(25));
    if (r.ocv_updated && first < 0) { first = k; }
  }
  CHECK_CTX(first >= static_cast<int>(soh::kOcvMinRest_s) && first <= static_cast<int>(soh::kOcvMinRest_s) + 5, name);
  a.soh.step(a.est, T(1), T(1), v_ocv, T(25));  // one load sample: the rest starts again
  bool early = false;
  for (int k = 0; k < 100; ++k) { early = a.soh.step(a.est, T(1), T(0), v_ocv + T(0.02), T(25)).ocv_updated || early; }
  CHECK_CTX(!early, name);
}

int main() {
  test_ocv_waits_for_relaxation<EcmEkf<float, 2>>("ekf float");
  test_ocv_waits_for_relaxation<EcmUkf<double, 2>>("ukf double");
  test_pair_needs_its_charge<EcmEkf<float, 2>>("ekf float");
  test_pair_needs_its_charge<EcmUkf<double, 2>>("ukf double");
  test_gap_forgets_the_pair<EcmEkf<float, 2>>("ekf float");
  test_gap_forgets_the_pair<EcmUkf<double, 2>>("ukf double");
  test_ocv_correction_model<float>();
  test_ocv_correction_model<double>();
  test_ocv_learning<EcmEkf<float, 2>>("ekf float");
  test_ocv_learning<EcmUkf<double, 2>>("ukf double");
  test_awtls_exact_and_refusals<float>();
  test_awtls_exact_and_refusals<double>();
  test_awtls_errors_in_x<float>();
  test_awtls_errors_in_x<double>();
  test_unit_health_is_identity<float>();
  test_unit_health_is_identity<double>();
  test_tracking<EcmEkf<float, 2>>("ekf float");
  test_tracking<EcmEkf<double, 2>>("ekf double");
  test_tracking<EcmUkf<float, 2>>("ukf float");
  test_tracking<EcmUkf<double, 2>>("ukf double");
  test_tracking<EcmEkf<double, 1>>("ekf double 1rc");
  test_trusted_anchors<EcmEkf<float, 2>>("ekf float");
  test_trusted_anchors<EcmUkf<double, 2>>("ukf double");
  test_no_wander<EcmEkf<float, 2>>("ekf float");
  test_no_wander<EcmUkf<double, 2>>("ukf double");
  test_save_restore<EcmEkf<float, 2>>("ekf float");
  test_save_restore<EcmUkf<float, 2>>("ukf float");
  test_save_restore<EcmEkf<double, 2>>("ekf double");
  test_awtls_each_refusal<float>();
  test_awtls_each_refusal<double>();
  test_config_refusals<EcmEkf<float, 2>>("ekf float");
  test_config_refusals<EcmUkf<double, 2>>("ukf double");
  test_config_issue_messages();
  test_restore_each_field<EcmEkf<float, 2>>("ekf float");
  test_restore_each_field<EcmUkf<double, 2>>("ukf double");
  test_close_pair<EcmEkf<float, 2>>("ekf float");
  test_close_pair<EcmUkf<double, 2>>("ukf double");
  test_close_pair<EcmEkf<float, 2>>("ekf float", true);
  test_unfused_and_window<EcmEkf<float, 2>>("ekf float");
  test_unfused_and_window<EcmUkf<double, 2>>("ukf double");
  test_anchor_every_rest<EcmEkf<float, 2>>("ekf float");
  test_anchor_every_rest<EcmUkf<double, 2>>("ukf double");
  return cstest::finish("test_soh");
}
