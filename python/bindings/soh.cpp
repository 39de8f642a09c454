// pybind11 bindings for the soh part of the core (registered from core.cpp): one class per
// (scalar, RC pairs, filter), EcmSoh{Ekf,Ukf}{1,2,3}_{f32,f64}: the SOC estimator plus the SOH
// tracker (cpp/include/cellsense/soh/soh_tracker.hpp). The Python package (cellsense.soh) picks
// the class; the whole-log loop runs here with the GIL released.
#include "common.hpp"

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

constexpr std::uint8_t kStatusInitial = 255;
using Arr = py::array_t<double, py::array::c_style | py::array::forcecast>;

double scalar(const py::dict& d, const char* key) {
  if (!d.contains(key)) { throw py::key_error(std::string("missing parameter '") + key + "'"); }
  return d[key].cast<double>();
}

template <typename T, int MaxSoc, int MaxTemp>
void table(math::Table<T, MaxSoc, MaxTemp>& tab, const Arr& a, int nt, int ns, const std::string& name) {
  if (a.ndim() != 2 || a.shape(0) != nt || a.shape(1) != ns) {
    throw py::value_error("table '" + name + "' has the wrong shape");
  }
  auto v = a.unchecked<2>();
  for (int it = 0; it < nt; ++it) {
    for (int is = 0; is < ns; ++is) { tab.value[it][is] = static_cast<T>(v(it, is)); }
  }
}

template <class E>
class PySoh {
 public:
  using T = typename E::T;
  using M = typename E::Model;
  using P = typename M::Params;
  using Tracker = soh::SohTracker<E>;
  static constexpr int N = M::kStates;
  static constexpr int NRC = M::kRcPairs;

