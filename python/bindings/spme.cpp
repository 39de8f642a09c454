// pybind11 bindings for the spme part of the core (registered from core.cpp).
// One class per (filter, scalar): Spme{Ekf,Ukf}_{f32,f64}, an Estimator over model::SpmeModel
// (Pade [3/3] particles, 2 electrolyte modes); spme_open_loop_{f32,f64} runs the model without a
// filter. cellsense.spme (python/cellsense/spme.py) builds the parameter dict and picks the class.
#include "common.hpp"
#include "power_columns.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "cellsense/estimator/estimator.hpp"
#include "cellsense/filter/ekf.hpp"
#include "cellsense/filter/ukf.hpp"
#include "cellsense/math/log.hpp"
#include "cellsense/model/spme.hpp"

namespace py = pybind11;
using namespace cellsense;

namespace {

constexpr int kPade = 3;
constexpr int kModes = 2;
constexpr int kMaxOcp = 96;
using cellsense_py::Arr;

template <typename T>
using SpmeM = model::SpmeModel<T, kPade, kModes, kMaxOcp>;

/// The core's message for a refused SPMe parameter set (model::spme_param_error_message), with this
/// build's OCP table capacity.
std::string spme_error_name(model::SpmeParamError e) {
  std::string m = model::spme_param_error_message(e);
  const std::string cap = "MaxOcp";
  const std::size_t at = m.find(cap);
  if (at != std::string::npos) { m.replace(at, cap.size(), std::to_string(kMaxOcp)); }
  return m;
}

using cellsense_py::scalar;

template <typename T>
void fill_electrode(typename SpmeM<T>::Params::Electrode& e, const py::dict& d) {
  e.thickness_m = static_cast<T>(scalar(d, "thickness_m"));
  e.particle_radius_m = static_cast<T>(scalar(d, "particle_radius_m"));
  e.active_fraction = static_cast<T>(scalar(d, "active_fraction"));
  e.max_concentration_mol_m3 = static_cast<T>(scalar(d, "max_concentration_mol_m3"));
  e.diffusivity_m2_s = static_cast<T>(scalar(d, "diffusivity_m2_s"));
  e.diffusivity_activation_J_mol = static_cast<T>(scalar(d, "diffusivity_activation_J_mol"));
  e.exchange_current_A_m2 = static_cast<T>(scalar(d, "exchange_current_A_m2"));
  e.exchange_current_activation_J_mol = static_cast<T>(scalar(d, "exchange_current_activation_J_mol"));
  e.stoichiometry_full = static_cast<T>(scalar(d, "stoichiometry_full"));
  e.stoichiometry_per_soc = static_cast<T>(scalar(d, "stoichiometry_per_soc"));
  const Arr x = d["ocp_stoichiometry"].cast<Arr>();
  const Arr u = d["ocp_V"].cast<Arr>();
  if (x.ndim() != 1 || u.ndim() != 1 || x.shape(0) != u.shape(0) || x.shape(0) < 2 || x.shape(0) > kMaxOcp) {
    throw py::value_error("OCP table: equal 1-D stoichiometry and potential arrays of 2.." + std::to_string(kMaxOcp) +
                          " points needed");
  }
  e.n_ocp = static_cast<int>(x.shape(0));
  for (int i = 0; i < e.n_ocp; ++i) {
    e.ocp_stoichiometry[i] = static_cast<T>(x.at(i));
    e.ocp_V[i] = static_cast<T>(u.at(i));
  }
}

template <typename T>
std::unique_ptr<typename SpmeM<T>::Params> make_params(const py::dict& d) {
  using P = typename SpmeM<T>::Params;
  auto out = std::make_unique<P>();
  P& p = *out;
  p = P{};
  p.capacity_Ah = static_cast<T>(scalar(d, "capacity_Ah"));
  p.area_m2 = static_cast<T>(scalar(d, "area_m2"));
  p.reference_temperature_K = static_cast<T>(scalar(d, "reference_temperature_K"));
  fill_electrode<T>(p.negative, d["negative"].cast<py::dict>());
  fill_electrode<T>(p.positive, d["positive"].cast<py::dict>());
  p.electrolyte_concentration_mol_m3 = static_cast<T>(scalar(d, "electrolyte_concentration_mol_m3"));
  p.transference_number = static_cast<T>(scalar(d, "transference_number"));
  p.thermodynamic_factor = static_cast<T>(scalar(d, "thermodynamic_factor"));
  p.electrolyte_diffusivity_activation_J_mol = static_cast<T>(scalar(d, "electrolyte_diffusivity_activation_J_mol"));
  p.electrolyte_conductivity_activation_J_mol = static_cast<T>(scalar(d, "electrolyte_conductivity_activation_J_mol"));
  const Arr tau = d["electrolyte_tau_s"].cast<Arr>();
  const Arr gain = d["electrolyte_gain_mol_m3_per_A"].cast<Arr>();
  const Arr feed = d["electrolyte_feedthrough_mol_m3_per_A"].cast<Arr>();
  if (tau.ndim() != 1 || tau.shape(0) != kModes || gain.ndim() != 2 || gain.shape(0) != kModes ||
      gain.shape(1) != 3 || feed.ndim() != 1 || feed.shape(0) != 3) {
    throw py::value_error("electrolyte modes: tau (" + std::to_string(kModes) + ",), gain (" +
                          std::to_string(kModes) + ", 3) and feedthrough (3,) needed");
  }
  for (int k = 0; k < kModes; ++k) {
    p.electrolyte_tau_s[k] = static_cast<T>(tau.at(k));
    for (int o = 0; o < 3; ++o) { p.electrolyte_gain_mol_m3_per_A[k][o] = static_cast<T>(gain.at(k, o)); }
  }
  for (int o = 0; o < 3; ++o) { p.electrolyte_feedthrough_mol_m3_per_A[o] = static_cast<T>(feed.at(o)); }
  p.electrolyte_resistance_Ohm = static_cast<T>(scalar(d, "electrolyte_resistance_Ohm"));
  p.negative_electrolyte_resistance_Ohm = static_cast<T>(scalar(d, "negative_electrolyte_resistance_Ohm"));
  p.solid_resistance_Ohm = static_cast<T>(scalar(d, "solid_resistance_Ohm"));
  p.negative_solid_resistance_Ohm = static_cast<T>(scalar(d, "negative_solid_resistance_Ohm"));
  p.contact_resistance_Ohm = static_cast<T>(scalar(d, "contact_resistance_Ohm"));
  p.voltage_min_V = static_cast<T>(scalar(d, "voltage_min_V"));
  p.voltage_max_V = static_cast<T>(scalar(d, "voltage_max_V"));
  p.current_min_A = static_cast<T>(scalar(d, "current_min_A"));
  p.current_max_A = static_cast<T>(scalar(d, "current_max_A"));
  p.temperature_min_degC = static_cast<T>(scalar(d, "temperature_min_degC"));
  p.temperature_max_degC = static_cast<T>(scalar(d, "temperature_max_degC"));
  const model::SpmeParamError e = model::validate(p);
  if (e != model::SpmeParamError::kOk) {
    throw py::value_error(std::string("SPMe parameters rejected by the core: ") + spme_error_name(e));
  }
  return out;
}

template <typename T>
typename SpmeM<T>::Noise make_noise(const py::dict& d) {
  typename SpmeM<T>::Noise n{};
  n.soc_per_sqrt_s = static_cast<T>(scalar(d, "soc_per_sqrt_s"));
  n.particle_per_sqrt_s = static_cast<T>(scalar(d, "particle_per_sqrt_s"));
  n.electrolyte_A_per_sqrt_s = static_cast<T>(scalar(d, "electrolyte_A_per_sqrt_s"));
  n.current_sigma_A = static_cast<T>(scalar(d, "current_sigma_A"));
  return n;
}

template <class E>
class PySpme {
 public:
  using M = typename E::Model;
  using T = typename M::Scalar;
  static constexpr int N = M::kStates;

