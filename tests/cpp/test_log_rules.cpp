// Unit tests: the whole-log rules the core owns beside the log clock: the logger-gap widening
// (estimator/gap_widening.hpp) and the stuck-voltage marking (estimator/stuck_voltage.hpp), float and double.
#include <cmath>
#include <cstring>
#include <limits>

#include "cellsense/estimator/gap_widening.hpp"
#include "cellsense/estimator/stuck_voltage.hpp"
#include "cells.hpp"
#include "check.hpp"

using namespace cellsense;

namespace {

/// The mean |current| starts at the first usable sample's |i| and then follows an exponential average
/// with a 300 s time constant (unusable samples ignored); a gap adds (mean |i| gap / 3600 Q)^2 to the SOC
/// variance, at most up to 0.3^2, and nothing before the first sample or for a gap <= 0.
// verifies: CS-CLK-006
void test_gap_widening_rule() {
  GapWidening g;
  CHECK(g.soc_variance_after(1e-4, 600.0, 2.5) == 1e-4);  // no current seen yet
  g.track(1.0, std::numeric_limits<double>::quiet_NaN());  // ignored
  g.track(0.0, 3.0);                                       // ignored (dt <= 0)
  CHECK(g.mean_abs_current_A < 0.0);
  g.track(1.0, -2.0);  // the first usable sample sets the mean
  CHECK(g.mean_abs_current_A == 2.0);
  g.track(300.0, 4.0);  // a = 300 / 600
  CHECK(std::fabs(g.mean_abs_current_A - 3.0) < 1e-12);
  const double s_add = 3.0 * 600.0 / (3600.0 * 2.5);
  CHECK(std::fabs(g.soc_variance_after(1e-4, 600.0, 2.5) - (1e-4 + s_add * s_add)) < 1e-15);
  CHECK(g.soc_variance_after(1e-4, 0.0, 2.5) == 1e-4);
  CHECK(g.soc_variance_after(1e-4, 36000.0, 2.5) == 0.3 * 0.3);  // capped
  GapWidening rest;
  rest.track(1.0, 0.0);  // a rest: mean 0, nothing to add
  CHECK(rest.soc_variance_after(1e-4, 600.0, 2.5) == 1e-4);
}

/// An estimator of the test cell at SOC 0.5 (SOC variance 1e-4) with its initial state and covariance: the
/// widening tests' start.
template <class E>
struct WidenStart {
  typename E::Model::State x;
  typename E::Model::Cov P;
  E est;
  explicit WidenStart(const char* name) {
    using T = typename E::T;
    using M = typename E::Model;
    static typename M::Params p;
    cstest::make_cell(p);
    const M m(&p, typename M::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)});
    M::initial(T(0.5), T(0.01), T(0.02), T(0), T(0.5), x, P);
    CHECK_CTX(est.init(m, cstest::config_2025<T>(), typename E::FilterConfig{}, x, P, typename M::Aux{T(0)}) ==
                  InitStatus::kOk, name);
  }
};

/// widen_for_gap: the estimator's SOC variance becomes the widened one (the rest of the state and
/// covariance unchanged); false and nothing changed when nothing is to be added.
// verifies: CS-CLK-006
template <class E>
void test_widen_for_gap(const char* name) {
  WidenStart<E> start(name);
  E& est = start.est;
  const auto& x = start.x;
  const auto& P = start.P;
  GapWidening g;
  CHECK_CTX(!widen_for_gap(est, g, 600.0, 2.5), name);  // no current seen: nothing to add
  CHECK_CTX(std::memcmp(&est.covariance(), &P, sizeof P) == 0, name);
  g.track(1.0, 2.5);
  CHECK_CTX(widen_for_gap(est, g, 720.0, 2.5), name);  // 2.5 A x 720 s / 3600 / 2.5 A h = 0.2
  const double want = 1e-4 + 0.2 * 0.2;
  CHECK_CTX(std::fabs(static_cast<double>(est.covariance()(0, 0)) - want) < 1e-6, name);
  CHECK_CTX(est.covariance()(1, 1) == P(1, 1) && std::memcmp(&est.state(), &x, sizeof x) == 0, name);
}