  PySoh(const py::dict& params, const py::dict& config, const py::dict& noise, const py::dict& filter_config,
        const Arr& x0, const Arr& p0, double hysteresis_sign, const py::dict& soh_config)
      : params_(std::make_unique<P>()) {
    P& p = *params_;
    p = P{};
    const Arr soc = params["soc"].cast<Arr>();
    const Arr temp = params["temperature_degC"].cast<Arr>();
    if (soc.ndim() != 1 || soc.shape(0) < 2 || soc.shape(0) > P::kMaxSoc || temp.ndim() != 1 || temp.shape(0) < 1 ||
        temp.shape(0) > P::kMaxTemp) {
      throw py::value_error("breakpoints out of range");
    }
    const int ns = static_cast<int>(soc.shape(0));
    const int nt = static_cast<int>(temp.shape(0));
    p.grid.n_soc = ns;
    p.grid.n_temperature = nt;
    for (int i = 0; i < ns; ++i) { p.grid.soc[i] = static_cast<T>(soc.at(i)); }
    for (int i = 0; i < nt; ++i) { p.grid.temperature_degC[i] = static_cast<T>(temp.at(i)); }
    table(p.ocv_V, params["ocv_V"].cast<Arr>(), nt, ns, "ocv_V");
    table(p.r0_Ohm, params["r0_Ohm"].cast<Arr>(), nt, ns, "r0_Ohm");
    table(p.hysteresis_V, params["hysteresis_V"].cast<Arr>(), nt, ns, "hysteresis_V");
    table(p.hysteresis_instant_V, params["hysteresis_instant_V"].cast<Arr>(), nt, ns, "hysteresis_instant_V");
    const py::list rc_r = params["rc_r_Ohm"].cast<py::list>();
    const py::list rc_tau = params["rc_tau_s"].cast<py::list>();
    if (static_cast<int>(rc_r.size()) != NRC || static_cast<int>(rc_tau.size()) != NRC) {
      throw py::value_error("rc_r_Ohm and rc_tau_s need " + std::to_string(NRC) + " tables");
    }
    for (int j = 0; j < NRC; ++j) {
      table(p.rc_r_Ohm[j], rc_r[static_cast<size_t>(j)].cast<Arr>(), nt, ns, "rc_r_Ohm");
      table(p.rc_tau_s[j], rc_tau[static_cast<size_t>(j)].cast<Arr>(), nt, ns, "rc_tau_s");
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
    if (model::validate(p) != model::ParamError::kOk) {
      throw py::value_error("cell parameters rejected by the core");
    }
    typename M::Noise n{};
    n.soc_per_sqrt_s = static_cast<T>(scalar(noise, "soc_per_sqrt_s"));
    n.v_rc_V_per_sqrt_s = static_cast<T>(scalar(noise, "v_rc_V_per_sqrt_s"));
    n.hysteresis_per_sqrt_s = static_cast<T>(scalar(noise, "hysteresis_per_sqrt_s"));
    n.current_sigma_A = static_cast<T>(scalar(noise, "current_sigma_A"));
    EstimatorConfig<T> c{};
    c.dt_max_s = static_cast<T>(scalar(config, "dt_max_s"));
    c.soc_min = static_cast<T>(scalar(config, "soc_min"));
    c.soc_max = static_cast<T>(scalar(config, "soc_max"));
    c.voltage_sigma_V = static_cast<T>(scalar(config, "voltage_sigma_V"));
    c.gate_nis = static_cast<T>(scalar(config, "gate_nis"));
    c.gate_policy = scalar(config, "gate_predict_only") != 0.0 ? GatePolicy::kPredictOnly : GatePolicy::kRejectStep;
    const double timeout = scalar(config, "gate_timeout_steps");
    if (!(timeout >= 0 && timeout <= 65535)) { throw py::value_error("gate_timeout_steps must be in 0..65535"); }
    c.gate_timeout_steps = static_cast<std::uint16_t>(timeout);
    typename E::FilterConfig fc{};
    set_filter_config(fc, filter_config);
    typename M::State x;
    typename M::Cov cov;
    to_state(x0, x);
    to_cov(p0, cov);
    const InitStatus st = est_.init(M(params_.get(), n), c, fc, x, cov, typename M::Aux{static_cast<T>(hysteresis_sign)});
    if (st != InitStatus::kOk) { throw py::value_error(std::string("estimator init failed: ") + init_status_name(st)); }
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
    CS_SOH_FIELD(r0_scale_sigma)
    CS_SOH_FIELD(r0_scale_per_sqrt_s)
    CS_SOH_FIELD(r0_min_step_A)
    CS_SOH_FIELD(r0_max_dt_s)
    CS_SOH_FIELD(r0_voltage_sigma_V)
    CS_SOH_FIELD(r0_gate_nis)
    CS_SOH_FIELD(r0_scale_min)
    CS_SOH_FIELD(r0_scale_max)
#undef CS_SOH_FIELD
    double q0 = soh_config.contains("initial_capacity_Ah") ? soh_config["initial_capacity_Ah"].cast<double>() : 0.0;
    double r0s = soh_config.contains("initial_r0_scale") ? soh_config["initial_r0_scale"].cast<double>() : 1.0;
    if (q0 > 0.0 || r0s != 1.0) {
      if (!est_.set_model_health(static_cast<T>(q0 > 0.0 ? q0 : static_cast<double>(p.capacity_Ah)), static_cast<T>(r0s))) {
        throw py::value_error("initial capacity / R0 factor must be finite and > 0");
      }
    }
    enabled_ = soh_config.contains("enabled") ? soh_config["enabled"].cast<bool>() : true;
    if (!soh_.init(est_, sc)) { throw py::value_error("SOH configuration rejected by the core"); }
  }

  py::dict run(const Arr& time_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC) {
    const py::ssize_t n = time_s.shape(0);
    if (time_s.ndim() != 1 || current_A.ndim() != 1 || voltage_V.ndim() != 1 || temperature_degC.ndim() != 1 ||
        current_A.shape(0) != n || voltage_V.shape(0) != n || temperature_degC.shape(0) != n) {
      throw py::value_error("run(): time_s, current_A, voltage_V and temperature_degC must be 1-D and equally long");
    }
    using OutT = py::array_t<double>;
    OutT soc(n), sigma(n), vpred(n), innov(n), s_var(n), nis(n), cap(n), cap_s(n), r0(n), r0_s(n);
    py::array_t<std::uint8_t> status(n), flags(n);
    const double* t = time_s.data();
    const double* i = current_A.data();
    const double* v = voltage_V.data();
    const double* th = temperature_degC.data();
    double* o[10] = {soc.mutable_data(), sigma.mutable_data(), vpred.mutable_data(), innov.mutable_data(),
                     s_var.mutable_data(), nis.mutable_data(), cap.mutable_data(), cap_s.mutable_data(),
                     r0.mutable_data(), r0_s.mutable_data()};
    std::uint8_t* o_st = status.mutable_data();
    std::uint8_t* o_fl = flags.mutable_data();
    {
      py::gil_scoped_release release;
      const double nan = std::numeric_limits<double>::quiet_NaN();
      for (py::ssize_t k = 0; k < n; ++k) {
        if (!has_last_time_) {
          o_st[k] = std::isfinite(t[k]) ? kStatusInitial : static_cast<std::uint8_t>(StepStatus::kRejectedNonFinite);
          if (std::isfinite(t[k])) {
            last_time_s_ = t[k];
            has_last_time_ = true;
          }
          o[0][k] = static_cast<double>(est_.soc());
          o[1][k] = static_cast<double>(est_.soc_sigma());
          o[2][k] = o[3][k] = o[4][k] = o[5][k] = nan;
          o[6][k] = static_cast<double>(soh_.capacity_Ah());
          o[7][k] = static_cast<double>(soh_.capacity_sigma_Ah());
          o[8][k] = o[9][k] = nan;
          o_fl[k] = 0;
          continue;
        }
        const double dt = t[k] - last_time_s_;
        const auto r = do_step(static_cast<T>(dt), static_cast<T>(i[k]), static_cast<T>(v[k]), static_cast<T>(th[k]));
        if (std::isfinite(t[k]) && t[k] > last_time_s_) { last_time_s_ = t[k]; }
        o_st[k] = static_cast<std::uint8_t>(r.soc.status);
        o[0][k] = static_cast<double>(r.soc.soc);
        o[1][k] = static_cast<double>(r.soc.soc_sigma);
        o[2][k] = static_cast<double>(r.soc.voltage_pred_V);
        o[3][k] = static_cast<double>(r.soc.innovation_V);
        o[4][k] = static_cast<double>(r.soc.innovation_variance_V2);
        o[5][k] = static_cast<double>(r.soc.nis);
        o[6][k] = static_cast<double>(r.capacity_Ah);
        o[7][k] = static_cast<double>(r.capacity_sigma_Ah);
        o[8][k] = static_cast<double>(r.r0_Ohm);
        o[9][k] = static_cast<double>(r.r0_sigma_Ohm);
        o_fl[k] = static_cast<std::uint8_t>((r.capacity_updated ? 1 : 0) | (r.r0_updated ? 2 : 0));
      }
    }
    py::dict out;
    out["soc"] = soc;
    out["soc_sigma"] = sigma;
    out["voltage_pred_V"] = vpred;
    out["innovation_V"] = innov;
    out["innovation_variance_V2"] = s_var;
    out["nis"] = nis;
    out["status"] = status;
    out["capacity_Ah"] = cap;
    out["capacity_sigma_Ah"] = cap_s;
    out["r0_Ohm"] = r0;
    out["r0_sigma_Ohm"] = r0_s;
    out["soh_flags"] = flags;
    return out;
  }

  py::array_t<double> state() const { return cellsense_py::to_numpy_vector(est_.state()); }
  py::array_t<double> covariance() const { return cellsense_py::to_numpy_matrix(est_.covariance()); }
  double hysteresis_sign() const { return static_cast<double>(est_.aux().current_sign); }
  bool set_state(const Arr& x, const Arr& p, double sign) {
    typename M::State xs;
    typename M::Cov cs;
    to_state(x, xs);
    to_cov(p, cs);
    return est_.set_state(xs, cs, typename M::Aux{static_cast<T>(sign)});
  }
  void restart_pairing() { soh_.restart_pairing(); }
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
    d["anchored"] = static_cast<int>(s.anchored);
    d["prev_valid"] = static_cast<int>(s.prev_valid);
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
    const double a = scalar(d, "anchored");
    const double pv = scalar(d, "prev_valid");
    if (!(a == 0.0 || a == 1.0) || !(pv == 0.0 || pv == 1.0)) { return false; }
    s.anchored = static_cast<std::uint8_t>(a);
    s.prev_valid = static_cast<std::uint8_t>(pv);
    return soh_.set_state(est_, s);
  }
  py::bytes state_bytes() const { return cellsense_py::raw_bytes(est_.state(), est_.covariance(), soh_.state()); }
  py::object last_time() const { return has_last_time_ ? py::object(py::float_(last_time_s_)) : py::none(); }
  void set_last_time(py::object t) {
    if (t.is_none()) {
      has_last_time_ = false;
    } else {
      last_time_s_ = t.cast<double>();
      has_last_time_ = std::isfinite(last_time_s_);
    }
  }
  double soc() const { return static_cast<double>(est_.soc()); }
  double soc_sigma() const { return static_cast<double>(est_.soc_sigma()); }
  double capacity_Ah() const { return static_cast<double>(soh_.capacity_Ah()); }
  double capacity_sigma_Ah() const { return static_cast<double>(soh_.capacity_sigma_Ah()); }
  double r0_scale() const { return static_cast<double>(soh_.r0_scale()); }
  double r0_scale_sigma() const { return static_cast<double>(soh_.r0_scale_sigma()); }
  double r0_table_Ohm(double soc, double temperature_degC) const {
    return static_cast<double>(est_.model().r0_table_Ohm(static_cast<T>(soc), static_cast<T>(temperature_degC)));
  }
  bool enabled() const { return enabled_; }

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
  static void to_state(const Arr& a, typename M::State& x) { cellsense_py::from_numpy_vector(a, x); }
  static void to_cov(const Arr& a, typename M::Cov& c) { cellsense_py::from_numpy_matrix(a, c); }
  static void set_filter_config(typename filter::Ekf<M>::Config&, const py::dict&) {}
  static void set_filter_config(typename filter::Ukf<M>::Config& c, const py::dict& d) {
    c.alpha = static_cast<T>(scalar(d, "alpha"));
    c.beta = static_cast<T>(scalar(d, "beta"));
    c.kappa = static_cast<T>(scalar(d, "kappa"));
  }

