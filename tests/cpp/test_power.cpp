// Unit tests of the state of power and energy (power/power_limits.hpp, docs/power.md), float and double,
// EKF and UKF: the limits against the closed form of a linear cell, horizons, the conservative option,
// each constraint binding, refusals that leave the output untouched, energy and times.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <type_traits>

#include "cellsense/cellsense.hpp"
#include "cellsense/pack/pack.hpp"
#include "cellsense/power/power_limits.hpp"
#include "cells.hpp"
#include "check.hpp"

using namespace cellsense;

namespace {

constexpr double kQ = 2.0;      // A h
constexpr double kR0 = 0.05;    // Ohm
constexpr double kR1 = 0.03;    // Ohm
constexpr double kTau = 20.0;   // s
constexpr double kV0 = 3.2;     // OCV(0) (V)
constexpr double kSlope = 0.9;  // dOCV/dz (V)

/// A cell with a linear OCV, constant resistances and no hysteresis: v(H) has a closed form.
template <typename T>
void make_linear_cell(model::EcmParams<T, 1>& p) {
  p = model::EcmParams<T, 1>{};
  p.capacity_Ah = T(kQ);
  p.coulombic_efficiency = T(1);
  p.hysteresis_rate = T(0);
  p.sign_deadband_A = T(0.01);
  p.grid.n_soc = 2;
  p.grid.n_temperature = 1;
  p.grid.temperature_degC[0] = T(25);
  p.grid.soc[0] = T(0);
  p.grid.soc[1] = T(1);
  for (int i = 0; i < 2; ++i) {
    p.ocv_V.value[0][i] = T(kV0 + kSlope * i);
    p.r0_Ohm.value[0][i] = T(kR0);
    p.rc_r_Ohm[0].value[0][i] = T(kR1);
    p.rc_tau_s[0].value[0][i] = T(kTau);
    p.hysteresis_V.value[0][i] = T(0);
    p.hysteresis_instant_V.value[0][i] = T(0);
  }
  p.voltage_min_V = T(0);
  p.voltage_max_V = T(5);
  p.current_min_A = T(-100);
  p.current_max_A = T(100);
  p.temperature_min_degC = T(-40);
  p.temperature_max_degC = T(85);
}

template <class E>
struct Cell {
  using T = typename E::T;
  using M = typename E::Model;
  typename M::Params p;
  E est;
  bool ok = false;
  explicit Cell(T soc0, T soc_sigma = T(0.01)) {
    make_linear_cell(p);
    const M m(&p, typename M::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)});
    typename M::State x;
    typename M::Cov P;
    M::initial(soc0, soc_sigma, T(1e-3), T(0), T(0.1), x, P);
    EstimatorConfig<T> cfg = cstest::config_2025<T>();
    cfg.voltage_sigma_V = T(0.005);
    cfg.model_error_current_A = T(0.2);  // model-error sigma 0.2 A x (R0 + R1) = 16 mV, for the conservative option
    ok = est.init(m, cfg, typename E::FilterConfig{}, x, P, typename M::Aux{T(0)}) == InitStatus::kOk;
  }
};

template <typename T>
power::PowerConfig<T> config(T horizon_s) {
  power::PowerConfig<T> c;
  c.horizon_s = horizon_s;
  c.voltage_min_V = T(3.0);
  c.voltage_max_V = T(4.2);
  c.discharge_current_max_A = T(1000);
  c.charge_current_max_A = T(1000);
  return c;
}

/// A datasheet-style derating table (3 breakpoints): charge 0 at and below 0 degC, 0.5 at 10 degC, 1 at 45 degC;
/// discharge 0.5 at 0 degC, 1 at 10 and 45 degC. Entries beyond the count hold garbage (never read).
template <typename T>
void derating_table(power::PowerConfig<T>& c) {
  c.derating_count = 3;
  const T t[] = {T(0), T(10), T(45), T(-999), T(1e9), std::numeric_limits<T>::quiet_NaN()};
  const T d[] = {T(0.5), T(1), T(1), T(7), T(-3), std::numeric_limits<T>::quiet_NaN()};
  const T g[] = {T(0), T(0.5), T(1), T(-7), T(3), std::numeric_limits<T>::quiet_NaN()};
  for (int k = 0; k < power::kMaxDeratingPoints; ++k) {
    c.derating_temperature_degC[k] = t[k];
    c.derating_discharge_factor[k] = d[k];
    c.derating_charge_factor[k] = g[k];
  }
}

/// The table's factor at temp (double), independently of the core: linear between the corners, held beyond them.
double table_factor(const double (&tt)[3], const double (&f)[3], double temp) {
  if (temp <= tt[0]) { return f[0]; }
  if (temp >= tt[2]) { return f[2]; }
  const int k = temp <= tt[1] ? 1 : 2;
  return f[k - 1] + (f[k] - f[k - 1]) * (temp - tt[k - 1]) / (tt[k] - tt[k - 1]);
}

/// Closed form from rest: v(H) = V0 + k (z - dir i H / 3600 Q) - dir i (R0 + R1 (1 - e^-H/tau)); the limit
/// is where it meets the cut-off (a linear equation in i), unless the start (R0 only) is stricter (never here).
double closed_form_discharge(double z, double H, double vmin) {
  const double r = kR0 + kR1 * (1.0 - std::exp(-H / kTau));
  return (kV0 + kSlope * z - vmin) / (kSlope * H / (3600.0 * kQ) + r);
}
double closed_form_charge(double z, double H, double vmax) {
  const double r = kR0 + kR1 * (1.0 - std::exp(-H / kTau));
  return (vmax - kV0 - kSlope * z) / (kSlope * H / (3600.0 * kQ) + r);
}

// verifies: CS-PWR-001
template <class E>
void test_closed_form(const char* name) {
  using T = typename E::T;
  const double tol = sizeof(T) == 4 ? 2e-3 : 1e-6;
  for (double z : {0.3, 0.6, 0.9}) {
    Cell<E> c(static_cast<T>(z));
    CHECK_CTX(c.ok, name);
    for (double H : {2.0, 10.0, 30.0}) {
      power::PowerLimits<T> r{};
      CHECK_CTX(power::power_limits(c.est, T(25), config<T>(static_cast<T>(H)), r) == power::PowerStatus::kOk, name);
      const double want_d = closed_form_discharge(z, H, 3.0);
      const double want_c = closed_form_charge(z, H, 4.2);
      CHECK_CTX(std::fabs(static_cast<double>(r.discharge_current_A) / want_d - 1.0) < tol, name);
      CHECK_CTX(std::fabs(static_cast<double>(r.charge_current_A) / want_c - 1.0) < tol, name);
      CHECK_CTX(r.discharge_limited_by == power::LimitedBy::kVoltage, name);
      CHECK_CTX(r.charge_limited_by == power::LimitedBy::kVoltage, name);
      // P = |i| v(H), v(H) at the cut-off
      CHECK_CTX(std::fabs(static_cast<double>(r.discharge_voltage_V) - 3.0) < 1e-3, name);
      CHECK_CTX(std::fabs(static_cast<double>(r.charge_voltage_V) - 4.2) < 1e-3, name);
      CHECK_CTX(std::fabs(static_cast<double>(r.discharge_power_W - r.discharge_current_A * r.discharge_voltage_V)) <
                    1e-9 + 1e-6 * static_cast<double>(r.discharge_power_W), name);
    }
  }
}

// verifies: CS-PWR-002
template <class E>
void test_horizon_and_conservative(const char* name) {
  using T = typename E::T;
  Cell<E> c(T(0.5), T(0.03));
  CHECK_CTX(c.ok, name);
  power::PowerLimits<T> r2{}, r10{}, r30{}, rc{};
  CHECK_CTX(power::power_limits(c.est, T(25), config<T>(T(2)), r2) == power::PowerStatus::kOk, name);
  CHECK_CTX(power::power_limits(c.est, T(25), config<T>(T(10)), r10) == power::PowerStatus::kOk, name);
  CHECK_CTX(power::power_limits(c.est, T(25), config<T>(T(30)), r30) == power::PowerStatus::kOk, name);
  CHECK_CTX(r2.discharge_current_A > r10.discharge_current_A && r10.discharge_current_A > r30.discharge_current_A, name);
  CHECK_CTX(r2.charge_current_A > r10.charge_current_A && r10.charge_current_A > r30.charge_current_A, name);
  auto cons = config<T>(T(10));
  cons.soc_sigma_k = T(3);
  cons.voltage_sigma_k = T(3);
  CHECK_CTX(power::power_limits(c.est, T(25), cons, rc) == power::PowerStatus::kOk, name);
  CHECK_CTX(rc.discharge_current_A < r10.discharge_current_A && rc.charge_current_A < r10.charge_current_A, name);
  // the conservative discharge limit is the nominal one at SOC - 3 sigma with the cut-off 3 model sigma higher
  const double sd = std::sqrt(0.005 * 0.005 + (0.2 * (kR0 + kR1)) * (0.2 * (kR0 + kR1)));
  const double want = closed_form_discharge(0.5 - 3 * 0.03, 10.0, 3.0 + 3 * sd);
  CHECK_CTX(std::fabs(static_cast<double>(rc.discharge_current_A) / want - 1.0) < (sizeof(T) == 4 ? 3e-3 : 1e-5), name);
  // the estimator is not changed
  CHECK_CTX(c.est.soc() == T(0.5), name);
}

// verifies: CS-PWR-003
template <class E>
void test_other_constraints(const char* name) {
  using T = typename E::T;
  {  // current rating binds
    Cell<E> c(T(0.5));
    auto cfg = config<T>(T(10));
    cfg.discharge_current_max_A = T(2);
    cfg.charge_current_max_A = T(1);
    power::PowerLimits<T> r{};
    CHECK_CTX(power::power_limits(c.est, T(25), cfg, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.discharge_current_A == T(2) && r.discharge_limited_by == power::LimitedBy::kCurrent, name);
    CHECK_CTX(r.charge_current_A == T(1) && r.charge_limited_by == power::LimitedBy::kCurrent, name);
  }
  {  // SOC window binds over a long horizon near empty: i = (z - soc_min) 3600 Q / H
    Cell<E> c(T(0.1));
    auto cfg = config<T>(T(3600));
    cfg.voltage_min_V = T(1.0);
    cfg.soc_min = T(0.05);
    power::PowerLimits<T> r{};
    CHECK_CTX(power::power_limits(c.est, T(25), cfg, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.discharge_limited_by == power::LimitedBy::kSoc, name);
    CHECK_CTX(std::fabs(static_cast<double>(r.discharge_current_A) - 0.05 * kQ) < 1e-3, name);
  }
  {  // already beyond the cut-off: nothing may flow that way
    Cell<E> c(T(0.1));
    auto cfg = config<T>(T(10));
    cfg.voltage_min_V = T(3.5);  // OCV(0.1) = 3.29 V
    power::PowerLimits<T> r{};
    CHECK_CTX(power::power_limits(c.est, T(25), cfg, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.discharge_current_A == T(0) && r.discharge_power_W == T(0), name);
    CHECK_CTX(r.discharge_limited_by == power::LimitedBy::kNone, name);
    CHECK_CTX(r.charge_current_A > T(0), name);
  }
}

// verifies: CS-PWR-004
template <class E>
void test_refusals(const char* name) {
  using T = typename E::T;
  Cell<E> c(T(0.5));
  power::PowerLimits<T> r{};
  std::memset(&r, 0x5A, sizeof r);
  power::PowerLimits<T> before = r;
  auto bad = config<T>(T(10));
  bad.horizon_s = T(0);
  CHECK_CTX(power::power_limits(c.est, T(25), bad, r) == power::PowerStatus::kBadConfig, name);
  bad = config<T>(T(10));
  bad.voltage_min_V = T(4.3);
  CHECK_CTX(power::power_limits(c.est, T(25), bad, r) == power::PowerStatus::kBadConfig, name);
  bad = config<T>(T(10));
  bad.charge_current_max_A = T(-1);
  CHECK_CTX(power::power_limits(c.est, T(25), bad, r) == power::PowerStatus::kBadConfig, name);
  bad = config<T>(T(10));
  bad.soc_sigma_k = std::numeric_limits<T>::quiet_NaN();
  CHECK_CTX(power::power_limits(c.est, T(25), bad, r) == power::PowerStatus::kBadConfig, name);
  CHECK_CTX(power::power_limits(c.est, std::numeric_limits<T>::quiet_NaN(), config<T>(T(10)), r) ==
                power::PowerStatus::kBadInput, name);
  E fresh{};
  CHECK_CTX(power::power_limits(fresh, T(25), config<T>(T(10)), r) == power::PowerStatus::kNotInitialised, name);
  CHECK_CTX(std::memcmp(&r, &before, sizeof r) == 0, name);
  power::EnergyEstimate<T> e{};
  std::memset(&e, 0x5A, sizeof e);
  const power::EnergyEstimate<T> e_before = e;
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(0), T(3), T(0), T(0), e) == power::PowerStatus::kBadInput, name);
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(5), T(3), T(0), T(-1), e) == power::PowerStatus::kBadConfig, name);
  CHECK_CTX(power::remaining_energy(fresh, T(25), T(5), T(3), T(0), T(0), e) == power::PowerStatus::kNotInitialised, name);
  CHECK_CTX(std::memcmp(&e, &e_before, sizeof e) == 0, name);
  T t = T(-7), ts = T(-7);
  CHECK_CTX(power::time_to_full(c.est, T(0), T(1), t, ts) == power::PowerStatus::kBadInput, name);
  CHECK_CTX(t == T(-7) && ts == T(-7), name);
}