  PySpme(const py::dict& params, const py::dict& config, const py::dict& noise, const py::dict& filter_config,
         const Arr& x0, const Arr& p0)
      : params_(make_params<T>(params)) {
    cellsense_py::init_estimator(est_, M(params_.get(), make_noise<T>(noise)), config, filter_config, x0, p0,
                                 typename M::Aux{});
  }

  /// One step; returns (status, soc, soc_sigma, v_pred, innovation, S, nis, anode potential,
  /// x_s,n, x_s,p). The outputs are evaluated at the step's resulting state and current.
  py::tuple step(double dt_s, double current_A, double voltage_V, double temperature_degC) {
    const auto r = est_.step(static_cast<T>(dt_s), static_cast<T>(current_A), static_cast<T>(voltage_V),
                             static_cast<T>(temperature_degC));
    double o[3];
    outputs(dt_s, current_A, temperature_degC, o);
    return py::make_tuple(static_cast<int>(r.status), static_cast<double>(r.soc), static_cast<double>(r.soc_sigma),
                          static_cast<double>(r.voltage_pred_V), static_cast<double>(r.innovation_V),
                          static_cast<double>(r.innovation_variance_V2), static_cast<double>(r.nis), o[0], o[1], o[2]);
  }

  /// Whole log, GIL released (cellsense_py::run_log): the estimator's columns, then the plating
  /// margin and surface stoichiometries at each sample's resulting state and current.
  py::dict run(const Arr& time_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC) {
    const cellsense_py::LogInputs in = cellsense_py::log_inputs(time_s, current_A, voltage_V, temperature_degC);
    const cellsense_py::RunColumns out(in.n, {CELLSENSE_PY_REPORT_COLUMNS, "anode_surface_potential_V",
                                              "negative_surface_stoichiometry", "positive_surface_stoichiometry"});
    const double nan = std::numeric_limits<double>::quiet_NaN();
    auto put_outputs = [&](py::ssize_t k, double dt) {
      double o[3] = {nan, nan, nan};
      if (std::isfinite(in.current_A[k]) && std::isfinite(in.temperature_degC[k])) {
        outputs(dt, in.current_A[k], in.temperature_degC[k], o);
      }
      out[6][k] = o[0];
      out[7][k] = o[1];
      out[8][k] = o[2];
    };
    cellsense_py::run_log(
        in, clock_, out.status(),
        [&](py::ssize_t k) {
          out.put_initial(k, est_.soc(), est_.soc_sigma());
          put_outputs(k, 1.0);
          if (power_ != nullptr) { power_->record(est_, k); }
        },
        [&](py::ssize_t k, double dt) {
          const auto r = est_.step(static_cast<T>(dt), static_cast<T>(in.current_A[k]), static_cast<T>(in.voltage_V[k]),
                                   static_cast<T>(in.temperature_degC[k]));
          out.put_report(k, r);
          put_outputs(k, dt > 0 ? dt : 1.0);
          if (power_ != nullptr) { power_->record(est_, k); }
          return static_cast<std::uint8_t>(r.status);
        });
    return out.dict();
  }

