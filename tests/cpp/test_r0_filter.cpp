// Unit tests: soh/r0_filter.hpp (the SOH tracker's R0 filter on its own, fed the SOC filter's
// innovations by hand), float and double.
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>

#include "cellsense/soh/r0_filter.hpp"
#include "cells.hpp"
#include "check.hpp"

using namespace cellsense;

namespace {

/// A fused step's report as the R0 filter reads it: innovation e, S and R (R = S: no SOC update, rho = e).
template <typename T>
StepReport<T> fused(T innovation_V, T s_V2, T r_V2) {
  StepReport<T> r{};
  r.status = StepStatus::kFused;
  r.innovation_V = innovation_V;
  r.innovation_variance_V2 = s_V2;
  r.measurement_variance_V2 = r_V2;
  return r;
}

template <typename T>
soh::SohState<T> fresh(const soh::SohConfig<T>& c) {
  soh::SohState<T> st{};
  st.r0_scale = T(1);
  st.r0_scale_var = c.r0_scale_sigma * c.r0_scale_sigma;
  return st;
}

/// One update against the scalar Kalman filter written out in double (r0_filter.hpp header):
/// d = e - rho_prev, H = -(g - g_prev), S = H^2 P + 2 sigma^2, theta += P H d / S, P := P 2 sigma^2 / S,
/// rho := e R / S_soc + (theta' - theta) g. The prediction adds q^2 dt and stops at sigma^2.
// verifies: CS-SOH-009
template <typename T>
void test_update_equations() {
  soh::SohConfig<T> c;
  soh::SohState<T> st = fresh(c);
  // prediction: grows by q^2 dt, capped at the initial variance
  st.r0_scale_var = T(0.04);
  soh::r0_predict(c, st, T(10));
  CHECK_T(std::fabs(static_cast<double>(st.r0_scale_var) - (0.04 + 4e-8 * 10)) < 1e-8);
  soh::r0_predict(c, st, T(1e9));
  CHECK_T(st.r0_scale_var == c.r0_scale_sigma * c.r0_scale_sigma);
  // one update from a known previous sample
  st.r0_scale_var = T(0.04);
  st.prev_valid = 1;
  st.prev_residual_V = T(0.001);
  st.prev_g_V = T(0.025);
  st.prev_current_A = T(0.5);
  const double e = 0.01, s_soc = 2e-4, r_soc = 1e-4, g = 0.15;
  const bool up = soh::r0_fused_sample(c, st, fused(T(e), T(s_soc), T(r_soc)), T(g), T(1), T(3), true);
  const double d = e - 0.001, h = -(g - 0.025), rd = 2 * 0.005 * 0.005, s = h * h * 0.04 + rd;
  const double theta = 1 + 0.04 * h / s * d, var = 0.04 * rd / s;
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  CHECK_T(up);
  CHECK_T(std::fabs(static_cast<double>(st.r0_scale) - theta) < tol);
  CHECK_T(std::fabs(static_cast<double>(st.r0_scale_var) - var) < tol * var);
  CHECK_T(st.r0_scale < T(1));  // measured above predicted (d > 0) at a discharge step: less resistance
  CHECK_T(std::fabs(static_cast<double>(st.prev_residual_V) - (e * r_soc / s_soc + (theta - 1) * g)) < tol);
  CHECK_T(st.prev_g_V == T(g) && st.prev_current_A == T(3) && st.prev_valid == 1);
  // theta is clamped to its bounds (the variance still updates)
  c.r0_scale_max = T(1.05);
  st = fresh(c);
  st.r0_scale_var = T(0.04);
  st.prev_valid = 1;
  st.prev_g_V = T(0.025);
  st.prev_current_A = T(0.5);
  CHECK_T(soh::r0_fused_sample(c, st, fused(T(-0.009), T(1e-4), T(1e-4)), T(0.15), T(1), T(3), true));
  CHECK_T(st.r0_scale == T(1.05) && st.r0_scale_var < T(0.04));
}

/// theta_true = 1.3 with a constant model error of 4 mV and 1 mV noise on every innovation: the filter
/// starts at 1 and converges from current steps of 2.5 A; its sigma falls below a quarter of the prior.
// verifies: CS-SOH-009
template <typename T>
void test_converges() {
  const soh::SohConfig<T> c;
  soh::SohState<T> st = fresh(c);
  cstest::Rng rng;
  const double theta_true = 1.3, table_Ohm = 0.05, bias_V = 0.004;
  int updates = 0;
  for (int k = 0; k < 600; ++k) {
    const double i = (k / 10) % 2 == 0 ? 0.5 : 3.0;
    const double g = table_Ohm * i;
    const double e = -(theta_true - static_cast<double>(st.r0_scale)) * g + bias_V + 0.001 * rng.normal();
    soh::r0_predict(c, st, T(1));
    updates += soh::r0_fused_sample(c, st, fused(static_cast<T>(e), T(1e-4), T(1e-4)), static_cast<T>(g), T(1),
                                    static_cast<T>(i), true) ? 1 : 0;
  }
  CHECK_T(updates == 59);  // one per current step (the first sample has no previous one)
  CHECK_T(std::fabs(static_cast<double>(st.r0_scale) - theta_true) < 0.01);
  CHECK_T(std::sqrt(static_cast<double>(st.r0_scale_var)) < 0.25 * static_cast<double>(c.r0_scale_sigma));
}

/// No update without evidence: outside the learning window, after an unfused sample, over a long
/// interval, at a small current step, beyond the NIS gate, or when the result would not be finite and
/// positive. theta and its variance keep their bits; the sample's residual is still kept as the next
/// reference (prev_valid 1), except after an unfused sample (prev_valid 0).
// verifies: CS-SOH-010
template <typename T>
void test_gates() {
  const soh::SohConfig<T> c;
  soh::SohState<T> base = fresh(c);
  base.r0_scale_var = T(0.04);
  base.prev_valid = 1;
  base.prev_g_V = T(0.025);
  base.prev_current_A = T(0.5);
  const auto r = fused(T(0.01), T(1e-4), T(1e-4));
  const auto unchanged = [&](const soh::SohState<T>& s) {
    return std::memcmp(&s.r0_scale, &base.r0_scale, sizeof(T)) == 0 &&
           std::memcmp(&s.r0_scale_var, &base.r0_scale_var, sizeof(T)) == 0;
  };
  soh::SohState<T> st = base;
  CHECK_T(soh::r0_fused_sample(c, st, r, T(0.15), T(1), T(3), true));  // the reference case updates
  st = base;
  CHECK_T(!soh::r0_fused_sample(c, st, r, T(0.15), T(1), T(3), false) && unchanged(st));  // not learning
  CHECK_T(st.prev_valid == 1 && std::fabs(st.prev_residual_V - T(0.01)) < T(1e-7) && st.prev_g_V == T(0.15));
  st = base;
  CHECK_T(!soh::r0_fused_sample(c, st, r, T(0.15), T(2.5), T(3), true) && unchanged(st));  // dt > 2 s
  soh::SohConfig<T> half = c;
  half.r0_min_dt_s = T(0.5);
  st = base;
  CHECK_T(!soh::r0_fused_sample(half, st, r, T(0.15), T(0.1), T(3), true) && unchanged(st));  // dt 0.1 s < 0.5 s
  CHECK_T(st.r0_window_s == T(0.1));  // ... opens a window (test_window)
  st = base;
  CHECK_T(soh::r0_fused_sample(half, st, r, T(0.15), T(0.5), T(3), true));  // dt at r0_min_dt_s: updates
  CHECK_T(st.r0_window_s == T(0));
  soh::SohConfig<T> every = c;
  every.r0_min_dt_s = T(0);
  st = base;
  CHECK_T(soh::r0_fused_sample(every, st, r, T(0.15), T(0.1), T(3), true));  // 0: every interval on its own
  CHECK_T(c.r0_min_dt_s == T(0.5));  // the default: a 0.5 s window
  st = base;
  CHECK_T(!soh::r0_fused_sample(c, st, r, T(0.15), T(1), T(1.4), true) && unchanged(st));  // |di| 0.9 A < 1 A
  st = base;
  CHECK_T(!soh::r0_fused_sample(c, st, fused(T(1), T(1e-4), T(1e-4)), T(0.15), T(1), T(3), true) &&
          unchanged(st));  // NIS beyond the gate
  st = base;
  CHECK_T(!soh::r0_fused_sample(c, st, r, std::numeric_limits<T>::quiet_NaN(), T(1), T(3), true) &&
          unchanged(st));  // a non-finite g (S is NaN)
  st = base;
  soh::r0_unfused_sample(st);
  CHECK_T(st.prev_valid == 0);
  CHECK_T(!soh::r0_fused_sample(c, st, r, T(0.15), T(1), T(3), true) && unchanged(st));  // no reference
  CHECK_T(st.prev_valid == 1);
  // A variance that underflows to 0 or a gain that overflows is not stored (restored states may hold
  // any positive variance up to 3e38).
  st = base;
  st.r0_scale_var = std::numeric_limits<T>::denorm_min();
  base.r0_scale_var = st.r0_scale_var;
  CHECK_T(!soh::r0_fused_sample(c, st, r, T(0.15), T(1), T(3), true) && unchanged(st));
  st = base;
  st.r0_scale_var = std::numeric_limits<T>::max() / T(4);
  base.r0_scale_var = st.r0_scale_var;
  CHECK_T(!soh::r0_fused_sample(c, st, r, T(0.15) * std::numeric_limits<T>::max(), T(1), T(3), true) &&
          unchanged(st));
}

/// The difference window (r0_min_dt_s 0.3 s, samples 0.1 s apart): a voltage that shows a third of R0 di at the
/// step's sample and the rest one sample later (the Panasonic tester at 10 Hz) reads theta_true / 3 with every
/// interval (r0_min_dt_s 0) and theta_true with the window. A window is carried while steps go on, dropped when its
/// span passes r0_max_dt_s (no update, the next sample the new reference), and closed by an unfused sample. With no
/// correction inside it (R = S) the windowed update is the one-interval update over the same span bit for bit.
// verifies: CS-SOH-015
template <typename T>
void test_window() {
  const double theta_true = 1.3, table_Ohm = 0.05;
  for (const double min_dt : {0.0, 0.3}) {
    soh::SohConfig<T> c;
    c.r0_min_dt_s = static_cast<T>(min_dt);
    soh::SohState<T> st = fresh(c);
    double i_prev = 0.5;
    int updates = 0;
    for (int k = 0; k < 2000; ++k) {
      const double i = (k / 20) % 2 == 0 ? 0.5 : 3.0;
      // measured: OCV - theta_true R (i / 3 + 2 i_prev / 3); predicted: OCV - theta R i (the innovation e = y - h)
      const double e = static_cast<double>(st.r0_scale) * table_Ohm * i -
                       theta_true * table_Ohm * (i / 3.0 + 2.0 * i_prev / 3.0);
      soh::r0_predict(c, st, T(0.1));
      updates += soh::r0_fused_sample(c, st, fused(static_cast<T>(e), T(1e-4), T(1e-4)),
                                      static_cast<T>(table_Ohm * i), T(0.1), static_cast<T>(i), true) ? 1 : 0;
      i_prev = i;
    }
    CHECK_T(updates == 99);  // one per current step
    const double want = min_dt > 0 ? theta_true : theta_true / 3.0;
    CHECK_T(std::fabs(static_cast<double>(st.r0_scale) - want) < 0.02);
  }
  // the window equals one interval over its span when nothing was corrected inside it
  soh::SohConfig<T> c;
  c.r0_min_dt_s = T(0.3);
  soh::SohState<T> a = fresh(c), b = fresh(c);
  a.prev_valid = b.prev_valid = 1;
  a.prev_g_V = b.prev_g_V = T(0.025);
  a.prev_current_A = b.prev_current_A = T(0.5);
  const auto r1 = fused(T(0.004), T(1e-4), T(1e-4));
  const auto r2 = fused(T(0.01), T(1e-4), T(1e-4));
  CHECK_T(!soh::r0_fused_sample(c, a, r1, T(0.15), T(0.1), T(3), true) && a.r0_window_s == T(0.1));
  CHECK_T(!soh::r0_fused_sample(c, a, r2, T(0.15), T(0.1), T(3), true) && a.r0_window_s > T(0.19));
  CHECK_T(soh::r0_fused_sample(c, a, r2, T(0.15), T(0.1), T(3), true) && a.r0_window_s == T(0));
  CHECK_T(soh::r0_fused_sample(c, b, r2, T(0.15), T(0.3), T(3), true));
  CHECK_T(a.r0_scale == b.r0_scale && a.r0_scale_var == b.r0_scale_var && a.prev_residual_V == b.prev_residual_V);
  // a step at every sample: the window runs on until it passes r0_max_dt_s (2 s), then is dropped
  soh::SohState<T> st = fresh(c);
  st.prev_valid = 1;
  st.prev_current_A = T(0.5);
  const T var0 = st.r0_scale_var;
  int updates = 0, dropped_at = -1;
  T span = T(0);
  for (int k = 0; k < 30 && dropped_at < 0; ++k) {
    const T i = (k % 2 == 0) ? T(3) : T(0.5);
    updates += soh::r0_fused_sample(c, st, r1, T(0.05) * i, T(0.1), i, true) ? 1 : 0;
    if (st.r0_window_s == T(0)) {
      dropped_at = k;
      CHECK_T(span + T(0.1) > c.r0_max_dt_s && st.prev_current_A == i);  // the dropping sample: next reference
    }
    span = st.r0_window_s;
  }
  CHECK_T(dropped_at >= 19 && dropped_at <= 20);  // 20 intervals of 0.1 s reach 2 s (float rounding either way)
  CHECK_T(updates == 0 && st.r0_scale == T(1) && st.r0_scale_var == var0 && st.prev_valid == 1);
  // an unfused sample closes an open window
  CHECK_T(!soh::r0_fused_sample(c, st, r1, T(0.15), T(0.1), T(3), true) && st.r0_window_s > T(0));
  soh::r0_unfused_sample(st);
  CHECK_T(st.r0_window_s == T(0) && st.prev_valid == 0);
  // outside the learning window: no window either
  st = fresh(c);
  st.prev_valid = 1;
  st.prev_current_A = T(0.5);
  CHECK_T(!soh::r0_fused_sample(c, st, r1, T(0.15), T(0.1), T(3), false) && st.r0_window_s == T(0));
}

}  // namespace

int main() {
  test_update_equations<float>();
  test_update_equations<double>();
  test_converges<float>();
  test_converges<double>();
  test_gates<float>();
  test_gates<double>();
  test_window<float>();
  test_window<double>();
  return cstest::finish("test_r0_filter");
}
