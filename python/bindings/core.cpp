// pybind11 bindings: the ONLY place that sees both numpy and the core (style.md).
// Exposes one class per (scalar, RC pairs, filter): Ecm{Ekf,Ukf}{1,2,3}_{f32,f64}.
// The Python package (cellsense.estimator) picks the class; users never touch this module.
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

namespace py = pybind11;
using namespace cellsense;

namespace {

constexpr std::uint8_t kStatusInitial = 255;  // first sample of a run(): establishes t0, no step

const char* param_error_name(model::ParamError e) {
  switch (e) {
    case model::ParamError::kOk: return "ok";
    case model::ParamError::kGridSize: return "grid size out of range";
    case model::ParamError::kSocBreakpoints: return "SOC breakpoints must increase strictly and cover 0..1";
    case model::ParamError::kTemperatureBreakpoints: return "temperature breakpoints must increase strictly";
    case model::ParamError::kNonFinite: return "a parameter is NaN or infinite";
    case model::ParamError::kCapacity: return "capacity must be positive";
    case model::ParamError::kCoulombicEfficiency: return "Coulombic efficiency must be in (0, 1]";
    case model::ParamError::kOcvNotIncreasing: return "OCV must increase strictly with SOC";
    case model::ParamError::kNegativeResistance: return "a resistance is negative";
    case model::ParamError::kNonPositiveTau: return "a time constant is not positive";
    case model::ParamError::kNegativeHysteresis: return "a hysteresis parameter is negative";
    case model::ParamError::kLimits: return "a reading range has min >= max";
  }
  return "unknown";
}

double get_scalar(const py::dict& d, const char* key) {
  if (!d.contains(key)) { throw py::key_error(std::string("missing parameter '") + key + "'"); }
  return d[key].cast<double>();
}

template <typename T, int MaxSoc, int MaxTemp>
void fill_table(math::Table<T, MaxSoc, MaxTemp>& tab, const py::array_t<double, py::array::c_style | py::array::forcecast>& a,
                int n_temp, int n_soc, const std::string& name) {
  if (a.ndim() != 2 || a.shape(0) != n_temp || a.shape(1) != n_soc) {
    throw py::value_error("table '" + name + "' must have shape (" + std::to_string(n_temp) + ", " +
                          std::to_string(n_soc) + ")");
  }
  auto v = a.unchecked<2>();
  for (int it = 0; it < n_temp; ++it) {
    for (int is = 0; is < n_soc; ++is) { tab.value[it][is] = static_cast<T>(v(it, is)); }
  }
}

template <class E>
class PyEstimator {
 public:
  using T = typename E::T;
  using M = typename E::Model;
  using P = typename M::Params;
  static constexpr int N = M::kStates;
  static constexpr int NRC = M::kRcPairs;
  using Arr = py::array_t<double, py::array::c_style | py::array::forcecast>;

