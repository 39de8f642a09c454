// What the binding units (core.cpp, soh.cpp, spme.cpp, pack.cpp) share: fixed-size core vectors and
// matrices to and from numpy, raw bytes of core objects for bit-for-bit comparisons, the dict -> core
// loaders of the ECM parameters, noise and estimator configuration, and the whole-log loop (clock,
// GIL release, named output columns).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cellsense/estimator/estimator.hpp"
#include "cellsense/estimator/gap_widening.hpp"
#include "cellsense/estimator/log_clock.hpp"
#include "cellsense/estimator/status.hpp"
#include "cellsense/estimator/stuck_voltage.hpp"
#include "cellsense/math/table.hpp"
#include "cellsense/model/ecm.hpp"
#include "cellsense/model/ecm_params_table.hpp"
#include "cellsense/power/power_limits.hpp"

namespace cellsense_py {

namespace py = pybind11;
using Arr = py::array_t<double, py::array::c_style | py::array::forcecast>;

/// A core column vector (math::Matrix<T, N, 1>) as a 1-D float64 array.
template <class V>
py::array_t<double> to_numpy_vector(const V& v) {
  py::array_t<double> a(V::rows());
  for (int k = 0; k < V::rows(); ++k) { a.mutable_at(k) = static_cast<double>(v(k, 0)); }
  return a;
}

/// A core matrix as a 2-D float64 array.
template <class M>
py::array_t<double> to_numpy_matrix(const M& m) {
  py::array_t<double> a({M::rows(), M::cols()});
  for (int r = 0; r < M::rows(); ++r)
    for (int c = 0; c < M::cols(); ++c) a.mutable_at(r, c) = static_cast<double>(m(r, c));
  return a;
}

/// A 1-D array into a core column vector; ValueError naming the expected shape.
template <class V>
void from_numpy_vector(const Arr& a, V& v) {
  constexpr int n = V::rows();
  if (a.ndim() != 1 || a.shape(0) != n) { throw py::value_error("state must have shape (" + std::to_string(n) + ",)"); }
  for (int k = 0; k < n; ++k) { v(k, 0) = static_cast<typename std::decay<decltype(v(0, 0))>::type>(a.at(k)); }
}

/// A 2-D square array into a core matrix; ValueError naming the expected shape.
template <class M>
void from_numpy_matrix(const Arr& a, M& m) {
  constexpr int n = M::rows();
  if (a.ndim() != 2 || a.shape(0) != n || a.shape(1) != M::cols()) {
    throw py::value_error("covariance must have shape (" + std::to_string(n) + ", " + std::to_string(M::cols()) + ")");
  }
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < M::cols(); ++c) m(r, c) = static_cast<typename std::decay<decltype(m(0, 0))>::type>(a.at(r, c));
}

/// The raw bytes of the given objects, concatenated (bit-for-bit comparisons in tests).
template <class... Objs>
py::bytes raw_bytes(const Objs&... objs) {
  std::string s;
  (s.append(reinterpret_cast<const char*>(&objs), sizeof(objs)), ...);
  return py::bytes(s);
}

/// A required number from a dict; KeyError naming the key.
inline double scalar(const py::dict& d, const std::string& key) {
  if (!d.contains(key.c_str())) { throw py::key_error("missing parameter '" + key + "'"); }
  return d[key.c_str()].cast<double>();
}