/// Steps rejected for a reading lose their charge: only the rejections after a valid interval count (not dt ones,
/// not steps that ran); the step's |current| when that reading is usable, else the recent mean (a refused current,
/// a NaN one); the first accepted step after them widens the SOC variance by (charge / 3600 / Q)^2, capped, once.
// verifies: CS-CLK-011
template <class E>
void test_lost_charge(const char* name) {
  using T = typename E::T;
  using M = typename E::Model;
  auto st = [](StepStatus s) { return static_cast<std::uint8_t>(s); };
  GapWidening g;
  g.lost(10.0, 3.0, st(StepStatus::kFused));  // ran: nothing lost
  g.lost(10.0, 3.0, st(StepStatus::kRejectedDtTooLarge));  // a gap: soc_variance_after's
  g.lost(10.0, 3.0, st(StepStatus::kRejectedDt));
  g.lost(0.0, 3.0, st(StepStatus::kRejectedTemperature));  // no interval
  g.lost(std::numeric_limits<double>::quiet_NaN(), 3.0, st(StepStatus::kRejectedTemperature));
  g.lost(std::numeric_limits<double>::infinity(), 3.0, st(StepStatus::kRejectedTemperature));
  g.lost(10.0, 5.0, st(StepStatus::kRejectedCurrent));  // no mean yet: nothing known
  CHECK_CTX(g.lost_As == 0.0 && g.soc_variance_after_lost(1e-4, 2.5) == 1e-4, name);
  g.track(1.0, 2.0);  // mean |i| 2 A
  g.lost(10.0, -3.0, st(StepStatus::kRejectedTemperature));  // its own |current|: 30 A s
  g.lost(10.0, 3.0, st(StepStatus::kRejectedVoltage));
  g.lost(10.0, std::numeric_limits<double>::quiet_NaN(), st(StepStatus::kRejectedNonFinite));  // the mean: 20 A s
  g.lost(10.0, 500.0, st(StepStatus::kRejectedCurrent));  // a refused current: the mean, 20 A s
  g.lost(1.0, 1.0, st(StepStatus::kRejectedInnovationGate));
  g.lost(1.0, 1.0, st(StepStatus::kRejectedNumerical));
  CHECK_CTX(std::fabs(g.lost_As - 102.0) < 1e-12, name);
  const double s_add = 102.0 / (3600.0 * 2.5);
  CHECK_CTX(std::fabs(g.soc_variance_after_lost(1e-4, 2.5) - (1e-4 + s_add * s_add)) < 1e-15, name);
  GapWidening big = g;
  big.lost_As = 1e9;
  CHECK_CTX(big.soc_variance_after_lost(1e-4, 2.5) == 0.3 * 0.3, name);  // capped
  WidenStart<E> start(name);
  E& est = start.est;
  const auto& x = start.x;
  const auto& P = start.P;
  CHECK_CTX(widen_for_lost_charge(est, g, 2.5) && g.lost_As == 0.0, name);
  CHECK_CTX(std::fabs(static_cast<double>(est.covariance()(0, 0)) - (1e-4 + s_add * s_add)) < 1e-6, name);
  CHECK_CTX(est.covariance()(1, 1) == P(1, 1) && std::memcmp(&est.state(), &x, sizeof x) == 0, name);
  CHECK_CTX(!widen_for_lost_charge(est, g, 2.5), name);  // once: nothing left
  big.lost_As = 1e9;
  est.set_state(x, P, est.aux());
  typename M::Cov wide = P;
  wide(0, 0) = T(0.3 * 0.3 * 1.01);  // already beyond the cap: not narrowed, cleared
  est.set_state(x, wide, est.aux());
  CHECK_CTX(!widen_for_lost_charge(est, big, 2.5) && big.lost_As == 0.0, name);
}