// verifies: CS-PWR-005
template <class E>
void test_energy_and_times(const char* name) {
  using T = typename E::T;
  Cell<E> c(T(0.8), T(0.02));
  CHECK_CTX(c.ok, name);
  // at a small power the voltage is the OCV: E = Q int_0^0.8 (V0 + k z) dz (cut-off 3.0 V below OCV(0))
  power::EnergyEstimate<T> e{};
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(0.01), T(3.0), T(0), T(0), e) == power::PowerStatus::kOk, name);
  const double want = kQ * (kV0 * 0.8 + 0.5 * kSlope * 0.64);
  CHECK_CTX(std::fabs(static_cast<double>(e.energy_Wh) / want - 1.0) < 1e-3, name);
  CHECK_CTX(std::fabs(static_cast<double>(e.time_to_empty_s) - static_cast<double>(e.energy_Wh) * 3600.0 / 0.01) <
                1e-3 * static_cast<double>(e.time_to_empty_s), name);
  // sigma: dE/dz sigma = Q OCV(0.8) 0.02
  CHECK_CTX(std::fabs(static_cast<double>(e.energy_sigma_Wh) / (kQ * (kV0 + kSlope * 0.8) * 0.02) - 1.0) < 2e-2, name);
  // a larger power delivers less energy (resistive loss, and the cut-off is met earlier)
  power::EnergyEstimate<T> e_hi{};
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(20), T(3.0), T(0), T(0), e_hi) == power::PowerStatus::kOk, name);
  CHECK_CTX(e_hi.energy_Wh < e.energy_Wh && e_hi.energy_Wh > T(0), name);
  // conservative SOC: less
  power::EnergyEstimate<T> e_c{};
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(0.01), T(3.0), T(0), T(3), e_c) == power::PowerStatus::kOk, name);
  CHECK_CTX(e_c.energy_Wh < e.energy_Wh, name);
  // time to full at 1 A from 0.8: 0.2 x 3600 x Q / 1 s, sigma 0.02 x 3600 x Q
  T t = T(0), ts = T(0);
  CHECK_CTX(power::time_to_full(c.est, T(1), T(1), t, ts) == power::PowerStatus::kOk, name);
  CHECK_CTX(std::fabs(static_cast<double>(t) - 0.2 * 3600.0 * kQ) < 0.5, name);
  CHECK_CTX(std::fabs(static_cast<double>(ts) - 0.02 * 3600.0 * kQ) < 0.5, name);
}

// verifies: CS-PWR-001
template <class E>
void test_nonlinear_cell_invariant(const char* name) {
  // the synthetic 2-RC cell with hysteresis (cells.hpp): at the reported limit the predicted voltage is at the
  // cut-off, and 1 % more current crosses it
  using T = typename E::T;
  using M = typename E::Model;
  typename M::Params p;
  cstest::make_cell(p);
  const M m(&p, typename M::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)});
  typename M::State x;
  typename M::Cov P;
  M::initial(T(0.6), T(0.02), T(0.01), T(0.3), T(0.1), x, P);
  E est;
  CHECK_CTX(est.init(m, cstest::config_2025<T>(), typename E::FilterConfig{}, x, P, typename M::Aux{T(1)}) ==
                InitStatus::kOk, name);
  auto cfg = config<T>(T(10));
  power::PowerLimits<T> r{};
  CHECK_CTX(power::power_limits(est, T(20), cfg, r) == power::PowerStatus::kOk, name);
  CHECK_CTX(r.discharge_limited_by == power::LimitedBy::kVoltage, name);
  const auto s = m.prepare(est.state(), est.aux(), T(10), r.discharge_current_A * T(1.01), T(20));
  CHECK_CTX(m.measure(s, m.predict(s, est.state())) < T(3.0), name);
  CHECK_CTX(std::fabs(static_cast<double>(r.discharge_voltage_V) - 3.0) < 1e-3, name);
}

/// The pack tests' string of linear one-RC cells (up to 4) and its estimator settings.
template <template <class> class F, typename T>
struct LinearPack {
  using Base = model::EcmModel<T, 1>;
  using Pack = pack::PackEstimator<Base, F, 4>;
  typename Base::Params p;
  typename Pack::Config cfg;
  LinearPack() {
    make_linear_cell(p);
    cfg.noise = typename Base::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)};
  }
};

// verifies: CS-PWR-006
template <template <class> class F, typename T>
void test_pack_weakest_cell(const char* name) {
  LinearPack<F, T> lp;
  using Pack = typename LinearPack<F, T>::Pack;
  auto& p = lp.p;
  auto& cfg = lp.cfg;
  // cell 2 has 1.5x the resistance: it limits both directions; cell 0 has 0.8x the capacity
  pack::CellVariation<T> v[3];
  v[0].capacity_scale = T(0.8);
  v[2].resistance_scale = T(1.5);
  const T soc0[3] = {T(0.5), T(0.5), T(0.5)};
  Pack pk;
  CHECK_CTX(pk.init(&p, 3, v, soc0, cfg) == InitStatus::kOk, name);
  const T temps[3] = {T(25), T(25), T(25)};
  power::PackPowerLimits<T> r{};
  CHECK_CTX(power::pack_power_limits(pk, temps, config<T>(T(10)), r) == power::PowerStatus::kOk, name);
  CHECK_CTX(r.discharge_cell == 2 && r.charge_cell == 2, name);
  for (int k = 0; k < 3; ++k) {
    power::PowerLimits<T> c{};
    CHECK_CTX(power::power_limits(pk.cell(k), temps[k], config<T>(T(10)), c) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.discharge_current_A <= c.discharge_current_A && r.charge_current_A <= c.charge_current_A, name);
    if (k == 2) {
      CHECK_CTX(r.discharge_current_A == c.discharge_current_A && r.discharge_limited_by == c.discharge_limited_by, name);
    }
  }
  // the weakest cell's limit is the closed form with its resistance scaled by 1.5
  const double r15 = 1.5 * (kR0 + kR1 * (1.0 - std::exp(-10.0 / kTau)));
  const double want = (kV0 + kSlope * 0.5 - 3.0) / (kSlope * 10.0 / (3600.0 * kQ) + r15);
  CHECK_CTX(std::fabs(static_cast<double>(r.discharge_current_A) / want - 1.0) < (sizeof(T) == 4 ? 2e-3 : 1e-6), name);
  // string power: I x the sum of the three cells' voltages at that current (the weak cell at its cut-off)
  CHECK_CTX(r.discharge_power_W > r.discharge_current_A * T(3 * 3.0) && r.discharge_power_W < r.discharge_current_A * T(3 * 3.7), name);
  power::PackPowerLimits<T> keep{};
  std::memset(&keep, 0x33, sizeof keep);
  power::PackPowerLimits<T> o = keep;
  Pack empty;
  CHECK_CTX(power::pack_power_limits(empty, temps, config<T>(T(10)), o) == power::PowerStatus::kNotInitialised, name);
  CHECK_CTX(power::pack_power_limits(pk, static_cast<const T*>(nullptr), config<T>(T(10)), o) ==
                power::PowerStatus::kBadInput, name);
  const T bad_t[3] = {T(25), std::numeric_limits<T>::quiet_NaN(), T(25)};
  CHECK_CTX(power::pack_power_limits(pk, bad_t, config<T>(T(10)), o) == power::PowerStatus::kBadInput, name);
  CHECK_CTX(std::memcmp(&o, &keep, sizeof o) == 0, name);
}

/// Several cells at 0 A: the string names the one furthest along (the fullest for charge, the emptiest for
/// discharge), not the first at 0 A (the screen solves no cell once one is at 0 A).
// verifies: CS-PWR-006
template <template <class> class F, typename T>
void test_pack_tie_at_zero_names_the_furthest(const char* name) {
  LinearPack<F, T> lp;
  using Pack = typename LinearPack<F, T>::Pack;
  auto& p = lp.p;
  auto& cfg = lp.cfg;
  pack::CellVariation<T> v[4];
  const T temps[4] = {T(25), T(25), T(25), T(25)};
  const T hs[2] = {T(2), T(10)};
  power::PackPowerLimits<T> r[2] = {};
  // above full (soc_max 1): cells 0, 2, 3 at 0 A for charge, cell 2 the fullest
  const T full[4] = {T(1.01), T(0.5), T(1.04), T(1.02)};
  Pack pf;
  CHECK_CTX(pf.init(&p, 4, v, full, cfg) == InitStatus::kOk, name);
  CHECK_CTX(power::pack_power_limits_horizons(pf, temps, config<T>(T(10)), hs, 2, r) == power::PowerStatus::kOk, name);
  for (int j = 0; j < 2; ++j) {
    CHECK_CTX(r[j].charge_current_A == T(0) && r[j].charge_cell == 2, name);
    CHECK_CTX(r[j].charge_limited_by == power::LimitedBy::kNone, name);  // at 0 A already (limit_direct)
    CHECK_CTX(r[j].discharge_current_A > T(0), name);
  }
  // below empty (soc_min 0): cells 1 and 3 at 0 A for discharge, cell 3 the emptiest
  const T empty[4] = {T(0.5), T(-0.01), T(0.6), T(-0.03)};
  Pack pe;
  CHECK_CTX(pe.init(&p, 4, v, empty, cfg) == InitStatus::kOk, name);
  CHECK_CTX(power::pack_power_limits_horizons(pe, temps, config<T>(T(10)), hs, 2, r) == power::PowerStatus::kOk, name);
  for (int j = 0; j < 2; ++j) {
    CHECK_CTX(r[j].discharge_current_A == T(0) && r[j].discharge_cell == 3, name);
    CHECK_CTX(r[j].charge_current_A > T(0), name);
  }
}

/// The core takes the process noise as given (the C API and the Python settings bound it): a noise density whose
/// covariance overflows makes the time update fail, and the step is rejected as kRejectedNumerical with the state and
/// the covariance unchanged (before the C API bounded its cs_config, its fuzz target reached this path). Kept here,
/// beside the power tests' linear cell, because tests/cpp/test_estimator.cpp was being edited elsewhere.
// verifies: CS-EST-004
template <class E>
void test_overflowing_process_noise(const char* name) {
  using T = typename E::T;
  using M = typename E::Model;
  typename M::Params p;
  make_linear_cell(p);
  const T huge = std::numeric_limits<T>::max();
  const M m(&p, typename M::Noise{huge, huge, huge, huge});
  typename M::State x;
  typename M::Cov P;
  M::initial(T(0.5), T(0.01), T(1e-3), T(0), T(0.1), x, P);
  E est;
  CHECK_CTX(est.init(m, cstest::config_2025<T>(), typename E::FilterConfig{}, x, P, typename M::Aux{T(0)}) ==
                InitStatus::kOk,
            name);
  const auto x0 = est.state();
  const auto p0 = est.covariance();
  CHECK_CTX(est.step(T(1), T(1), T(3.7), T(25)).status == StepStatus::kRejectedNumerical, name);
  CHECK_CTX(std::memcmp(&x0, &est.state(), sizeof x0) == 0 && std::memcmp(&p0, &est.covariance(), sizeof p0) == 0,
            name);
}

/// Cut-offs outside the cell's plausible voltage reading range (the model's voltage_min_V .. voltage_max_V) or not
/// above 0 V - a cut-off in mV, a negative one - are refused (kBadConfig) by power_limits, power_limits_horizons and
/// remaining_energy, with the outputs untouched; the range's ends are accepted. time_to_full's SOC target is a
/// fraction in (0, 1] (the Python time_to_full's range): 1 accepted, above it refused (kBadInput).
// verifies: CS-PWR-012
template <class E>
void test_cutoff_plausible(const char* name) {
  using T = typename E::T;
  using S = power::PowerStatus;
  Cell<E> c(T(0.5));
  CHECK_CTX(c.ok, name);
  const T vmax = c.p.voltage_max_V;  // the linear test cell's plausible range: 0 .. 5 V
  struct Cut {
    T lo, hi;
  };
  const Cut bad[] = {{T(2500), T(4200)}, {T(-5), T(4.2)}, {T(0), T(4.2)}, {T(2.5), vmax + T(0.5)},
                     {T(2.5), T(4200)}};
  for (const Cut& k : bad) {
    auto cfg = config<T>(T(10));
    cfg.voltage_min_V = k.lo;
    cfg.voltage_max_V = k.hi;
    CHECK_CTX(cfg.check() == power::PowerConfigIssue::kOk, name);  // a plausible window on its own
    power::PowerLimits<T> r{};
    std::memset(&r, 0x5A, sizeof r);
    const power::PowerLimits<T> before = r;
    CHECK_CTX(power::power_limits(c.est, T(25), cfg, r) == S::kBadConfig, name);
    const T hs[1] = {T(10)};
    CHECK_CTX(power::power_limits_horizons(c.est, T(25), cfg, hs, 1, &r) == S::kBadConfig, name);
    CHECK_CTX(std::memcmp(&r, &before, sizeof r) == 0, name);
  }
  {
    auto cfg = config<T>(T(10));
    cfg.voltage_min_V = T(0.001);  // just above 0 V, within the cell's range
    cfg.voltage_max_V = vmax;      // the range's end
    power::PowerLimits<T> r{};
    CHECK_CTX(power::power_limits(c.est, T(25), cfg, r) == S::kOk, name);
  }
  power::EnergyEstimate<T> e{};
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(5), T(2500), T(0), T(0), e) == S::kBadConfig, name);
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(5), vmax + T(0.5), T(0), T(0), e) == S::kBadConfig, name);
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(5), T(-5), T(0), T(0), e) == S::kBadConfig, name);
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(5), T(3), T(0), T(0), e) == S::kOk, name);
  T t = T(-7), ts = T(-7);
  CHECK_CTX(power::time_to_full(c.est, T(1), T(2), t, ts) == S::kBadInput, name);
  CHECK_CTX(power::time_to_full(c.est, T(1), T(1.01), t, ts) == S::kBadInput, name);
  CHECK_CTX(t == T(-7) && ts == T(-7), name);
  CHECK_CTX(power::time_to_full(c.est, T(1), T(1), t, ts) == S::kOk && t > T(0), name);
}