/// A refused parameter set, in words: the core's field name (model::param_field_name), where in the
/// field, the value for a scalar, and the core's rule (model::param_error_message, the bounds it checks).
template <class P>
std::string param_issue_text(const cellsense::model::ParamIssue& pi, const P& p) {
  using cellsense::model::ParamField;
  std::string s = cellsense::model::param_field_name(pi.field);
  if (pi.rc_pair >= 0) { s += "[" + std::to_string(pi.rc_pair) + "]"; }
  if (pi.field == ParamField::kSocBreakpoints && pi.soc_index >= 0) {
    s += "[" + std::to_string(pi.soc_index) + "]";
  } else if (pi.field == ParamField::kTemperatureBreakpoints && pi.temperature_index >= 0) {
    s += "[" + std::to_string(pi.temperature_index) + "]";
  } else if (pi.temperature_index >= 0 && pi.soc_index >= 0) {
    s += " at temperature row " + std::to_string(pi.temperature_index) + ", SOC column " + std::to_string(pi.soc_index);
  }
  double value = std::numeric_limits<double>::quiet_NaN();
  switch (pi.field) {
    case ParamField::kCapacity: value = static_cast<double>(p.capacity_Ah); break;
    case ParamField::kCoulombicEfficiency: value = static_cast<double>(p.coulombic_efficiency); break;
    case ParamField::kHysteresisRate: value = static_cast<double>(p.hysteresis_rate); break;
    case ParamField::kSignDeadband: value = static_cast<double>(p.sign_deadband_A); break;
    default: break;
  }
  if (!std::isnan(value)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    s += std::string(" = ") + buf;
  }
  std::string rule = cellsense::model::param_error_message(pi.error);
  for (const auto& cap : {std::make_pair(std::string("kMaxSoc"), P::kMaxSoc), std::make_pair(std::string("kMaxTemp"), P::kMaxTemp)}) {
    const std::size_t at = rule.find(cap.first);
    if (at != std::string::npos) { rule.replace(at, cap.first.size(), std::to_string(cap.second)); }
  }
  return s + ": " + rule;
}

/// A (temperature x SOC) table; ValueError naming the table and the expected shape.
template <typename T, int MaxSoc, int MaxTemp>
void fill_table(cellsense::math::Table<T, MaxSoc, MaxTemp>& tab, const Arr& a, int n_temp, int n_soc,
                const std::string& name) {
  if (a.ndim() != 2 || a.shape(0) != n_temp || a.shape(1) != n_soc) {
    throw py::value_error("table '" + name + "' must have shape (" + std::to_string(n_temp) + ", " +
                          std::to_string(n_soc) + ")");
  }
  auto v = a.unchecked<2>();
  for (int it = 0; it < n_temp; ++it) {
    for (int is = 0; is < n_soc; ++is) { tab.value[it][is] = static_cast<T>(v(it, is)); }
  }
}