/// The charge rule: a reading frozen through a constant current long enough that the OCV must have moved 5 mV
/// anywhere on the table is marked from the run's second sample; the same run with too little charge, at rest, with
/// both signs, tapering (a CV), at the OCV's full end while charging, or without times, is not.
// verifies: CS-CLK-010
template <typename T>
void test_stuck_voltage_by_charge() {
  static model::EcmParams<T, 2> p;
  cstest::make_cell(p);
  const StuckCharge rule = stuck_charge_rule(p);
  CHECK_T(rule.charge_Ah > 0.0 && rule.charge_Ah < static_cast<double>(p.capacity_Ah));
  CHECK_T(std::fabs(rule.rest_A - static_cast<double>(p.capacity_Ah) / 20.0) < 1e-9);
  CHECK_T(detail::least_ocv_rise_V(p, rule.charge_Ah / static_cast<double>(p.capacity_Ah)) >= kStuckMinStep_V);
  CHECK_T(detail::least_ocv_rise_V(p, 0.9 * rule.charge_Ah / static_cast<double>(p.capacity_Ah)) < kStuckMinStep_V);
  // a discharge at 1C for 40 samples of dt chosen so the run carries 1.5x the threshold
  constexpr int n = 40;
  const double i_A = static_cast<double>(p.capacity_Ah);
  const double dt = 1.5 * rule.charge_Ah * 3600.0 / (i_A * (n - 2));
  T v[n], i[n];
  double t[n];
  for (int k = 0; k < n; ++k) {
    v[k] = k == 0 || k == n - 1 ? T(3.75 - 0.001 * k) : T(3.7);
    i[k] = static_cast<T>(i_A);
    t[k] = dt * k;
  }
  unsigned char m[n];
  StuckRun<T> run;
  mark_stuck_voltage(v, i, t, n, T(1e9), rule, run, m);  // rule (1) off: a 1e9 A step never happens
  CHECK_T(m[0] == 0 && m[1] == 0 && m[2] == 1 && m[n - 2] == 1 && m[n - 1] == 0);
  auto none = [&](const T* vv, const T* ii, const double* tt, const StuckCharge& r) {
    run.reset();
    mark_stuck_voltage(vv, ii, tt, n, T(1e9), r, run, m);
    bool any = false;
    for (int k = 0; k < n; ++k) { any = any || m[k] != 0; }
    return !any;
  };
  double t_short[n];
  for (int k = 0; k < n; ++k) { t_short[k] = 0.5 * t[k]; }  // 0.75x the threshold
  CHECK_T(none(v, i, t_short, rule));
  CHECK_T(none(v, i, nullptr, rule));  // no times: the rule is off
  T rest[n], mixed[n], taper[n], chg[n];
  for (int k = 0; k < n; ++k) {
    rest[k] = static_cast<T>(0.01 * i_A);                       // at rest (below C/20), e.g. a sensor's offset
    mixed[k] = static_cast<T>(k % 7 == 3 ? -i_A : i_A);          // both signs
    taper[k] = static_cast<T>(i_A * (1.0 - 0.5 * k / (n - 1)));  // tapering to half
    chg[k] = static_cast<T>(-i_A);
  }
  CHECK_T(none(v, rest, t, rule));
  CHECK_T(none(v, mixed, t, rule));
  CHECK_T(none(v, taper, t, rule));
  // charging at a reading at the OCV's full end: a CV; the same charge at a mid reading is marked
  T v_full[n];
  for (int k = 0; k < n; ++k) { v_full[k] = k == 0 || k == n - 1 ? T(3.0) : static_cast<T>(rule.full_V); }
  CHECK_T(none(v_full, chg, t, rule));
  run.reset();
  mark_stuck_voltage(v, chg, t, n, T(1e9), rule, run, m);
  CHECK_T(m[2] == 1);
  // the same frozen discharge fed in two calls, cut inside the run: the charge is carried and both sides are marked
  run.reset();
  unsigned char h1[n / 2], h2[n / 2];
  mark_stuck_voltage(v, i, t, n / 2, T(1e9), rule, run, h1);
  CHECK_T(run.len == n / 2 - 1 && run.charge_As > 0.0 && !run.off_side);
  mark_stuck_voltage(v + n / 2, i + n / 2, t + n / 2, n / 2, T(1e9), rule, run, h2);
  CHECK_T(h2[0] == 1 && h2[n / 2 - 2] == 1 && h2[n / 2 - 1] == 0);
  // a run that ended at rest carries its off-side flag into the next call (not marked there either); a next call
  // that starts at another reading starts a new run
  T i_rest_then[n];
  for (int k = 0; k < n; ++k) { i_rest_then[k] = k < 4 ? static_cast<T>(0.0) : i[k]; }
  run.reset();
  mark_stuck_voltage(v, i_rest_then, t, n / 2, T(1e9), rule, run, h1);
  CHECK_T(run.off_side);
  mark_stuck_voltage(v + n / 2, i_rest_then + n / 2, t + n / 2, n / 2, T(1e9), rule, run, h2);
  CHECK_T(h2[0] == 0 && h2[n / 2 - 2] == 0);
  run.reset();
  mark_stuck_voltage(v, i, t, n / 2, T(1e9), rule, run, h1);
  T v_other[n / 2];
  for (int k = 0; k < n / 2; ++k) { v_other[k] = T(3.6); }
  mark_stuck_voltage(v_other, i + n / 2, t + n / 2, n / 2, T(1e9), rule, run, h2);
  CHECK_T(h2[0] == 0 && run.len == n / 2 && run.v == T(3.6));
  // NaN currents and times inside the run and a backwards time are skipped, not counted; the rest still carries it
  T i_gappy[n];
  double t_gappy[n];
  for (int k = 0; k < n; ++k) {
    i_gappy[k] = k == 5 ? std::numeric_limits<T>::quiet_NaN() : i[k];
    t_gappy[k] = k == 7 ? std::numeric_limits<double>::quiet_NaN() : k == 9 ? t[8] - 1.0 : t[k];
  }
  run.reset();
  mark_stuck_voltage(v, i_gappy, t_gappy, n, T(1e9), rule, run, m);
  CHECK_T(m[2] == 1 && m[n - 2] == 1);
  // discharging at a reading at the OCV's empty end: a tester's clamp at the lower cut-off
  T v_empty[n];
  for (int k = 0; k < n; ++k) { v_empty[k] = k == 0 || k == n - 1 ? T(3.9) : static_cast<T>(rule.empty_V); }
  CHECK_T(none(v_empty, i, t, rule));
  // the charge rule off (its threshold +inf) with times given, and both rules off: nothing, and no run carried on
  CHECK_T(none(v, i, t, StuckCharge{}));
  run.len = 3;
  mark_stuck_voltage(v, i, t, n, std::numeric_limits<T>::infinity(), StuckCharge{}, run, m);
  CHECK_T(run.len == 0 && m[2] == 0);
  // the OCV look-up holds the end values beyond the table; a warmer row with a lower full end keeps the highest
  CHECK_T(detail::ocv_row_at(p, 0, 2.0) == static_cast<double>(p.ocv_V.value[0][p.grid.n_soc - 1]));
  CHECK_T(detail::ocv_row_at(p, 0, -1.0) == static_cast<double>(p.ocv_V.value[0][0]));
  static model::EcmParams<T, 2> ends;
  ends = p;
  ends.ocv_V.value[ends.grid.n_temperature - 1][ends.grid.n_soc - 1] -= T(0.1);
  ends.ocv_V.value[ends.grid.n_temperature - 1][0] += T(0.1);
  double e_V = 0.0, f_V = 0.0;
  ocv_ends_V(ends, e_V, f_V);
  CHECK_T(f_V == static_cast<double>(p.ocv_V.value[0][p.grid.n_soc - 1]));
  CHECK_T(e_V == static_cast<double>(p.ocv_V.value[0][0]));
  // a larger least move needs more charge (the pack replay passes a coarse sensor's resolution); a least move that
  // is not positive and finite: no detection
  CHECK_T(stuck_charge_Ah(p, 0.02) > stuck_charge_Ah(p) && stuck_charge_Ah(p, kStuckMinStep_V) == stuck_charge_Ah(p));
  CHECK_T(std::isinf(stuck_charge_Ah(p, 0.0)) && std::isinf(stuck_charge_Ah(p, std::numeric_limits<double>::quiet_NaN())));
  CHECK_T(std::isinf(stuck_charge_Ah(p, std::numeric_limits<double>::infinity())));
  // a capacity that is not finite: no detection
  ends.capacity_Ah = std::numeric_limits<T>::infinity();
  CHECK_T(std::isinf(stuck_charge_Ah(ends)));
  // a table whose OCV never rises 5 mV over its span: no detection
  static model::EcmParams<T, 2> flat;
  flat = p;
  for (int it = 0; it < flat.grid.n_temperature; ++it) {
    for (int is = 0; is < flat.grid.n_soc; ++is) { flat.ocv_V.value[it][is] = T(3.3); }
  }
  CHECK_T(std::isinf(stuck_charge_Ah(flat)));
  flat.capacity_Ah = T(0);
  CHECK_T(std::isinf(stuck_charge_Ah(flat)));
}