  // ---- state of power (power/power_limits.hpp: the SPMe has no direct solve, so the core takes the general
  // bisection over its one-step horizon prediction, exact for a constant current; docs/power.md). The energy and
  // time-to-full functions need the ECM's hysteresis state and coulombic efficiency: not bound here. ------------
  py::dict power_limits(double temperature_degC, const py::dict& cfg) const {
    return cellsense_py::present_power_limits<T>(est_, temperature_degC, cfg);
  }
  /// run() plus the limits after every sample for every horizon (the cell estimators' run_power, core.cpp).
  py::dict run_power(const Arr& time_s, const Arr& current_A, const Arr& voltage_V, const Arr& temperature_degC,
                     const Arr& horizons_s, const py::dict& cfg) {
    return cellsense_py::run_power_columns<T>(power_, time_s, current_A, voltage_V, temperature_degC, horizons_s, cfg,
                                              [this](const Arr& t, const Arr& i, const Arr& v, const Arr& T_degC) {
                                                return run(t, i, v, T_degC);
                                              });
  }

  py::array_t<double> state() const { return cellsense_py::to_numpy_vector(est_.state()); }
  py::array_t<double> covariance() const { return cellsense_py::to_numpy_matrix(est_.covariance()); }
  /// Raw bytes of state + covariance: for bit-for-bit comparisons in tests.
  py::bytes state_bytes() const { return cellsense_py::raw_bytes(est_.state(), est_.covariance()); }
  bool set_state(const Arr& x, const Arr& p, double /*unused*/) {
    typename M::State xs;
    typename M::Cov cs;
    cellsense_py::from_numpy_vector(x, xs);
    cellsense_py::from_numpy_matrix(p, cs);
    return est_.set_state(xs, cs, typename M::Aux{});
  }
  double hysteresis_sign() const { return 0.0; }
  py::object last_time() const { return clock_.get(); }
  void set_last_time(const py::object& t) { clock_.set(t); }
  double soc() const { return static_cast<double>(est_.soc()); }
  double soc_sigma() const { return static_cast<double>(est_.soc_sigma()); }