/// ECM parameters (model::EcmParams) from the dict cellsense.cell builds, validated by the core. The dict
/// must hold every parameter of the core's table (model::kEcmParams); KeyError naming the first missing.
template <class P>
void load_ecm_params(P& p, const py::dict& params) {
  using T = typename std::decay<decltype(p.capacity_Ah)>::type;
  for (const cellsense::model::EcmParamInfo& f : cellsense::model::kEcmParams) {
    if (!params.contains(f.name)) { throw py::key_error(std::string("missing parameter '") + f.name + "'"); }
  }
  p = P{};
  const Arr soc = params["soc"].cast<Arr>();
  const Arr temp = params["temperature_degC"].cast<Arr>();
  if (soc.ndim() != 1 || soc.shape(0) < 2 || soc.shape(0) > P::kMaxSoc) {
    throw py::value_error("'soc' breakpoints: need 2.." + std::to_string(P::kMaxSoc) + " points");
  }
  if (temp.ndim() != 1 || temp.shape(0) < 1 || temp.shape(0) > P::kMaxTemp) {
    throw py::value_error("'temperature_degC' breakpoints: need 1.." + std::to_string(P::kMaxTemp) + " points");
  }
  const int ns = static_cast<int>(soc.shape(0));
  const int nt = static_cast<int>(temp.shape(0));
  p.grid.n_soc = ns;
  p.grid.n_temperature = nt;
  for (int i = 0; i < ns; ++i) { p.grid.soc[i] = static_cast<T>(soc.at(i)); }
  for (int i = 0; i < nt; ++i) { p.grid.temperature_degC[i] = static_cast<T>(temp.at(i)); }
  fill_table(p.ocv_V, params["ocv_V"].cast<Arr>(), nt, ns, "ocv_V");
  fill_table(p.r0_Ohm, params["r0_Ohm"].cast<Arr>(), nt, ns, "r0_Ohm");
  fill_table(p.hysteresis_V, params["hysteresis_V"].cast<Arr>(), nt, ns, "hysteresis_V");
  fill_table(p.hysteresis_instant_V, params["hysteresis_instant_V"].cast<Arr>(), nt, ns, "hysteresis_instant_V");
  constexpr int nrc = static_cast<int>(sizeof(p.rc_r_Ohm) / sizeof(p.rc_r_Ohm[0]));
  const py::list rc_r = params["rc_r_Ohm"].cast<py::list>();
  const py::list rc_tau = params["rc_tau_s"].cast<py::list>();
  if (static_cast<int>(rc_r.size()) != nrc || static_cast<int>(rc_tau.size()) != nrc) {
    throw py::value_error("rc_r_Ohm and rc_tau_s need " + std::to_string(nrc) + " tables");
  }
  for (int j = 0; j < nrc; ++j) {
    fill_table(p.rc_r_Ohm[j], rc_r[static_cast<size_t>(j)].cast<Arr>(), nt, ns, "rc_r_Ohm[" + std::to_string(j) + "]");
    fill_table(p.rc_tau_s[j], rc_tau[static_cast<size_t>(j)].cast<Arr>(), nt, ns, "rc_tau_s[" + std::to_string(j) + "]");
  }
  p.capacity_Ah = static_cast<T>(scalar(params, "capacity_Ah"));
  p.coulombic_efficiency = static_cast<T>(scalar(params, "coulombic_efficiency"));
  p.hysteresis_rate = static_cast<T>(scalar(params, "hysteresis_rate"));
  p.sign_deadband_A = static_cast<T>(scalar(params, "sign_deadband_A"));
  p.voltage_min_V = static_cast<T>(scalar(params, "voltage_min_V"));
  p.voltage_max_V = static_cast<T>(scalar(params, "voltage_max_V"));
  p.current_min_A = static_cast<T>(scalar(params, "current_min_A"));
  p.current_max_A = static_cast<T>(scalar(params, "current_max_A"));
  p.temperature_min_degC = static_cast<T>(scalar(params, "temperature_min_degC"));
  p.temperature_max_degC = static_cast<T>(scalar(params, "temperature_max_degC"));
  const cellsense::model::ParamIssue pi = cellsense::model::validate_detail(p);
  if (pi.error != cellsense::model::ParamError::kOk) {
    throw py::value_error(std::string("cell parameters rejected by the core: ") + param_issue_text(pi, p));
  }
}

/// ECM process noise (EcmModel::Noise) from its dict.
template <class Noise>
Noise load_ecm_noise(const py::dict& noise) {
  using T = typename std::decay<decltype(Noise{}.soc_per_sqrt_s)>::type;
  Noise n{};
  n.soc_per_sqrt_s = static_cast<T>(scalar(noise, "soc_per_sqrt_s"));
  n.v_rc_V_per_sqrt_s = static_cast<T>(scalar(noise, "v_rc_V_per_sqrt_s"));
  n.hysteresis_per_sqrt_s = static_cast<T>(scalar(noise, "hysteresis_per_sqrt_s"));
  n.current_sigma_A = static_cast<T>(scalar(noise, "current_sigma_A"));
  return n;
}

/// The current sensor's consider sensitivities of an estimator built with them (EstimatorConfig::
/// current_offset_sigma_A): (offset per A, gain per unit) as numpy vectors; the SOC-only and SOH bindings' consider().
template <class E>
py::tuple consider_of(const E& est) {
  return py::make_tuple(to_numpy_vector(est.consider_offset()), to_numpy_vector(est.consider_gain()));
}
/// Estimator::set_consider from numpy vectors (restore_state); false (nothing changed) if not finite.
template <class E>
bool set_consider_of(E& est, const Arr& offset, const Arr& gain) {
  typename E::State so;
  typename E::State sg;
  from_numpy_vector(offset, so);
  from_numpy_vector(gain, sg);
  return est.set_consider(so, sg);
}