/// Every out-of-range setting on its own, with the issue check() names: the horizon (0, above a day, NaN),
/// the voltage and SOC windows (a bound not finite, min not below max), each rating (0, above 1e6 A), each
/// sigma factor (negative, above 10); power_limits() refuses each with kBadConfig, a temperature outside
/// [-100, 200] degC with kBadInput; remaining_energy() and time_to_full() refuse each input out of range; the
/// outputs stay untouched.
// verifies: CS-PWR-004
template <class E>
void test_each_refusal(const char* name) {
  using T = typename E::T;
  using C = power::PowerConfig<T>;
  using I = power::PowerConfigIssue;
  const T inf = std::numeric_limits<T>::infinity();
  const T nan = std::numeric_limits<T>::quiet_NaN();
  Cell<E> c(T(0.5));
  CHECK_CTX(c.ok, name);
  struct Case {
    I issue;
    void (*apply)(C&);
  };
  static const Case cases[] = {
      {I::kHorizon, [](C& k) { k.horizon_s = T(0); }},
      {I::kHorizon, [](C& k) { k.horizon_s = T(86401); }},
      {I::kVoltageWindow, [](C& k) { k.voltage_min_V = -std::numeric_limits<T>::infinity(); }},
      {I::kVoltageWindow, [](C& k) { k.voltage_max_V = std::numeric_limits<T>::infinity(); }},
      {I::kVoltageWindow, [](C& k) { k.voltage_min_V = k.voltage_max_V; }},
      {I::kSocWindow, [](C& k) { k.soc_min = std::numeric_limits<T>::quiet_NaN(); }},
      {I::kSocWindow, [](C& k) { k.soc_max = std::numeric_limits<T>::infinity(); }},
      {I::kSocWindow, [](C& k) { k.soc_min = T(0.6); k.soc_max = T(0.6); }},
      {I::kDischargeRating, [](C& k) { k.discharge_current_max_A = T(0); }},
      {I::kDischargeRating, [](C& k) { k.discharge_current_max_A = T(2e6); }},
      {I::kChargeRating, [](C& k) { k.charge_current_max_A = T(2e6); }},
      {I::kSocSigmaK, [](C& k) { k.soc_sigma_k = T(-1); }},
      {I::kSocSigmaK, [](C& k) { k.soc_sigma_k = T(11); }},
      {I::kVoltageSigmaK, [](C& k) { k.voltage_sigma_k = T(-1); }},
      {I::kVoltageSigmaK, [](C& k) { k.voltage_sigma_k = T(11); }},
      {I::kDeratingCount, [](C& k) { k.derating_count = -1; }},
      {I::kDeratingCount, [](C& k) { k.derating_count = power::kMaxDeratingPoints + 1; }},
      {I::kDeratingTemperature, [](C& k) { derating_table(k); k.derating_temperature_degC[0] = T(-101); }},
      {I::kDeratingTemperature, [](C& k) { derating_table(k); k.derating_temperature_degC[2] = T(201); }},
      {I::kDeratingTemperature, [](C& k) { derating_table(k); k.derating_temperature_degC[1] = std::numeric_limits<T>::quiet_NaN(); }},
      {I::kDeratingTemperature, [](C& k) { derating_table(k); k.derating_temperature_degC[1] = k.derating_temperature_degC[0]; }},
      {I::kDeratingTemperature, [](C& k) { derating_table(k); k.derating_temperature_degC[2] = T(-50); }},
      {I::kDeratingDischargeFactor, [](C& k) { derating_table(k); k.derating_discharge_factor[0] = T(-0.1); }},
      {I::kDeratingDischargeFactor, [](C& k) { derating_table(k); k.derating_discharge_factor[2] = T(1.1); }},
      {I::kDeratingDischargeFactor, [](C& k) { derating_table(k); k.derating_discharge_factor[1] = std::numeric_limits<T>::quiet_NaN(); }},
      {I::kDeratingChargeFactor, [](C& k) { derating_table(k); k.derating_charge_factor[1] = T(-0.1); }},
      {I::kDeratingChargeFactor, [](C& k) { derating_table(k); k.derating_charge_factor[2] = T(1.1); }},
  };
  power::PowerLimits<T> r{};
  std::memset(&r, 0x5A, sizeof r);
  const power::PowerLimits<T> before = r;
  int refused = 0;
  for (const Case& k : cases) {
    C cfg = config<T>(T(10));
    k.apply(cfg);
    // the issue names its field(s), and the message states the rule for the (first) field
    const char* field = power::power_config_field(k.issue);
    char first[32] = {0};
    for (int j = 0; j < 31 && field[j] != '\0' && field[j] != '/'; ++j) { first[j] = field[j]; }
    const bool ok = cfg.check() == k.issue && !cfg.valid() && first[0] != '\0' &&
                    std::strstr(power::power_config_message(k.issue), first) != nullptr &&
                    power::power_limits(c.est, T(25), cfg, r) == power::PowerStatus::kBadConfig;
    if (!ok) { std::printf("%s: not refused as expected: %s\n", name, power::power_config_field(k.issue)); }
    refused += ok ? 1 : 0;
  }
  CHECK_CTX(refused == static_cast<int>(sizeof cases / sizeof cases[0]), name);
  CHECK_CTX(config<T>(T(10)).check() == I::kOk, name);
  CHECK_CTX(power::power_config_field(I::kOk)[0] == '\0' && std::strcmp(power::power_config_message(I::kOk), "ok") == 0, name);
  CHECK_CTX(std::strcmp(power::power_config_field(static_cast<I>(200)), "unknown") == 0, name);  // a byte outside the enum
  CHECK_CTX(std::strcmp(power::power_config_message(static_cast<I>(200)), "unknown") == 0, name);
  CHECK_CTX(power::power_limits(c.est, T(-101), config<T>(T(10)), r) == power::PowerStatus::kBadInput, name);
  CHECK_CTX(power::power_limits(c.est, T(201), config<T>(T(10)), r) == power::PowerStatus::kBadInput, name);
  // outside the cell's plausible range (the test cell: -40 .. 85 degC), where step() rejects the sample: refused,
  // not extrapolated; its edges compute
  CHECK_CTX(power::power_limits(c.est, T(150), config<T>(T(10)), r) == power::PowerStatus::kBadInput, name);
  CHECK_CTX(power::power_limits(c.est, T(-45), config<T>(T(10)), r) == power::PowerStatus::kBadInput, name);
  CHECK_CTX(std::memcmp(&r, &before, sizeof r) == 0, name);
  {
    power::PowerLimits<T> edge{};
    CHECK_CTX(power::power_limits(c.est, T(85), config<T>(T(10)), edge) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits(c.est, T(-40), config<T>(T(10)), edge) == power::PowerStatus::kOk, name);
    power::EnergyEstimate<T> en{};
    CHECK_CTX(power::remaining_energy(c.est, T(150), T(5), T(3), T(0), T(0), en) == power::PowerStatus::kBadInput, name);
    power::PowerLimits<T> many[2] = {};
    const T hs[2] = {T(2), T(10)};
    CHECK_CTX(power::power_limits_horizons(c.est, T(150), config<T>(T(10)), hs, 2, many) ==
                  power::PowerStatus::kBadInput, name);
  }
  // remaining_energy: power, temperature, cut-off, SOC floor, sigma factor
  power::EnergyEstimate<T> e{};
  std::memset(&e, 0x5A, sizeof e);
  const power::EnergyEstimate<T> e_before = e;
  using S = power::PowerStatus;
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(2e9), T(3), T(0), T(0), e) == S::kBadInput, name);
  CHECK_CTX(power::remaining_energy(c.est, nan, T(5), T(3), T(0), T(0), e) == S::kBadInput, name);
  CHECK_CTX(power::remaining_energy(c.est, T(201), T(5), T(3), T(0), T(0), e) == S::kBadInput, name);
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(5), T(0), T(0), T(0), e) == S::kBadConfig, name);
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(5), T(100), T(0), T(0), e) == S::kBadConfig, name);
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(5), T(3), T(-2), T(0), e) == S::kBadConfig, name);
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(5), T(3), T(1), T(0), e) == S::kBadConfig, name);
  CHECK_CTX(power::remaining_energy(c.est, T(25), T(5), T(3), T(0), T(11), e) == S::kBadConfig, name);
  CHECK_CTX(std::memcmp(&e, &e_before, sizeof e) == 0, name);
  // time_to_full: current and SOC target
  T t = T(-7), ts = T(-7);
  CHECK_CTX(power::time_to_full(c.est, inf, T(1), t, ts) == S::kBadInput, name);
  CHECK_CTX(power::time_to_full(c.est, T(1), T(0), t, ts) == S::kBadInput, name);
  CHECK_CTX(power::time_to_full(c.est, T(1), T(3), t, ts) == S::kBadInput, name);
  E fresh{};
  CHECK_CTX(power::time_to_full(fresh, T(1), T(1), t, ts) == S::kNotInitialised, name);
  CHECK_CTX(t == T(-7) && ts == T(-7), name);
}