 private:
  /// Plating margin and surface stoichiometries at the current state for a sample's current.
  void outputs(double dt_s, double current_A, double temperature_degC, double* o) const {
    const M& m = est_.model();
    const auto s = m.prepare(est_.state(), est_.aux(), static_cast<T>(dt_s > 0 ? dt_s : 1.0),
                             static_cast<T>(current_A), static_cast<T>(temperature_degC));
    const auto out = m.outputs(s, est_.state());
    o[0] = static_cast<double>(out.anode_surface_potential_V);
    o[1] = static_cast<double>(out.negative_surface_stoichiometry);
    o[2] = static_cast<double>(out.positive_surface_stoichiometry);
  }
  std::unique_ptr<typename M::Params> params_;  // the core keeps a pointer: must outlive est_
  E est_{};
  cellsense_py::RunClock clock_{};
  const cellsense_py::PowerColumns<T>* power_ = nullptr;  ///< set while run_power() runs
};

template <class E>
void bind_estimator(py::module_& m, const char* name) {
  using PE = PySpme<E>;
  py::class_<PE>(m, name)
      .def(py::init<const py::dict&, const py::dict&, const py::dict&, const py::dict&, const Arr&, const Arr&>(),
           py::arg("params"), py::arg("config"), py::arg("noise"), py::arg("filter_config"), py::arg("x0"), py::arg("p0"))
      .def("step", &PE::step)
      .def("run", &PE::run)
      .def("state", &PE::state)
      .def("covariance", &PE::covariance)
      .def("state_bytes", &PE::state_bytes)
      .def("set_state", &PE::set_state, py::arg("x"), py::arg("p"), py::arg("hysteresis_sign") = 0.0)
      .def("power_limits", &PE::power_limits, py::arg("temperature_degC"), py::arg("config"))
      .def("run_power", &PE::run_power, py::arg("time_s"), py::arg("current_A"), py::arg("voltage_V"),
           py::arg("temperature_degC"), py::arg("horizons_s"), py::arg("config"))
      .def_property_readonly("hysteresis_sign", &PE::hysteresis_sign)
      .def_property("last_time_s", &PE::last_time, &PE::set_last_time)
      .def_property_readonly("soc", &PE::soc)
      .def_property_readonly("soc_sigma", &PE::soc_sigma)
      .def_property_readonly_static("n_states", [](py::object) { return PE::N; })
      .def_property_readonly_static("sizeof_estimator", [](py::object) { return sizeof(E); });
}

/// The model without a filter: x_k = f(x_{k-1}) from a rested cell at soc0; returns the outputs
/// per sample (row 0: the initial state at row 0's current).
template <typename T>
py::dict open_loop(const py::dict& params, const Arr& time_s, const Arr& current_A, const Arr& temperature_degC,
                   double soc0) {
  using M = SpmeM<T>;
  const auto p = make_params<T>(params);
  typename M::Noise noise{};
  const M m(p.get(), noise);
  const py::ssize_t n = time_s.shape(0);
  if (time_s.ndim() != 1 || current_A.shape(0) != n || temperature_degC.shape(0) != n) {
    throw py::value_error("open_loop(): equal-length 1-D arrays needed");
  }
  py::array_t<double> v(n), soc(n), xn(n), xp(n), anode(n), cn(n), cp(n), cs(n);
  typename M::State x = M::State::zero();
  x(0, 0) = static_cast<T>(soc0);
  const double* t = time_s.data();
  const double* i = current_A.data();
  const double* th = temperature_degC.data();
  double* o_v = v.mutable_data();
  double* o_soc = soc.mutable_data();
  double* o_xn = xn.mutable_data();
  double* o_xp = xp.mutable_data();
  double* o_an = anode.mutable_data();
  double* o_cn = cn.mutable_data();
  double* o_cp = cp.mutable_data();
  double* o_cs = cs.mutable_data();
  {
    py::gil_scoped_release release;
    for (py::ssize_t k = 0; k < n; ++k) {
      const double dt = k == 0 ? 1.0 : t[k] - t[k - 1];
      const auto s = m.prepare(x, {}, static_cast<T>(dt), static_cast<T>(i[k]), static_cast<T>(th[k]));
      if (k > 0 && dt > 0) { x = m.predict(s, x); }
      const auto o = m.outputs(s, x);
      o_v[k] = static_cast<double>(o.voltage_V);
      o_soc[k] = static_cast<double>(o.soc);
      o_xn[k] = static_cast<double>(o.negative_surface_stoichiometry);
      o_xp[k] = static_cast<double>(o.positive_surface_stoichiometry);
      o_an[k] = static_cast<double>(o.anode_surface_potential_V);
      o_cn[k] = static_cast<double>(o.electrolyte_negative_mol_m3);
      o_cp[k] = static_cast<double>(o.electrolyte_positive_mol_m3);
      o_cs[k] = static_cast<double>(o.electrolyte_separator_mol_m3);
    }
  }
  py::dict out;
  out["voltage_V"] = v;
  out["soc"] = soc;
  out["negative_surface_stoichiometry"] = xn;
  out["positive_surface_stoichiometry"] = xp;
  out["anode_surface_potential_V"] = anode;
  out["electrolyte_negative_mol_m3"] = cn;
  out["electrolyte_positive_mol_m3"] = cp;
  out["electrolyte_separator_mol_m3"] = cs;
  return out;
}

template <typename T>
py::array_t<T> vec_apply(const py::array_t<T, py::array::c_style | py::array::forcecast>& a, T (*f)(T)) {
  py::array_t<T> out(a.size());
  for (py::ssize_t k = 0; k < a.size(); ++k) { out.mutable_at(k) = f(a.data()[k]); }
  return out;
}

}  // namespace