/// Estimator guards, measurement noise and gate (EstimatorConfig) from their dict. The model-error keys may be
/// missing (the core's defaults); with `partial` every key may (the core's defaults: _core.estimator_config_issue).
template <typename T>
cellsense::EstimatorConfig<T> load_estimator_config(const py::dict& config, bool partial = false) {
  cellsense::EstimatorConfig<T> c{};
  auto f = [&](const char* key, T& v, bool optional) {
    if ((optional || partial) && !config.contains(key)) { return; }
    v = static_cast<T>(scalar(config, key));
  };
  f("dt_max_s", c.dt_max_s, false);
  f("soc_min", c.soc_min, false);
  f("soc_max", c.soc_max, false);
  f("voltage_sigma_V", c.voltage_sigma_V, false);
  f("gate_nis", c.gate_nis, false);
  f("model_error_current_A", c.model_error_current_A, true);
  f("model_error_correlation_s", c.model_error_correlation_s, true);
  f("model_error_relative", c.model_error_relative, true);
  f("dt_max_rest_s", c.dt_max_rest_s, true);
  f("model_error_voltage_V", c.model_error_voltage_V, true);
  f("current_offset_sigma_A", c.current_offset_sigma_A, true);
  f("current_gain_sigma", c.current_gain_sigma, true);
  if (!partial || config.contains("gate_predict_only")) {
    c.gate_policy = scalar(config, "gate_predict_only") != 0.0 ? cellsense::GatePolicy::kPredictOnly
                                                               : cellsense::GatePolicy::kRejectStep;
  }
  if (!partial || config.contains("gate_timeout_steps")) {
    const double timeout = scalar(config, "gate_timeout_steps");
    if (!(timeout >= 0 && timeout <= 65535)) { throw py::value_error("gate_timeout_steps must be in 0..65535"); }
    c.gate_timeout_steps = static_cast<std::uint16_t>(timeout);
  }
  return c;
}

/// The "estimator init failed" ValueError text: the init status's name, and for a refused configuration the
/// core's rule (EstimatorConfig::check, estimator_config_message; the filter's: kFilterConfigRule).
template <typename T>
std::string init_refusal(cellsense::InitStatus st, const cellsense::EstimatorConfig<T>& c) {
  std::string s = std::string("estimator init failed: ") + cellsense::init_status_name(st);
  if (st == cellsense::InitStatus::kBadConfig) { s += std::string(": ") + cellsense::estimator_config_message(c.check()); }
  if (st == cellsense::InitStatus::kBadFilterConfig) { s += std::string(": ") + cellsense::kFilterConfigRule; }
  return s;
}

/// Filter configuration: the UKF's sigma-point parameters; the EKF has none.
template <class C>
auto load_filter_config(C& c, const py::dict& d, int) -> decltype(c.alpha, void()) {
  using T = typename std::decay<decltype(c.alpha)>::type;
  c.alpha = static_cast<T>(scalar(d, "alpha"));
  c.beta = static_cast<T>(scalar(d, "beta"));
  c.kappa = static_cast<T>(scalar(d, "kappa"));
}
template <class C>
void load_filter_config(C&, const py::dict&, long) {}
template <class C>
void load_filter_config(C& c, const py::dict& d) { load_filter_config(c, d, 0); }

/// Initialise a core estimator with `model` from the remaining binding arguments (estimator config,
/// filter config, initial state and covariance as numpy, aux); ValueError naming the init status.
template <class E>
void init_estimator(E& est, const typename E::Model& model, const py::dict& config, const py::dict& filter_config,
                    const Arr& x0, const Arr& p0, const typename E::Model::Aux& aux) {
  using M = typename E::Model;
  const auto c = load_estimator_config<typename M::Scalar>(config);
  typename E::FilterConfig fc{};
  load_filter_config(fc, filter_config);
  typename M::State x;
  typename M::Cov cov;
  from_numpy_vector(x0, x);
  from_numpy_matrix(p0, cov);
  const cellsense::InitStatus st = est.init(model, c, fc, x, cov, aux);
  if (st != cellsense::InitStatus::kOk) { throw py::value_error(init_refusal(st, c)); }
}