/// The edges of the energy and time functions: from a SOC at or below the floor the energy is 0; a power the
/// cell cannot deliver at any voltage (the fixed point's voltage <= 0) ends the integral with what was
/// summed; a target SOC below the present one means 0 s to full (its sigma still from the SOC sigma). The
/// charge limit's constraint: the SOC window near full, the voltage where the cut-off binds first.
// verifies: CS-PWR-005, CS-PWR-003
template <class E>
void test_energy_and_limit_edges(const char* name) {
  using T = typename E::T;
  {
    Cell<E> c(T(0.3));
    CHECK_CTX(c.ok, name);
    power::EnergyEstimate<T> e{};
    CHECK_CTX(power::remaining_energy(c.est, T(25), T(1), T(3.0), T(0.3), T(0), e) == power::PowerStatus::kOk, name);
    CHECK_CTX(e.energy_Wh == T(0) && e.time_to_empty_s == T(0), name);  // z = soc_min: nothing above the floor
    // 1e9 W: i v = P has no solution above 0 V (v = OCV - R i); the integral stops at once
    CHECK_CTX(power::remaining_energy(c.est, T(25), T(1e9), T(0.5), T(0), T(0), e) == power::PowerStatus::kOk, name);
    CHECK_CTX(e.energy_Wh == T(0), name);
    T t = T(-1), ts = T(-1);
    CHECK_CTX(power::time_to_full(c.est, T(1), T(0.2), t, ts) == power::PowerStatus::kOk, name);
    CHECK_CTX(t == T(0) && ts > T(0), name);
  }
  {  // near full, a long horizon: the SOC window binds the charge (the voltage window is wide)
    Cell<E> c(T(0.9));
    auto cfg = config<T>(T(3600));
    cfg.voltage_max_V = T(5);  // the cell's plausible maximum (a cut-off beyond it is refused)
    cfg.soc_max = T(0.95);
    power::PowerLimits<T> r{};
    CHECK_CTX(power::power_limits(c.est, T(25), cfg, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.charge_limited_by == power::LimitedBy::kSoc, name);
    CHECK_CTX(std::fabs(static_cast<double>(r.charge_current_A) - 0.05 * kQ) < 1e-3, name);
    cfg.voltage_max_V = T(4.0);  // OCV(0.9) = 4.01 V: already above it: nothing may flow
    CHECK_CTX(power::power_limits(c.est, T(25), cfg, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.charge_limited_by == power::LimitedBy::kNone && r.charge_current_A == T(0), name);
    cfg.voltage_max_V = T(4.1);  // the voltage binds before the SOC over 10 s
    cfg.horizon_s = T(10);
    CHECK_CTX(power::power_limits(c.est, T(25), cfg, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.charge_limited_by == power::LimitedBy::kVoltage, name);
  }
  {  // a relaxing polarisation (v_rc = +-0.3 V, tau 20 s) over 60 s: the start of the horizon binds, at
     // i = (OCV -+ 0.3 V - cut-off) / R0, and the constraint is the voltage
    for (const T vrc : {T(0.3), T(-0.3)}) {
      Cell<E> c(T(0.5));
      auto x = c.est.state();
      x(E::Model::Idx::v_rc1, 0) = vrc;
      CHECK_CTX(c.est.set_state(x, c.est.covariance(), c.est.aux()), name);
      auto cfg = config<T>(T(60));
      cfg.voltage_min_V = T(3.3);
      cfg.voltage_max_V = T(4.0);
      power::PowerLimits<T> r{};
      CHECK_CTX(power::power_limits(c.est, T(25), cfg, r) == power::PowerStatus::kOk, name);
      const double ocv = kV0 + kSlope * 0.5;
      if (vrc > T(0)) {
        CHECK_CTX(std::fabs(static_cast<double>(r.discharge_current_A) - (ocv - 0.3 - 3.3) / kR0) < 1e-3, name);
        CHECK_CTX(r.discharge_limited_by == power::LimitedBy::kVoltage, name);
        CHECK_CTX(r.discharge_voltage_V > T(3.3), name);  // the end of the horizon is above the cut-off
      } else {
        CHECK_CTX(std::fabs(static_cast<double>(r.charge_current_A) - (4.0 - ocv - 0.3) / kR0) < 1e-3, name);
        CHECK_CTX(r.charge_limited_by == power::LimitedBy::kVoltage, name);
        CHECK_CTX(r.charge_voltage_V < T(4.0), name);
      }
    }
  }
}

}  // namespace

/// The ECM's direct solve (power_limits) against the general bisection (power_limits_bisection) over many states:
/// the synthetic 2-RC cell with hysteresis, SOC-dependent R0 and two temperature rows (cells.hpp), at random SOC
/// (also beyond the grid), RC voltages, hysteresis state and sign, temperature, horizon (0.5 s to a day), ratings,
/// SOC window, conservative options with a constant and a current-dependent model-error sigma, a health set and an
/// OCV correction. Every limit within 2^-18 of the larger of the two plus 5e-5 A (float: the rounding of the
/// predicted voltage over the cell's resistance) / 2^-20 (double), plus 2^-22 (float) / 2^-36 (double) of the
/// rating (the solve's floor: a jump right above 0 A is closed there) and 2^-30 of it (the bisection's), two ulps of the
/// SOC over the SOC gain (the SOC constraint's resolution), never above the bisection's by more than that, with the same constraint named (unless the
/// limit sits within that tolerance of a tie), and the predicted voltage and power alike.
// verifies: CS-PWR-007
template <class E>
void test_direct_matches_bisection(const char* name) {
  using T = typename E::T;
  using M = typename E::Model;
  typename M::Params p;
  cstest::make_cell(p);
  cstest::Rng rng;
  const double rel = sizeof(T) == 4 ? 1.0 / 262144.0 : 1.0 / 1048576.0;
  // float: the constraints are evaluated to the rounding of a ~4 V voltage (a few 1e-7 V), so where the limit is
  // decided is itself uncertain by that over the cell's ~0.05 Ohm: a few 1e-5 A (double: 1e-14 A)
  const double noise_A = sizeof(T) == 4 ? 5e-5 : 0.0;
  const double floor_rel = sizeof(T) == 4 ? 1.0 / 4194304.0 : 1.0 / 68719476736.0;  // the solve's floor, 2 ulps
  int compared = 0;
  int mismatched = 0;
  int by_kind[4] = {0, 0, 0, 0};
  double worst = 0.0;
  // the first 1500 trials without the overpotential table, 300 more with one
  for (int trial = 0; trial < 1800; ++trial) {
    const M m(&p, typename M::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)});
    M mm = m;
    if (trial % 5 == 1) { CHECK_CTX(mm.set_health(T(2.0), T(1.3)), name); }
    if (trial % 7 == 2) {
      const T nodes[model::kEcmOcvNodes] = {T(0.004), T(-0.003), T(0.005), T(0.002), T(-0.004)};
      CHECK_CTX(mm.set_ocv_correction(nodes), name);
    }
    typename M::State x;
    typename M::Cov P;
    const T soc = static_cast<T>(trial % 50 == 0 ? -0.02 + 0.05 * rng.uniform() : 0.02 + 0.96 * rng.uniform());
    M::initial(soc, static_cast<T>(0.002 + 0.05 * rng.uniform()), T(0.01), T(0), T(0.1), x, P);
    for (int j = 0; j < 2; ++j) { x(M::Idx::v_rc(j), 0) = static_cast<T>(0.08 * (rng.uniform() - 0.5)); }
    x(M::Idx::hysteresis, 0) = static_cast<T>(2.0 * rng.uniform() - 1.0);
    const T sign = static_cast<T>(trial % 3) - T(1);
    EstimatorConfig<T> ecfg;
    ecfg.soc_min = T(-0.05);
    ecfg.voltage_sigma_V = T(0.004);
    if (trial % 4 == 1) { ecfg.model_error_current_A = T(0.2); }
    if (trial % 4 == 2) {
      ecfg.model_error_current_A = T(0.1);
      ecfg.model_error_relative = T(0.05);
    }
    E est;
    CHECK_CTX(est.init(mm, ecfg, typename E::FilterConfig{}, x, P, typename M::Aux{sign}) == InitStatus::kOk, name);
    power::PowerConfig<T> cfg;
    const double horizons[] = {0.5, 2.0, 10.0, 30.0, 120.0, 1800.0, 86400.0};
    cfg.horizon_s = static_cast<T>(horizons[trial % 7]);
    cfg.voltage_min_V = static_cast<T>(3.0 + 0.4 * rng.uniform());
    cfg.voltage_max_V = static_cast<T>(3.8 + 0.4 * rng.uniform());
    cfg.soc_min = static_cast<T>(0.1 * rng.uniform());
    cfg.soc_max = static_cast<T>(0.9 + 0.1 * rng.uniform());
    const double ratings[] = {0.5, 10.0, 60.0, 1000.0};
    cfg.discharge_current_max_A = static_cast<T>(ratings[(trial / 7) % 4]);
    cfg.charge_current_max_A = static_cast<T>(ratings[(trial / 3) % 4]);
    const bool conservative = (trial / 2) % 2 == 1;
    cfg.soc_sigma_k = conservative ? T(3) : T(0);
    cfg.voltage_sigma_k = conservative && trial % 3 != 0 ? T(3) : T(0);
    if (trial >= 1500) {  // the current-dependent overpotential (CS-PWR-010): 1..8 breakpoints, I_ref 0.5..200 A
      cfg.overpotential_count = 1 + trial % power::kMaxOverpotentialPoints;
      for (int k = 0; k < cfg.overpotential_count; ++k) {
        cfg.overpotential_temperature_degC[k] = static_cast<T>(-30.0 + 12.0 * k);
        cfg.overpotential_current_A[k] = static_cast<T>(0.5 + 200.0 * rng.uniform());
      }
    }
    const T temp = static_cast<T>(-20.0 + 70.0 * rng.uniform());
    power::PowerLimits<T> a{};
    power::PowerLimits<T> b{};
    CHECK_CTX(power::power_limits(est, temp, cfg, a) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits_bisection(est, temp, cfg, b) == power::PowerStatus::kOk, name);
    const T fast[2] = {a.discharge_current_A, a.charge_current_A};
    const T bis[2] = {b.discharge_current_A, b.charge_current_A};
    const T rating[2] = {cfg.discharge_current_max_A, cfg.charge_current_max_A};
    const power::LimitedBy by_fast[2] = {a.discharge_limited_by, a.charge_limited_by};
    const power::LimitedBy by_bis[2] = {b.discharge_limited_by, b.charge_limited_by};
    const T v_fast[2] = {a.discharge_voltage_V, a.charge_voltage_V};
    const T v_bis[2] = {b.discharge_voltage_V, b.charge_voltage_V};
    for (int d = 0; d < 2; ++d) {
      const double f = static_cast<double>(fast[d]);
      const double g = static_cast<double>(bis[d]);
      // and the SOC constraint's resolution: ulps of the SOC bound over the SOC gain eta H / (3600 Q)
      const double soc_res_A = 2.0 * static_cast<double>(std::numeric_limits<T>::epsilon()) * 3600.0 * 2.5 /
                               (0.99 * static_cast<double>(cfg.horizon_s) * 0.8);
      const double tol =
          rel * (f > g ? f : g) + static_cast<double>(rating[d]) * (floor_rel + 1.0 / 1073741824.0) + noise_A + soc_res_A;
      const double diff = std::fabs(f - g) / (tol > 0.0 ? tol : 1.0);
      if (diff > worst) { worst = diff; }
      CHECK_CTX(std::fabs(f - g) <= tol, name);
      CHECK_CTX(f <= g + tol, name);  // never above the bisection's (beyond the tolerance)
      // the voltage at the limit: alike within dv/di (< 0.5 Ohm + dOCV/dz (< 2 V) x H / (3600 Q), Q >= 2 A h)
      // times the current tolerance
      const double dv_di = 0.5 + 2.0 * static_cast<double>(cfg.horizon_s) / (3600.0 * 2.0);
      const double v_tol = dv_di * tol + (sizeof(T) == 4 ? 1e-4 : 1e-9);
      CHECK_CTX(std::fabs(static_cast<double>(v_fast[d]) - static_cast<double>(v_bis[d])) <= v_tol, name);
      mismatched += by_fast[d] != by_bis[d] ? 1 : 0;
      by_kind[static_cast<int>(by_fast[d])] += 1;
      ++compared;
    }
  }
  // every constraint bound somewhere; the constraint named differs only where two constraints tie
  CHECK_CTX(by_kind[0] > 50 && by_kind[1] > 10 && by_kind[2] > 50 && by_kind[3] > 10, name);
  CHECK_CTX(mismatched <= compared / 200, name);
  std::printf("direct vs bisection (%s): %d limits, worst difference %.3f of the tolerance, %d named differently; "
              "by voltage %d, soc %d, current %d, none %d\n",
              name, compared, worst, mismatched, by_kind[0], by_kind[1], by_kind[2], by_kind[3]);
}

/// Several horizons in one call (power_limits_horizons): each result bit for bit power_limits() at that horizon,
/// over random states (conservative or not, health, OCV correction, temperatures), for the plain and the pack's
/// scaled cells; refusals (count, null, a bad horizon after the first) leave the output untouched.
// verifies: CS-PWR-009
template <class E, class Cells>
void check_horizons_match(const Cells& cells, int n_cells, const char* name, cstest::Rng& rng) {
  using T = typename E::T;
  for (int trial = 0; trial < 300; ++trial) {
    const E& est = cells(trial % n_cells);
    power::PowerConfig<T> cfg;
    cfg.voltage_min_V = static_cast<T>(3.0 + 0.4 * rng.uniform());
    cfg.voltage_max_V = static_cast<T>(3.8 + 0.4 * rng.uniform());
    cfg.soc_min = static_cast<T>(0.1 * rng.uniform());
    const double ratings[] = {0.5, 10.0, 60.0, 1000.0};
    cfg.discharge_current_max_A = static_cast<T>(ratings[trial % 4]);
    cfg.charge_current_max_A = static_cast<T>(ratings[(trial / 4) % 4]);
    if (trial % 3 == 1) { derating_table(cfg); }
    cfg.soc_sigma_k = trial % 2 == 1 ? T(3) : T(0);
    cfg.voltage_sigma_k = trial % 4 == 3 ? T(3) : T(0);
    const T temp = static_cast<T>(-20.0 + 70.0 * rng.uniform());
    const T hs[5] = {T(2), T(10), T(30), static_cast<T>(0.5 + 3600.0 * rng.uniform()), T(86400)};
    const int n = 1 + trial % 5;
    power::PowerLimits<T> multi[power::kMaxHorizons];
    std::memset(multi, 0, sizeof multi);
    CHECK_CTX(power::power_limits_horizons(est, temp, cfg, hs, n, multi) == power::PowerStatus::kOk, name);
    for (int k = 0; k < n; ++k) {
      power::PowerLimits<T> one;
      std::memset(&one, 0, sizeof one);
      cfg.horizon_s = hs[k];
      CHECK_CTX(power::power_limits(est, temp, cfg, one) == power::PowerStatus::kOk, name);
      CHECK_CTX(std::memcmp(&one, &multi[k], sizeof one) == 0, name);
    }
  }
  // refusals: the output untouched
  power::PowerLimits<T> keep[power::kMaxHorizons];
  std::memset(keep, 0x33, sizeof keep);
  power::PowerLimits<T> o[power::kMaxHorizons];
  std::memcpy(o, keep, sizeof o);
  const T ok_h[power::kMaxHorizons + 1] = {T(2), T(10), T(30), T(1), T(1), T(1), T(1), T(1), T(1)};
  const T bad_h[3] = {T(2), T(0), T(30)};

  const T nan_h[2] = {T(10), std::numeric_limits<T>::quiet_NaN()};
  auto cfg = config<T>(T(10));
  const E& est = cells(0);
  CHECK_CTX(power::power_limits_horizons(est, T(25), cfg, ok_h, 0, o) == power::PowerStatus::kBadConfig, name);
  CHECK_CTX(power::power_limits_horizons(est, T(25), cfg, ok_h, power::kMaxHorizons + 1, o) ==
                power::PowerStatus::kBadConfig, name);
  CHECK_CTX(power::power_limits_horizons(est, T(25), cfg, static_cast<const T*>(nullptr), 1, o) ==
                power::PowerStatus::kBadConfig, name);
  CHECK_CTX(power::power_limits_horizons(est, T(25), cfg, bad_h, 3, o) == power::PowerStatus::kBadConfig, name);
  const T long_h[2] = {T(2), T(86401)};
  CHECK_CTX(power::power_limits_horizons(est, T(25), cfg, long_h, 2, o) == power::PowerStatus::kBadConfig, name);
  CHECK_CTX(power::power_limits_horizons(est, T(25), cfg, nan_h, 2, o) == power::PowerStatus::kBadConfig, name);
  CHECK_CTX(power::power_limits_horizons(est, std::numeric_limits<T>::quiet_NaN(), cfg, ok_h, 3, o) ==
                power::PowerStatus::kBadInput, name);
  CHECK_CTX(power::power_limits_horizons(est, T(250), cfg, ok_h, 3, o) == power::PowerStatus::kBadInput, name);
  cfg.voltage_min_V = T(5);
  CHECK_CTX(power::power_limits_horizons(est, T(25), cfg, ok_h, 3, o) == power::PowerStatus::kBadConfig, name);
  CHECK_CTX(std::memcmp(o, keep, sizeof o) == 0, name);
  CHECK_CTX(power::power_limits_horizons(est, T(25), config<T>(T(10)), ok_h, 3,
                                         static_cast<power::PowerLimits<T>*>(nullptr)) == power::PowerStatus::kBadConfig,
            name);
  E fresh;
  CHECK_CTX(power::power_limits_horizons(fresh, T(25), config<T>(T(10)), ok_h, 3, o) ==
                power::PowerStatus::kNotInitialised, name);
  CHECK_CTX(std::memcmp(o, keep, sizeof o) == 0, name);
}

