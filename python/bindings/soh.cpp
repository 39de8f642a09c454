// pybind11 bindings for the soh part of the core (registered from core.cpp): one class per
// (scalar, RC pairs, filter), EcmSoh{Ekf,Ukf}{1,2,3}_{f32,f64}: the SOC estimator plus the SOH
// tracker (cpp/include/cellsense/soh/soh_tracker.hpp). The Python package (cellsense.soh) picks
// the class; the whole-log loop runs here with the GIL released.
#include "common.hpp"
#include "power_columns.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "cellsense/cellsense.hpp"
#include "cellsense/soh/soh_tracker.hpp"

namespace py = pybind11;
using namespace cellsense;

namespace {

using cellsense_py::Arr;
using cellsense_py::scalar;

/// SohSettings.core_dict() -> soh::SohConfig (keys not given keep the core's defaults; other keys ignored).
template <typename T>
soh::SohConfig<T> load_soh_config(const py::dict& soh_config) {
  soh::SohConfig<T> sc{};
#define CS_SOH_FIELD(f) \
  if (soh_config.contains(#f)) { sc.f = static_cast<T>(soh_config[#f].cast<double>()); }
  CS_SOH_FIELD(capacity_sigma_Ah)
  CS_SOH_FIELD(capacity_forgetting)
  CS_SOH_FIELD(capacity_min_Ah)
  CS_SOH_FIELD(capacity_max_Ah)
  CS_SOH_FIELD(pair_min_delta_soc)
  CS_SOH_FIELD(pair_max_soc_sigma)
  CS_SOH_FIELD(rest_current_A)
  CS_SOH_FIELD(current_sigma_A)
  CS_SOH_FIELD(current_offset_sigma_A)
  CS_SOH_FIELD(anchor_rest_s)
  CS_SOH_FIELD(r0_scale_sigma)
  CS_SOH_FIELD(r0_scale_per_sqrt_s)
  CS_SOH_FIELD(r0_min_step_A)
  CS_SOH_FIELD(r0_max_dt_s)
  CS_SOH_FIELD(r0_min_dt_s)
  CS_SOH_FIELD(r0_voltage_sigma_V)
  CS_SOH_FIELD(r0_gate_nis)
  CS_SOH_FIELD(r0_scale_min)
  CS_SOH_FIELD(r0_scale_max)
  CS_SOH_FIELD(ocv_sigma_V)
  CS_SOH_FIELD(ocv_V_per_sqrt_s)
  CS_SOH_FIELD(ocv_soc_per_sqrt_s)
  CS_SOH_FIELD(ocv_load_fraction)
  CS_SOH_FIELD(ocv_max_V)
  CS_SOH_FIELD(learn_min_temperature_degC)
  CS_SOH_FIELD(learn_max_temperature_degC)
#undef CS_SOH_FIELD
  if (soh_config.contains("ocv_learning")) { sc.ocv_learning = soh_config["ocv_learning"].cast<bool>(); }
  // SOC filter only (enabled False): OCV learning is off, as PySoh sets it
  if (soh_config.contains("enabled") && !soh_config["enabled"].cast<bool>()) { sc.ocv_learning = false; }
  return sc;
}

template <class E>
class PySoh {
 public:
  using T = typename E::T;
  using M = typename E::Model;
  using P = typename M::Params;
  using Tracker = soh::SohTracker<E>;
  static constexpr int N = M::kStates;

  PySoh(const py::dict& params, const py::dict& config, const py::dict& noise, const py::dict& filter_config,
        const Arr& x0, const Arr& p0, double hysteresis_sign, const py::dict& soh_config)
      : params_(std::make_unique<P>()) {
    P& p = *params_;
    cellsense_py::load_ecm_params(p, params);
    cellsense_py::init_estimator(est_, M(params_.get(), cellsense_py::load_ecm_noise<typename M::Noise>(noise)),
                                 config, filter_config, x0, p0, typename M::Aux{static_cast<T>(hysteresis_sign)});
    soh::SohConfig<T> sc = load_soh_config<T>(soh_config);
    double q0 = soh_config.contains("initial_capacity_Ah") ? soh_config["initial_capacity_Ah"].cast<double>() : 0.0;
    double r0s = soh_config.contains("initial_r0_scale") ? soh_config["initial_r0_scale"].cast<double>() : 1.0;
    if (q0 > 0.0 || r0s != 1.0) {
      if (!est_.set_model_health(static_cast<T>(q0 > 0.0 ? q0 : static_cast<double>(p.capacity_Ah)), static_cast<T>(r0s))) {
        throw py::value_error("initial capacity / R0 factor must be finite and > 0");
      }
    }
    enabled_ = soh_config.contains("enabled") ? soh_config["enabled"].cast<bool>() : true;
    if (!enabled_) { sc.ocv_learning = false; }  // SOC filter only: the model stays exactly the cell's
    stuck_step_A_ = stuck_current_step_A(p);  // the core's stuck-voltage rules (estimator/stuck_voltage.hpp)
    stuck_charge_ = cellsense::stuck_charge_rule(p);
    if (!soh_.init(est_, sc)) {  // the core's rule names the setting (SohConfig::check)
      throw py::value_error(std::string("SOH configuration rejected by the core: ") +
                            soh::soh_config_message(sc.check(est_.model().capacity_Ah(), est_.model().r0_scale())));
    }
  }

  /// Whole log, GIL released (cellsense_py::run_log): the estimator's columns, then capacity_Ah,
  /// capacity_sigma_Ah, r0_Ohm, r0_sigma_Ohm and soh_flags (bit 0 capacity updated, bit 1 R0 updated).
  py::dict run(const Arr& time_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC) {
    const cellsense_py::LogInputs in = cellsense_py::log_inputs(time_s, current_A, voltage_V, temperature_degC);
    const cellsense_py::RunColumns out(in.n, {CELLSENSE_PY_REPORT_COLUMNS, "capacity_Ah", "capacity_sigma_Ah",
                                              "r0_Ohm", "r0_sigma_Ohm", "ocv_shift_V"});
    py::array_t<std::uint8_t> flags(in.n);
    std::uint8_t* o_fl = flags.mutable_data();
    cellsense_py::run_log(
        in, clock_, out.status(),
        [&](py::ssize_t k) {
          out.put_initial(k, est_.soc(), est_.soc_sigma());
          put_soh_unstepped(out, o_fl, k);
        },
        [&](py::ssize_t k, double dt) {
          const auto r = do_step(static_cast<T>(dt), static_cast<T>(in.current_A[k]), static_cast<T>(in.voltage_V[k]),
                                 static_cast<T>(in.temperature_degC[k]));
          out.put_report(k, r.soc);
          out[6][k] = static_cast<double>(r.capacity_Ah);
          out[7][k] = static_cast<double>(r.capacity_sigma_Ah);
          out[8][k] = static_cast<double>(r.r0_Ohm);
          out[9][k] = static_cast<double>(r.r0_sigma_Ohm);
          out[10][k] = static_cast<double>(r.ocv_shift_V);
          o_fl[k] = static_cast<std::uint8_t>((r.capacity_updated ? 1 : 0) | (r.r0_updated ? 2 : 0) |
                                              (r.ocv_updated ? 4 : 0));
          after_step(dt, in.current_A[k], static_cast<std::uint8_t>(r.soc.status), &out[1][k]);
          if (power_ != nullptr) { power_->record(est_, k); }
          return static_cast<std::uint8_t>(r.soc.status);
        },
        [&](py::ssize_t, double gap_s) {  // a logger gap: the SOC variance widens as the SOC-only estimator's does
          gap_.widen(est_, gap_s, static_cast<double>(params_->capacity_Ah));
        },
        StuckHook{this, &in, &out, o_fl});
    py::dict d = out.dict();
    d["soh_flags"] = flags;
    return d;
  }

  /// run_log's stuck-voltage hook (as the SOC-only estimator's, core.cpp): the sample is stepped without its
  /// voltage (Estimator::predict_only) and the SOH tracker learns nothing from the span: it forgets its open capacity
  /// pair and R0 difference as at a logger gap (restart_pairing(false)); a frozen voltage under a changing current
  /// had trained R0 (369 updates, factor 0.89 -> 0.84 on a US06 with 2,000 samples frozen; 2026-12-07).
  struct StuckHook {
    PySoh* self;
    const cellsense_py::LogInputs* in;
    const cellsense_py::RunColumns* out;
    std::uint8_t* flags;
    double current_step_A() const { return self->stuck_step_A_; }
    const cellsense::StuckCharge& charge_rule() const { return self->stuck_charge_; }
    std::uint8_t operator()(py::ssize_t k, double dt) const { return self->predict_only(*in, *out, flags, k, dt); }
  };
  std::uint8_t predict_only(const cellsense_py::LogInputs& in, const cellsense_py::RunColumns& out, std::uint8_t* fl,
                            py::ssize_t k, double dt) {
    const auto r = est_.predict_only(static_cast<T>(dt), static_cast<T>(in.current_A[k]),
                                     static_cast<T>(in.voltage_V[k]), static_cast<T>(in.temperature_degC[k]));
    out.put_report(k, r);
    put_soh_unstepped(out, fl, k);
    const std::uint8_t st = is_rejected(r.status) ? static_cast<std::uint8_t>(r.status) : cellsense_py::kStatusVoltageStuck;
    after_step(dt, in.current_A[k], st);
    if (is_rejected(r.status)) { return st; }
    soh_.restart_pairing(false);
    stuck_samples_ += 1;
    return cellsense_py::kStatusVoltageStuck;
  }
  int stuck_samples() const { return stuck_samples_; }
  /// The lost-charge rule after a sample's step (GapHook::after_step, CS-CLK-011); when the widened charge is at
  /// least kLostPairFraction of the capacity, the tracker's open capacity pair (which did not count it either) and
  /// R0 difference are forgotten as at a logger gap.
  static constexpr double kLostPairFraction = 0.01;
  void after_step(double dt, double current_A, std::uint8_t status, double* sigma_out = nullptr) {
    const double cap_Ah = static_cast<double>(params_->capacity_Ah);
    const double lost_As = gap_.after_step(est_, dt, current_A, status, cap_Ah, sigma_out);
    if (lost_As >= kLostPairFraction * 3600.0 * cap_Ah) { soh_.restart_pairing(false); }
  }
  double stuck_step_A() const { return stuck_step_A_; }
  double stuck_charge_Ah() const { return stuck_charge_.charge_Ah; }
  /// Sample k's SOH columns when the tracker did not step on it (the log's first sample, a stuck voltage): the
  /// capacity as it stands, no R0 reading, the OCV correction at the SOC, no update flag; its power limits.
  void put_soh_unstepped(const cellsense_py::RunColumns& out, std::uint8_t* fl, py::ssize_t k) const {
    out[6][k] = static_cast<double>(soh_.capacity_Ah());
    out[7][k] = static_cast<double>(soh_.capacity_sigma_Ah());
    out[8][k] = out[9][k] = std::numeric_limits<double>::quiet_NaN();
    out[10][k] = ocv_shift_now();
    fl[k] = 0;
    if (power_ != nullptr) { power_->record(est_, k); }
  }

  /// run() with the state of power after every sample for every horizon (power/power_limits.hpp; the columns of
  /// PyEstimator::run_power); ValueError naming the rule when the configuration is refused.
  py::dict run_power(const Arr& time_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC,
                     const Arr& horizons_s, const py::dict& cfg) {
    return cellsense_py::run_power_columns<T>(power_, time_s, current_A, voltage_V, temperature_degC, horizons_s, cfg,
                                              [this](const Arr& t, const Arr& i, const Arr& v, const Arr& T_degC) {
                                                return run(t, i, v, T_degC);
                                              });
  }
  /// Limits of the present state (ValueError naming the status when refused).
  py::dict power_limits(double temperature_degC, const py::dict& cfg) const {
    return cellsense_py::present_power_limits<T>(est_, temperature_degC, cfg);
  }
  py::dict energy(double temperature_degC, double power_W, double voltage_min_V, double soc_min, double soc_sigma_k) const {
    return cellsense_py::present_energy<T>(est_, temperature_degC, power_W, voltage_min_V, soc_min, soc_sigma_k);
  }
  py::tuple time_to_full(double charge_current_A, double soc_max) const {
    return cellsense_py::present_time_to_full<T>(est_, charge_current_A, soc_max);
  }

  py::array_t<double> state() const { return cellsense_py::to_numpy_vector(est_.state()); }
  py::array_t<double> covariance() const { return cellsense_py::to_numpy_matrix(est_.covariance()); }
  double hysteresis_sign() const { return static_cast<double>(est_.aux().current_sign); }
  bool set_state(const Arr& x, const Arr& p, double sign) {
    typename M::State xs;
    typename M::Cov cs;
    cellsense_py::from_numpy_vector(x, xs);
    cellsense_py::from_numpy_matrix(p, cs);
    return est_.set_state(xs, cs, typename M::Aux{static_cast<T>(sign)});
  }
  /// The current sensor's consider sensitivities (offset per A, gain per unit): EstimatorConfig::current_offset_sigma_A.
  py::tuple consider() const { return cellsense_py::consider_of(est_); }
  bool set_consider(const Arr& offset, const Arr& gain) { return cellsense_py::set_consider_of(est_, offset, gain); }
  void restart_pairing(bool rested) { soh_.restart_pairing(rested); }
  bool close_pair() { return enabled_ && soh_.close_pair(est_); }
  py::dict soh_state() const {
    const auto& s = soh_.state();
    py::dict d;
    d["capacity_Ah"] = static_cast<double>(s.capacity.capacity_Ah);
    d["a_xx"] = static_cast<double>(s.capacity.a_xx);
    d["a_xy"] = static_cast<double>(s.capacity.a_xy);
    d["b_xx"] = static_cast<double>(s.capacity.b_xx);
    d["b_xy"] = static_cast<double>(s.capacity.b_xy);
    d["b_yy"] = static_cast<double>(s.capacity.b_yy);
    d["r0_scale"] = static_cast<double>(s.r0_scale);
    d["r0_scale_var"] = static_cast<double>(s.r0_scale_var);
    d["anchor_soc"] = static_cast<double>(s.anchor_soc);
    d["anchor_soc_var"] = static_cast<double>(s.anchor_soc_var);
    d["charge_Ah"] = static_cast<double>(s.charge_Ah);
    d["charge_var_Ah2"] = static_cast<double>(s.charge_var_Ah2);
    d["prev_residual_V"] = static_cast<double>(s.prev_residual_V);
    d["prev_g_V"] = static_cast<double>(s.prev_g_V);
    d["prev_current_A"] = static_cast<double>(s.prev_current_A);
    d["rest_s"] = static_cast<double>(s.rest_s);
    d["anchor_age_s"] = static_cast<double>(s.anchor_age_s);
    d["r0_window_s"] = static_cast<double>(s.r0_window_s);
    d["anchored"] = static_cast<int>(s.anchored);
    d["prev_valid"] = static_cast<int>(s.prev_valid);
    py::list ox, op;
    for (int r = 0; r < soh::kOcvFilterStates; ++r) {
      ox.append(static_cast<double>(s.ocv_x[r]));
      py::list row;
      for (int c = 0; c < soh::kOcvFilterStates; ++c) { row.append(static_cast<double>(s.ocv_P[r][c])); }
      op.append(row);
    }
    d["ocv_x"] = ox;
    d["ocv_P"] = op;
    d["ocv_resync"] = static_cast<int>(s.ocv_resync);
    return d;
  }
  bool set_soh_state(const py::dict& d) {
    soh::SohState<T> s{};
    auto f = [&](const char* k) { return static_cast<T>(scalar(d, k)); };
    s.capacity = soh::CapacitySums<T>{f("capacity_Ah"), f("a_xx"), f("a_xy"), f("b_xx"), f("b_xy"), f("b_yy")};
    s.r0_scale = f("r0_scale");
    s.r0_scale_var = f("r0_scale_var");
    s.anchor_soc = f("anchor_soc");
    s.anchor_soc_var = f("anchor_soc_var");
    s.charge_Ah = f("charge_Ah");
    s.charge_var_Ah2 = f("charge_var_Ah2");
    s.prev_residual_V = f("prev_residual_V");
    s.prev_g_V = f("prev_g_V");
    s.prev_current_A = f("prev_current_A");
    s.rest_s = f("rest_s");
    s.anchor_age_s = f("anchor_age_s");
    // absent in states saved before the R0 difference window (2026-12-07): none open
    s.r0_window_s = d.contains("r0_window_s") ? f("r0_window_s") : T(0);
    const double a = scalar(d, "anchored");
    const double pv = scalar(d, "prev_valid");
    if (!(a == 0.0 || a == 1.0) || !(pv == 0.0 || pv == 1.0)) { return false; }
    s.anchored = static_cast<std::uint8_t>(a);
    s.prev_valid = static_cast<std::uint8_t>(pv);
    // OCV filter (absent in states saved before OCV learning: then the current one is kept)
    const auto& cur = soh_.state();
    for (int r = 0; r < soh::kOcvFilterStates; ++r) {
      s.ocv_x[r] = cur.ocv_x[r];
      for (int c = 0; c < soh::kOcvFilterStates; ++c) { s.ocv_P[r][c] = cur.ocv_P[r][c]; }
    }
    s.ocv_resync = cur.ocv_resync;
    if (d.contains("ocv_x") || d.contains("ocv_P")) {
      py::list ox = d["ocv_x"].cast<py::list>();
      py::list op = d["ocv_P"].cast<py::list>();
      if (ox.size() != static_cast<std::size_t>(soh::kOcvFilterStates) ||
          op.size() != static_cast<std::size_t>(soh::kOcvFilterStates)) { return false; }
      for (int r = 0; r < soh::kOcvFilterStates; ++r) {
        s.ocv_x[r] = static_cast<T>(ox[r].cast<double>());
        py::list row = op[r].cast<py::list>();
        if (row.size() != static_cast<std::size_t>(soh::kOcvFilterStates)) { return false; }
        for (int c = 0; c < soh::kOcvFilterStates; ++c) { s.ocv_P[r][c] = static_cast<T>(row[c].cast<double>()); }
      }
      const double rs = scalar(d, "ocv_resync");
      if (!(rs == 0.0 || rs == 1.0)) { return false; }
      s.ocv_resync = static_cast<std::uint8_t>(rs);
    }
    return soh_.set_state(est_, s);
  }
  py::bytes state_bytes() const { return cellsense_py::raw_bytes(est_.state(), est_.covariance(), soh_.state()); }
  py::object last_time() const { return clock_.get(); }
  void set_last_time(const py::object& t) { clock_.set(t); }
  double soc() const { return static_cast<double>(est_.soc()); }
  double soc_sigma() const { return static_cast<double>(est_.soc_sigma()); }
  double capacity_Ah() const { return static_cast<double>(soh_.capacity_Ah()); }
  double capacity_sigma_Ah() const { return static_cast<double>(soh_.capacity_sigma_Ah()); }
  double r0_scale() const { return static_cast<double>(soh_.r0_scale()); }
  double r0_scale_sigma() const { return static_cast<double>(soh_.r0_scale_sigma()); }
  py::array_t<double> ocv_nodes_V() const {
    py::array_t<double> a(cellsense::model::kEcmOcvNodes);
    for (int j = 0; j < cellsense::model::kEcmOcvNodes; ++j) { a.mutable_data()[j] = static_cast<double>(soh_.ocv_nodes_V()[j]); }
    return a;
  }
  double ocv_shift_now() const {
    T slope;
    return est_.model().ocv_corrected() ? static_cast<double>(est_.model().ocv_correction_at(est_.soc(), slope)) : 0.0;
  }
  double r0_table_Ohm(double soc, double temperature_degC) const {
    return static_cast<double>(est_.model().r0_table_Ohm(static_cast<T>(soc), static_cast<T>(temperature_degC)));
  }
  bool enabled() const { return enabled_; }
  int gaps_widened() const { return gap_.widened; }
  int lost_charge_widened() const { return gap_.lost_widened; }

 private:
  soh::SohStepReport<T> do_step(T dt, T i, T v, T th) {
    if (enabled_) { return soh_.step(est_, dt, i, v, th); }
    soh::SohStepReport<T> r{};
    r.soc = est_.step(dt, i, v, th);
    r.capacity_Ah = est_.model().capacity_Ah();
    r.capacity_sigma_Ah = std::numeric_limits<T>::quiet_NaN();
    r.r0_scale = est_.model().r0_scale();
    r.r0_scale_sigma = std::numeric_limits<T>::quiet_NaN();
    r.r0_Ohm = is_rejected(r.soc.status) ? std::numeric_limits<T>::quiet_NaN()
                                         : est_.model().r0_table_Ohm(est_.soc(), th) * r.r0_scale;
    r.r0_sigma_Ohm = std::numeric_limits<T>::quiet_NaN();
    return r;
  }
  std::unique_ptr<P> params_;  // the core keeps a pointer to it: must outlive est_
  E est_{};
  Tracker soh_{};
  cellsense_py::RunClock clock_{};
  cellsense_py::GapHook gap_{};   ///< logger gaps: the core's rule and the count of widened gaps
  double stuck_step_A_ = 0;      ///< current step that must move the voltage (A); infinite: no detection
  cellsense::StuckCharge stuck_charge_;  ///< the stuck-voltage charge rule's settings (stuck_charge_rule)
  int stuck_samples_ = 0;
  bool enabled_ = true;
  const cellsense_py::PowerColumns<T>* power_ = nullptr;  ///< run_power()'s per-sample sink (null outside it)
};

template <class E>
void bind_one(py::module_& m, const std::string& name) {
  using PS = PySoh<E>;
  py::class_<PS>(m, name.c_str())
      .def(py::init<const py::dict&, const py::dict&, const py::dict&, const py::dict&, const Arr&, const Arr&, double,
                    const py::dict&>(),
           py::arg("params"), py::arg("config"), py::arg("noise"), py::arg("filter_config"), py::arg("x0"),
           py::arg("p0"), py::arg("hysteresis_sign"), py::arg("soh_config"))
      .def("run", &PS::run)
      .def("run_power", &PS::run_power, py::arg("time_s"), py::arg("current_A"), py::arg("voltage_V"),
           py::arg("temperature_degC"), py::arg("horizons_s"), py::arg("config"))
      .def("power_limits", &PS::power_limits, py::arg("temperature_degC"), py::arg("config"))
      .def("energy", &PS::energy, py::arg("temperature_degC"), py::arg("power_W"), py::arg("voltage_min_V"),
           py::arg("soc_min"), py::arg("soc_sigma_k"))
      .def("time_to_full", &PS::time_to_full, py::arg("charge_current_A"), py::arg("soc_max"))
      .def("state", &PS::state)
      .def("covariance", &PS::covariance)
      .def("set_state", &PS::set_state)
      .def("restart_pairing", &PS::restart_pairing, py::arg("rested") = false)
      .def("ocv_nodes_V", &PS::ocv_nodes_V)
      .def("close_pair", &PS::close_pair)
      .def("soh_state", &PS::soh_state)
      .def("set_soh_state", &PS::set_soh_state)
      .def("state_bytes", &PS::state_bytes)
      .def("r0_table_Ohm", &PS::r0_table_Ohm)
      .def_property_readonly("gaps_widened", &PS::gaps_widened)
      .def_property_readonly("lost_charge_widened", &PS::lost_charge_widened)
      .def_property_readonly("hysteresis_sign", &PS::hysteresis_sign)
      .def_property_readonly("stuck_samples", &PS::stuck_samples)
      .def_property_readonly("stuck_step_A", &PS::stuck_step_A)
      .def_property_readonly("stuck_charge_Ah", &PS::stuck_charge_Ah)
      .def("consider", &PS::consider)
      .def("set_consider", &PS::set_consider, py::arg("offset"), py::arg("gain"))
      .def_property("last_time_s", &PS::last_time, &PS::set_last_time)
      .def_property_readonly("soc", &PS::soc)
      .def_property_readonly("soc_sigma", &PS::soc_sigma)
      .def_property_readonly("capacity_Ah", &PS::capacity_Ah)
      .def_property_readonly("capacity_sigma_Ah", &PS::capacity_sigma_Ah)
      .def_property_readonly("r0_scale", &PS::r0_scale)
      .def_property_readonly("r0_scale_sigma", &PS::r0_scale_sigma)
      .def_property_readonly("enabled", &PS::enabled);
}

template <typename T, int NRC>
void bind_rc(py::module_& m, const std::string& suffix) {
  bind_one<Estimator<model::EcmModel<T, NRC>, filter::Ekf, true>>(m, "EcmSohEkf" + std::to_string(NRC) + suffix);
  bind_one<Estimator<model::EcmModel<T, NRC>, filter::Ukf, true>>(m, "EcmSohUkf" + std::to_string(NRC) + suffix);
}

}  // namespace

void bind_soh(py::module_& m) {
  // The SOH settings rule (soh::SohConfig::check) and defaults, for cellsense.estimators.soh.SohSettings.
  m.def("soh_config_issue", [](const py::dict& cfg, double capacity_Ah, double r0_scale) -> py::object {
    const soh::SohConfigIssue i = load_soh_config<double>(cfg).check(capacity_Ah, r0_scale);
    if (i == soh::SohConfigIssue::kOk) { return py::none(); }
    return py::make_tuple(static_cast<int>(i), soh::soh_config_field(i), soh::soh_config_message(i));
  }, py::arg("config"), py::arg("capacity_Ah"), py::arg("r0_scale"),
        "None if the SOH settings (SohConfig fields; missing ones take the core's defaults) pass the core's check "
        "for a model of that capacity and R0 factor, else (code, field, message) of the first rule broken "
        "(soh/soh_config.hpp).");
  m.def("soh_config_defaults", [] {
    const soh::SohConfig<double> c{};
    py::dict d;
#define CS_SOH_DEFAULT(f) d[#f] = c.f;
    CS_SOH_DEFAULT(capacity_sigma_Ah)
    CS_SOH_DEFAULT(capacity_forgetting)
    CS_SOH_DEFAULT(capacity_min_Ah)
    CS_SOH_DEFAULT(capacity_max_Ah)
    CS_SOH_DEFAULT(pair_min_delta_soc)
    CS_SOH_DEFAULT(pair_max_soc_sigma)
    CS_SOH_DEFAULT(rest_current_A)
    CS_SOH_DEFAULT(current_sigma_A)
    CS_SOH_DEFAULT(current_offset_sigma_A)
    CS_SOH_DEFAULT(anchor_rest_s)
    CS_SOH_DEFAULT(r0_scale_sigma)
    CS_SOH_DEFAULT(r0_scale_per_sqrt_s)
    CS_SOH_DEFAULT(r0_min_step_A)
    CS_SOH_DEFAULT(r0_max_dt_s)
    CS_SOH_DEFAULT(r0_min_dt_s)
    CS_SOH_DEFAULT(r0_voltage_sigma_V)
    CS_SOH_DEFAULT(r0_gate_nis)
    CS_SOH_DEFAULT(r0_scale_min)
    CS_SOH_DEFAULT(r0_scale_max)
    CS_SOH_DEFAULT(ocv_learning)
    CS_SOH_DEFAULT(ocv_sigma_V)
    CS_SOH_DEFAULT(ocv_V_per_sqrt_s)
    CS_SOH_DEFAULT(ocv_soc_per_sqrt_s)
    CS_SOH_DEFAULT(ocv_load_fraction)
    CS_SOH_DEFAULT(ocv_max_V)
    CS_SOH_DEFAULT(learn_min_temperature_degC)
    CS_SOH_DEFAULT(learn_max_temperature_degC)
#undef CS_SOH_DEFAULT
    return d;
  }, "The core's default SohConfig (soh/soh_config.hpp), keyed as soh_config_issue's dict (the C API's "
     "cs_soh_config_default() copies them too; the cell-relative ones it scales with the capacity).");
  bind_rc<double, 1>(m, "_f64");
  bind_rc<double, 2>(m, "_f64");
  bind_rc<double, 3>(m, "_f64");
  bind_rc<float, 1>(m, "_f32");
  bind_rc<float, 2>(m, "_f32");
  bind_rc<float, 3>(m, "_f32");
}