/// The whole-log loop's status codes: the core's (estimator/status.hpp, the one status code space).
/// kStatusInitial: first sample of a run(), establishes t0, no step. kStatusClockReanchored: the clock
/// re-anchored on this sample (run_log), no step, state unchanged.
using cellsense::kStatusClockReanchored;
using cellsense::kStatusInitial;
/// The log clock's rule (timestamps -> dt, NaN, backwards time, re-anchor, gaps) is the core's:
/// cellsense::LogClock (estimator/log_clock.hpp). Backwards timestamps in a row after which it re-anchors:
constexpr int kClockReanchorAfter = cellsense::LogClock<double>::kReanchorAfter;

/// kStatusVoltageStuck (the core's code): a sample inside a stuck voltage reading (run_log): the step ran
/// without the measurement (predict only, the charge counted), or, if the binding has no predict-only path,
/// not at all.
using cellsense::kStatusVoltageStuck;
/// Stuck voltage sensor (issue #12 dirty logs): the core's rule and constants (estimator/stuck_voltage.hpp).
using cellsense::kStuckMinSamples;
using cellsense::kStuckMinStep_V;

/// The clock of a binding object across run() / step() calls (the Python attribute last_time_s): the
/// core's log clock, plus the stuck-voltage run the previous call ended in.
/// A whole log's logger gaps for the bindings' estimators (SOC-only and SOH): the core's rule (estimator/gap_widening.hpp)
/// with the recent mean |current| it tracks over the stepped samples, and how many gaps widened the SOC variance.
/// Steps rejected for a reading (CS-CLK-011) lose their interval's charge: after_step() sums it and the next step
/// that runs widens the SOC variance by it (widen_for_lost_charge), counted in lost_widened.
struct GapHook {
  cellsense::GapWidening gap{};
  int widened = 0;
  int lost_widened = 0;
  void track(double dt, double current_A) { gap.track(dt, current_A); }
  template <class E>
  void widen(E& est, double gap_s, double capacity_Ah) {
    if (cellsense::widen_for_gap(est, gap, gap_s, capacity_Ah)) { widened += 1; }
  }
  /// After the step of a sample (dt, its current, the step's status): a step that ran tracks the current and
  /// widens for the charge lost before it; a step rejected for a reading adds its charge to the lost one, and its
  /// reported SOC sigma (`sigma_out`, the sample's column; the state itself is unchanged) becomes the one the lost
  /// charge so far gives (soc_variance_after_lost), so the band of a stale SOC grows as it goes uncounted. Returns
  /// the lost charge (A s) the variance was widened for (0: none).
  template <class E>
  double after_step(E& est, double dt, double current_A, std::uint8_t status, double capacity_Ah,
                    double* sigma_out = nullptr) {
    if (status < static_cast<std::uint8_t>(cellsense::StepStatus::kRejectedNonFinite) ||
        status == cellsense::kStatusVoltageStuck) {
      gap.track(dt, current_A);
      const double lost_As = gap.lost_As;
      if (cellsense::widen_for_lost_charge(est, gap, capacity_Ah)) {
        lost_widened += 1;
        return lost_As;
      }
    } else {
      gap.lost(dt, current_A, status);
      if (sigma_out != nullptr && gap.lost_As > 0.0 && std::isfinite(*sigma_out)) {
        *sigma_out = std::sqrt(gap.soc_variance_after_lost(*sigma_out * *sigma_out, capacity_Ah));
      }
    }
    return 0.0;
  }
};

struct RunClock {
  cellsense::LogClock<double> log{};
  cellsense::StuckRun<double> stuck{};  ///< the run of identical voltage readings the previous run() ended in
  py::object get() const { return log.started() ? py::object(py::float_(log.last_time_s())) : py::none(); }
  void set(const py::object& t) {
    stuck.reset();
    if (t.is_none()) {
      log.reset();
    } else {
      log.set(t.cast<double>());
    }
  }
};