void bind_spme(py::module_& m) {
  bind_estimator<Estimator<SpmeM<double>, filter::Ekf>>(m, "SpmeEkf_f64");
  bind_estimator<Estimator<SpmeM<double>, filter::Ukf>>(m, "SpmeUkf_f64");
  bind_estimator<Estimator<SpmeM<float>, filter::Ekf>>(m, "SpmeEkf_f32");
  bind_estimator<Estimator<SpmeM<float>, filter::Ukf>>(m, "SpmeUkf_f32");
  m.def("spme_open_loop_f64", &open_loop<double>, py::arg("params"), py::arg("time_s"), py::arg("current_A"),
        py::arg("temperature_degC"), py::arg("soc0"));
  m.def("spme_open_loop_f32", &open_loop<float>, py::arg("params"), py::arg("time_s"), py::arg("current_A"),
        py::arg("temperature_degC"), py::arg("soc0"));
  m.attr("SPME_PADE_ORDER") = kPade;
  m.attr("SPME_ELECTROLYTE_MODES") = kModes;
  m.attr("SPME_MAX_OCP_POINTS") = kMaxOcp;
  m.def("spme_pade_constants", [](int order) {
    py::list poles, residues;
    double d = 0;
    auto fill = [&](const double* p, const double* r, int n, double dd) {
      for (int k = 0; k < n; ++k) {
        poles.append(p[k]);
        residues.append(r[k]);
      }
      d = dd;
    };
    if (order == 1) fill(model::PadeParticle<1>::pole, model::PadeParticle<1>::residue, 1, model::PadeParticle<1>::feedthrough);
    else if (order == 2) fill(model::PadeParticle<2>::pole, model::PadeParticle<2>::residue, 2, model::PadeParticle<2>::feedthrough);
    else if (order == 3) fill(model::PadeParticle<3>::pole, model::PadeParticle<3>::residue, 3, model::PadeParticle<3>::feedthrough);
    else throw py::value_error("order must be 1, 2 or 3");
    return py::make_tuple(poles, residues, d);
  }, "The core's Pade constants (poles, residues, feedthrough) of the particle transfer function.");
  m.def("log_f32", [](const py::array_t<float, py::array::c_style | py::array::forcecast>& a) {
    return vec_apply<float>(a, [](float x) { return math::log(x); }); });
  m.def("log_f64", [](const py::array_t<double, py::array::c_style | py::array::forcecast>& a) {
    return vec_apply<double>(a, [](double x) { return math::log(x); }); });
  m.def("asinh_f32", [](const py::array_t<float, py::array::c_style | py::array::forcecast>& a) {
    return vec_apply<float>(a, [](float x) { return math::asinh(x); }); });
  m.def("asinh_f64", [](const py::array_t<double, py::array::c_style | py::array::forcecast>& a) {
    return vec_apply<double>(a, [](double x) { return math::asinh(x); }); });
}
