// Unit tests: pack/ (PackEstimator, ScaledCellModel), EKF and UKF, float and double.
#include <cmath>
#include <cstring>
#include <limits>

#include "cells.hpp"
#include "cellsense/pack/pack.hpp"
#include "check.hpp"

using namespace cellsense;

namespace {

template <typename T>
using Base = model::EcmModel<T, 2>;

template <typename T, template <class> class F, int MaxCells>
using Pack = pack::PackEstimator<Base<T>, F, MaxCells>;

template <class P>
typename P::Config make_config() {
  using T = typename P::T;
  typename P::Config c{};
  c.noise = typename Base<T>::Noise{T(3e-4), T(5e-4), T(1e-3), T(0.05)};
  c.estimator.soc_min = T(-0.05);
  c.estimator.soc_max = T(1.05);
  c.estimator.voltage_sigma_V = T(0.02);
  return c;
}

// A simple true-cell simulation with the plain model (per-cell params given).
template <typename T>
struct TrueCell {
  Base<T> m;
  typename Base<T>::State x;
  typename Base<T>::Aux aux{T(0)};
  TrueCell(const typename Base<T>::Params* p, T soc) : m(p, typename Base<T>::Noise{}) {
    typename Base<T>::Cov unused;
    Base<T>::initial(soc, T(0), T(0), T(0), T(0), x, unused);
  }
  T step(T dt, T i, T temp) {
    const auto s = m.prepare(x, aux, dt, i, temp);
    x = m.predict(s, x);
    aux = Base<T>::next_aux(s);
    return m.measure(s, x);
  }
};

// Unscaled cells of a pack are bit for bit the plain Estimator.
// verifies: CS-PACK-001
template <typename T, template <class> class F>
void test_unscaled_is_plain() {
  static typename Base<T>::Params p;
  cstest::make_cell(p);
  using P = Pack<T, F, 4>;
  static P pk;
  const auto cfg = make_config<P>();
  const T soc0[4] = {T(0.6), T(0.6), T(0.6), T(0.6)};
  CHECK_T(pk.init(&p, 4, nullptr, soc0, cfg) == InitStatus::kOk);
  Estimator<Base<T>, F> plain;
  typename Base<T>::State x;
  typename Base<T>::Cov P0;
  Base<T>::initial(T(0.6), cfg.initial_soc_sigma, cfg.initial_v_rc_sigma_V, T(0), cfg.initial_hysteresis_sigma, x, P0);
  CHECK_T(plain.init(Base<T>(&p, cfg.noise), cfg.estimator, typename Estimator<Base<T>, F>::FilterConfig{}, x, P0,
                     typename Base<T>::Aux{T(0)}) == InitStatus::kOk);
  TrueCell<T> truth(&p, T(0.8));
  cstest::Rng rng;
  bool same = true;
  for (int k = 0; k < 800; ++k) {
    const T i = static_cast<T>(4.0 * rng.uniform() - 1.0);
    const T v = truth.step(T(1), i, T(25));
    const T volts[4] = {v, v, v, v};
    const T temps[4] = {T(25), T(25), T(25), T(25)};
    pack::CellReport<T> out[4];
    pk.step(T(1), i, volts, temps, out);
    const auto r = plain.step(T(1), i, v, T(25));
    for (int c = 0; c < 4; ++c) {
      same = same && out[c].status == static_cast<std::uint8_t>(r.status) &&
             std::memcmp(&out[c].soc, &r.soc, sizeof(T)) == 0 && std::memcmp(&out[c].soc_sigma, &r.soc_sigma, sizeof(T)) == 0;
    }
  }
  CHECK_T(same);
  CHECK_T(std::memcmp(&pk.cell(3).covariance(), &plain.covariance(), sizeof plain.covariance()) == 0);
}

// A scaled cell (c, r) equals a plain estimator on parameters with Q c and every R r (up to rounding).
// verifies: CS-PACK-002
template <typename T, template <class> class F>
void test_scaled_matches_scaled_params(double tol) {
  static typename Base<T>::Params p, q;
  cstest::make_cell(p);
  const T c = T(1.12), r = T(0.85);
  q = p;
  q.capacity_Ah = p.capacity_Ah * c;
  for (int it = 0; it < p.grid.n_temperature; ++it) {
    for (int is = 0; is < p.grid.n_soc; ++is) {
      q.r0_Ohm.value[it][is] = p.r0_Ohm.value[it][is] * r;
      for (int j = 0; j < 2; ++j) { q.rc_r_Ohm[j].value[it][is] = p.rc_r_Ohm[j].value[it][is] * r; }
    }
  }
  using P = Pack<T, F, 2>;
  static P pk;
  const auto cfg = make_config<P>();
  const T soc0[2] = {T(0.7), T(0.7)};
  const pack::CellVariation<T> var[2] = {{c, r}, {T(1), T(1)}};
  CHECK_T(pk.init(&p, 2, var, soc0, cfg) == InitStatus::kOk);
  CHECK_T(std::fabs(static_cast<double>(pk.capacity_Ah(0) - T(2.5) * c)) < 1e-6);
  Estimator<Base<T>, F> ref;
  const auto noise = cfg.noise;  // the same current noise: the pack scales it with the input gain
  typename Base<T>::State x;
  typename Base<T>::Cov P0;
  Base<T>::initial(T(0.7), cfg.initial_soc_sigma, cfg.initial_v_rc_sigma_V, T(0), cfg.initial_hysteresis_sigma, x, P0);
  CHECK_T(ref.init(Base<T>(&q, noise), cfg.estimator, typename Estimator<Base<T>, F>::FilterConfig{}, x, P0,
                   typename Base<T>::Aux{T(0)}) == InitStatus::kOk);
  TrueCell<T> truth(&q, T(0.9));
  cstest::Rng rng;
  double max_soc = 0, max_sig = 0;
  for (int k = 0; k < 1500; ++k) {
    const T i = static_cast<T>(6.0 * rng.uniform() - 1.5);
    const T v = truth.step(T(1), i, T(25));
    const T volts[2] = {v, v};
    const T temps[2] = {T(25), T(25)};
    pack::CellReport<T> out[2];
    pk.step(T(1), i, volts, temps, out);
    const auto rr = ref.step(T(1), i, v, T(25));
    max_soc = std::fmax(max_soc, std::fabs(static_cast<double>(out[0].soc - rr.soc)));
    max_sig = std::fmax(max_sig, std::fabs(static_cast<double>(out[0].soc_sigma - rr.soc_sigma)));
  }
  CHECK_CTX(max_soc < tol, cstest::type_name<T>());
  CHECK_CTX(max_sig < tol, cstest::type_name<T>());
  CHECK_T(std::fabs(static_cast<double>(pk.cell(0).soc() - truth.x(0, 0))) < 0.03);
}

// Pack SOC: D = min (z - lo) Q_k, C = min (hi - z) Q_k, usable = D / (D + C).
// verifies: CS-PACK-003
template <typename T>
void test_usable_soc() {
  static typename Base<T>::Params p;
  cstest::make_cell(p);
  using P = Pack<T, filter::Ekf, 3>;
  static P pk;
  const auto cfg = make_config<P>();
  const T soc0[3] = {T(0.2), T(0.5), T(0.9)};
  const pack::CellVariation<T> var[3] = {{T(1), T(1)}, {T(0.8), T(1)}, {T(1.2), T(1)}};
  CHECK_T(pk.init(&p, 3, var, soc0, cfg) == InitStatus::kOk);
  pack::PackSummary<T> s{};
  pk.summarise(s);
  // D = min(0.2*2.5, 0.5*2.0, 0.9*3.0) = 0.5; C = min(0.8*2.5, 0.5*2.0, 0.1*3.0) = 0.3
  CHECK_T(std::fabs(static_cast<double>(s.dischargeable_Ah) - 0.5) < 1e-5);
  CHECK_T(std::fabs(static_cast<double>(s.chargeable_Ah) - 0.3) < 1e-5);
  CHECK_T(std::fabs(static_cast<double>(s.usable_soc) - 0.5 / 0.8) < 1e-5);
  CHECK_T(s.index_min == 0 && s.index_max == 2);
  CHECK_T(std::fabs(static_cast<double>(s.imbalance) - 0.7) < 1e-5);
  CHECK_T(std::fabs(static_cast<double>(s.soc_mean) - 1.6 / 3.0) < 1e-5);
  // SOH hook: capacity scale changes, state kept.
  const T before = pk.cell(1).soc();
  CHECK_T(pk.set_capacity_scale(1, T(0.5)));
  CHECK_T(std::memcmp(&before, &pk.cell(1).state()(0, 0), sizeof(T)) == 0);
  CHECK_T(std::fabs(static_cast<double>(pk.capacity_Ah(1)) - 1.25) < 1e-5);
  CHECK_T(!pk.set_capacity_scale(1, T(0)));
  CHECK_T(!pk.set_capacity_scale(7, T(1)));
  // A usable window [0.3, 0.8] inside the cells' SOCs: a cell below it has no headroom to discharge
  // (not a negative one), a cell above it none to charge; with both, the string's usable SOC is 0.
  static P narrow;
  auto cfg2 = make_config<P>();
  cfg2.usable_soc_low = T(0.3);
  cfg2.usable_soc_high = T(0.8);
  CHECK_T(narrow.init(&p, 3, var, soc0, cfg2) == InitStatus::kOk);
  narrow.summarise(s);
  CHECK_T(s.dischargeable_Ah == T(0) && s.chargeable_Ah == T(0) && s.usable_soc == T(0));
}

// Gaps: rest keeps SOC and hysteresis, decays RC voltages, grows sigma (capped); reinit from OCV.
// verifies: CS-PACK-004
template <typename T>
void test_gaps() {
  static typename Base<T>::Params p;
  cstest::make_cell(p);
  using P = Pack<T, filter::Ekf, 2>;
  static P pk;
  auto cfg = make_config<P>();
  cfg.estimator.dt_max_s = T(60);
  cfg.gap.gap_s = T(30);
  cfg.gap.reinit_after_s = T(3600);
  const T soc0[2] = {T(0.5), T(0.5)};
  CHECK_T(pk.init(&p, 2, nullptr, soc0, cfg) == InitStatus::kOk);
  TrueCell<T> truth(&p, T(0.5));
  for (int k = 0; k < 300; ++k) {
    const T v = truth.step(T(1), T(5), T(25));
    const T volts[2] = {v, v};
    const T temps[2] = {T(25), T(25)};
    pk.step(T(1), T(5), volts, temps, nullptr);
  }
  const auto x_before = pk.cell(0).state();
  const T sig_before = pk.cell(0).soc_sigma();
  const T volts[2] = {T(3.6), T(3.6)};
  const T temps[2] = {T(25), T(25)};
  pack::CellReport<T> out[2];
  auto s = pk.step(T(600), T(0), volts, temps, out);
  CHECK_T(s.event == pack::PackEvent::kRest);
  CHECK_T(out[0].status == pack::kCellStatusRest);
  const auto x_after = pk.cell(0).state();
  CHECK_T(std::memcmp(&x_before(0, 0), &x_after(0, 0), sizeof(T)) == 0);  // SOC unchanged
  CHECK_T(std::memcmp(&x_before(3, 0), &x_after(3, 0), sizeof(T)) == 0);  // hysteresis unchanged
  CHECK_T(std::fabs(static_cast<double>(x_after(1, 0))) < std::fabs(static_cast<double>(x_before(1, 0))));
  CHECK_T(pk.cell(0).soc_sigma() > sig_before);
  CHECK_T(static_cast<double>(pk.cell(0).soc_sigma()) <= 1.1 / std::sqrt(12.0) + 1e-6);
  typename Base<T>::Cov l;
  CHECK_T(math::cholesky(pk.cell(0).covariance(), l));
  {  // the cap: with a hysteresis prior of sigma 0.01 the gap's process noise (1e-6 per s) would pass it
    static P tight;
    auto cfg_t = cfg;
    cfg_t.initial_hysteresis_sigma = T(0.01);
    CHECK_T(tight.init(&p, 2, nullptr, soc0, cfg_t) == InitStatus::kOk);
    const T p_hh = tight.cell(0).covariance()(3, 3);
    const T ceiling = cfg_t.initial_hysteresis_sigma * cfg_t.initial_hysteresis_sigma;
    tight.step(T(600), T(0), volts, temps, nullptr);
    CHECK_T(tight.cell(0).covariance()(3, 3) == (ceiling > p_hh ? ceiling : p_hh));
  }
  // A very long gap re-initialises from OCV: OCV(soc_from_ocv(v)) == v.
  const T v_rest = T(3.75);
  const T volts2[2] = {v_rest, std::numeric_limits<T>::quiet_NaN()};
  s = pk.step(T(7200), T(0), volts2, temps, out);
  CHECK_T(s.event == pack::PackEvent::kReinit);
  CHECK_T(out[0].status == pack::kCellStatusReinit);
  CHECK_T(out[1].status == pack::kCellStatusReinitFailed);
  const T z = pk.cell(0).soc();
  const auto gp = math::locate(p.grid, z, T(25));
  CHECK_T(std::fabs(static_cast<double>(math::lookup_extrapolated(p.ocv_V, gp) - v_rest)) < 1e-4);
  // A normal step afterwards.
  const T volts3[2] = {T(3.74), T(3.74)};
  s = pk.step(T(1), T(1), volts3, temps, out);
  CHECK_T(s.event == pack::PackEvent::kStep);
  CHECK_T(!is_rejected(static_cast<StepStatus>(out[0].status)));
}

// Rejections are per cell; init failures.
// verifies: CS-PACK-005
template <typename T>
void test_rejections_and_init() {
  static typename Base<T>::Params p;
  cstest::make_cell(p);
  using P = Pack<T, filter::Ukf, 3>;
  static P pk;
  auto cfg = make_config<P>();
  const T soc0[3] = {T(0.5), T(0.5), T(0.5)};
  const T volts[3] = {T(3.7), std::numeric_limits<T>::quiet_NaN(), T(3.7)};
  const T temps[3] = {T(25), T(25), T(25)};
  pack::CellReport<T> out[3];
  auto s = pk.step(T(1), T(1), volts, temps, out);
  CHECK_T(!pk.initialised() && s.n_rejected == 0);  // no cells: nothing stepped, nothing written
  CHECK_T(pk.init(&p, 0, nullptr, soc0, cfg) == InitStatus::kBadConfig);
  CHECK_T(pk.init(&p, 4, nullptr, soc0, cfg) == InitStatus::kBadConfig);
  int bad = -1;
  const pack::CellVariation<T> var[3] = {{T(1), T(1)}, {T(1), T(0)}, {T(1), T(1)}};
  CHECK_T(pk.init(&p, 3, var, soc0, cfg, &bad) == InitStatus::kBadConfig && bad == 1);
  CHECK_T(!pk.initialised());
  auto bad_cfg = cfg;
  bad_cfg.gap.gap_s = T(100);  // above dt_max
  CHECK_T(pk.init(&p, 3, nullptr, soc0, bad_cfg) == InitStatus::kBadConfig);
  const T bad_soc[3] = {T(0.5), T(2), T(0.5)};
  CHECK_T(pk.init(&p, 3, nullptr, bad_soc, cfg, &bad) == InitStatus::kBadInitialState && bad == 1);
  CHECK_T(pk.init(&p, 3, nullptr, soc0, cfg) == InitStatus::kOk);
  const auto x1 = pk.cell(1).state();
  // a non-finite temperature rejects that cell only, its state unchanged
  const T temps_nan[3] = {T(25), std::numeric_limits<T>::quiet_NaN(), T(25)};
  const T volts_ok[3] = {T(3.7), T(3.7), T(3.7)};
  s = pk.step(T(1), T(1), volts_ok, temps_nan, out);
  CHECK_T(s.n_rejected == 1);
  CHECK_T(out[1].status == static_cast<std::uint8_t>(StepStatus::kRejectedNonFinite));
  CHECK_T(std::memcmp(&x1, &pk.cell(1).state(), sizeof x1) == 0);
  CHECK_T(!is_rejected(static_cast<StepStatus>(out[0].status)));
}

// A dropped voltage reading (NaN) with the string's current: the cell is stepped predict-only, the charge counted
// as a plain predict_only() on a copy of it would, the reading not used; a NaN current still rejects every cell.
// verifies: CS-PACK-008
template <typename T>
void test_dropped_reading_counts_the_charge() {
  static typename Base<T>::Params p;
  cstest::make_cell(p);
  using P = Pack<T, filter::Ekf, 3>;
  static P pk;
  const T soc0[3] = {T(0.6), T(0.6), T(0.6)};
  CHECK_T(pk.init(&p, 3, nullptr, soc0, make_config<P>()) == InitStatus::kOk);
  const T volts[3] = {T(3.7), std::numeric_limits<T>::quiet_NaN(), T(3.7)};
  const T temps[3] = {T(25), T(25), T(25)};
  auto ref = pk.cell(1);  // a copy: what predict_only does to it
  const T v_mid = (p.voltage_min_V + p.voltage_max_V) / T(2);
  const auto want = ref.predict_only(T(10), T(2), v_mid, T(25));
  pack::CellReport<T> out[3];
  auto s = pk.step(T(10), T(2), volts, temps, out);
  CHECK_T(s.n_rejected == 0 && out[1].status == static_cast<std::uint8_t>(StepStatus::kPredictedOnly));
  CHECK_T(want.status == StepStatus::kPredictedOnly && out[1].soc == want.soc && out[1].soc_sigma == want.soc_sigma);
  CHECK_T(pk.cell(1).soc() < T(0.6));  // 20 A s discharged
  CHECK_T(std::memcmp(&ref.state(), &pk.cell(1).state(), sizeof ref.state()) == 0);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const auto x1 = pk.cell(1).state();
  s = pk.step(T(10), nan, volts, temps, out);
  CHECK_T(s.n_rejected == 3 && out[1].status == static_cast<std::uint8_t>(StepStatus::kRejectedNonFinite));
  CHECK_T(std::memcmp(&x1, &pk.cell(1).state(), sizeof x1) == 0);
  // a NaN dt, or the dropped cell's temperature NaN too: rejected, its state unchanged
  s = pk.step(nan, T(2), volts, temps, out);
  CHECK_T(out[1].status == static_cast<std::uint8_t>(StepStatus::kRejectedNonFinite));
  const T temps_nan[3] = {T(25), nan, T(25)};
  s = pk.step(T(10), T(2), volts, temps_nan, out);
  CHECK_T(s.n_rejected == 1 && out[1].status == static_cast<std::uint8_t>(StepStatus::kRejectedNonFinite));
  CHECK_T(std::memcmp(&x1, &pk.cell(1).state(), sizeof x1) == 0);
}

// Every init refusal alone (null pointers, cell count, each configuration bound, each variation
// field), the kReinit gap policy, a gap without cell reports, a non-finite temperature at re-init
// (25 degC used), set_capacity_scale's refusals, and a discharging / charging cell's scaled model.
// verifies: CS-PACK-005, CS-PACK-004, CS-PACK-003
template <typename T>
void test_init_refusals_and_policies() {
  static typename Base<T>::Params p;
  cstest::make_cell(p);
  using P = Pack<T, filter::Ekf, 2>;
  static P pk;
  const auto cfg = make_config<P>();
  const T soc0[2] = {T(0.5), T(0.6)};
  const T nan = std::numeric_limits<T>::quiet_NaN();
  CHECK_T(pk.init(nullptr, 2, nullptr, soc0, cfg) == InitStatus::kBadConfig);
  CHECK_T(pk.init(&p, 2, nullptr, nullptr, cfg) == InitStatus::kBadConfig);
  CHECK_T(pk.init(&p, 3, nullptr, soc0, cfg) == InitStatus::kBadConfig);  // above MaxCells
  using C = typename P::Config;
  void (*const edits[])(C&, T) = {
      [](C& c, T) { c.usable_soc_low = T(0.9); c.usable_soc_high = T(0.1); },
      [](C& c, T) { c.usable_soc_low = -std::numeric_limits<T>::infinity(); },
      [](C& c, T) { c.usable_soc_high = std::numeric_limits<T>::infinity(); },
      [](C& c, T) { c.gap.gap_s = T(0); },
      [](C& c, T n) { c.gap.gap_s = n; },
      [](C& c, T) { c.gap.reinit_after_s = T(1); },
  };
  for (auto edit : edits) {
    C c = cfg;
    edit(c, nan);
    CHECK_T(pk.init(&p, 2, nullptr, soc0, c) == InitStatus::kBadConfig && !pk.initialised());
  }
  const pack::CellVariation<T> bad_vars[][2] = {
      {{T(1), T(1)}, {T(0), T(1)}},
      {{T(1), T(1)}, {nan, T(1)}},
      {{T(1), T(1)}, {T(1), std::numeric_limits<T>::infinity()}},
  };
  for (const auto& v : bad_vars) {
    CHECK_T(pk.init(&p, 2, v, soc0, cfg) == InitStatus::kBadConfig);  // no bad_cell pointer: still refused
  }
  const T bad_soc[2] = {T(0.5), T(3)};
  CHECK_T(pk.init(&p, 2, nullptr, bad_soc, cfg) == InitStatus::kBadInitialState);

  // kReinit policy: every gap re-initialises; no report array; NaN temperature read as 25 degC.
  C rc = cfg;
  rc.gap.policy = pack::GapPolicy::kReinit;
  const pack::CellVariation<T> var[2] = {{T(0.8), T(1.2)}, {T(1), T(1)}};
  CHECK_T(pk.init(&p, 2, var, soc0, rc) == InitStatus::kOk);
  const T volts[2] = {T(3.7), T(3.8)};
  const T temps[2] = {nan, T(25)};
  auto s = pk.step(T(45), T(0), volts, temps, nullptr);
  CHECK_T(s.event == pack::PackEvent::kReinit);
  CHECK_T(math::is_finite(pk.cell(0).soc()) && pk.cell(1).soc() > pk.cell(0).soc());
  // Discharge, charge and rest steps through the scaled cell (its current sign logic).
  const T temps_ok[2] = {T(25), T(25)};
  pack::CellReport<T> out[2];
  const T currents[3] = {T(3), T(-3), T(0)};
  for (const T i : currents) {
    s = pk.step(T(1), i, volts, temps_ok, out);
    CHECK_T(s.event == pack::PackEvent::kStep && !is_rejected(static_cast<StepStatus>(out[0].status)));
  }
  // set_capacity_scale refusals: negative index, non-finite scale; nothing changed.
  const T q0 = pk.capacity_Ah(0);
  CHECK_T(!pk.set_capacity_scale(-1, T(1)) && !pk.set_capacity_scale(0, nan) &&
          !pk.set_capacity_scale(0, std::numeric_limits<T>::infinity()));
  CHECK_T(pk.capacity_Ah(0) == q0);
}

// A step without the voltage or temperature array: every cell reported not initialised, none changed.
// verifies: CS-PACK-006
template <typename T>
void test_missing_inputs() {
  static typename Base<T>::Params p;
  cstest::make_cell(p);
  using P = Pack<T, filter::Ekf, 3>;
  static P pk;
  const auto cfg = make_config<P>();
  const T soc0[3] = {T(0.4), T(0.5), T(0.6)};
  CHECK_T(pk.init(&p, 3, nullptr, soc0, cfg) == InitStatus::kOk);
  CHECK_T(pk.n_cells() == 3 && pk.config().gap.gap_s == cfg.gap.gap_s);
  const T volts[3] = {T(3.7), T(3.7), T(3.7)};
  const T temps[3] = {T(25), T(25), T(25)};
  typename Base<T>::State before[3];
  for (int k = 0; k < 3; ++k) { before[k] = pk.cell(k).state(); }
  pack::CellReport<T> out[3];
  // Through a volatile pointer: with the null array a compile-time constant, gcc -O3 specialises the
  // not-initialised loop (bounded by n_cells_, which it cannot bound) and warns -Wstringop-overflow.
  pack::CellReport<T>* volatile out_v = out;
  for (int which = 0; which < 2; ++which) {
    const auto s = pk.step(T(1), T(1), which == 0 ? nullptr : volts, which == 1 ? nullptr : temps, out_v);
    CHECK_T(s.n_rejected == 3);
    bool all = true;
    for (int k = 0; k < 3; ++k) {
      all = all && out[k].status == static_cast<std::uint8_t>(StepStatus::kNotInitialised) &&
            std::memcmp(&before[k], &pk.cell(k).state(), sizeof before[k]) == 0;
    }
    CHECK_T(all);
  }
}

}  // namespace