// verifies: CS-PWR-009
template <class E>
void test_horizons_one_call(const char* name) {
  using T = typename E::T;
  using M = typename E::Model;
  typename M::Params p;
  cstest::make_cell(p);
  cstest::Rng rng;
  constexpr int kCells = 6;
  E cells[kCells];
  for (int k = 0; k < kCells; ++k) {
    M m(&p, typename M::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)});
    if (k == 1) { CHECK_CTX(m.set_health(T(2.0), T(1.3)), name); }
    if (k == 2) {
      const T nodes[model::kEcmOcvNodes] = {T(0.004), T(-0.003), T(0.005), T(0.002), T(-0.004)};
      CHECK_CTX(m.set_ocv_correction(nodes), name);
    }
    typename M::State x;
    typename M::Cov P;
    M::initial(static_cast<T>(0.05 + 0.18 * k), static_cast<T>(0.002 + 0.01 * k), T(0.01), T(0), T(0.1), x, P);
    for (int j = 0; j < 2; ++j) { x(M::Idx::v_rc(j), 0) = static_cast<T>(0.08 * (rng.uniform() - 0.5)); }
    x(M::Idx::hysteresis, 0) = static_cast<T>(2.0 * rng.uniform() - 1.0);
    EstimatorConfig<T> ecfg;
    ecfg.soc_min = T(-0.05);
    ecfg.voltage_sigma_V = T(0.004);
    if (k % 2 == 1) { ecfg.model_error_current_A = T(0.2); }
    CHECK_CTX(cells[k].init(m, ecfg, typename E::FilterConfig{}, x, P, typename M::Aux{static_cast<T>(k % 3) - T(1)}) ==
                  InitStatus::kOk, name);
  }
  check_horizons_match<E>([&](int k) -> const E& { return cells[k]; }, kCells, name, rng);
}

// verifies: CS-PWR-009
template <template <class> class F, typename T>
void test_horizons_one_call_pack(const char* name) {
  using Base = model::EcmModel<T, 2>;
  using Pack = pack::PackEstimator<Base, F, 4>;
  typename Base::Params p;
  cstest::make_cell(p);
  typename Pack::Config cfg;
  cfg.noise = typename Base::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)};
  pack::CellVariation<T> v[3];
  v[0].capacity_scale = T(0.8);
  v[2].resistance_scale = T(1.5);
  const T soc0[3] = {T(0.3), T(0.5), T(0.9)};
  Pack pk;
  CHECK_CTX(pk.init(&p, 3, v, soc0, cfg) == InitStatus::kOk, name);
  cstest::Rng rng;
  using E = std::decay_t<decltype(pk.cell(0))>;
  check_horizons_match<E>([&](int k) -> const E& { return pk.cell(k); }, 3, name, rng);
  // the string: pack_power_limits_horizons() bit for bit pack_power_limits() per horizon, and both the direct
  // reference (the weakest cell's power_limits(), the power from every cell's Predictor::end at that current)
  for (int trial = 0; trial < 40; ++trial) {
    power::PowerConfig<T> c = config<T>(T(10));
    c.discharge_current_max_A = trial % 2 == 0 ? T(1000) : T(20);
    c.charge_current_max_A = trial % 4 < 2 ? T(1000) : T(15);
    c.soc_sigma_k = trial % 3 == 1 ? T(3) : T(0);
    c.voltage_sigma_k = trial % 5 == 2 ? T(3) : T(0);
    if (trial % 7 == 3) { derating_table(c); }
    const T temps[3] = {static_cast<T>(-10.0 + 50.0 * rng.uniform()), static_cast<T>(-10.0 + 50.0 * rng.uniform()),
                        static_cast<T>(-10.0 + 50.0 * rng.uniform())};
    const T hs[4] = {T(2), T(10), T(30), static_cast<T>(1.0 + 600.0 * rng.uniform())};
    const int n = 1 + trial % 4;
    power::PackPowerLimits<T> multi[power::kMaxHorizons];
    std::memset(multi, 0, sizeof multi);
    c.horizon_s = T(-1);  // not read
    CHECK_CTX(power::pack_power_limits_horizons(pk, temps, c, hs, n, multi) == power::PowerStatus::kOk, name);
    for (int j = 0; j < n; ++j) {
      c.horizon_s = hs[j];
      power::PackPowerLimits<T> one;
      std::memset(&one, 0, sizeof one);
      CHECK_CTX(power::pack_power_limits(pk, temps, c, one) == power::PowerStatus::kOk, name);
      CHECK_CTX(std::memcmp(&one, &multi[j], sizeof one) == 0, name);
      T i_dis = T(3.0e38);
      T i_chg = T(3.0e38);
      for (int k = 0; k < 3; ++k) {
        power::PowerLimits<T> cl{};
        CHECK_CTX(power::power_limits(pk.cell(k), temps[k], c, cl) == power::PowerStatus::kOk, name);
        i_dis = cl.discharge_current_A < i_dis ? cl.discharge_current_A : i_dis;
        i_chg = cl.charge_current_A < i_chg ? cl.charge_current_A : i_chg;
      }
      T v_dis = T(0);
      T v_chg = T(0);
      for (int k = 0; k < 3; ++k) {
        T ve, vs, se;
        power::detail::predictor(pk.cell(k), temps[k], c, T(1)).end(i_dis, ve, vs, se);
        v_dis = v_dis + ve;
        power::detail::predictor(pk.cell(k), temps[k], c, T(-1)).end(-i_chg, ve, vs, se);
        v_chg = v_chg + ve;
      }
      CHECK_CTX(std::memcmp(&i_dis, &one.discharge_current_A, sizeof i_dis) == 0 &&
                    std::memcmp(&i_chg, &one.charge_current_A, sizeof i_chg) == 0, name);
      const T p_dis = i_dis * v_dis;
      const T p_chg = i_chg * v_chg;
      CHECK_CTX(std::memcmp(&p_dis, &one.discharge_power_W, sizeof p_dis) == 0 &&
                    std::memcmp(&p_chg, &one.charge_power_W, sizeof p_chg) == 0, name);
    }
  }
  // a 24-cell string with near-ties (cells in groups of equal SOC, capacities and resistances apart by 1e-6 .. 1e-2):
  // the screen that skips a cell's solve when it carries the string's smallest limit so far must not change the
  // string's limit, its cell or its power against the former algorithm
  {
    using Big = pack::PackEstimator<Base, F, 24>;
    pack::CellVariation<T> bv[24];
    T bsoc[24];
    for (int k = 0; k < 24; ++k) {
      const double eps = k % 4 == 0 ? 0.0 : std::pow(10.0, -(k % 6)) * (rng.uniform() - 0.5);
      bv[k].capacity_scale = static_cast<T>(1.0 + eps);
      bv[k].resistance_scale = static_cast<T>(1.0 + 0.5 * eps);
      bsoc[k] = static_cast<T>(0.1 + 0.2 * (k % 5));
    }
    Big big;
    CHECK_CTX(big.init(&p, 24, bv, bsoc, cfg) == InitStatus::kOk, name);
    int checked = 0;
    for (int trial = 0; trial < 24; ++trial) {
      power::PowerConfig<T> c = config<T>(T(10));
      c.voltage_min_V = static_cast<T>(3.2 + 0.3 * rng.uniform());
      c.voltage_max_V = static_cast<T>(3.9 + 0.3 * rng.uniform());
      c.discharge_current_max_A = trial % 3 == 0 ? T(1000) : T(30);
      c.charge_current_max_A = trial % 2 == 0 ? T(1000) : T(20);
      c.soc_sigma_k = trial % 4 == 1 ? T(3) : T(0);
      c.voltage_sigma_k = trial % 5 == 1 ? T(3) : T(0);
      if (trial % 6 == 5) { derating_table(c); }
      T temps[24];
      for (int k = 0; k < 24; ++k) { temps[k] = trial % 2 == 0 ? T(25) : static_cast<T>(-5.0 + 40.0 * rng.uniform()); }
      const T hs[3] = {T(2), T(10), T(30)};
      power::PackPowerLimits<T> got[3];
      std::memset(got, 0, sizeof got);
      CHECK_CTX(power::pack_power_limits_horizons(big, temps, c, hs, 3, got) == power::PowerStatus::kOk, name);
      for (int j = 0; j < 3; ++j) {
        c.horizon_s = hs[j];
        power::PackPowerLimits<T> ref;
        std::memset(&ref, 0, sizeof ref);
        ref.discharge_current_A = T(3.0e38);
        ref.charge_current_A = T(3.0e38);
        power::PowerLimits<T> cls[24];
        for (int k = 0; k < 24; ++k) {
          power::PowerLimits<T>& cl = cls[k];
          cl = power::PowerLimits<T>{};
          CHECK_CTX(power::power_limits(big.cell(k), temps[k], c, cl) == power::PowerStatus::kOk, name);
          if (cl.discharge_current_A < ref.discharge_current_A) {
            ref.discharge_current_A = cl.discharge_current_A;
            ref.discharge_cell = k;
            ref.discharge_limited_by = cl.discharge_limited_by;
          }
          if (cl.charge_current_A < ref.charge_current_A) {
            ref.charge_current_A = cl.charge_current_A;
            ref.charge_cell = k;
            ref.charge_limited_by = cl.charge_limited_by;
          }
        }
        for (int k = 0; k < 24; ++k) {  // ties at 0 A: the furthest along is named (the emptiest / the fullest)
          if (ref.discharge_current_A == T(0) && cls[k].discharge_current_A == T(0) &&
              big.cell(k).soc() < big.cell(ref.discharge_cell).soc()) {
            ref.discharge_cell = k;
            ref.discharge_limited_by = cls[k].discharge_limited_by;
          }
          if (ref.charge_current_A == T(0) && cls[k].charge_current_A == T(0) &&
              big.cell(k).soc() > big.cell(ref.charge_cell).soc()) {
            ref.charge_cell = k;
            ref.charge_limited_by = cls[k].charge_limited_by;
          }
        }
        T v_dis = T(0);
        T v_chg = T(0);
        for (int k = 0; k < 24; ++k) {
          T ve, vs, se;
          power::detail::predictor(big.cell(k), temps[k], c, T(1)).end(ref.discharge_current_A, ve, vs, se);
          v_dis = v_dis + ve;
          power::detail::predictor(big.cell(k), temps[k], c, T(-1)).end(-ref.charge_current_A, ve, vs, se);
          v_chg = v_chg + ve;
        }
        ref.discharge_power_W = ref.discharge_current_A * v_dis;
        ref.charge_power_W = ref.charge_current_A * v_chg;
        CHECK_CTX(std::memcmp(&ref, &got[j], sizeof ref) == 0, name);
        ++checked;
      }
    }
    CHECK_CTX(checked == 72, name);
  }
  power::PackPowerLimits<T> keep[2];
  std::memset(keep, 0x44, sizeof keep);
  power::PackPowerLimits<T> o[2];
  std::memcpy(o, keep, sizeof o);
  const T temps[3] = {T(25), T(25), T(25)};
  const T bad_h[2] = {T(10), T(0)};
  const T hs[2] = {T(10), T(30)};
  CHECK_CTX(power::pack_power_limits_horizons(pk, temps, config<T>(T(10)), bad_h, 2, o) ==
                power::PowerStatus::kBadConfig, name);
  CHECK_CTX(power::pack_power_limits_horizons(pk, temps, config<T>(T(10)), hs, 0, o) ==
                power::PowerStatus::kBadConfig, name);
  CHECK_CTX(power::pack_power_limits_horizons(pk, temps, config<T>(T(10)), static_cast<const T*>(nullptr), 1, o) ==
                power::PowerStatus::kBadConfig, name);
  CHECK_CTX(power::pack_power_limits_horizons(pk, temps, config<T>(T(10)), hs, power::kMaxHorizons + 1, o) ==
                power::PowerStatus::kBadConfig, name);
  const T long_h[2] = {T(10), T(86401)};
  CHECK_CTX(power::pack_power_limits_horizons(pk, temps, config<T>(T(10)), long_h, 2, o) ==
                power::PowerStatus::kBadConfig, name);
  auto bad_cfg = config<T>(T(10));
  bad_cfg.voltage_min_V = T(5);
  CHECK_CTX(power::pack_power_limits_horizons(pk, temps, bad_cfg, hs, 2, o) == power::PowerStatus::kBadConfig, name);
  CHECK_CTX(std::memcmp(o, keep, sizeof o) == 0, name);
  CHECK_CTX(power::pack_power_limits_horizons(pk, temps, config<T>(T(10)), hs, 2,
                                              static_cast<power::PackPowerLimits<T>*>(nullptr)) ==
                power::PowerStatus::kBadConfig, name);
  // anything with n_cells() and cell(k): one that says it is initialised but has no cell is refused as not initialised
  struct NoCells {
    const Pack* pk;
    bool initialised() const { return true; }
    int n_cells() const { return 0; }
    const E& cell(int k) const { return pk->cell(k); }
  };
  CHECK_CTX(power::pack_power_limits_horizons(NoCells{&pk}, temps, config<T>(T(10)), hs, 2, o) ==
                power::PowerStatus::kNotInitialised, name);
  CHECK_CTX(std::memcmp(o, keep, sizeof o) == 0, name);
  // a string whose first cell cannot discharge at all (cut-off above every cell's voltage): 0 A from cell 0, every
  // other cell screened out without a solve (nothing is below 0), the first cell named, as each cell's own limit says
  auto none_cfg = config<T>(T(10));
  none_cfg.voltage_min_V = T(4.15);
  power::PackPowerLimits<T> nr[2];
  CHECK_CTX(power::pack_power_limits_horizons(pk, temps, none_cfg, hs, 2, nr) == power::PowerStatus::kOk, name);
  for (int j = 0; j < 2; ++j) {
    CHECK_CTX(nr[j].discharge_current_A == T(0) && nr[j].discharge_cell == 0 &&
                  nr[j].discharge_limited_by == power::LimitedBy::kNone, name);
  }
}