  std::unique_ptr<P> params_;  // the core keeps a pointer to it: must outlive est_
  E est_{};
  Tracker soh_{};
  double last_time_s_ = 0;
  bool has_last_time_ = false;
  bool enabled_ = true;
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
      .def("state", &PS::state)
      .def("covariance", &PS::covariance)
      .def("set_state", &PS::set_state)
      .def("restart_pairing", &PS::restart_pairing)
      .def("close_pair", &PS::close_pair)
      .def("soh_state", &PS::soh_state)
      .def("set_soh_state", &PS::set_soh_state)
      .def("state_bytes", &PS::state_bytes)
      .def("r0_table_Ohm", &PS::r0_table_Ohm)
      .def_property_readonly("hysteresis_sign", &PS::hysteresis_sign)
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
  bind_one<Estimator<model::EcmModel<T, NRC>, filter::Ekf>>(m, "EcmSohEkf" + std::to_string(NRC) + suffix);
  bind_one<Estimator<model::EcmModel<T, NRC>, filter::Ukf>>(m, "EcmSohUkf" + std::to_string(NRC) + suffix);
}

}  // namespace

void bind_soh(py::module_& m) {
  bind_rc<double, 1>(m, "_f64");
  bind_rc<double, 2>(m, "_f64");
  bind_rc<double, 3>(m, "_f64");
  bind_rc<float, 1>(m, "_f32");
  bind_rc<float, 2>(m, "_f32");
  bind_rc<float, 3>(m, "_f32");
}