/// The validated input columns of a log: 1-D, equally long.
struct LogInputs {
  const double* time_s;
  const double* current_A;
  const double* voltage_V;
  const double* temperature_degC;
  py::ssize_t n;
};

inline LogInputs log_inputs(const Arr& time_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC) {
  const py::ssize_t n = time_s.shape(0);
  if (time_s.ndim() != 1 || current_A.ndim() != 1 || voltage_V.ndim() != 1 || temperature_degC.ndim() != 1 ||
      current_A.shape(0) != n || voltage_V.shape(0) != n || temperature_degC.shape(0) != n) {
    throw py::value_error("run(): time_s, current_A, voltage_V and temperature_degC must be 1-D and equally long");
  }
  return {time_s.data(), current_A.data(), voltage_V.data(), temperature_degC.data(), n};
}

/// Named float64 output columns of a run, plus its uint8 "status" column; handed back as a dict.
/// The data pointers are taken here, with the GIL held, for the loop that runs without it.
class RunColumns {
 public:
  RunColumns(py::ssize_t n, std::initializer_list<const char*> names) : status_(n) {
    for (const char* name : names) {
      cols_.emplace_back(name, py::array_t<double>(n));
      data_.push_back(cols_.back().second.mutable_data());
    }
    status_data_ = status_.mutable_data();
  }
  double* operator[](std::size_t j) const { return data_[j]; }
  std::uint8_t* status() const { return status_data_; }
  /// Columns 0..5 from a step report (soc, soc_sigma, voltage_pred_V, innovation_V,
  /// innovation_variance_V2, nis): the order of kReportColumns.
  template <class R>
  void put_report(py::ssize_t k, const R& r) const {
    data_[0][k] = static_cast<double>(r.soc);
    data_[1][k] = static_cast<double>(r.soc_sigma);
    data_[2][k] = static_cast<double>(r.voltage_pred_V);
    data_[3][k] = static_cast<double>(r.innovation_V);
    data_[4][k] = static_cast<double>(r.innovation_variance_V2);
    data_[5][k] = static_cast<double>(r.nis);
  }
  /// Columns 0..5 for the clock-setting first sample: the estimate as it stands, no innovation.
  void put_initial(py::ssize_t k, double soc, double soc_sigma) const {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    data_[0][k] = soc;
    data_[1][k] = soc_sigma;
    data_[2][k] = data_[3][k] = data_[4][k] = data_[5][k] = nan;
  }
  py::dict dict() const {
    py::dict out;
    for (const auto& c : cols_) { out[c.first.c_str()] = c.second; }
    out["status"] = status_;
    return out;
  }

 private:
  std::vector<std::pair<std::string, py::array_t<double>>> cols_;
  std::vector<double*> data_;
  py::array_t<std::uint8_t> status_;
  std::uint8_t* status_data_ = nullptr;
};

/// The first six columns of every estimator run(), in put_report's order.
#define CELLSENSE_PY_REPORT_COLUMNS "soc", "soc_sigma", "voltage_pred_V", "innovation_V", "innovation_variance_V2", "nis"

/// The whole-log loop, with the GIL released. The clock is the core's (cellsense::LogClock, which states
/// the rule): a sample it does not step - the very first of the object's life (kStatusInitial), a
/// non-finite time before that (kRejectedNonFinite), a re-anchoring one (kStatusClockReanchored) - gets
/// `first(k)`, which fills the columns with the estimate as it stands; every other sample is
/// `step(k, dt_s)`, which returns the status.
/// run_log's default gap hook: nothing (the binding has no gap policy).
struct NoGapHook {
  void operator()(py::ssize_t, double) const {}
};

/// run_log's default stuck-sensor hook: no detection (current_step_A() infinite).
struct NoStuckHook {
  double current_step_A() const { return std::numeric_limits<double>::infinity(); }
  cellsense::StuckCharge charge_rule() const { return cellsense::StuckCharge{}; }
  std::uint8_t operator()(py::ssize_t, double) const { return kStatusVoltageStuck; }
};