/// gap_within: the gap settings init accepts, from any: gap_s at most dt_max_s, reinit_after_s at least gap_s.
// verifies: CS-PACK-007
template <typename T>
void test_gap_within() {
  pack::GapConfig<T> g{};
  g.policy = pack::GapPolicy::kReinit;
  g.gap_s = T(100);
  g.reinit_after_s = T(50);
  const auto a = pack::gap_within(g, T(60));
  CHECK_T(a.gap_s == T(60) && a.reinit_after_s == T(60) && a.policy == pack::GapPolicy::kReinit);
  g.gap_s = T(30);
  g.reinit_after_s = T(3600);
  const auto b = pack::gap_within(g, T(60));  // already within: unchanged
  CHECK_T(b.gap_s == T(30) && b.reinit_after_s == T(3600));
  // what init refused (gap_s above dt_max) it accepts once passed through gap_within
  static typename Base<T>::Params p;
  cstest::make_cell(p);
  using P = Pack<T, filter::Ekf, 3>;
  static P pk;
  auto cfg = make_config<P>();
  cfg.gap.gap_s = T(100);
  const T soc0[3] = {T(0.5), T(0.6), T(0.7)};
  CHECK_T(pk.init(&p, 3, nullptr, soc0, cfg) == InitStatus::kBadConfig);
  cfg.gap = pack::gap_within(cfg.gap, cfg.estimator.dt_max_s);
  CHECK_T(pk.init(&p, 3, nullptr, soc0, cfg) == InitStatus::kOk && pk.config().gap.gap_s == cfg.estimator.dt_max_s);
}

int main() {
  test_unscaled_is_plain<float, filter::Ekf>();
  test_unscaled_is_plain<double, filter::Ekf>();
  test_unscaled_is_plain<float, filter::Ukf>();
  test_unscaled_is_plain<double, filter::Ukf>();
  test_scaled_matches_scaled_params<double, filter::Ekf>(1e-9);
  test_scaled_matches_scaled_params<float, filter::Ekf>(2e-4);
  test_scaled_matches_scaled_params<double, filter::Ukf>(1e-9);
  test_usable_soc<float>();
  test_usable_soc<double>();
  test_gaps<float>();
  test_gaps<double>();
  test_rejections_and_init<float>();
  test_rejections_and_init<double>();
  test_dropped_reading_counts_the_charge<float>();
  test_dropped_reading_counts_the_charge<double>();
  test_missing_inputs<float>();
  test_missing_inputs<double>();
  test_init_refusals_and_policies<float>();
  test_init_refusals_and_policies<double>();
  test_gap_within<float>();
  test_gap_within<double>();
  return cstest::finish("test_pack");
}