/// The pack's scaled cells (pack/pack.hpp's ScaledCellModel, its own set_step_current): the direct solve and the
/// bisection agree for every cell of a string with capacity and resistance scales.
// verifies: CS-PWR-007
template <template <class> class F, typename T>
void test_direct_matches_bisection_pack(const char* name) {
  using Base = model::EcmModel<T, 2>;
  using Pack = pack::PackEstimator<Base, F, 4>;
  typename Base::Params p;
  cstest::make_cell(p);
  typename Pack::Config cfg;
  cfg.noise = typename Base::Noise{T(3e-4), T(2e-4), T(1e-3), T(0.02)};
  pack::CellVariation<T> v[3];
  v[0].capacity_scale = T(0.8);
  v[2].resistance_scale = T(1.5);
  const T soc0[3] = {T(0.3), T(0.5), T(0.7)};
  Pack pk;
  CHECK_CTX(pk.init(&p, 3, v, soc0, cfg) == InitStatus::kOk, name);
  const double rel = sizeof(T) == 4 ? 1.0 / 262144.0 : 1.0 / 1048576.0;
  for (int k = 0; k < 3; ++k) {
    for (T h : {T(2), T(10), T(30)}) {
      auto c = config<T>(h);
      power::PowerLimits<T> a{};
      power::PowerLimits<T> b{};
      CHECK_CTX(power::power_limits(pk.cell(k), T(25), c, a) == power::PowerStatus::kOk, name);
      CHECK_CTX(power::power_limits_bisection(pk.cell(k), T(25), c, b) == power::PowerStatus::kOk, name);
      const double dd = static_cast<double>(a.discharge_current_A) - static_cast<double>(b.discharge_current_A);
      const double dc = static_cast<double>(a.charge_current_A) - static_cast<double>(b.charge_current_A);
      CHECK_CTX(std::fabs(dd) <= rel * static_cast<double>(b.discharge_current_A) + 1000.0 / 4194304.0, name);
      CHECK_CTX(std::fabs(dc) <= rel * static_cast<double>(b.charge_current_A) + 1000.0 / 4194304.0, name);
      CHECK_CTX(a.discharge_limited_by == b.discharge_limited_by && a.charge_limited_by == b.charge_limited_by, name);
    }
  }
  power::PowerLimits<T> keep{};
  std::memset(&keep, 0x33, sizeof keep);
  power::PowerLimits<T> o = keep;
  CHECK_CTX(power::power_limits_bisection(pk.cell(0), std::numeric_limits<T>::quiet_NaN(), config<T>(T(10)), o) ==
                power::PowerStatus::kBadInput, name);
  CHECK_CTX(std::memcmp(&o, &keep, sizeof o) == 0, name);
}