/// The samples of `in` in a stuck voltage reading (the core's cellsense::mark_stuck_voltage, with the run the
/// previous call ended in); empty when there is no detection (step_A infinite) or no sample.
inline std::vector<unsigned char> find_stuck_voltage(const LogInputs& in, RunClock& clock, double step_A,
                                                     const cellsense::StuckCharge& rule) {
  std::vector<unsigned char> stuck;
  const double inf = std::numeric_limits<double>::infinity();
  if ((!(step_A < inf) && !(rule.charge_Ah < inf)) || in.n == 0) {
    clock.stuck.reset();
    return stuck;
  }
  stuck.resize(static_cast<std::size_t>(in.n));
  cellsense::mark_stuck_voltage(in.voltage_V, in.current_A, in.time_s, in.n, step_A, rule, clock.stuck, stuck.data());
  return stuck;
}

/// `gap(k, gap_s)`: called before step(k, dt) when the previous clock advance was a step rejected as
/// too long (dt > the estimator's dt_max_s, a logger gap) and sample k is the first one stepped after it
/// (finite, later time): the binding may widen its covariance for the unlogged interval. A re-anchor
/// cancels it (the forward jump was a glitch, not elapsed time).
/// `stuck(k, dt)`: called instead of step(k, dt) on a sample inside a stuck voltage reading
/// (find_stuck_voltage with stuck.current_step_A()): the binding steps without the measurement (predict
/// only) and returns kStatusVoltageStuck, or a rejection status. The clock is handled as for any step.
/// The default hook detects nothing (SohEstimator, SpmeEstimator).
template <class First, class Step, class Gap = NoGapHook, class Stuck = NoStuckHook>
void run_log(const LogInputs& in, RunClock& clock, std::uint8_t* status, First first, Step step, Gap gap = Gap{},
             Stuck stuck = Stuck{}) {
  py::gil_scoped_release release;
  const std::vector<unsigned char> is_stuck =
      find_stuck_voltage(in, clock, stuck.current_step_A(), stuck.charge_rule());
  for (py::ssize_t k = 0; k < in.n; ++k) {
    const cellsense::ClockTick<double> tick = clock.log.tick(in.time_s[k]);
    if (!tick.steps()) {
      status[k] = tick.no_step_status();
      first(k);
      continue;
    }
    if (tick.gap_s > 0) { gap(k, tick.gap_s); }
    status[k] = !is_stuck.empty() && is_stuck[static_cast<std::size_t>(k)] ? stuck(k, tick.dt_s) : step(k, tick.dt_s);
    clock.log.stepped(tick, status[k]);
  }
}