  PyEstimator(const py::dict& params, const py::dict& config, const py::dict& noise,
              const py::dict& filter_config, const Arr& x0, const Arr& p0, double hysteresis_sign)
      : params_(std::make_unique<P>()) {
    P& p = *params_;
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
    const py::list rc_r = params["rc_r_Ohm"].cast<py::list>();
    const py::list rc_tau = params["rc_tau_s"].cast<py::list>();
    if (static_cast<int>(rc_r.size()) != NRC || static_cast<int>(rc_tau.size()) != NRC) {
      throw py::value_error("rc_r_Ohm and rc_tau_s need " + std::to_string(NRC) + " tables");
    }
    for (int j = 0; j < NRC; ++j) {
      fill_table(p.rc_r_Ohm[j], rc_r[static_cast<size_t>(j)].cast<Arr>(), nt, ns, "rc_r_Ohm[" + std::to_string(j) + "]");
      fill_table(p.rc_tau_s[j], rc_tau[static_cast<size_t>(j)].cast<Arr>(), nt, ns, "rc_tau_s[" + std::to_string(j) + "]");
    }
    p.capacity_Ah = static_cast<T>(get_scalar(params, "capacity_Ah"));
    p.coulombic_efficiency = static_cast<T>(get_scalar(params, "coulombic_efficiency"));
    p.hysteresis_rate = static_cast<T>(get_scalar(params, "hysteresis_rate"));
    p.sign_deadband_A = static_cast<T>(get_scalar(params, "sign_deadband_A"));
    p.voltage_min_V = static_cast<T>(get_scalar(params, "voltage_min_V"));
    p.voltage_max_V = static_cast<T>(get_scalar(params, "voltage_max_V"));
    p.current_min_A = static_cast<T>(get_scalar(params, "current_min_A"));
    p.current_max_A = static_cast<T>(get_scalar(params, "current_max_A"));
    p.temperature_min_degC = static_cast<T>(get_scalar(params, "temperature_min_degC"));
    p.temperature_max_degC = static_cast<T>(get_scalar(params, "temperature_max_degC"));
    const model::ParamError pe = model::validate(p);
    if (pe != model::ParamError::kOk) {
      throw py::value_error(std::string("cell parameters rejected by the core: ") + param_error_name(pe));
    }

    typename M::Noise n{};
    n.soc_per_sqrt_s = static_cast<T>(get_scalar(noise, "soc_per_sqrt_s"));
    n.v_rc_V_per_sqrt_s = static_cast<T>(get_scalar(noise, "v_rc_V_per_sqrt_s"));
    n.hysteresis_per_sqrt_s = static_cast<T>(get_scalar(noise, "hysteresis_per_sqrt_s"));
    n.current_sigma_A = static_cast<T>(get_scalar(noise, "current_sigma_A"));

    EstimatorConfig<T> c{};
    c.dt_max_s = static_cast<T>(get_scalar(config, "dt_max_s"));
    c.soc_min = static_cast<T>(get_scalar(config, "soc_min"));
    c.soc_max = static_cast<T>(get_scalar(config, "soc_max"));
    c.voltage_sigma_V = static_cast<T>(get_scalar(config, "voltage_sigma_V"));
    c.gate_nis = static_cast<T>(get_scalar(config, "gate_nis"));
    c.gate_policy = get_scalar(config, "gate_predict_only") != 0.0 ? GatePolicy::kPredictOnly : GatePolicy::kRejectStep;
    const double timeout = get_scalar(config, "gate_timeout_steps");
    if (!(timeout >= 0 && timeout <= 65535)) { throw py::value_error("gate_timeout_steps must be in 0..65535"); }
    c.gate_timeout_steps = static_cast<std::uint16_t>(timeout);

    typename E::FilterConfig fc{};
    set_filter_config(fc, filter_config);

    typename M::State x;
    typename M::Cov cov;
    to_state(x0, x);
    to_cov(p0, cov);
    const InitStatus st = est_.init(M(params_.get(), n), c, fc, x, cov, typename M::Aux{static_cast<T>(hysteresis_sign)});
    if (st != InitStatus::kOk) {
      throw py::value_error(std::string("estimator init failed: ") + init_status_name(st));
    }
  }

  py::tuple step(double dt_s, double current_A, double voltage_V, double temperature_degC) {
    const auto r = est_.step(static_cast<T>(dt_s), static_cast<T>(current_A), static_cast<T>(voltage_V),
                             static_cast<T>(temperature_degC));
    return py::make_tuple(static_cast<int>(r.status), static_cast<double>(r.soc), static_cast<double>(r.soc_sigma),
                          static_cast<double>(r.voltage_pred_V), static_cast<double>(r.innovation_V),
                          static_cast<double>(r.innovation_variance_V2), static_cast<double>(r.nis));
  }