/// A log whose voltage sticks at one reading while the current steps up and down through discharge and
/// charge (steps above 5 mV / R0_min) is marked from the run's second sample on; a run that is too short,
/// a flat current (a rest), one-direction steps (a CV phase), a NaN reading or an unusable step size
/// marks nothing; a run carried across two calls is marked on both sides of the cut.
// verifies: CS-CLK-007
template <typename T>
void test_stuck_voltage() {
  static model::EcmParams<T, 2> p;
  cstest::make_cell(p);
  const double step = stuck_current_step_A(p);  // 5 mV / 20 mOhm (R0 at SOC 1, 40 degC) = 0.25 A
  CHECK_T(std::fabs(step - 0.25) < 1e-4);
  static model::EcmParams<T, 2> q;
  q = p;
  q.r0_Ohm.value[0][0] = T(0);
  CHECK_T(std::isinf(stuck_current_step_A(q)));  // a zero R0: no detection
  for (int it = 0; it < q.grid.n_temperature; ++it) {
    for (int is = 0; is < q.grid.n_soc; ++is) { q.r0_Ohm.value[it][is] = std::numeric_limits<T>::infinity(); }
  }
  CHECK_T(std::isinf(stuck_current_step_A(q)));  // no finite R0: no detection
  const T s = static_cast<T>(step);
  const T v_stuck = T(3.7);
  // 0: a genuine reading, 1..7 stuck at 3.7 V with the current +1, -1, +1, -1 A ..., 8: moves again
  T v[10] = {T(3.75), v_stuck, v_stuck, v_stuck, v_stuck, v_stuck, v_stuck, v_stuck, T(3.69), T(3.68)};
  T i[10] = {T(1), T(1), T(-1), T(1), T(-1), T(1), T(-1), T(1), T(1), T(1)};
  unsigned char m[10];
  StuckRun<T> run;
  mark_stuck_voltage(v, i, 10, s, run, m);
  const unsigned char want[10] = {0, 0, 1, 1, 1, 1, 1, 1, 0, 0};  // the run's first sample is genuine
  CHECK_T(std::memcmp(m, want, sizeof m) == 0);
  // the same run cut after sample 4 and fed in two calls: marked on both sides once identified
  run.reset();
  unsigned char m1[5], m2[5];
  mark_stuck_voltage(v, i, 5, s, run, m1);
  CHECK_T(run.len == 4 && run.up && run.down && run.pos && run.neg);
  mark_stuck_voltage(v + 5, i + 5, 5, s, run, m2);
  CHECK_T(m2[0] == 1 && m2[1] == 1 && m2[2] == 1 && m2[3] == 0 && m2[4] == 0);
  // too short: 4 identical readings
  T v4[6] = {T(3.75), v_stuck, v_stuck, v_stuck, v_stuck, T(3.69)};
  run.reset();
  mark_stuck_voltage(v4, i, 6, s, run, m);
  CHECK_T(m[0] == 0 && m[1] == 0 && m[2] == 0 && m[3] == 0 && m[4] == 0 && m[5] == 0);
  // a rest (constant current) and a CV phase (charge only, steps both ways): nothing
  T rest_i[10] = {T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0)};
  T cv_i[10] = {T(-1), T(-2), T(-1), T(-2), T(-1), T(-2), T(-1), T(-2), T(-1), T(-2)};
  run.reset();
  mark_stuck_voltage(v, rest_i, 10, s, run, m);
  int marked = 0;
  for (unsigned char b : m) { marked += b; }
  run.reset();
  mark_stuck_voltage(v, cv_i, 10, s, run, m);
  for (unsigned char b : m) { marked += b; }
  CHECK_T(marked == 0);
  // a NaN reading ends the run; a NaN current is skipped inside it
  T vn[10] = {T(3.75), v_stuck, v_stuck, std::numeric_limits<T>::quiet_NaN(), v_stuck, v_stuck, v_stuck, v_stuck,
              T(3.69), T(3.68)};
  T in[10] = {T(1), T(1), T(-1), T(1), T(-1), std::numeric_limits<T>::quiet_NaN(), T(1), T(-1), T(1), T(1)};
  run.reset();
  mark_stuck_voltage(vn, in, 10, s, run, m);
  marked = 0;
  for (unsigned char b : m) { marked += b; }
  CHECK_T(marked == 0);  // 2 + 4 identical readings around the NaN: neither run reaches 5 with both steps
  // an empty log or no detection: nothing marked, no run carried
  run.len = 3;
  mark_stuck_voltage(v, i, 0, s, run, m);
  CHECK_T(run.len == 0);
  run.len = 3;
  mark_stuck_voltage(v, i, 10, std::numeric_limits<T>::infinity(), run, m);
  marked = 0;
  for (unsigned char b : m) { marked += b; }
  CHECK_T(marked == 0 && run.len == 0);
}

}  // namespace

int main() {
  test_gap_widening_rule();
  test_widen_for_gap<EcmEkf<float, 2>>("ekf float");
  test_widen_for_gap<EcmUkf<double, 2>>("ukf double");
  test_lost_charge<EcmEkf<float, 2>>("ekf float");
  test_lost_charge<EcmUkf<double, 2>>("ukf double");
  test_stuck_voltage<float>();
  test_stuck_voltage<double>();
  test_stuck_voltage_by_charge<float>();
  test_stuck_voltage_by_charge<double>();
  return cstest::finish("test_log_rules");
}