/// cellsense.power.PowerSettings.core_dict() -> power::PowerConfig (keys not given keep the core's defaults).
template <typename T>
cellsense::power::PowerConfig<T> load_power_config(const py::dict& d) {
  cellsense::power::PowerConfig<T> c;
  auto f = [&](const char* key, T& v) {
    if (d.contains(key)) { v = static_cast<T>(d[key].cast<double>()); }
  };
  f("horizon_s", c.horizon_s);
  f("voltage_min_V", c.voltage_min_V);
  f("voltage_max_V", c.voltage_max_V);
  f("soc_min", c.soc_min);
  f("soc_max", c.soc_max);
  f("discharge_current_max_A", c.discharge_current_max_A);
  f("charge_current_max_A", c.charge_current_max_A);
  f("soc_sigma_k", c.soc_sigma_k);
  f("voltage_sigma_k", c.voltage_sigma_k);
  // the temperature derating: rows (temperature degC, discharge factor, charge factor); more rows than the table
  // holds keep their count, so that the core's check refuses them (kDeratingCount)
  if (d.contains("derating")) {
    const auto rows = d["derating"].cast<py::sequence>();
    c.derating_count = static_cast<int>(rows.size());
    for (std::size_t k = 0; k < rows.size() && k < static_cast<std::size_t>(cellsense::power::kMaxDeratingPoints); ++k) {
      const auto row = rows[k].cast<py::sequence>();
      if (row.size() != 3) { throw py::value_error("derating: each row is (temperature degC, discharge factor, charge factor)"); }
      c.derating_temperature_degC[k] = static_cast<T>(row[0].cast<double>());
      c.derating_discharge_factor[k] = static_cast<T>(row[1].cast<double>());
      c.derating_charge_factor[k] = static_cast<T>(row[2].cast<double>());
    }
  }
  // the current-dependent overpotential: rows (temperature degC, I_ref A); more rows than the table holds keep
  // their count, so that the core's check refuses them (kOverpotentialCount)
  if (d.contains("overpotential")) {
    const auto rows = d["overpotential"].cast<py::sequence>();
    c.overpotential_count = static_cast<int>(rows.size());
    for (std::size_t k = 0; k < rows.size() && k < static_cast<std::size_t>(cellsense::power::kMaxOverpotentialPoints);
         ++k) {
      const auto row = rows[k].cast<py::sequence>();
      if (row.size() != 2 && row.size() != 3) {
        throw py::value_error(
            "overpotential: each row is (temperature degC, reference current A[, charge reference current A])");
      }
      c.overpotential_temperature_degC[k] = static_cast<T>(row[0].cast<double>());
      c.overpotential_current_A[k] = static_cast<T>(row[1].cast<double>());
      c.overpotential_charge_current_A[k] = row.size() == 3 ? static_cast<T>(row[2].cast<double>()) : T(0);
    }
  }
  // the transport limit: rows (SOC, K0 A s^0.5, c s^0.5); more rows than the table holds keep their count, so that
  // the core's check refuses them (kTransportCount)
  if (d.contains("transport")) {
    const auto rows = d["transport"].cast<py::sequence>();
    c.transport_count = static_cast<int>(rows.size());
    for (std::size_t k = 0; k < rows.size() && k < static_cast<std::size_t>(cellsense::power::kMaxTransportPoints); ++k) {
      const auto row = rows[k].cast<py::sequence>();
      if (row.size() != 3 && row.size() != 5) {
        throw py::value_error("transport: each row is (SOC, K0 A s^0.5, c s^0.5[, charge K0, charge c])");
      }
      c.transport_soc[k] = static_cast<T>(row[0].cast<double>());
      c.transport_limit_A_sqrt_s[k] = static_cast<T>(row[1].cast<double>());
      c.transport_slope_sqrt_s[k] = static_cast<T>(row[2].cast<double>());
      c.transport_charge_limit_A_sqrt_s[k] = row.size() == 5 ? static_cast<T>(row[3].cast<double>()) : T(0);
      c.transport_charge_slope_sqrt_s[k] = row.size() == 5 ? static_cast<T>(row[4].cast<double>()) : T(0);
    }
  }
  return c;
}

/// The ValueError text of a refused power calculation (a refused PowerConfig: power_refusal names the rule).
inline const char* power_status_message(cellsense::power::PowerStatus st) {
  switch (st) {
    case cellsense::power::PowerStatus::kNotInitialised: return "power: the estimator is not initialised";
    case cellsense::power::PowerStatus::kBadConfig: return "power: a setting is out of range";
    case cellsense::power::PowerStatus::kBadInput: return "power: temperature / power / current not finite or out of range";
    default: return "power: ok";
  }
}

/// The ValueError text of a refused power calculation with its configuration: a refused configuration
/// names the field and the rule of the core's check (power::PowerConfig::check, power_config_message).
template <typename T>
std::string power_refusal(cellsense::power::PowerStatus st, const cellsense::power::PowerConfig<T>& cfg) {
  const cellsense::power::PowerConfigIssue issue = cfg.check();
  if (st == cellsense::power::PowerStatus::kBadConfig && issue != cellsense::power::PowerConfigIssue::kOk) {
    return std::string("power: ") + cellsense::power::power_config_message(issue);
  }
  return power_status_message(st);
}

}  // namespace cellsense_py