/// Temperature derating of the ratings: where the rating binds, the limit is rating x the table's factor at the
/// temperature passed (held beyond the end breakpoints, linear between them; the charge limit 0 A at and below
/// 0 degC, reported as `current`, or `none` when the cell is already beyond the cut-off), the direct solve and the
/// bisection agree; where the voltage binds below the derated rating the derating changes nothing; count 0 gives
/// exactly the results without a table whatever the unread entries hold; count 1 is a constant factor.
// verifies: CS-PWR-008
template <class E>
void test_derating(const char* name) {
  using T = typename E::T;
  const double tt[3] = {0.0, 10.0, 45.0};
  const double fd[3] = {0.5, 1.0, 1.0};
  const double fc[3] = {0.0, 0.5, 1.0};
  Cell<E> c(T(0.5));
  CHECK_CTX(c.ok, name);
  auto cfg = config<T>(T(10));
  cfg.discharge_current_max_A = T(4);
  cfg.charge_current_max_A = T(2);
  derating_table(cfg);
  CHECK_CTX(cfg.check() == power::PowerConfigIssue::kOk, name);
  int followed = 0;
  const double temps[] = {-30.0, -0.5, 0.0, 2.5, 10.0, 27.5, 45.0, 80.0};
  for (double temp : temps) {
    power::PowerLimits<T> r{}, rb{};
    CHECK_CTX(power::power_limits(c.est, T(temp), cfg, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits_bisection(c.est, T(temp), cfg, rb) == power::PowerStatus::kOk, name);
    const double want_d = 4.0 * table_factor(tt, fd, temp);
    const double want_c = 2.0 * table_factor(tt, fc, temp);
    const double tol = sizeof(T) == 4 ? 1e-6 : 1e-12;
    bool ok = std::fabs(static_cast<double>(r.discharge_current_A) - want_d) <= tol * 4.0 &&
              std::fabs(static_cast<double>(r.charge_current_A) - want_c) <= tol * 2.0 &&
              r.discharge_limited_by == power::LimitedBy::kCurrent && r.charge_limited_by == power::LimitedBy::kCurrent &&
              r.discharge_current_A == rb.discharge_current_A && r.charge_current_A == rb.charge_current_A;
    if (temp <= 0.0) { ok = ok && r.charge_current_A == T(0) && r.charge_power_W == T(0); }
    if (!ok) {
      std::printf("%s: derating at %g degC: %g / %g A\n", name, temp, static_cast<double>(r.discharge_current_A),
                  static_cast<double>(r.charge_current_A));
    }
    followed += ok ? 1 : 0;
  }
  CHECK_CTX(followed == static_cast<int>(sizeof temps / sizeof temps[0]), name);
  {  // charge factor 0 with the cell already above the charge cut-off: none
    auto k = cfg;
    k.voltage_max_V = T(3.5);  // OCV(0.5) = 3.65 V
    power::PowerLimits<T> r{};
    CHECK_CTX(power::power_limits(c.est, T(-10), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.charge_current_A == T(0) && r.charge_limited_by == power::LimitedBy::kNone, name);
  }
  {  // the voltage binds below the derated rating (750 of 1000 A): the same limit as without the table, to the
     // solve's tolerance (the bracket starts at the derated rating, so the trials differ)
    auto k = config<T>(T(10));
    derating_table(k);
    const auto plain = config<T>(T(10));
    power::PowerLimits<T> r{}, rp{};
    CHECK_CTX(power::power_limits(c.est, T(5), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits(c.est, T(5), plain, rp) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.discharge_limited_by == power::LimitedBy::kVoltage && rp.discharge_limited_by == r.discharge_limited_by, name);
    CHECK_CTX(r.discharge_current_A < T(750), name);
    const double rel = std::fabs(static_cast<double>(r.discharge_current_A) / static_cast<double>(rp.discharge_current_A) - 1.0);
    CHECK_CTX(rel <= (sizeof(T) == 4 ? 1.0 / 262144.0 : 1.0 / 1048576.0), name);
  }
  {  // count 0: bit-identical to no table, whatever the entries hold; count 1: a constant factor
    auto k = cfg;
    k.derating_count = 0;
    auto plain = config<T>(T(10));
    plain.discharge_current_max_A = T(4);
    plain.charge_current_max_A = T(2);
    power::PowerLimits<T> r{}, rp{};
    CHECK_CTX(power::power_limits(c.est, T(-20), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits(c.est, T(-20), plain, rp) == power::PowerStatus::kOk, name);
    // field by field, bit for bit (the struct's padding is not part of the result)
    CHECK_CTX(std::memcmp(&r.discharge_current_A, &rp.discharge_current_A, 6 * sizeof(T)) == 0 &&
                  r.discharge_limited_by == rp.discharge_limited_by && r.charge_limited_by == rp.charge_limited_by &&
                  r.charge_current_A == T(2),
              name);
    k.derating_count = 1;
    k.derating_discharge_factor[0] = T(0.25);
    k.derating_charge_factor[0] = T(0.75);
    CHECK_CTX(power::power_limits(c.est, T(60), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.discharge_current_A == T(1) && r.charge_current_A == T(1.5), name);
    CHECK_CTX(k.discharge_rating_A(T(-60)) == T(1) && k.charge_rating_A(T(-60)) == T(1.5), name);
  }
}

/// The limit of the linear cell (make_linear_cell) from rest with the overpotential R I_ref asinh(i / I_ref) on both
/// resistances, in double by bisection on the closed-form voltage (independent of the core's solve).
double closed_form_overpotential(double z, double H, double vmin, double iref) {
  const double r = kR0 + kR1 * (1.0 - std::exp(-H / kTau));
  double lo = 0.0;
  double hi = 1000.0;
  for (int k = 0; k < 200; ++k) {
    const double i = 0.5 * (lo + hi);
    const double v = kV0 + kSlope * (z - i * H / (3600.0 * kQ)) - r * iref * std::asinh(i / iref);
    (v >= vmin ? lo : hi) = i;
  }
  return lo;
}

// verifies: CS-PWR-010
template <class E>
void test_overpotential(const char* name) {
  using T = typename E::T;
  const double ulp = static_cast<double>(std::numeric_limits<T>::epsilon());
  // the chord factor asinh(u)/u: 1 at 0, within 8 ulps of std::asinh's over 1e-6..1e4, even in i, decreasing in |i|
  CHECK_CTX(power::detail::overpotential_factor(T(0), T(5)) == T(1), name);
  double prev = 2.0;
  int checked = 0;
  for (double u = 1e-6; u < 1e4; u *= 1.07) {
    const double f = static_cast<double>(power::detail::overpotential_factor(static_cast<T>(3.0 * u), T(3)));
    const double fm = static_cast<double>(power::detail::overpotential_factor(static_cast<T>(-3.0 * u), T(3)));
    const double uu = static_cast<double>(static_cast<T>(3.0 * u)) / 3.0;
    const double want = std::asinh(uu) / uu;
    CHECK_CTX(std::fabs(f - want) <= 8.0 * ulp * want && f == fm && f <= prev, name);
    prev = f;
    ++checked;
  }
  CHECK_CTX(checked > 300, name);
  // I_ref over temperature: linear between the breakpoints, held beyond; 0 without the table
  auto cfg = config<T>(T(10));
  CHECK_CTX(cfg.overpotential_reference_A(T(0)) == T(0), name);
  cfg.overpotential_count = 2;
  cfg.overpotential_temperature_degC[0] = T(-20);
  cfg.overpotential_temperature_degC[1] = T(20);
  cfg.overpotential_current_A[0] = T(4);
  cfg.overpotential_current_A[1] = T(40);
  for (int k = 2; k < power::kMaxOverpotentialPoints; ++k) {  // never read
    cfg.overpotential_temperature_degC[k] = std::numeric_limits<T>::quiet_NaN();
    cfg.overpotential_current_A[k] = T(-1);
  }
  CHECK_CTX(cfg.check() == power::PowerConfigIssue::kOk, name);
  CHECK_CTX(cfg.overpotential_reference_A(T(-40)) == T(4) && cfg.overpotential_reference_A(T(60)) == T(40) &&
                std::fabs(static_cast<double>(cfg.overpotential_reference_A(T(0))) - 22.0) <= 1e-5,
            name);
  // the closed form: the linear cell from rest at 25 degC (I_ref 40 A there), discharge and charge
  Cell<E> c(T(0.5));
  CHECK_CTX(c.ok, name);
  for (double H : {2.0, 10.0, 30.0}) {
    auto k = cfg;
    k.horizon_s = T(H);
    power::PowerLimits<T> r{}, lin{}, rb{};
    CHECK_CTX(power::power_limits(c.est, T(25), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits_bisection(c.est, T(25), k, rb) == power::PowerStatus::kOk, name);
    auto plain = k;
    plain.overpotential_count = 0;
    CHECK_CTX(power::power_limits(c.est, T(25), plain, lin) == power::PowerStatus::kOk, name);
    const double z = static_cast<double>(c.est.soc());
    const double want = closed_form_overpotential(z, H, 3.0, 40.0);
    // the solves' own resolution: 2^-20 (float) / 2^-22 (double) of the limit, the bisection's 2^-32 of the 1000 A
    // rating (2.3e-7 A); float: the voltage's rounding over the cell's resistance (CS-PWR-007's 5e-5 A)
    const double tol = (sizeof(T) == 4 ? 2e-5 : 1e-6) * want + (sizeof(T) == 4 ? 1e-4 : 5e-7);
    CHECK_CTX(std::fabs(static_cast<double>(r.discharge_current_A) - want) <= tol, name);
    CHECK_CTX(std::fabs(static_cast<double>(rb.discharge_current_A) - want) <= tol, name);
    CHECK_CTX(r.discharge_limited_by == power::LimitedBy::kVoltage && r.charge_limited_by == power::LimitedBy::kVoltage, name);
    // a smaller drop at the same current: more discharge current than the linear model allows; the charge limit is
    // the linear model's, bit for bit (the table is for discharge only: identified on discharge pulses)
    CHECK_CTX(r.discharge_current_A > lin.discharge_current_A, name);
    CHECK_CTX(std::memcmp(&r.charge_current_A, &lin.charge_current_A, sizeof(T)) == 0, name);
    const double vr = static_cast<double>(r.discharge_voltage_V);
    CHECK_CTX(vr >= 3.0 && vr <= 3.0 + (sizeof(T) == 4 ? 1e-5 : 1e-6), name);
  }
  for (double H : {2.0, 10.0, 30.0}) {  // the charge column: the charge limit at its own chord resistance
    auto k = cfg;
    k.horizon_s = T(H);
    auto kc = k;
    kc.overpotential_charge_current_A[0] = T(4);
    kc.overpotential_charge_current_A[1] = T(40);
    CHECK_CTX(kc.check() == power::PowerConfigIssue::kOk, name);
    CHECK_CTX(kc.overpotential_charge_reference_A(T(25)) == T(40) && k.overpotential_charge_reference_A(T(25)) == T(0),
              name);
    power::PowerLimits<T> r{}, rc{}, rcb{};
    CHECK_CTX(power::power_limits(c.est, T(25), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits(c.est, T(25), kc, rc) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits_bisection(c.est, T(25), kc, rcb) == power::PowerStatus::kOk, name);
    // more charge current than at R i; the discharge side is the discharge table's, bit for bit
    CHECK_CTX(rc.charge_current_A > r.charge_current_A, name);
    CHECK_CTX(std::memcmp(&rc.discharge_current_A, &r.discharge_current_A, sizeof(T)) == 0, name);
    const double tol = (sizeof(T) == 4 ? 2e-5 : 1e-6) * static_cast<double>(rc.charge_current_A) +
                       (sizeof(T) == 4 ? 1e-4 : 5e-7);
    CHECK_CTX(std::fabs(static_cast<double>(rc.charge_current_A) - static_cast<double>(rcb.charge_current_A)) <= tol,
              name);
    // a mixed column (0 and a current) or a NaN is refused, named
    auto bad = kc;
    bad.overpotential_charge_current_A[1] = T(0);
    CHECK_CTX(bad.check() == power::PowerConfigIssue::kOverpotentialChargeCurrent, name);
    bad = k;
    bad.overpotential_charge_current_A[1] = std::numeric_limits<T>::quiet_NaN();
    CHECK_CTX(bad.check() == power::PowerConfigIssue::kOverpotentialChargeCurrent, name);
    bad = kc;
    bad.overpotential_charge_current_A[0] = T(2e6);
    CHECK_CTX(bad.check() == power::PowerConfigIssue::kOverpotentialCurrent ||
                  bad.check() == power::PowerConfigIssue::kOverpotentialChargeCurrent,
              name);
    CHECK_CTX(std::strstr(power::power_config_message(power::PowerConfigIssue::kOverpotentialChargeCurrent),
                          power::power_config_field(power::PowerConfigIssue::kOverpotentialChargeCurrent)) != nullptr,
              name);
  }
  {  // count 0: bit-identical to no table, whatever the entries hold
    auto k = cfg;
    k.overpotential_count = 0;
    k.overpotential_current_A[0] = T(-5);
    const auto plain = config<T>(T(10));
    power::PowerLimits<T> r{}, rp{};
    CHECK_CTX(power::power_limits(c.est, T(-5), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits(c.est, T(-5), plain, rp) == power::PowerStatus::kOk, name);
    CHECK_CTX(std::memcmp(&r.discharge_current_A, &rp.discharge_current_A, 6 * sizeof(T)) == 0 &&
                  r.discharge_limited_by == rp.discharge_limited_by && r.charge_limited_by == rp.charge_limited_by,
              name);
  }
  // the rules, each refused by name (only the first overpotential_count entries are read)
  struct Bad {
    int count;
    T t0, t1, a0, a1;
    power::PowerConfigIssue want;
  };
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const Bad bad[] = {
      {-1, T(0), T(1), T(1), T(1), power::PowerConfigIssue::kOverpotentialCount},
      {power::kMaxOverpotentialPoints + 1, T(0), T(1), T(1), T(1), power::PowerConfigIssue::kOverpotentialCount},
      {2, T(10), T(10), T(1), T(1), power::PowerConfigIssue::kOverpotentialTemperature},
      {1, T(-101), T(0), T(1), T(1), power::PowerConfigIssue::kOverpotentialTemperature},
      {2, T(0), T(201), T(1), T(1), power::PowerConfigIssue::kOverpotentialTemperature},
      {1, nan, T(0), T(1), T(1), power::PowerConfigIssue::kOverpotentialTemperature},
      {2, T(0), T(1), T(1), T(0), power::PowerConfigIssue::kOverpotentialCurrent},
      {1, T(0), T(1), T(2e6), T(1), power::PowerConfigIssue::kOverpotentialCurrent},
      {2, T(0), T(1), T(1), nan, power::PowerConfigIssue::kOverpotentialCurrent},
  };
  for (const Bad& b : bad) {
    auto k = config<T>(T(10));
    k.overpotential_count = b.count;
    k.overpotential_temperature_degC[0] = b.t0;
    k.overpotential_temperature_degC[1] = b.t1;
    k.overpotential_current_A[0] = b.a0;
    k.overpotential_current_A[1] = b.a1;
    CHECK_CTX(k.check() == b.want, name);
    power::PowerLimits<T> r{};
    r.discharge_current_A = T(-7);
    CHECK_CTX(power::power_limits(c.est, T(25), k, r) == power::PowerStatus::kBadConfig && r.discharge_current_A == T(-7),
              name);
    const char* field = power::power_config_field(b.want);
    CHECK_CTX(std::strncmp(field, "overpotential", 13) == 0 &&
                  std::strstr(power::power_config_message(b.want), field) != nullptr,
              name);
  }
}

// verifies: CS-PWR-011
template <class E>
void test_transport(const char* name) {
  using T = typename E::T;
  // K over SOC: linear between the breakpoints, held beyond; none (3e38) without the table
  auto cfg = config<T>(T(10));
  CHECK_CTX(cfg.transport_cap_A(T(0.5), T(10)) == T(3.0e38), name);
  cfg.transport_count = 2;
  cfg.transport_soc[0] = T(0.2);
  cfg.transport_soc[1] = T(0.8);
  cfg.transport_limit_A_sqrt_s[0] = T(2);
  cfg.transport_limit_A_sqrt_s[1] = T(5);
  for (int k = 2; k < power::kMaxTransportPoints; ++k) {  // never read
    cfg.transport_soc[k] = std::numeric_limits<T>::quiet_NaN();
    cfg.transport_limit_A_sqrt_s[k] = T(-1);
  }
  CHECK_CTX(cfg.check() == power::PowerConfigIssue::kOk, name);
  CHECK_CTX(cfg.transport_cap_A(T(0.1), T(4)) == T(1) && cfg.transport_cap_A(T(0.9), T(25)) == T(1), name);
  CHECK_CTX(std::fabs(static_cast<double>(cfg.transport_cap_A(T(0.5), T(9))) - 3.5 / 3.0) <= 1e-6, name);
  {  // the current term c: K0 / (sqrt(H) - c), c linear in SOC too; none where sqrt(H) <= c
    auto kc = cfg;
    kc.transport_slope_sqrt_s[0] = T(0.5);
    kc.transport_slope_sqrt_s[1] = T(1.5);
    CHECK_CTX(kc.check() == power::PowerConfigIssue::kOk, name);
    CHECK_CTX(kc.transport_cap_A(T(0.1), T(4)) == T(2) / T(1.5), name);  // K0 2, c 0.5, sqrt(4) = 2
    CHECK_CTX(std::fabs(static_cast<double>(kc.transport_cap_A(T(0.5), T(9))) - 3.5 / 2.0) <= 1e-6, name);
    CHECK_CTX(kc.transport_cap_A(T(0.9), T(2.25)) == T(3.0e38) && kc.transport_cap_A(T(0.9), T(1)) == T(3.0e38), name);
  }
  Cell<E> c(T(0.5));
  CHECK_CTX(c.ok, name);
  const double K = 2.0 + 3.0 * (static_cast<double>(c.est.soc()) - 0.2) / 0.6;  // K at the estimate
  const T horizons[3] = {T(2), T(10), T(30)};
  power::PowerLimits<T> multi[3]{};
  CHECK_CTX(power::power_limits_horizons(c.est, T(25), cfg, horizons, 3, multi) == power::PowerStatus::kOk, name);
  for (int j = 0; j < 3; ++j) {
    const double H = static_cast<double>(horizons[j]);
    auto k = cfg;
    k.horizon_s = horizons[j];
    auto plain = k;
    plain.transport_count = 0;
    power::PowerLimits<T> r{}, lin{}, rb{};
    CHECK_CTX(power::power_limits(c.est, T(25), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits(c.est, T(25), plain, lin) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits_bisection(c.est, T(25), k, rb) == power::PowerStatus::kOk, name);
    // the linear cell's voltage limit (above 5 A over these horizons) is above K / sqrt(H): the cap binds, exactly
    // at the table's value, named "transport"; the charge limit is untouched, bit for bit
    const double cap = static_cast<double>(k.transport_cap_A(c.est.soc(), horizons[j]));
    CHECK_CTX(std::fabs(cap - K / std::sqrt(H)) <= 1e-5 * cap, name);
    CHECK_CTX(static_cast<double>(lin.discharge_current_A) > cap, name);
    CHECK_CTX(static_cast<double>(r.discharge_current_A) == cap && r.discharge_limited_by == power::LimitedBy::kTransport,
              name);
    CHECK_CTX(static_cast<double>(rb.discharge_current_A) == cap && rb.discharge_limited_by == power::LimitedBy::kTransport,
              name);
    CHECK_CTX(std::memcmp(&r.charge_current_A, &lin.charge_current_A, sizeof(T)) == 0 &&
                  r.charge_limited_by == lin.charge_limited_by,
              name);
    // the multi-horizon call: bit for bit the single calls
    CHECK_CTX(std::memcmp(&multi[j].discharge_current_A, &r.discharge_current_A, 6 * sizeof(T)) == 0 &&
                  multi[j].discharge_limited_by == r.discharge_limited_by,
              name);
    // the conservative option takes K at the start's SOC, k sigma lower
    auto kc = k;
    kc.soc_sigma_k = T(3);
    power::PowerLimits<T> rc{};
    CHECK_CTX(power::power_limits(c.est, T(25), kc, rc) == power::PowerStatus::kOk, name);
    const T z_lo = c.est.soc() - T(3) * c.est.soc_sigma();
    CHECK_CTX(rc.discharge_current_A == kc.transport_cap_A(z_lo, horizons[j]) && rc.discharge_current_A < r.discharge_current_A,
              name);
    // a rating below the cap: the rating binds, named "current"
    auto kr = k;
    kr.discharge_current_max_A = T(0.5) * static_cast<T>(cap);
    CHECK_CTX(power::power_limits(c.est, T(25), kr, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(r.discharge_current_A == kr.discharge_current_max_A && r.discharge_limited_by == power::LimitedBy::kCurrent,
              name);
  }
  {  // count 0: bit-identical to no table, whatever the entries hold
    auto k = cfg;
    k.transport_count = 0;
    k.transport_limit_A_sqrt_s[0] = T(-5);
    const auto plain = config<T>(T(10));
    power::PowerLimits<T> r{}, rp{};
    CHECK_CTX(power::power_limits(c.est, T(-5), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits(c.est, T(-5), plain, rp) == power::PowerStatus::kOk, name);
    CHECK_CTX(std::memcmp(&r.discharge_current_A, &rp.discharge_current_A, 6 * sizeof(T)) == 0 &&
                  r.discharge_limited_by == rp.discharge_limited_by && r.charge_limited_by == rp.charge_limited_by,
              name);
  }
  for (int j = 0; j < 3; ++j) {  // the charge columns: the same cap on the charge side, the discharge side untouched
    auto k = cfg;
    k.horizon_s = horizons[j];
    auto kc = k;
    kc.transport_charge_limit_A_sqrt_s[0] = T(2);
    kc.transport_charge_limit_A_sqrt_s[1] = T(5);
    CHECK_CTX(kc.check() == power::PowerConfigIssue::kOk, name);
    CHECK_CTX(k.transport_charge_cap_A(T(0.5), T(4)) == T(3.0e38) && kc.transport_charge_cap_A(T(0.1), T(4)) == T(1), name);
    power::PowerLimits<T> r{}, rc{}, rcb{};
    CHECK_CTX(power::power_limits(c.est, T(25), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits(c.est, T(25), kc, rc) == power::PowerStatus::kOk, name);
    CHECK_CTX(power::power_limits_bisection(c.est, T(25), kc, rcb) == power::PowerStatus::kOk, name);
    const T cap = kc.transport_charge_cap_A(c.est.soc(), horizons[j]);
    CHECK_CTX(r.charge_current_A > cap && rc.charge_current_A == cap && rc.charge_limited_by == power::LimitedBy::kTransport,
              name);
    CHECK_CTX(rcb.charge_current_A == cap && rcb.charge_limited_by == power::LimitedBy::kTransport, name);
    CHECK_CTX(std::memcmp(&rc.discharge_current_A, &r.discharge_current_A, sizeof(T)) == 0, name);
    power::PowerLimits<T> m[3]{};
    CHECK_CTX(power::power_limits_horizons(c.est, T(25), kc, horizons, 3, m) == power::PowerStatus::kOk, name);
    CHECK_CTX(std::memcmp(&m[j].discharge_current_A, &rc.discharge_current_A, 6 * sizeof(T)) == 0 &&
                  m[j].charge_limited_by == rc.charge_limited_by,
              name);
    auto bad = kc;  // a mixed column, a NaN slope, a slope without the cap: refused, named
    bad.transport_charge_limit_A_sqrt_s[1] = T(0);
    CHECK_CTX(bad.check() == power::PowerConfigIssue::kTransportCharge, name);
    bad = kc;
    bad.transport_charge_slope_sqrt_s[1] = std::numeric_limits<T>::quiet_NaN();
    CHECK_CTX(bad.check() == power::PowerConfigIssue::kTransportCharge, name);
    bad = k;
    bad.transport_charge_slope_sqrt_s[0] = T(0.5);
    CHECK_CTX(bad.check() == power::PowerConfigIssue::kTransportCharge, name);
  }
  CHECK_CTX(std::strncmp(power::power_config_field(power::PowerConfigIssue::kTransportCharge), "transport_charge", 16) == 0,
            name);
  {  // more of the charge columns' and the charge overpotential's rules, each branch refused, named
    auto k = cfg;
    k.transport_charge_limit_A_sqrt_s[0] = T(2);
    k.transport_charge_limit_A_sqrt_s[1] = T(5);
    const T bad_k0[] = {T(2e7), T(-1)};
    for (T v : bad_k0) {
      auto b = k;
      b.transport_charge_limit_A_sqrt_s[1] = v;
      CHECK_CTX(b.check() == power::PowerConfigIssue::kTransportCharge, name);
    }
    const T bad_c[] = {T(-101), T(101)};
    for (T v : bad_c) {
      auto b = k;
      b.transport_charge_slope_sqrt_s[1] = v;
      CHECK_CTX(b.check() == power::PowerConfigIssue::kTransportCharge, name);
    }
    auto b = cfg;  // zero mode (the first entry 0): a negative or a positive later entry, a negative slope are not zero
    b.transport_charge_limit_A_sqrt_s[1] = T(-1);
    CHECK_CTX(b.check() == power::PowerConfigIssue::kTransportCharge, name);
    b.transport_charge_limit_A_sqrt_s[1] = T(5);
    CHECK_CTX(b.check() == power::PowerConfigIssue::kTransportCharge, name);
    b = cfg;
    b.transport_charge_slope_sqrt_s[1] = T(-0.5);
    CHECK_CTX(b.check() == power::PowerConfigIssue::kTransportCharge, name);
    auto o = cfg;
    o.overpotential_count = 2;
    o.overpotential_temperature_degC[0] = T(0);
    o.overpotential_temperature_degC[1] = T(40);
    o.overpotential_current_A[0] = T(5);
    o.overpotential_current_A[1] = T(25);
    o.overpotential_charge_current_A[0] = T(4);
    o.overpotential_charge_current_A[1] = T(2e6);
    CHECK_CTX(o.check() == power::PowerConfigIssue::kOverpotentialChargeCurrent, name);
    o.overpotential_charge_current_A[0] = T(0);
    o.overpotential_charge_current_A[1] = T(-1);
    CHECK_CTX(o.check() == power::PowerConfigIssue::kOverpotentialChargeCurrent, name);
    o.overpotential_charge_current_A[1] = T(4);  // zero mode: a later current is not zero
    CHECK_CTX(o.check() == power::PowerConfigIssue::kOverpotentialChargeCurrent, name);
  }
  // every issue has a field and a message naming it; every LimitedBy a name
  for (int v = 1; v <= static_cast<int>(power::PowerConfigIssue::kTransportCharge); ++v) {
    const auto issue = static_cast<power::PowerConfigIssue>(v);
    const char* field = power::power_config_field(issue);
    const char* msg = power::power_config_message(issue);
    char first[64] = {};
    std::strncpy(first, field, sizeof first - 1);
    if (char* slash = std::strchr(first, '/')) { *slash = 0; }
    CHECK_CTX(std::strlen(field) > 0 && std::strcmp(field, "unknown") != 0 && std::strstr(msg, first) != nullptr, name);
  }
  CHECK_CTX(std::strcmp(power::power_config_message(power::PowerConfigIssue::kOk), "ok") == 0, name);
  const char* names[] = {"voltage", "soc", "current", "none", "transport"};
  for (int v = 0; v < 5; ++v) {
    CHECK_CTX(std::strcmp(power::limited_by_name(static_cast<power::LimitedBy>(v)), names[v]) == 0, name);
  }
  {  // a transport ceiling above the voltage limit: the voltage binds, named "voltage", not "transport"
    auto k = config<T>(T(10));
    power::PowerLimits<T> lin{};
    CHECK_CTX(power::power_limits(c.est, T(25), k, lin) == power::PowerStatus::kOk, name);
    k.transport_count = 1;
    k.transport_soc[0] = T(0.5);
    k.transport_limit_A_sqrt_s[0] = T(1.5) * lin.discharge_current_A * std::sqrt(T(10));
    power::PowerLimits<T> r{};
    CHECK_CTX(power::power_limits(c.est, T(25), k, r) == power::PowerStatus::kOk, name);
    CHECK_CTX(k.transport_cap_A(c.est.soc(), T(10)) < k.discharge_current_max_A, name);
    // the same limit to the solves' resolution (their brackets start at different ceilings; float: the voltage's
    // rounding over the cell's resistance, as in test_overpotential)
    const double want = static_cast<double>(lin.discharge_current_A);
    const double tol = (sizeof(T) == 4 ? 2e-5 : 1e-6) * want + (sizeof(T) == 4 ? 1e-4 : 5e-7);
    CHECK_CTX(r.discharge_limited_by == power::LimitedBy::kVoltage &&
                  std::fabs(static_cast<double>(r.discharge_current_A) - want) <= tol,
              name);
  }
  CHECK_CTX(std::strcmp(power::limited_by_name(power::LimitedBy::kTransport), "transport") == 0, name);
  // the rules, each refused by name (only the first transport_count entries are read)
  struct Bad {
    int count;
    T z0, z1, k0, k1;
    power::PowerConfigIssue want;
    T c1 = T(0);
  };
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const Bad bad[] = {
      {2, T(0), T(1), T(1), T(1), power::PowerConfigIssue::kTransportSlope, T(101)},
      {2, T(0), T(1), T(1), T(1), power::PowerConfigIssue::kTransportSlope, nan},
      {-1, T(0), T(1), T(1), T(1), power::PowerConfigIssue::kTransportCount},
      {power::kMaxTransportPoints + 1, T(0), T(1), T(1), T(1), power::PowerConfigIssue::kTransportCount},
      {2, T(0.5), T(0.5), T(1), T(1), power::PowerConfigIssue::kTransportSoc},
      {1, T(-0.6), T(0), T(1), T(1), power::PowerConfigIssue::kTransportSoc},
      {2, T(0), T(1.6), T(1), T(1), power::PowerConfigIssue::kTransportSoc},
      {1, nan, T(0), T(1), T(1), power::PowerConfigIssue::kTransportSoc},
      {2, T(0), T(1), T(1), T(0), power::PowerConfigIssue::kTransportLimit},
      {1, T(0), T(1), T(2e7), T(1), power::PowerConfigIssue::kTransportLimit},
      {2, T(0), T(1), T(1), nan, power::PowerConfigIssue::kTransportLimit},
  };
  for (const Bad& b : bad) {
    auto k = config<T>(T(10));
    k.transport_count = b.count;
    k.transport_soc[0] = b.z0;
    k.transport_soc[1] = b.z1;
    k.transport_limit_A_sqrt_s[0] = b.k0;
    k.transport_limit_A_sqrt_s[1] = b.k1;
    k.transport_slope_sqrt_s[1] = b.c1;
    CHECK_CTX(k.check() == b.want, name);
    power::PowerLimits<T> r{};
    r.discharge_current_A = T(-7);
    CHECK_CTX(power::power_limits(c.est, T(25), k, r) == power::PowerStatus::kBadConfig && r.discharge_current_A == T(-7),
              name);
    const char* field = power::power_config_field(b.want);
    CHECK_CTX(std::strncmp(field, "transport", 9) == 0 && std::strstr(power::power_config_message(b.want), field) != nullptr,
              name);
  }
}

int main() {
  test_transport<EcmEkf<double, 1>>("ekf double");
  test_transport<EcmEkf<float, 1>>("ekf float");
  test_transport<EcmUkf<float, 1>>("ukf float");
  test_overpotential<EcmEkf<double, 1>>("ekf double");
  test_overpotential<EcmEkf<float, 1>>("ekf float");
  test_overpotential<EcmUkf<float, 1>>("ukf float");
  test_derating<EcmEkf<double, 1>>("ekf double");
  test_derating<EcmEkf<float, 1>>("ekf float");
  test_derating<EcmUkf<float, 1>>("ukf float");
  test_pack_weakest_cell<filter::Ekf, double>("pack ekf double");
  test_pack_weakest_cell<filter::Ukf, float>("pack ukf float");
  test_pack_tie_at_zero_names_the_furthest<filter::Ekf, double>("pack tie ekf double");
  test_pack_tie_at_zero_names_the_furthest<filter::Ukf, float>("pack tie ukf float");
  test_closed_form<EcmEkf<double, 1>>("ekf double");
  test_closed_form<EcmEkf<float, 1>>("ekf float");
  test_closed_form<EcmUkf<double, 1>>("ukf double");
  test_horizon_and_conservative<EcmEkf<double, 1>>("ekf double");
  test_horizon_and_conservative<EcmUkf<float, 1>>("ukf float");
  test_other_constraints<EcmEkf<double, 1>>("ekf double");
  test_other_constraints<EcmEkf<float, 1>>("ekf float");
  test_refusals<EcmEkf<double, 1>>("ekf double");
  test_refusals<EcmUkf<float, 1>>("ukf float");
  test_energy_and_times<EcmEkf<double, 1>>("ekf double");
  test_energy_and_times<EcmEkf<float, 1>>("ekf float");
  test_nonlinear_cell_invariant<EcmEkf<double, 2>>("ekf double 2rc");
  test_nonlinear_cell_invariant<EcmUkf<float, 2>>("ukf float 2rc");
  test_each_refusal<EcmEkf<double, 1>>("ekf double");
  test_each_refusal<EcmUkf<float, 1>>("ukf float");
  test_cutoff_plausible<EcmEkf<double, 1>>("ekf double");
  test_cutoff_plausible<EcmUkf<float, 1>>("ukf float");
  test_overflowing_process_noise<EcmEkf<double, 1>>("ekf double");
  test_overflowing_process_noise<EcmEkf<float, 1>>("ekf float");
  test_overflowing_process_noise<EcmUkf<float, 1>>("ukf float");
  test_energy_and_limit_edges<EcmEkf<double, 1>>("ekf double");
  test_energy_and_limit_edges<EcmEkf<float, 1>>("ekf float");
  test_direct_matches_bisection<EcmEkf<double, 2>>("ekf double 2rc");
  test_direct_matches_bisection<EcmEkf<float, 2>>("ekf float 2rc");
  test_direct_matches_bisection<EcmUkf<float, 2>>("ukf float 2rc");
  test_direct_matches_bisection_pack<filter::Ekf, float>("pack ekf float");
  test_direct_matches_bisection_pack<filter::Ukf, double>("pack ukf double");
  test_horizons_one_call<EcmEkf<float, 2>>("ekf float 2rc");
  test_horizons_one_call<EcmUkf<double, 2>>("ukf double 2rc");
  test_horizons_one_call_pack<filter::Ekf, float>("pack ekf float");
  test_horizons_one_call_pack<filter::Ukf, double>("pack ukf double");
  return cstest::finish("test_power");
}