  /// Whole log: the loop runs here with the GIL released. dt[k] = time[k] - time[k-1]; the very
  /// first sample of the estimator's life only sets the clock (status 255, "initial").
  py::dict run(const Arr& time_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC) {
    const py::ssize_t n = time_s.shape(0);
    if (time_s.ndim() != 1 || current_A.ndim() != 1 || voltage_V.ndim() != 1 || temperature_degC.ndim() != 1 ||
        current_A.shape(0) != n || voltage_V.shape(0) != n || temperature_degC.shape(0) != n) {
      throw py::value_error("run(): time_s, current_A, voltage_V and temperature_degC must be 1-D and equally long");
    }
    using OutT = py::array_t<double>;
    OutT soc(n), sigma(n), vpred(n), innov(n), s_var(n), nis(n);
    py::array_t<std::uint8_t> status(n);
    const double* t = time_s.data();
    const double* i = current_A.data();
    const double* v = voltage_V.data();
    const double* th = temperature_degC.data();
    double* o_soc = soc.mutable_data();
    double* o_sig = sigma.mutable_data();
    double* o_vp = vpred.mutable_data();
    double* o_in = innov.mutable_data();
    double* o_s = s_var.mutable_data();
    double* o_nis = nis.mutable_data();
    std::uint8_t* o_st = status.mutable_data();
    {
      py::gil_scoped_release release;
      const double nan = std::numeric_limits<double>::quiet_NaN();
      for (py::ssize_t k = 0; k < n; ++k) {
        if (!has_last_time_) {
          // The first sample sets the clock; a non-finite time cannot, so it is skipped.
          o_st[k] = std::isfinite(t[k]) ? kStatusInitial : static_cast<std::uint8_t>(StepStatus::kRejectedNonFinite);
          if (std::isfinite(t[k])) {
            last_time_s_ = t[k];
            has_last_time_ = true;
          }
          o_soc[k] = static_cast<double>(est_.soc());
          o_sig[k] = static_cast<double>(est_.soc_sigma());
          o_vp[k] = o_in[k] = o_s[k] = o_nis[k] = nan;
          continue;
        }
        const double dt = t[k] - last_time_s_;
        const auto r = est_.step(static_cast<T>(dt), static_cast<T>(i[k]), static_cast<T>(v[k]), static_cast<T>(th[k]));
        // The clock advances on every sample with a finite, later timestamp, accepted or not:
        // a rejected sample's interval is not integrated (its status says so).
        if (std::isfinite(t[k]) && t[k] > last_time_s_) { last_time_s_ = t[k]; }
        o_st[k] = static_cast<std::uint8_t>(r.status);
        o_soc[k] = static_cast<double>(r.soc);
        o_sig[k] = static_cast<double>(r.soc_sigma);
        o_vp[k] = static_cast<double>(r.voltage_pred_V);
        o_in[k] = static_cast<double>(r.innovation_V);
        o_s[k] = static_cast<double>(r.innovation_variance_V2);
        o_nis[k] = static_cast<double>(r.nis);
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
    return out;
  }

  py::array_t<double> state() const { return cellsense_py::to_numpy_vector(est_.state()); }
  py::array_t<double> covariance() const { return cellsense_py::to_numpy_matrix(est_.covariance()); }
  /// Raw bytes of state + covariance: for bit-for-bit comparisons in tests.
  py::bytes state_bytes() const { return cellsense_py::raw_bytes(est_.state(), est_.covariance()); }
  double hysteresis_sign() const { return static_cast<double>(est_.aux().current_sign); }
  bool set_state(const Arr& x, const Arr& p, double hysteresis_sign) {
    typename M::State xs;
    typename M::Cov cs;
    to_state(x, xs);
    to_cov(p, cs);
    return est_.set_state(xs, cs, typename M::Aux{static_cast<T>(hysteresis_sign)});
  }
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

 private:
  static void to_state(const Arr& a, typename M::State& x) { cellsense_py::from_numpy_vector(a, x); }
  static void to_cov(const Arr& a, typename M::Cov& c) { cellsense_py::from_numpy_matrix(a, c); }
  static void set_filter_config(typename filter::Ekf<M>::Config&, const py::dict&) {}
  static void set_filter_config(typename filter::Ukf<M>::Config& c, const py::dict& d) {
    c.alpha = static_cast<T>(get_scalar(d, "alpha"));
    c.beta = static_cast<T>(get_scalar(d, "beta"));
    c.kappa = static_cast<T>(get_scalar(d, "kappa"));
  }

  std::unique_ptr<P> params_;  // the core keeps a pointer to it: must outlive est_
  E est_{};
  double last_time_s_ = 0;
  bool has_last_time_ = false;
};

template <class E>
void bind(py::module_& m, const char* name) {
  using PE = PyEstimator<E>;
  py::class_<PE>(m, name)
      .def(py::init<const py::dict&, const py::dict&, const py::dict&, const py::dict&, const typename PE::Arr&,
                    const typename PE::Arr&, double>(),
           py::arg("params"), py::arg("config"), py::arg("noise"), py::arg("filter_config"), py::arg("x0"),
           py::arg("p0"), py::arg("hysteresis_sign") = 0.0)
      .def("step", &PE::step, py::arg("dt_s"), py::arg("current_A"), py::arg("voltage_V"), py::arg("temperature_degC"))
      .def("run", &PE::run, py::arg("time_s"), py::arg("current_A"), py::arg("voltage_V"), py::arg("temperature_degC"))
      .def("state", &PE::state)
      .def("covariance", &PE::covariance)
      .def("state_bytes", &PE::state_bytes)
      .def("set_state", &PE::set_state, py::arg("x"), py::arg("p"), py::arg("hysteresis_sign"))
      .def_property_readonly("hysteresis_sign", &PE::hysteresis_sign)
      .def_property("last_time_s", &PE::last_time, &PE::set_last_time)
      .def_property_readonly("soc", &PE::soc)
      .def_property_readonly("soc_sigma", &PE::soc_sigma)
      .def_property_readonly_static("n_states", [](py::object) { return PE::N; })
      .def_property_readonly_static("sizeof_estimator", [](py::object) { return sizeof(E); });
}

template <typename T, int NRC>
void bind_rc(py::module_& m, const std::string& suffix) {
  bind<Estimator<model::EcmModel<T, NRC>, filter::Ekf>>(m, ("EcmEkf" + std::to_string(NRC) + suffix).c_str());
  bind<Estimator<model::EcmModel<T, NRC>, filter::Ukf>>(m, ("EcmUkf" + std::to_string(NRC) + suffix).c_str());
}

}  // namespace

// Other parts of the core, each in its own binding file.
void bind_pack(py::module_& m);
void bind_soh(py::module_& m);
void bind_spme(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "cellsense core (private): use the cellsense package API instead";
  bind_rc<double, 1>(m, "_f64");
  bind_rc<double, 2>(m, "_f64");
  bind_rc<double, 3>(m, "_f64");
  bind_rc<float, 1>(m, "_f32");
  bind_rc<float, 2>(m, "_f32");
  bind_rc<float, 3>(m, "_f32");
  py::dict names;
  const StepStatus all[] = {StepStatus::kFused, StepStatus::kFusedAfterGateTimeout, StepStatus::kPredictedOnly,
                            StepStatus::kRejectedNonFinite, StepStatus::kRejectedDt, StepStatus::kRejectedDtTooLarge,
                            StepStatus::kRejectedCurrent, StepStatus::kRejectedVoltage,
                            StepStatus::kRejectedTemperature, StepStatus::kRejectedInnovationGate,
                            StepStatus::kRejectedNumerical, StepStatus::kNotInitialised};
  for (StepStatus s : all) { names[py::int_(static_cast<int>(s))] = status_name(s); }
  names[py::int_(kStatusInitial)] = "initial";
  m.attr("STATUS_NAMES") = names;
  m.attr("STATUS_INITIAL") = kStatusInitial;
  bind_pack(m);
  bind_soh(m);
  bind_spme(m);
  m.def("exp_f32", [](float x) { return math::exp(x); }, "The core's float exp (for tests).");
  m.def("exp_f64", [](double x) { return math::exp(x); }, "The core's double exp (for tests).");
}
